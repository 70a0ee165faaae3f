//! Seed dictionaries (vecmap map_embeddings.py, "Build the seed dictionary").
//! - identical: every string in both vocabularies (`--init_identical`), including `</s>`,
//!   numbers, punctuation and shared subword pieces: cheap supervision that works when the
//!   languages share some tokens;
//! - supervised: a `src trg` dictionary (one pair per line, tab or space), pairs with an
//!   out-of-vocabulary word are skipped (VecMap prints a warning per pair; we count them).
//!
//! Pairs are `(src_row, trg_row)`, sorted by source row (VecMap iterates a Python set, whose
//! order does not affect the Procrustes solution). Duplicated words use their first row.

use crate::embed::vec_format::Embeddings;

/// Identical-string seed, sorted by source row.
pub fn identical_seed(src: &Embeddings, trg: &Embeddings) -> Vec<(usize, usize)> {
    let trg_index = trg.word_index();
    let src_index = src.word_index();
    let mut pairs: Vec<(usize, usize)> = src_index
        .iter()
        .filter_map(|(w, &i)| trg_index.get(w).map(|&j| (i, j)))
        .collect();
    pairs.sort_unstable();
    pairs
}

/// Dictionary seed: `(pairs, n_oov)` where `n_oov` counts pairs dropped because a word is
/// missing from its vocabulary. Keeps dictionary order and duplicates (as VecMap does).
pub fn dictionary_seed(
    src: &Embeddings,
    trg: &Embeddings,
    dict: &[(String, String)],
) -> (Vec<(usize, usize)>, usize) {
    let si = src.word_index();
    let ti = trg.word_index();
    let mut oov = 0;
    let pairs = dict
        .iter()
        .filter_map(|(s, t)| match (si.get(s.as_str()), ti.get(t.as_str())) {
            (Some(&i), Some(&j)) => Some((i, j)),
            _ => {
                oov += 1;
                None
            }
        })
        .collect();
    (pairs, oov)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emb(words: &[&str]) -> Embeddings {
        let n = words.len();
        Embeddings::new(
            words.iter().map(|w| w.to_string()).collect(),
            1,
            vec![0.0; n],
        )
        .unwrap()
    }

    #[test]
    fn identical_strings_including_symbols() {
        let s = emb(&["</s>", "the", ",", "2024", "bog", "the"]);
        let t = emb(&["</s>", ",", "бог", "2024", "the"]);
        assert_eq!(identical_seed(&s, &t), vec![(0, 0), (1, 4), (2, 1), (3, 3)]);
    }

    #[test]
    fn dictionary_skips_oov() {
        let s = emb(&["god", "earth"]);
        let t = emb(&["бог", "земја"]);
        let d: Vec<(String, String)> = [("god", "бог"), ("sky", "небо"), ("earth", "земја")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(dictionary_seed(&s, &t, &d), (vec![(0, 0), (1, 1)], 1));
    }
}
