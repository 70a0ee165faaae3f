"""Generates examples/data/skipgram_subword_ids.tsv with the fastText Python reference.

Run once (needs `pip install fasttext-wheel==0.9.2`):
    python3 tests/parity/gen_subword_fixture.py > examples/data/skipgram_subword_ids.tsv
Each line: `word<TAB>bucket ids` where bucket id = (id returned by get_subwords) - nwords,
i.e. fastText's FNV-1a (signed bytes) hash of each n-gram of <word> mod 2,000,000, minn 3,
maxn 6, for words that are not in the model's vocabulary.
"""
import os
import tempfile

import fasttext

WORDS = ["where", "the", "a", "ab", "Macedonia", "Македонија", "мак", "ё", "shqipëri",
         "çfarë", "naïve", "日本語", "emoji😀x", "@@", "thy@@", "don't", "1984", "éé"]

with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "tiny.txt")
    with open(path, "w") as f:
        f.write("zzzq zzzr\n" * 10)
    m = fasttext.train_unsupervised(path, model="skipgram", dim=2, epoch=1, minCount=1,
                                    thread=1, verbose=0)
    nwords = len(m.words)
    for w in WORDS:
        assert m.get_word_id(w) == -1, w
        subs, ids = m.get_subwords(w)
        print(w + "\t" + " ".join(str(i - nwords) for i in ids))
