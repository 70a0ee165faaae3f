#!/usr/bin/env python3
"""Prints the research table of recipes/research/mlm-bible-en-mk.toml (issue #6, not CI).

After `unmt run recipes/research/mlm-bible-en-mk.toml`, reads each MLM variant's record and
the BLI of its embedding layer with `unmt show NODE --json`, and prints one markdown row per
variant: init, frozen, BLI P@1/P@5 (NN and CSLS) on the MUSE en-mk 0-5000 dictionary,
coverage, validation perplexity per language, epochs, updates and wall time.

Usage: python3 tests/parity/mlm_table.py [--unmt target/release/unmt] [--cache cache]
"""
import argparse
import json
import subprocess

VARIANTS = [
    ("random", "no", "[mlm.init=random]"),
    ("aligned", "no", ""),
    ("aligned", "yes", "[mlm.freeze_embeddings=true]"),
]


def show(unmt, cache, node):
    out = subprocess.run([unmt, "show", node, "--json", "--cache", cache],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unmt", default="target/release/unmt")
    ap.add_argument("--cache", default="cache")
    args = ap.parse_args()
    print("| init | frozen | dictionary | NN P@1 | NN P@5 | CSLS P@1 | CSLS P@5 | source words | valid ppl en | valid ppl mk | updates | train s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for init, frozen, variant in VARIANTS:
        m = show(args.unmt, args.cache, "mlm" + variant)
        mm = m["metrics"]
        for label, bli in [("all pairs", "bli_mlm"), ("no identical pairs", "bli_mlm_cross")]:
            b = show(args.unmt, args.cache, bli + variant)["metrics"]
            print(f"| {init} | {frozen} | {label} | {b['nn_p1']:.2f} | {b['nn_p5']:.2f} | {b['csls_p1']:.2f} | "
                  f"{b['csls_p5']:.2f} | {b.get('src_words_kept', float('nan')):.0f} | {mm['valid_en_mlm_ppl']:.1f} | "
                  f"{mm['valid_mk_mlm_ppl']:.1f} | {mm['steps']:.0f} | "
                  f"{m.get('seconds', float('nan')):.0f} |")
    print("\nHeld-out 20% of the dictionary (source words unseen by the supervised mapping), no identical pairs:\n")
    print("| embedding init | NN P@1 | NN P@5 | CSLS P@1 | CSLS P@5 | source words | valid ppl en | valid ppl mk |")
    print("|---|---|---|---|---|---|---|---|")
    rows = [("random", "mlm[mlm.init=random]", "bli_mlm_heldout[mlm.init=random]"),
            ("aligned, identical seed (the method)", "mlm", "bli_mlm_heldout"),
            ("aligned, identical seed, frozen", "mlm[mlm.freeze_embeddings=true]", "bli_mlm_heldout[mlm.freeze_embeddings=true]"),
            ("aligned, supervised mapping (upper bound)", "mlm_sup", "bli_mlm_sup_heldout")]
    for label, mlm, bli in rows:
        mm = show(args.unmt, args.cache, mlm)["metrics"]
        b = show(args.unmt, args.cache, bli)["metrics"]
        print(f"| {label} | {b['nn_p1']:.2f} | {b['nn_p5']:.2f} | {b['csls_p1']:.2f} | {b['csls_p5']:.2f} | "
              f"{b.get('src_words_kept', float('nan')):.0f} | {mm['valid_en_mlm_ppl']:.1f} | {mm['valid_mk_mlm_ppl']:.1f} |")
    sv = show(args.unmt, args.cache, "bli_vecmap_sup_heldout")["metrics"]
    print(f"\nSupervised static vectors on the held-out pairs (one-BPE-token words only): NN P@1/P@5 "
          f"{sv['nn_p1']:.2f}/{sv['nn_p5']:.2f}, CSLS P@1/P@5 {sv['csls_p1']:.2f}/{sv['csls_p5']:.2f}, "
          f"coverage {sv['coverage']:.3f}")
    v = show(args.unmt, args.cache, "bli_vecmap")["metrics"]
    print(f"\nStatic VecMap vectors (words, before any MLM): NN P@1/P@5 {v['nn_p1']:.2f}/{v['nn_p5']:.2f}, "
          f"CSLS P@1/P@5 {v['csls_p1']:.2f}/{v['csls_p5']:.2f}, coverage {v['coverage']:.3f}")


if __name__ == "__main__":
    main()
