//! chrF and chrF++, a port of sacrebleu/metrics/chrf.py (sacrebleu 2.6.0):
//! `CHRF._remove_punctuation`, `_get_match_statistics`, `_compute_f_score`,
//! `_compute_segment_statistics` and helpers.py `extract_all_char_ngrams`.
use serde::{Deserialize, Serialize};

use crate::metrics::ngrams::{
    Counts, KeyCounts, clipped_matches, count_char_ngrams_packed, count_ngrams, total,
};
use crate::metrics::stats::SegmentStats;
use crate::metrics::text::{py_isspace, py_lower, py_split};
use crate::validate::{InvalidParam, Validate};

/// chrF parameters; `Default` equals sacrebleu's `CHRF()` (chrF2, not chrF++).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChrfParams {
    /// Character n-gram order. Default: 6.
    pub char_order: usize,
    /// Word n-gram order (2 = chrF++). Default: 0.
    pub word_order: usize,
    /// Recall weight beta. Default: 2.
    pub beta: u32,
    /// Lowercase before extracting n-grams. Default: false.
    pub lowercase: bool,
    /// Keep whitespace inside character n-grams. Default: false.
    pub whitespace: bool,
    /// chrF++.py-style epsilon smoothing instead of effective order. Default: false.
    pub eps_smoothing: bool,
}

impl Default for ChrfParams {
    fn default() -> Self {
        Self {
            char_order: 6,
            word_order: 0,
            beta: 2,
            lowercase: false,
            whitespace: false,
            eps_smoothing: false,
        }
    }
}

/// ASCII punctuation (`string.punctuation`), the set `CHRF._PUNCTS`.
fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation()
}

impl Validate for ChrfParams {
    /// Check ranges: orders up to 32 with at least one order, beta in 1..=100.
    fn validate(&self) -> Result<(), InvalidParam> {
        if self.char_order > 32 || self.word_order > 32 || self.char_order + self.word_order == 0 {
            let field = if self.word_order > 32 {
                "word_order"
            } else {
                "char_order"
            };
            return Err(InvalidParam::new(
                field,
                format!(
                    "orders must be <= 32 and not both 0, got char {} word {}",
                    self.char_order, self.word_order
                ),
            ));
        }
        if !(1..=100).contains(&self.beta) {
            return Err(InvalidParam::new(
                "beta",
                format!("must be in 1..=100, got {}", self.beta),
            ));
        }
        Ok(())
    }
}

impl ChrfParams {
    /// Total number of orders (char + word).
    pub fn order(&self) -> usize {
        self.char_order + self.word_order
    }

    /// Width of a statistics row: `[hyp, ref, match]` per order.
    pub fn dim(&self) -> usize {
        3 * self.order()
    }

    /// `CHRFScore.name`: `chrF2`, `chrF2++`, ...
    pub fn name(&self) -> String {
        format!("chrF{}{}", self.beta, "+".repeat(self.word_order))
    }

    /// Port of `CHRF._compute_f_score` (same operation order, so bit-identical in f64).
    pub fn f_score(&self, stats: &[i64]) -> f64 {
        let eps = 1e-16;
        let factor = f64::from(self.beta * self.beta);
        let mut score = 0.0f64;
        let mut effective_order = 0usize;
        let (mut avg_prec, mut avg_rec) = (0.0f64, 0.0f64);
        for i in 0..self.order() {
            let (n_hyp, n_ref, n_match) = (stats[3 * i], stats[3 * i + 1], stats[3 * i + 2]);
            let prec = if n_hyp > 0 {
                n_match as f64 / n_hyp as f64
            } else {
                eps
            };
            let rec = if n_ref > 0 {
                n_match as f64 / n_ref as f64
            } else {
                eps
            };
            let denom = factor * prec + rec;
            score += if denom > 0.0 {
                (1.0 + factor) * prec * rec / denom
            } else {
                eps
            };
            if n_hyp > 0 && n_ref > 0 {
                avg_prec += prec;
                avg_rec += rec;
                effective_order += 1;
            }
        }
        if self.eps_smoothing {
            return 100.0 * score / self.order() as f64;
        }
        if effective_order == 0 {
            avg_prec = 0.0;
            avg_rec = 0.0;
        } else {
            avg_prec /= effective_order as f64;
            avg_rec /= effective_order as f64;
        }
        if avg_prec + avg_rec != 0.0 {
            let mut s = (1.0 + factor) * avg_prec * avg_rec;
            s /= (factor * avg_prec) + avg_rec;
            100.0 * s
        } else {
            0.0
        }
    }
}

