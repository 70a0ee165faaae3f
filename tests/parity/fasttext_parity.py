"""Parity of `unmt skipgram` with fastText 0.9.2 (fasttext-wheel) skip-gram.

Env: UNMT (binary exposing `unmt skipgram`, default target/release/unmt),
     SHARED (shared data dir, default ../shared beside the repository).
Corpus: first 20,000 lines of SHARED/data/mono/en.bible-kjv.txt.
Checks (identical hyperparameters: fastText skip-gram defaults, dim 100, epoch 5, thread 2):
 (a) vocabulary: identical words and counts in identical order (we port libstdc++'s
     std::sort, so even equal-count words are in fastText's order).
 (b) subword ids: for every word, the n-gram rows (nwords + FNV-1a(signed bytes) % bucket)
     are identical, and the first id is the word's own row.
 (c) embedding quality: mean nearest-neighbour overlap@10 (cosine, whole vocabulary) over the
     500 most frequent words, ours vs fastText, compared with fastText vs fastText (seeds 0 and
     2; seed 1 would equal seed 0, std::minstd_rand maps 0 to 1).
     Fails when ours is more than 5 points below.
 (d) exactness: with thread 1 (epoch 1, first 5,000 lines) our .vec must be identical, line
     for line, to fastText's vectors printed as fastText's saveVectors does (%.5g + ' ').
Exit 1 when (a), (b) or (d) differ or (c) fails. Runs in about a minute on 2 free cores.
"""
import os
import subprocess
import sys
import tempfile
import time

import fasttext  # noqa: F401  (fasttext-wheel 0.9.2)
from fasttext import FastText as FT
import numpy as np

UNMT = os.environ.get("UNMT", "target/release/unmt")
SHARED = os.environ.get(
    "SHARED", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared")
)
LINES, TOP, K, TOLERANCE = 20_000, 500, 10, 0.05
HP = dict(dim=100, epoch=5, thread=2)


def ft_train(corpus, seed, hp=HP):
    """fasttext.train_unsupervised with a seed (0.9.2's wrapper does not accept `seed`,
    but its args object has it)."""
    args = dict(FT.unsupervised_default)
    args.update(input=corpus, model="skipgram", verbose=0, seed=seed, **hp)
    a = FT._build_args(args, {"input", "model", "verbose", "seed", *hp})
    m = FT._FastText(args=a)
    FT.fasttext.train(m.f, a)
    m.set_args(m.f.getArgs())
    return m


def read_vec(path):
    with open(path, encoding="utf-8") as f:
        n, dim = map(int, f.readline().split())
        words, rows = [], []
        for line in f:
            parts = line.rstrip().split(" ")
            words.append(parts[0])
            rows.append(np.asarray(parts[1:], dtype=np.float32))
    assert len(words) == n and all(len(r) == dim for r in rows), path
    return words, np.stack(rows)


def neighbours(words, mat, queries):
    idx = {w: i for i, w in enumerate(words)}
    m = mat / np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
    q = np.array([idx[w] for w in queries])
    sims = m[q] @ m.T
    sims[np.arange(len(q)), q] = -np.inf
    top = np.argsort(-sims, axis=1)[:, :K]
    return {w: {words[j] for j in row} for w, row in zip(queries, top)}


def overlap(a, b):
    return float(np.mean([len(a[w] & b[w]) / K for w in a]))


