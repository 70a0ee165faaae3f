#!/usr/bin/env python3
"""Research figures for issue 4: VecMap `--identical` + MUSE BLI on the en/mk Bibles.

Not a parity gate (there is no pip-installable VecMap/MUSE): it trains one fastText skip-gram
model per language with the Python reference fastText (`pip install fasttext-wheel`), writes
.vec files, then runs `$UNMT bli` on the raw vectors, `$UNMT vecmap --identical`, and
`$UNMT bli` on the mapped vectors, and prints the figures. Exits non-zero only when a step fails.

Tokenisation: lowercase (Python str.lower) and split into runs of word characters and single
punctuation characters (regex `\\w+|[^\\w\\s]`), i.e. a light Moses-like split, so that
`earth.` becomes `earth .` and the MUSE dictionary words can be found.

Env: UNMT (binary with `vecmap` and `bli` subcommands), SHARED (default ../shared beside the repository),
WORK (output dir, default a temp dir), FT_DIM (default 300), FT_EPOCH (5), FT_THREADS (2).
Runtime on 2 cores: several minutes (fastText dominates), so it is not meant for CI.
"""
import os
import re
import subprocess
import sys
import tempfile
import time

import fasttext

SHARED = os.environ.get(
    "SHARED", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared")
)
UNMT = os.environ.get("UNMT", "target/release/unmt")
WORK = os.environ.get("WORK") or tempfile.mkdtemp(prefix="vecmap_bible_")
DIM = int(os.environ.get("FT_DIM", "300"))
EPOCH = int(os.environ.get("FT_EPOCH", "5"))
THREADS = int(os.environ.get("FT_THREADS", "2"))
TOKEN = re.compile(r"\w+|[^\w\s]")


def tokenize(src, dst):
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as g:
        for line in f:
            g.write(" ".join(TOKEN.findall(line.lower())) + "\n")


def train(txt, vec):
    if os.path.exists(vec):
        return 0.0
    t = time.time()
    model = fasttext.train_unsupervised(
        txt, model="skipgram", dim=DIM, epoch=EPOCH, minCount=3, thread=THREADS, verbose=0
    )
    words = model.get_words(include_freq=False)
    with open(vec, "w", encoding="utf-8") as g:
        g.write(f"{len(words)} {DIM}\n")
        for w in words:
            v = model.get_word_vector(w)
            g.write(w + " " + " ".join("%.5g" % x for x in v) + "\n")
    return time.time() - t


def run(args):
    t = time.time()
    print("$", " ".join(args), flush=True)
    subprocess.run(args, check=True)
    return time.time() - t


def main():
    os.makedirs(WORK, exist_ok=True)
    for lang, name in (("en", "en.bible-kjv.txt"), ("mk", "mk.bible-mkb.txt")):
        txt = os.path.join(WORK, f"{lang}.tok")
        tokenize(os.path.join(SHARED, "data/mono", name), txt)
        secs = train(txt, os.path.join(WORK, f"{lang}.vec"))
        print(f"fasttext {lang}: {secs:.1f}s", flush=True)
    dico = os.path.join(SHARED, "data/dict/en-mk.0-5000.txt")
    en, mk = os.path.join(WORK, "en.vec"), os.path.join(WORK, "mk.vec")
    enm, mkm = os.path.join(WORK, "en.mapped.vec"), os.path.join(WORK, "mk.mapped.vec")
    run([UNMT, "bli", "--src-emb", en, "--trg-emb", mk, "--dict", dico,
         "--json", os.path.join(WORK, "bli_raw.json")])
    secs = run([UNMT, "vecmap", "--identical", en, mk, enm, mkm])
    print(f"vecmap wall time (incl. I/O): {secs:.1f}s", flush=True)
    run([UNMT, "bli", "--src-emb", enm, "--trg-emb", mkm, "--dict", dico,
         "--json", os.path.join(WORK, "bli_mapped.json")])
    print("outputs in", WORK)
    return 0


if __name__ == "__main__":
    sys.exit(main())
