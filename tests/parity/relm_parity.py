"""Parity of unmt's RE-LM vocabulary growth (`train::reload::grow`, the `mlm` stage with a
`reload` input) with the PyTorch port of relm_unmt's `modify_params` in
`examples/xlm_reference.py` (`relm_extend_vocab`), on the same tensors.

The pretrained model has a 3-word English vocabulary plus XLM's 14 specials, no language
embeddings (a monolingual MLM) and a layer tensor; the extended vocabulary keeps the English
words, adds Macedonian ones and moves one English word's count (ids of the old words change
for one case, so rows must follow strings, not ids). Checks, for `new_rows` = normal and
relm: every tensor equal to the reference (exactly: rows are copied); for relm, new rows in
(-1/dim, 1/dim) and not the fresh init.

Env: RELM_PARITY_DUMP (default: beside $UNMT, else target/debug/examples/relm_parity_dump).
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
import xlm_reference as ref  # noqa: E402

UNMT = os.environ.get("UNMT", "target/debug/unmt")
DUMP = os.environ.get(
    "RELM_PARITY_DUMP", os.path.join(os.path.dirname(UNMT), "examples", "relm_parity_dump")
)
DIM = 8

CASES = {
    "appended (RE-LM's add_vocabs.py)": (
        [("the", 30), ("of", 20), ("and", 10)],
        [("the", 60), ("of", 50), ("and", 40), ("на", 40), ("и", 30), ("да", 5)],
    ),
    "ids moved": (
        [("the", 30), ("of", 20), ("and", 10)],
        [("и", 90), ("the", 60), ("на", 50), ("and", 40), ("of", 3)],
    ),
}


def main():
    torch.manual_seed(0)
    failures = 0
    for name, (old_vocab, new_vocab) in CASES.items():
        old_words = ref.dictionary_words(w for w, _ in old_vocab)
        new_words = ref.dictionary_words(w for w, _ in new_vocab)
        old = {
            "embeddings.weight": torch.randn(len(old_words), DIM),
            "pred_bias": torch.randn(len(old_words)),
            "layers.0.ffn.lin1.weight": torch.randn(DIM, 4 * DIM),
        }
        fresh = {
            "embeddings.weight": torch.randn(len(new_words), DIM) * DIM ** -0.5,
            "pred_bias": torch.rand(len(new_words)) - 0.5,
            "layers.0.ffn.lin1.weight": torch.randn(DIM, 4 * DIM),
            "lang_embeddings.weight": torch.randn(2, DIM),
        }
        for mode in ["normal", "relm"]:
            with tempfile.TemporaryDirectory() as tmp:
                spec, inp, out = (os.path.join(tmp, f) for f in ("spec.json", "in.safetensors", "out.safetensors"))
                with open(spec, "w") as f:
                    json.dump({"old_vocab": old_vocab, "new_vocab": new_vocab, "new_rows": mode, "seed": 3}, f)
                tensors = {f"old.{k}": v for k, v in old.items()}
                tensors.update({f"fresh.{k}": v for k, v in fresh.items()})
                save_file(tensors, inp)
                subprocess.run([DUMP, spec, inp, out], check=True)
                got = load_file(out)
            want = ref.relm_extend_vocab(old, old_words, new_words, fresh, new_rows=mode)
            print(f"== {name}, new_rows = {mode}")
            if set(got) != set(want):
                print(f"  FAIL tensor names: {sorted(got)} vs {sorted(want)}")
                failures += 1
                continue
            for t in sorted(want):
                w, g = want[t], got[t]
                known = ~torch.isnan(w)
                ok = g.shape == w.shape and torch.equal(g[known], w[known])
                if mode == "relm" and t == "embeddings.weight":
                    new = torch.isnan(w).any(dim=1)
                    rows = g[new]
                    bound = 1.0 / DIM
                    in_range = bool(((rows > -bound) & (rows < bound)).all())
                    not_fresh = not torch.equal(rows, fresh[t][new])
                    ok = ok and in_range and not_fresh
                    print(f"       {int(new.sum())} new rows in (-1/dim, 1/dim): {in_range}")
                failures += not ok
                print(f"  {'ok  ' if ok else 'FAIL'} {t}")
    if failures:
        print(f"{failures} check(s) failed")
        return 1
    print("unmt's RE-LM vocabulary growth matches relm_unmt's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