/// `CHRF._remove_punctuation`: split one leading or trailing ASCII punctuation mark off
/// each word (trailing checked first, so `(hi)` becomes `(hi` and `)`, sacrebleu #124).
pub fn remove_punctuation(sent: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for w in py_split(sent) {
        let mut it = w.chars();
        let first = it.next();
        let last = w.chars().next_back();
        match (first, last) {
            (Some(f), Some(l)) if w.chars().nth(1).is_some() => {
                if is_punct(l) {
                    out.push(&w[..w.len() - l.len_utf8()]);
                    out.push(&w[w.len() - l.len_utf8()..]);
                } else if is_punct(f) {
                    out.push(&w[..f.len_utf8()]);
                    out.push(&w[f.len_utf8()..]);
                } else {
                    out.push(w);
                }
            }
            _ => out.push(w),
        }
    }
    out
}

/// Character sequence used for character n-grams (whitespace removed unless kept).
fn char_seq(line: &str, whitespace: bool) -> Vec<char> {
    if whitespace {
        line.chars().collect()
    } else {
        line.chars().filter(|&c| !py_isspace(c)).collect()
    }
}

/// All n-gram counts of one (preprocessed) segment: character orders 1..=6 as packed
/// keys, higher character orders as slices, then word orders.
struct SegNgrams<'a> {
    packed: Vec<KeyCounts<u128>>,
    char_slices: Vec<Counts<'a, char>>,
    words: Vec<Counts<'a, &'a str>>,
}

fn seg_ngrams<'a>(chars: &'a [char], words: &'a [&'a str], p: &ChrfParams) -> SegNgrams<'a> {
    SegNgrams {
        packed: (1..=p.char_order.min(6))
            .filter_map(|n| count_char_ngrams_packed(chars, n))
            .collect(),
        char_slices: (7..=p.char_order).map(|n| count_ngrams(chars, n)).collect(),
        words: (1..=p.word_order).map(|n| count_ngrams(words, n)).collect(),
    }
}

/// `_get_match_statistics` for one order: `[hyp if ref non-empty else 0, ref, match]`.
fn match_stats<K: Ord>(h: &[(K, u32)], r: &[(K, u32)], out: &mut Vec<i64>) {
    let hyp_count = if r.is_empty() { 0 } else { total(h) as i64 };
    out.extend_from_slice(&[hyp_count, total(r) as i64, clipped_matches(h, r) as i64]);
}

