#!/usr/bin/env python3
"""Parity of `unmt bpe learn|apply|vocab` with glample/fastBPE (learnbpe/applybpe/getvocab).

Builds the fastBPE CLI from the PyPI sdist (`pip download fastBPE --no-binary :all:`) with g++
into a temporary directory (or uses env FASTBPE if set), then on Moses-tokenized text
(sacremoses, `escape=False` like tokenizer.perl -no-escape; env PARITY_TOKENIZER=raw uses the
raw whitespace-separated text instead) of the en/mk Bible monolingual files (train) and the
mk-en SETIMES valid sets:

1. apply: `unmt bpe apply` must be byte-identical to `fastBPE applybpe` for the same codes, on
   train and valid, without and with a vocabulary restriction (the per-language vocabulary of
   the BPE'd train as XLM does, and a 2,000-entry truncation that forces splitting);
   `unmt bpe vocab` must be byte-identical to `fastBPE getvocab`.
2. learn: both learn N merges (default 10,000) on en+mk train. fastBPE breaks ties among equal
   counts in hash-map order, so merges are compared as multisets per count; the lowest count
   (where N cuts a tie group) is excluded. Tied pairs that share a token (e.g. (J,u) and (u,de))
   change each other's counts, so which one is merged first moves the other to a lower count:
   a few percent of mismatches are expected and MIN_LEARN_MATCH allows them. The exact check is a
   replay: both merge sequences are replayed on the word counts with exact pair recounts, and
   every unmt merge must be a most frequent pair with the printed count. Then the valid sets
   are segmented with both codes files and the % of identical lines is reported.

Env: UNMT (binary with `bpe` subcommands, default target/release/unmt), SHARED (default
../shared beside the repository), PARITY_MERGES (default 10000), MIN_LEARN_MATCH (default 0.98: fraction of
merges above the last count that must match within their count group), MIN_VALID_IDENTICAL
(default 0.98), REPLAY_FASTBPE (default 2000: fastBPE merges replayed to check the
checker). Exits 1 when a check fails.
"""

import collections
import glob
import multiprocessing
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

UNMT = os.environ.get("UNMT", "target/release/unmt")
SHARED = os.environ.get(
    "SHARED", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared")
)
MERGES = int(os.environ.get("PARITY_MERGES", "10000"))
MIN_LEARN_MATCH = float(os.environ.get("MIN_LEARN_MATCH", "0.98"))
MIN_VALID_IDENTICAL = float(os.environ.get("MIN_VALID_IDENTICAL", "0.98"))
TOKENIZER = os.environ.get("PARITY_TOKENIZER", "moses")
REPLAY_FASTBPE = int(os.environ.get("REPLAY_FASTBPE", "2000"))


def build_fastbpe(tmp):
    if os.environ.get("FASTBPE"):
        return os.environ["FASTBPE"]
    dl = os.path.join(tmp, "sdist")
    subprocess.run([sys.executable, "-m", "pip", "download", "fastBPE", "--no-binary", ":all:",
                    "--no-deps", "-q", "-d", dl], check=True)
    sdist = glob.glob(os.path.join(dl, "fastBPE-*.tar.gz"))[0]
    with tarfile.open(sdist) as t:
        t.extractall(dl, filter="data")
    src = glob.glob(os.path.join(dl, "fastBPE-*", "fastBPE"))[0]
    exe = os.path.join(tmp, "fast")
    subprocess.run(["g++", "-O3", "-std=c++11", "-pthread", os.path.join(src, "main.cc"),
                    "-I" + src, "-o", exe], check=True)
    return exe


_TOK = {}


def _tok_line(args):
    lang, line = args
    if lang not in _TOK:
        from sacremoses import MosesTokenizer
        try:
            _TOK[lang] = MosesTokenizer(lang=lang)
        except Exception:  # no language-specific resources: English rules
            _TOK[lang] = MosesTokenizer(lang="en")
    return _TOK[lang].tokenize(line, escape=False, return_str=True)


def tokenize(src, dst, lang, pool):
    with open(src, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f]
    if TOKENIZER == "raw":
        out = lines
    else:
        out = pool.map(_tok_line, [(lang, l) for l in lines], chunksize=500)
    with open(dst, "w", encoding="utf-8") as f:
        for l in out:
            f.write(l + "\n")


def run(cmd, stdout=None):
    with open(stdout, "wb") if stdout else open(os.devnull, "wb") as out:
        subprocess.run(cmd, stdout=out, stderr=subprocess.DEVNULL, check=True)


def read_bytes(p):
    with open(p, "rb") as f:
        return f.read()


