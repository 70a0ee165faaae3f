#!/usr/bin/env python3
"""Research comparison for issue 4: fastText skip-gram vs `unmt skipgram`, same corpus and
hyperparameters, judged by throughput and by bilingual lexicon induction (BLI) after VecMap.

This is a research script, NOT a CI gate (CI only runs `tests/parity/*_parity.py`). It exits
non-zero only when a step fails; it does not judge the figures.

What it does
 1. Lowercased words: `unmt tokenize --lang L --threads 1` (Moses) on SHARED/data/mono/
    en.bible-kjv.txt and mk.bible-mkb.txt, then Python str.lower().
 2. Splits the MUSE en-mk 0-5000 training dictionary by source word: the distinct source words
    are sorted (Python string order), the pairs of the first 80% form the VecMap supervision
    dictionary, the pairs of the remaining 20% the BLI test dictionary (disjoint source words).
 3. For every seed (default 0 and 2; fastText's std::minstd_rand maps seed 0 and 1 to the same
    stream) and every language, trains fastText skip-gram (Python `fasttext`, fasttext-wheel
    0.9.2) and then `unmt skipgram` with identical hyperparameters (fastText defaults except
    dim/epoch/minCount; one thread each, one training at a time, the two tools interleaved so
    that both see the same machine load). Throughput = epochs x corpus tokens / wall-clock
    seconds of the training call (fastText: `train_unsupervised`-equivalent call; ours: the
    whole `unmt skipgram` process, which includes writing .vec + .safetensors, so it is biased
    against us). Corpus tokens are counted the way fastText counts them (words + one `</s>` per
    line). Each tool's own log figure (words/sec/thread over its training loop only) is shown too.
    fastText's vectors are written as fastText's saveVectors writes them ("%.5g " per value), and
    the fraction of .vec lines identical to ours is reported.
 4. For each (tool, seed): `unmt vecmap --supervised TRAIN_DICT` then `unmt bli` on the test
    dictionary (MUSE protocol, NN and CSLS). Also `unmt vecmap --identical` (capped at
    --identical-iters self-learning iterations; the en/mk identical seed is punctuation only,
    so this mode is expected to fail for both tools) then `unmt bli` on the same test dictionary.
 5. Prints markdown tables: per run, per-tool mean/spread, and the throughput ratio.

Runtime: about 15-20 minutes on 2 cores at the defaults (dim 300, epoch 5, 2 seeds, 8 trainings
of ~45-60 s each, 4 capped identical-mode VecMap runs of ~1 min each).

Usage (from the repository root):
  python3 tests/parity/skipgram_bli_compare.py --unmt target/release/unmt --shared ../shared \
      --dim 300 --epoch 5 --workdir /tmp/sgbli
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fasttext  # noqa: F401  (fasttext-wheel 0.9.2)
from fasttext import FastText as FT

REPO = Path(__file__).resolve().parents[2]
CORPORA = (("en", "en.bible-kjv.txt"), ("mk", "mk.bible-mkb.txt"))
WPS = re.compile(r"words/sec/thread:\s*([0-9.]+)")
TRAIN_TIME = re.compile(r"train time:\s*([0-9.]+)s")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def prepare_corpus(unmt, src, dst, lang):
    """Moses-tokenize with unmt, lowercase; return fastText's token count (words + EOS)."""
    with open(src, "rb") as f:
        out = subprocess.run([unmt, "tokenize", "--lang", lang, "--threads", "1"], stdin=f,
                             check=True, capture_output=True).stdout.decode("utf-8")
    text = out.lower()
    with open(dst, "w", encoding="utf-8") as g:
        g.write(text)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return sum(len(line.split()) for line in lines) + len(lines)