def main():
    ok = True
    with tempfile.TemporaryDirectory() as d:
        corpus = os.path.join(d, "en20k.txt")
        with open(os.path.join(SHARED, "data/mono/en.bible-kjv.txt"), encoding="utf-8") as f, \
                open(corpus, "w", encoding="utf-8") as g:
            for i, line in enumerate(f):
                if i >= LINES:
                    break
                g.write(line)

        t0 = time.time()
        ft = [ft_train(corpus, s) for s in (0, 2)]
        t_ft = (time.time() - t0) / 2
        words_ft, counts_ft = ft[0].get_words(include_freq=True)
        words_ft = list(words_ft)

        # (a) + (b): our vocabulary and subword rows, without training.
        out = subprocess.run([UNMT, "skipgram", "--input", corpus, "--print-subwords"],
                             check=True, capture_output=True, text=True).stdout
        ours = []
        for line in out.splitlines():
            w, c, rows = line.split("\t")
            ours.append((w, int(c), [int(x) for x in rows.split()]))
        pairs_ft = sorted(zip(words_ft, map(int, counts_ft)))
        pairs_ours = sorted((w, c) for w, c, _ in ours)
        same_pairs = pairs_ft == pairs_ours
        same_counts = [int(c) for c in counts_ft] == [c for _, c, _ in ours]
        order_diff = sum(1 for (w, _, _), v in zip(ours, words_ft) if w != v)
        print(f"(a) vocabulary: {len(ours)} ours, {len(words_ft)} fastText; (word,count) pairs "
              f"identical: {same_pairs}; count sequence identical: {same_counts}; "
              f"positions holding another word: {order_diff}")
        ok &= same_pairs and same_counts and order_diff == 0

        nwords = len(words_ft)
        bad = 0
        for i, (w, _, rows) in enumerate(ours):
            ids = list(ft[0].get_subwords(w)[1])
            if rows[0] != i or words_ft[ids[0]] != w or rows[1:] != ids[1:]:
                bad += 1
        print(f"(b) subword ids: {len(ours) - bad}/{len(ours)} words identical (nwords {nwords})")
        ok &= bad == 0

        # (c) quality.
        t0 = time.time()
        prefix = os.path.join(d, "ours")
        cmd = [UNMT, "skipgram", "--input", corpus, "--output", prefix, "--seed", "0"]
        for k, v in HP.items():
            cmd += [f"--{k}", str(v)]
        subprocess.run(cmd, check=True, capture_output=True)
        t_ours = time.time() - t0
        words_o, mat_o = read_vec(prefix + ".vec")
        queries = [w for w in words_ft[:TOP + 1] if w != "</s>"][:TOP]
        nn_o = neighbours(words_o, mat_o, queries)
        nn_f = [neighbours(words_ft, np.stack([m.get_word_vector(w) for w in words_ft]), queries) for m in ft]
        ff = overlap(nn_f[0], nn_f[1])
        of = (overlap(nn_o, nn_f[0]) + overlap(nn_o, nn_f[1])) / 2
        print(f"(c) NN overlap@{K} over the {TOP} most frequent words: fastText vs fastText {ff:.3f}, "
              f"ours vs fastText {of:.3f} (tolerance {TOLERANCE:.2f})")
        print(f"    train time (thread {HP['thread']}): fastText {t_ft:.1f}s, ours {t_ours:.1f}s")
        ok &= of >= ff - TOLERANCE

        # (d) bit-exactness with one thread.
        small = os.path.join(d, "en5k.txt")
        with open(corpus, encoding="utf-8") as f, open(small, "w", encoding="utf-8") as g:
            g.writelines(line for i, line in zip(range(5000), f))
        exact_hp = dict(dim=100, epoch=1, thread=1)
        m = ft_train(small, 0, exact_hp)
        prefix1 = os.path.join(d, "ours1")
        subprocess.run([UNMT, "skipgram", "--input", small, "--output", prefix1, "--thread", "1", "--epoch", "1"],
                       check=True, capture_output=True)
        with open(prefix1 + ".vec", encoding="utf-8") as f:
            ours_lines = f.read().split("\n")[1:-1]
        ft_lines = [w + " " + "".join("%.5g " % float(x) for x in m.get_word_vector(w)) for w in m.words]
        same = sum(a == b for a, b in zip(ours_lines, ft_lines))
        print(f"(d) thread 1: {same}/{len(ft_lines)} .vec lines identical to fastText's")
        ok &= same == len(ft_lines) == len(ours_lines)
    print("PARITY OK" if ok else "PARITY FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