def read_codes(p):
    out = []
    with open(p, encoding="utf-8") as f:
        for line in f:
            l, r, c = line.split(" ")
            out.append((l, r, int(c)))
    return out


def replay(codes, corpora):
    """Checks that each merge of `codes` is a most frequent pair at its step, with its count,
    by replaying the merges on the corpora's word counts with exact pair counts (strings,
    left-to-right non-overlapping merges). Returns the number of valid merges before the first
    invalid one."""
    import heapq
    wc = collections.Counter()
    for p in corpora:
        with open(p, "rb") as f:
            data = f.read().decode("utf-8")
        wc.update(w for w in data.replace("\n", " ").split(" ") if w)
    seqs, cnts = [], []
    for w, c in wc.items():
        s = list(w)
        s[-1] += "</w>"
        if len(s) > 1:
            seqs.append(s)
            cnts.append(c)
    pc = collections.Counter()
    where = collections.defaultdict(set)
    for i, s in enumerate(seqs):
        for a, b in zip(s, s[1:]):
            pc[(a, b)] += cnts[i]
            where[(a, b)].add(i)
    heap = [(-c, p) for p, c in pc.items()]
    heapq.heapify(heap)
    for k, (l, r, c) in enumerate(codes):
        while heap and -heap[0][0] != pc.get(heap[0][1], 0):
            negc, p = heapq.heappop(heap)
            if 0 < pc.get(p, 0) < -negc:
                heapq.heappush(heap, (-pc[p], p))
        best = -heap[0][0] if heap else 0
        if pc.get((l, r), 0) != c or c != best:
            return k
        touched = set()
        for i in where.pop((l, r), ()):
            s, n = seqs[i], cnts[i]
            if l not in s:
                continue
            out, j = [], 0
            while j < len(s):
                if j + 1 < len(s) and s[j] == l and s[j + 1] == r:
                    out.append(l + r)
                    j += 2
                else:
                    out.append(s[j])
                    j += 1
            if len(out) == len(s):
                continue
            for a, b in zip(s, s[1:]):
                pc[(a, b)] -= n
            seqs[i] = out
            for a, b in zip(out, out[1:]):
                pc[(a, b)] += n
                where[(a, b)].add(i)
                touched.add((a, b))
        for p in touched:
            if pc[p] > 0:
                heapq.heappush(heap, (-pc[p], p))
        pc.pop((l, r), None)
    return len(codes)