def split_dict(path, train_path, test_path, frac):
    pairs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            p = line.split()
            if len(p) == 2:
                pairs.append(p)
    src = sorted({a for a, _ in pairs})
    n_train = int(len(src) * frac)
    train_src = set(src[:n_train])
    with open(train_path, "w", encoding="utf-8") as tr, open(test_path, "w", encoding="utf-8") as te:
        for a, b in pairs:
            (tr if a in train_src else te).write(f"{a} {b}\n")
    n_tr_pairs = sum(1 for a, _ in pairs if a in train_src)
    return dict(src_words=len(src), train_src=n_train, test_src=len(src) - n_train,
                train_pairs=n_tr_pairs, test_pairs=len(pairs) - n_tr_pairs)


def ft_train_timed(corpus, seed, hp, stderr_path):
    """fastText skip-gram with a seed (0.9.2's train_unsupervised does not accept `seed`, but its
    args object has it). fd 2 is redirected to catch fastText's own progress log (verbose 2).
    Returns (model, wall seconds of the training call)."""
    args = dict(FT.unsupervised_default)
    args.update(input=corpus, model="skipgram", verbose=2, seed=seed, **hp)
    a = FT._build_args(args, {"input", "model", "verbose", "seed", *hp})
    sys.stderr.flush()
    saved = os.dup(2)
    with open(stderr_path, "wb") as err:
        os.dup2(err.fileno(), 2)
        try:
            t0 = time.perf_counter()
            m = FT._FastText(args=a)
            FT.fasttext.train(m.f, a)
            wall = time.perf_counter() - t0
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    m.set_args(m.f.getArgs())
    return m, wall


def ft_write_vec(model, path, dim):
    """Same text as fastText's saveVectors: header `n dim`, then `word v1 ... vd ` (%.5g)."""
    words = model.get_words(include_freq=False)
    with open(path, "w", encoding="utf-8") as g:
        g.write(f"{len(words)} {dim}\n")
        for w in words:
            g.write(w + " " + "".join("%.5g " % float(x) for x in model.get_word_vector(w)) + "\n")


def same_lines(a, b):
    with open(a, encoding="utf-8") as f, open(b, encoding="utf-8") as g:
        la, lb = f.read().split("\n"), g.read().split("\n")
    return sum(x == y for x, y in zip(la[1:], lb[1:])) / max(len(la) - 1, len(lb) - 1, 1)


def last_float(pattern, text):
    found = pattern.findall(text)
    return float(found[-1]) if found else float("nan")


def run(cmd, **kw):
    log("$", " ".join(map(str, cmd)))
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True, **kw)


def bli(unmt, src, trg, dico, out_json):
    run([unmt, "bli", "--src-emb", src, "--trg-emb", trg, "--dict", dico, "--json", out_json])
    with open(out_json) as f:
        return json.load(f)