/// Statistics row of one segment: the reference with the best segment F-score wins
/// (first one on ties), as in `_compute_segment_statistics`.
pub fn segment_stats(hyp: &str, refs: &[&str], p: &ChrfParams) -> Vec<i64> {
    let prep = |s: &str| {
        if p.lowercase {
            py_lower(s)
        } else {
            s.to_owned()
        }
    };
    let hyp = prep(hyp);
    let hyp_chars = char_seq(&hyp, p.whitespace);
    let hyp_words = if p.word_order > 0 {
        remove_punctuation(&hyp)
    } else {
        Vec::new()
    };
    let h = seg_ngrams(&hyp_chars, &hyp_words, p);

    let mut best: Vec<i64> = Vec::new();
    let mut best_f = -1.0f64;
    for r in refs {
        let r = prep(r);
        let r_chars = char_seq(&r, p.whitespace);
        let r_words = if p.word_order > 0 {
            remove_punctuation(&r)
        } else {
            Vec::new()
        };
        let rn = seg_ngrams(&r_chars, &r_words, p);
        let mut stats = Vec::with_capacity(p.dim());
        for (hc, rc) in h.packed.iter().zip(&rn.packed) {
            match_stats(hc, rc, &mut stats);
        }
        for (hc, rc) in h.char_slices.iter().zip(&rn.char_slices) {
            match_stats(hc, rc, &mut stats);
        }
        for (hw, rw) in h.words.iter().zip(&rn.words) {
            match_stats(hw, rw, &mut stats);
        }
        let f = p.f_score(&stats);
        if f > best_f {
            best_f = f;
            best = stats;
        }
    }
    if best.len() != p.dim() {
        best.resize(p.dim(), 0);
    }
    best
}

/// Statistics of every segment (`refs[k][i]` = line `i` of reference stream `k`).
pub fn corpus_stats(hyps: &[String], refs: &[Vec<String>], p: &ChrfParams) -> SegmentStats {
    SegmentStats::per_segment(p.dim(), hyps, refs, |h, r| segment_stats(h, r, p))
}

/// Corpus chrF (`CHRF.corpus_score`), 0-100.
pub fn corpus_chrf(hyps: &[String], refs: &[Vec<String>], p: &ChrfParams) -> f64 {
    p.f_score(&corpus_stats(hyps, refs, p).sum())
}

/// Sentence chrF (`CHRF.sentence_score`), 0-100.
pub fn sentence_chrf(hyp: &str, refs: &[&str], p: &ChrfParams) -> f64 {
    p.f_score(&segment_stats(hyp, refs, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_is_100_and_disjoint_is_0() {
        let p = ChrfParams::default();
        assert!((sentence_chrf("abc def", &["abc def"], &p) - 100.0).abs() < 1e-12);
        assert_eq!(sentence_chrf("xyz", &["abc"], &p), 0.0);
    }

    #[test]
    fn hand_derived_two_orders() {
        // char_order 2: hyp "ab" vs ref "abc": 1-grams P=2/2 R=2/3, 2-grams P=1/1 R=1/2.
        // avgP = 1, avgR = (2/3 + 1/2)/2 = 7/12; F2 = 5*P*R/(4P+R).
        let p = ChrfParams {
            char_order: 2,
            ..Default::default()
        };
        let r: f64 = (2.0 / 3.0 + 0.5) / 2.0;
        let expected = 100.0 * 5.0 * r / (4.0 + r);
        assert!((sentence_chrf("ab", &["abc"], &p) - expected).abs() < 1e-12);
        assert_eq!(segment_stats("ab", &["abc"], &p), vec![2, 3, 2, 1, 2, 1]);
    }

    #[test]
    fn hyp_count_zero_when_reference_order_empty() {
        let p = ChrfParams {
            char_order: 3,
            ..Default::default()
        };
        // ref "ab" has no 3-grams -> hyp 3-gram count reported as 0.
        assert_eq!(segment_stats("abc", &["ab"], &p)[6..9], [0, 0, 0]);
    }

    #[test]
    fn remove_punctuation_matches_sacrebleu() {
        assert_eq!(
            remove_punctuation("(hi) , a. ,b x"),
            vec!["(hi", ")", ",", "a", ".", ",", "b", "x"]
        );
    }

    #[test]
    fn best_reference_is_chosen() {
        let p = ChrfParams::default();
        let one = sentence_chrf("hello world", &["hello world"], &p);
        let two = sentence_chrf("hello world", &["goodbye", "hello world"], &p);
        assert_eq!(one, two);
        let pp = ChrfParams {
            word_order: 2,
            ..Default::default()
        };
        assert_eq!(pp.name(), "chrF2++");
        assert_eq!(segment_stats("a b", &["a b"], &pp).len(), 24);
    }
}