def main():
    t0 = time.time()
    failures = []
    tmp = tempfile.mkdtemp(prefix="fastbpe_parity_")
    fast = build_fastbpe(tmp)
    d = os.path.join(SHARED, "data")
    files = {
        "train.en": (os.path.join(d, "mono/en.bible-kjv.txt"), "en"),
        "train.mk": (os.path.join(d, "mono/mk.bible-mkb.txt"), "mk"),
        "valid.en": (os.path.join(d, "mk-en/valid.en"), "en"),
        "valid.mk": (os.path.join(d, "mk-en/valid.mk"), "mk"),
    }
    tok = {}
    with multiprocessing.Pool(max(1, min(2, os.cpu_count() or 1))) as pool:
        for name, (src, lang) in files.items():
            tok[name] = os.path.join(tmp, name + ".tok")
            tokenize(src, tok[name], lang, pool)
    n_lines = sum(1 for n in tok for _ in open(tok[n], encoding="utf-8"))
    print(f"tokenizer: {TOKENIZER}; {n_lines} lines; fastBPE: {fast}; unmt: {UNMT}")

    # --- learn --------------------------------------------------------------------------
    cf, cu = os.path.join(tmp, "codes.f"), os.path.join(tmp, "codes.u")
    t = time.time()
    run([fast, "learnbpe", str(MERGES), tok["train.en"], tok["train.mk"]], stdout=cf)
    tf = time.time() - t
    t = time.time()
    run([UNMT, "bpe", "learn", "--merges", str(MERGES), tok["train.en"], tok["train.mk"],
         "-o", cu])
    tu = time.time() - t
    mf, mu = read_codes(cf), read_codes(cu)
    last = min(c for _, _, c in mf + mu)
    gf, gu = collections.defaultdict(collections.Counter), collections.defaultdict(collections.Counter)
    for l, r, c in mf:
        gf[c][(l, r)] += 1
    for l, r, c in mu:
        gu[c][(l, r)] += 1
    counts = sorted(set(gf) | set(gu), reverse=True)
    above = [c for c in counts if c > last]
    matched = sum(sum((gf[c] & gu[c]).values()) for c in above)
    total = sum(sum(gf[c].values()) for c in above)
    same_groups = sum(gf[c] == gu[c] for c in above)
    same_pos = sum(a[:2] == b[:2] for a, b in zip(mf, mu))
    frac = matched / max(1, total)
    print(f"learn {MERGES}: fastBPE {len(mf)} merges in {tf:.1f}s, unmt {len(mu)} in {tu:.1f}s; "
          f"lowest count {last}; count groups above it identical as multisets: "
          f"{same_groups}/{len(above)}; merges matched within their count: {matched}/{total} "
          f"({100 * frac:.2f}%); same merge at the same rank: {same_pos}/{len(mf)}")
    t = time.time()
    corpora = [tok["train.en"], tok["train.mk"]]
    ok_u = replay(mu, corpora)
    n_f = min(len(mf), REPLAY_FASTBPE)
    ok_f = replay(mf[:n_f], corpora)
    print(f"replay with exact recounts: every merge is a most frequent pair with its count: "
          f"unmt {ok_u}/{len(mu)}, fastBPE {ok_f}/{n_f} (checks the checker) "
          f"({time.time() - t:.0f}s)")
    if ok_u != len(mu):
        failures.append(f"learn: unmt merge {ok_u + 1} is not a most frequent pair")
    if len(mu) != len(mf) or frac < MIN_LEARN_MATCH:
        failures.append(f"learn: {100 * frac:.2f}% of merges matched (< {100 * MIN_LEARN_MATCH}%)")

    # --- apply (same codes), vocab --------------------------------------------------------
    vocabs = {}
    for lang in ("en", "mk"):
        out_f = os.path.join(tmp, f"train.{lang}.bpe.f")
        run([fast, "applybpe", out_f, tok[f"train.{lang}"], cf])
        vf, vu = os.path.join(tmp, f"vocab.{lang}.f"), os.path.join(tmp, f"vocab.{lang}.u")
        run([fast, "getvocab", out_f], stdout=vf)
        run([UNMT, "bpe", "vocab", out_f, "-o", vu])
        same = read_bytes(vf) == read_bytes(vu)
        print(f"getvocab train.{lang}: byte-identical={same}")
        if not same:
            failures.append(f"getvocab train.{lang} differs")
        small = os.path.join(tmp, f"vocab.{lang}.2000")
        with open(vf, encoding="utf-8") as f, open(small, "w", encoding="utf-8") as g:
            for i, line in enumerate(f):
                if i < 2000:
                    g.write(line)
        vocabs[lang] = (vf, small)

    for name in ("train.en", "train.mk", "valid.en", "valid.mk"):
        lang = name.split(".")[1]
        for label, vocab in (("no vocab", None), ("full vocab", vocabs[lang][0]),
                             ("2000-entry vocab", vocabs[lang][1])):
            if name.startswith("train") and vocab is not None:
                continue
            of, ou = os.path.join(tmp, name + ".f"), os.path.join(tmp, name + ".u")
            run([fast, "applybpe", of, tok[name], cf] + ([vocab] if vocab else []))
            run([UNMT, "bpe", "apply", "--codes", cf, "-i", tok[name], "-o", ou]
                + (["--vocab", vocab] if vocab else []))
            a, b = read_bytes(of), read_bytes(ou)
            la, lb = a.split(b"\n"), b.split(b"\n")
            diff = sum(x != y for x, y in zip(la, lb)) + abs(len(la) - len(lb))
            print(f"apply {name} ({label}): byte-identical={a == b} ({diff} differing lines)")
            if a != b:
                failures.append(f"apply {name} ({label}) differs in {diff} lines")

    # --- segmentation of valid with each tool's own codes -----------------------------------
    for name in ("valid.en", "valid.mk"):
        of, ou = os.path.join(tmp, name + ".own.f"), os.path.join(tmp, name + ".own.u")
        run([fast, "applybpe", of, tok[name], cf])
        run([UNMT, "bpe", "apply", "--codes", cu, "-i", tok[name], "-o", ou])
        la, lb = read_bytes(of).split(b"\n"), read_bytes(ou).split(b"\n")
        same = sum(x == y for x, y in zip(la, lb)) / max(1, len(la))
        print(f"{name} segmented with own codes: {100 * same:.2f}% identical lines")
        if same < MIN_VALID_IDENTICAL:
            failures.append(f"{name}: {100 * same:.2f}% identical lines (< {100 * MIN_VALID_IDENTICAL}%)")

    shutil.rmtree(tmp, ignore_errors=True)
    print(f"done in {time.time() - t0:.0f}s")
    if failures:
        print("FAIL: " + "; ".join(failures))
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