def fmt_ms(xs, digits=2):
    """mean and spread (max - min) of a list."""
    if len(xs) == 1:
        return f"{xs[0]:.{digits}f}"
    return f"{statistics.mean(xs):.{digits}f} ± {(max(xs) - min(xs)) / 2:.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--unmt", default=str(REPO / "target/release/unmt"))
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--epoch", type=int, default=5)
    ap.add_argument("--min-count", type=int, default=3)
    ap.add_argument("--seeds", default="0,2", help="comma-separated (fastText seeds 0 and 1 coincide)")
    ap.add_argument("--split", type=float, default=0.8, help="fraction of source words for supervision")
    ap.add_argument("--identical-iters", type=int, default=20,
                    help="cap on VecMap --identical self-learning iterations; 0 skips that mode")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()

    t_start = time.time()
    unmt = os.path.abspath(args.unmt)
    shared = Path(args.shared)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="skipgram_bli_"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("UNMT_CACHE", str(work / "cache"))
    seeds = [int(s) for s in args.seeds.split(",")]
    hp = dict(dim=args.dim, epoch=args.epoch, minCount=args.min_count, thread=1)

    ntok = {}
    for lang, name in CORPORA:
        ntok[lang] = prepare_corpus(unmt, shared / "data/mono" / name, work / f"{lang}.tok", lang)
        log(f"{lang}: {ntok[lang]} tokens (fastText count, incl. </s>)")
    train_dict, test_dict = work / "dict.train", work / "dict.test"
    split = split_dict(shared / "data/dict/en-mk.0-5000.txt", train_dict, test_dict, args.split)
    log("dictionary split:", split)

    # Trainings: one at a time, one thread, fastText then ours, per seed and language.
    runs = {}  # (tool, seed) -> dict
    for seed in seeds:
        for lang, _ in CORPORA:
            corpus = work / f"{lang}.tok"
            tokens = args.epoch * ntok[lang]
            # fastText
            load0 = os.getloadavg()[0]
            errp = work / f"ft.s{seed}.{lang}.log"
            model, wall = ft_train_timed(str(corpus), seed, hp, errp)
            ft_vec = work / f"ft.s{seed}.{lang}.vec"
            ft_write_vec(model, ft_vec, args.dim)
            del model
            ftlog = errp.read_text(errors="replace")
            r = runs.setdefault(("fastText", seed), dict(wall=0.0, tokens=0, own_wps={}, load=[]))
            r["wall"] += wall
            r["tokens"] += tokens
            r["own_wps"][lang] = last_float(WPS, ftlog)
            r["load"].append(load0)
            r[lang] = ft_vec
            log(f"fastText seed {seed} {lang}: {wall:.1f}s, {tokens / wall:.0f} words/s/thread "
                f"(own log {r['own_wps'][lang]:.0f}), load {load0:.2f}")
            # ours
            load0 = os.getloadavg()[0]
            prefix = work / f"unmt.s{seed}.{lang}"
            cmd = [unmt, "skipgram", "--input", corpus, "--output", prefix, "--dim", args.dim,
                   "--epoch", args.epoch, "--min-count", args.min_count, "--thread", 1,
                   "--seed", seed]
            t0 = time.perf_counter()
            p = run(cmd)
            wall = time.perf_counter() - t0
            ours_log = p.stdout + p.stderr
            r = runs.setdefault(("unmt", seed), dict(wall=0.0, tokens=0, own_wps={}, load=[]))
            r["wall"] += wall
            r["tokens"] += tokens
            r["own_wps"][lang] = last_float(WPS, ours_log)
            r["load"].append(load0)
            r[lang] = Path(str(prefix) + ".vec")
            r.setdefault("identical_lines", {})[lang] = same_lines(r[lang], ft_vec)
            log(f"unmt seed {seed} {lang}: {wall:.1f}s, {tokens / wall:.0f} words/s/thread "
                f"(own log {r['own_wps'][lang]:.0f}), load {load0:.2f}; "
                f".vec lines identical to fastText's: {r['identical_lines'][lang]:.4f}")

    # Mapping + BLI, identical procedure for every model.
    for (tool, seed), r in runs.items():
        tag = f"{tool}.s{seed}"
        en_m, mk_m = work / f"{tag}.sup.en.vec", work / f"{tag}.sup.mk.vec"
        run([unmt, "vecmap", "--supervised", train_dict, r["en"], r["mk"], en_m, mk_m])
        r["sup"] = bli(unmt, en_m, mk_m, test_dict, work / f"{tag}.sup.bli.json")
        if args.identical_iters > 0:
            en_i, mk_i = work / f"{tag}.ident.en.vec", work / f"{tag}.ident.mk.vec"
            run([unmt, "vecmap", "--identical", "--max-iterations", args.identical_iters,
                 r["en"], r["mk"], en_i, mk_i])
            r["ident"] = bli(unmt, en_i, mk_i, test_dict, work / f"{tag}.ident.bli.json")

    # Report.
    total = time.time() - t_start
    out = []
    out.append(f"## fastText skip-gram vs unmt skipgram — en/mk Bible, dim {args.dim}, epoch {args.epoch}, "
               f"minCount {args.min_count}, thread 1, other hyperparameters fastText defaults\n")
    out.append(f"Corpus tokens (words + `</s>`): en {ntok['en']}, mk {ntok['mk']}. "
               f"Dictionary split (MUSE en-mk 0-5000, sorted source words, first {args.split:.0%} -> supervision): "
               f"supervision {split['train_src']} source words / {split['train_pairs']} pairs, "
               f"test {split['test_src']} source words / {split['test_pairs']} pairs.\n")
    out.append("### Per run (VecMap --supervised, BLI on the held-out 20%; P@k in %; throughput over en+mk)\n")
    out.append("| tool | seed | train wall s | words/s/thread (wall) | own-log words/s/thread en / mk "
               "| NN P@1 | NN P@5 | CSLS P@1 | CSLS P@5 | coverage | .vec = fastText |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for (tool, seed), r in sorted(runs.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        s = r["sup"]
        ident = r.get("identical_lines")
        ident_s = "—" if ident is None else f"en {ident['en']:.3f} / mk {ident['mk']:.3f}"
        out.append(f"| {tool} | {seed} | {r['wall']:.1f} | {r['tokens'] / r['wall']:.0f} | "
                   f"{r['own_wps']['en']:.0f} / {r['own_wps']['mk']:.0f} | "
                   f"{s['nn']['p1']:.2f} | {s['nn']['p5']:.2f} | {s['csls']['p1']:.2f} | {s['csls']['p5']:.2f} | "
                   f"{s['src_words_kept']}/{s['src_words_total']} src words ({s['coverage']:.1%}), "
                   f"{s['pairs_kept']} pairs | {ident_s} |")
    out.append("")
    out.append("### Mean ± half-range over seeds\n")
    out.append("| tool | mapping | words/s/thread (wall) | NN P@1 | NN P@5 | CSLS P@1 | CSLS P@5 |")
    out.append("|---|---|---|---|---|---|---|")
    means = {}
    for tool in ("fastText", "unmt"):
        rs = [runs[(tool, s)] for s in seeds]
        for mode in ("sup", "ident"):
            if mode not in rs[0]:
                continue
            cols = {k: [r[mode][m][p] for r in rs] for k, (m, p) in
                    dict(nn1=("nn", "p1"), nn5=("nn", "p5"), cs1=("csls", "p1"), cs5=("csls", "p5")).items()}
            means[(tool, mode)] = {k: statistics.mean(v) for k, v in cols.items()}
            wps = [r["tokens"] / r["wall"] for r in rs]
            means[(tool, "wps")] = statistics.mean(wps)
            name = "supervised" if mode == "sup" else f"identical (≤{args.identical_iters} it.)"
            out.append(f"| {tool} | {name} | {fmt_ms(wps, 0)} | {fmt_ms(cols['nn1'])} | {fmt_ms(cols['nn5'])} | "
                       f"{fmt_ms(cols['cs1'])} | {fmt_ms(cols['cs5'])} |")
    out.append("")
    d = {k: means[("unmt", "sup")][k] - means[("fastText", "sup")][k] for k in means[("unmt", "sup")]}
    out.append(f"unmt − fastText (supervised, mean over seeds, points): NN P@1 {d['nn1']:+.2f}, NN P@5 {d['nn5']:+.2f}, "
               f"CSLS P@1 {d['cs1']:+.2f}, CSLS P@5 {d['cs5']:+.2f}")
    own = {t: statistics.mean(statistics.mean(runs[(t, s)]["own_wps"].values()) for s in seeds)
           for t in ("fastText", "unmt")}
    out.append(f"Throughput ratio unmt / fastText: {means[('unmt', 'wps')] / means[('fastText', 'wps')]:.3f} "
               f"(wall clock incl. our .vec/.safetensors output), {own['unmt'] / own['fastText']:.3f} "
               f"(each tool's own log, training loop only)")
    loads = [x for r in runs.values() for x in r["load"]]
    out.append(f"1-min load average at training starts: {min(loads):.2f}–{max(loads):.2f} (2-core machine)")
    out.append(f"Total wall time: {total / 60:.1f} min; outputs in {work}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
