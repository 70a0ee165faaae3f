#!/usr/bin/env python3
"""Parity of `unmt tokenize` (Rust Moses port) with sacremoses.

Reference (what XLM's Moses chain is, in sacremoses terms):
  tokenize:   MosesTokenizer(L).tokenize(
                  MosesPunctNormalizer(L, pre_replace_unicode_punct=True,
                                       post_remove_control_chars=True).normalize(line),
                  escape=False, return_str=True, aggressive_dash_splits=False)
  detokenize: MosesDetokenizer(L).detokenize(line.split(), return_str=True)
              applied to the sacremoses-tokenized text.

Ours: `$UNMT tokenize --lang L` (and `--detok`), once per file.

Files: every valid set under $SHARED/data, mk-en/mte1984-dev.{en,mk}, the first 5000
lines of mono/en.bible-kjv.txt, plus a deterministic synthetic set of punctuation-heavy
lines per language (to exercise the rare rules real text seldom hits).
Target: >= 99.9% identical lines per file and direction; exit 1 below that.

Env: UNMT (default target/release/unmt), SHARED (default ../shared beside the repository).
"""

import os
import random
import subprocess
import sys
import time

from sacremoses import MosesDetokenizer, MosesPunctNormalizer, MosesTokenizer

TARGET = 99.9
SHOW_DIFFS = 3

UNMT = os.environ.get("UNMT", "target/release/unmt")
SHARED = os.environ.get(
    "SHARED", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared")
)

FILES = [
    ("mk-en/valid.en", "en", None),
    ("mk-en/valid.mk", "mk", None),
    ("sq-en/valid.en", "en", None),
    ("sq-en/valid.sq", "sq", None),
    ("mk-en/mte1984-dev.en", "en", None),
    ("mk-en/mte1984-dev.mk", "mk", None),
    ("mono/en.bible-kjv.txt", "en", 5000),
]

SYNTHETIC_LANGS = ["en", "mk", "sq", "fr", "de", "it", "xx"]
SYNTHETIC_LINES = 2000


def read_lines(path, limit):
    """Lines split on b"\\n" only (like the Rust port), decoded as UTF-8."""
    with open(path, "rb") as f:
        data = f.read()
    pieces = data.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()
    if limit is not None:
        pieces = pieces[:limit]
    return [p.decode("utf-8") for p in pieces]


def synthetic_lines(seed):
    """Random lines mixing words with every character class the Moses rules look at."""
    rng = random.Random(seed)
    words = ["the", "It", "don", "s", "ll", "Mr", "No", "pp", "e.g", "U.S", "Smith",
             "град", "Скопје", "д-р", "është", "Tiranë", "l", "homme", "qu", "Art", "12",
             "1990", "3,5", "DOTMULTI", "Nr", "a.m", "ii", "i"]
    punct = list(".,;:!?'\"`()[]{}<>-@#$%&*/\\|~^_=+") + [
        "...", "..", "--", "''", "``", "„", "“", "”", "‘", "’", "‚", "´", "«", "»", "–",
        "—", "…", "，", "。", "、", "：", "？", "！", "（", "）", "；", "「", "」", "１",
        "．", "％", "【", "】", "〈", "〉", "€", "£", "¿", "¡", "º", "nº", "cm", "ºC",
        "\u00a0", "\u00a0%", "\u00a0:", "\u2009", "\u3000", "\t", "\r", "\x01", "\x1c",
        "\u200b", "\ufeff", "\u00ad", "日本", "한국", "\u0915\u094d", "@-@", "&amp;",
        "&lt;", "&quot;", "&apos;", "&#124;",
    ]
    lines = []
    for _ in range(SYNTHETIC_LINES):
        n = rng.randint(1, 14)
        parts = []
        for _ in range(n):
            r = rng.random()
            if r < 0.5:
                parts.append(rng.choice(words))
            else:
                parts.append(rng.choice(punct))
            parts.append(rng.choice(["", "", " ", " ", "  "]))
        lines.append("".join(parts))
    return lines


def run_ours(lang, lines, detok):
    cmd = [UNMT, "tokenize", "--lang", lang] + (["--detok"] if detok else [])
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit("unmt failed ({}): {}".format(proc.returncode, proc.stderr.decode("utf-8", "replace")))
    out = proc.stdout.decode("utf-8").split("\n")
    if out and out[-1] == "":
        out.pop()
    return out, elapsed


def compare(name, lang, direction, inputs, ref, ours):
    if len(ours) != len(ref):
        print("  {:<34} {:<5} {:<6} LINE COUNT MISMATCH ours={} ref={}".format(
            name, lang, direction, len(ours), len(ref)))
        return 0.0
    same = sum(1 for a, b in zip(ref, ours) if a == b)
    pct = 100.0 * same / max(1, len(ref))
    print("  {:<34} {:<5} {:<6} lines={:<6} identical={:<6} {:8.3f}%".format(
        name, lang, direction, len(ref), same, pct))
    shown = 0
    for i, (a, b) in enumerate(zip(ref, ours)):
        if a != b and shown < SHOW_DIFFS:
            print("      line {}: input      {!r}".format(i + 1, inputs[i]))
            print("              sacremoses {!r}".format(a))
            print("              ours       {!r}".format(b))
            shown += 1
    return pct


def check(name, lang, lines):
    norm = MosesPunctNormalizer(lang, pre_replace_unicode_punct=True, post_remove_control_chars=True)
    tok = MosesTokenizer(lang)
    detok = MosesDetokenizer(lang)
    t0 = time.perf_counter()
    ref_tok = [tok.tokenize(norm.normalize(l), escape=False, return_str=True,
                            aggressive_dash_splits=False) for l in lines]
    t_ref_tok = time.perf_counter() - t0
    ours_tok, t_ours_tok = run_ours(lang, lines, detok=False)
    p1 = compare(name, lang, "tok", lines, ref_tok, ours_tok)
    t0 = time.perf_counter()
    ref_detok = [detok.detokenize(l.split(), return_str=True) for l in ref_tok]
    t_ref_detok = time.perf_counter() - t0
    ours_detok, t_ours_detok = run_ours(lang, ref_tok, detok=True)
    p2 = compare(name, lang, "detok", ref_tok, ref_detok, ours_detok)
    print("      time: sacremoses tok {:.2f}s detok {:.2f}s | unmt (process, all threads) tok {:.2f}s detok {:.2f}s".format(
        t_ref_tok, t_ref_detok, t_ours_tok, t_ours_detok))
    return min(p1, p2)


def main():
    if not os.path.exists(UNMT):
        sys.exit("UNMT binary not found at {} (build with cargo build --release)".format(UNMT))
    print("sacremoses parity (target >= {}% identical lines per file)".format(TARGET))
    worst = 100.0
    failed = []
    for rel, lang, limit in FILES:
        path = os.path.join(SHARED, "data", rel)
        lines = read_lines(path, limit)
        name = rel + ("[:{}]".format(limit) if limit else "")
        pct = check(name, lang, lines)
        worst = min(worst, pct)
        if pct < TARGET:
            failed.append(name)
    for i, lang in enumerate(SYNTHETIC_LANGS):
        lines = synthetic_lines(1000 + i)
        name = "synthetic-punctuation#{}".format(i)
        pct = check(name, lang, lines)
        worst = min(worst, pct)
        if pct < TARGET:
            failed.append(name + "/" + lang)
    print("worst file: {:.3f}%".format(worst))
    if failed:
        print("BELOW TARGET: " + ", ".join(failed))
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
