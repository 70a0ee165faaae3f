"""Splits a MUSE dictionary by source word: the pairs of the first 80% of the distinct source
words (sorted) go to TRAIN, the rest to TEST, so no test source word is seen in training.

Usage: python3 split_dict.py DICT TRAIN TEST
"""
import sys

src, train, test = sys.argv[1:4]
pairs = [l.split() for l in open(src, encoding="utf-8") if l.strip()]
words = sorted({p[0] for p in pairs})
cut = set(words[: int(0.8 * len(words))])
with open(train, "w", encoding="utf-8") as a, open(test, "w", encoding="utf-8") as b:
    for p in pairs:
        (a if p[0] in cut else b).write(f"{p[0]}\t{p[1]}\n")
