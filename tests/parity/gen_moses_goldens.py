#!/usr/bin/env python3
"""Regenerate the sacremoses golden outputs used by the Moses unit tests.

For each of examples/data/{en,mk,sq}.setimes.txt, the first 200 lines are run through
  MosesTokenizer(L).tokenize(MosesPunctNormalizer(L, pre_replace_unicode_punct=True,
      post_remove_control_chars=True).normalize(line), escape=False, return_str=True)
-> examples/data/L.setimes.200.tok, and that through
  MosesDetokenizer(L).detokenize(tok.split(), return_str=True)
-> examples/data/L.setimes.200.detok.

Usage (from the crate root): python3 tests/parity/gen_moses_goldens.py
Not a parity test: it only regenerates checked-in files (sacremoses 0.2.0 made them).
"""

from sacremoses import MosesDetokenizer, MosesPunctNormalizer, MosesTokenizer

N = 200

for lang in ["en", "mk", "sq"]:
    with open("examples/data/{}.setimes.txt".format(lang), "rb") as f:
        lines = [l.decode("utf-8") for l in f.read().split(b"\n")[:N]]
    norm = MosesPunctNormalizer(lang, pre_replace_unicode_punct=True, post_remove_control_chars=True)
    tok = MosesTokenizer(lang)
    detok = MosesDetokenizer(lang)
    toks = [tok.tokenize(norm.normalize(l), escape=False, return_str=True) for l in lines]
    detoks = [detok.detokenize(t.split(), return_str=True) for t in toks]
    for ext, out in [("tok", toks), ("detok", detoks)]:
        with open("examples/data/{}.setimes.{}.{}".format(lang, N, ext), "w", encoding="utf-8", newline="\n") as f:
            f.write("".join(o + "\n" for o in out))
