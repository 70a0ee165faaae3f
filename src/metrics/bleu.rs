//! Corpus and sentence BLEU, a port of sacrebleu/metrics/bleu.py (sacrebleu 2.6.0):
//! `BLEU._preprocess_segment`, `_extract_reference_info`, `_get_closest_ref_len`,
//! `_compute_segment_statistics` and `compute_bleu`.
use serde::{Deserialize, Serialize};

use crate::metrics::ngrams::{Counts, clipped_matches, count_ngrams, merge_max, total};
use crate::metrics::stats::SegmentStats;
use crate::metrics::text::{py_lower, py_rstrip, py_split};
use crate::metrics::tokenizers::Tokenizer;
use crate::validate::{InvalidParam, Validate};

/// BLEU smoothing methods (`BLEU.SMOOTH_DEFAULTS`, Chen & Cherry 2014).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmoothMethod {
    /// NIST/mteval exponential decay for zero-match orders (sacrebleu's default).
    #[default]
    Exp,
    /// Zero-match precisions become `smooth_value / total` (default value 0.1).
    Floor,
    /// Add `smooth_value` to matches and totals for n > 1 (default value 1).
    AddK,
    /// No smoothing.
    None,
}

impl SmoothMethod {
    /// sacrebleu's default smoothing value, `None` where the method takes none.
    pub fn default_value(self) -> Option<f64> {
        match self {
            SmoothMethod::Floor => Some(0.1),
            SmoothMethod::AddK => Some(1.0),
            SmoothMethod::Exp | SmoothMethod::None => None,
        }
    }

    /// Name as in the signature and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            SmoothMethod::Exp => "exp",
            SmoothMethod::Floor => "floor",
            SmoothMethod::AddK => "add-k",
            SmoothMethod::None => "none",
        }
    }
}

/// BLEU parameters; `Default` equals sacrebleu's `BLEU()` defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BleuParams {
    /// Lowercase hypotheses and references before tokenizing. Default: false.
    pub lowercase: bool,
    /// Tokenizer. Default: `13a`.
    pub tokenize: Tokenizer,
    /// Smoothing method. Default: `exp`.
    pub smooth_method: SmoothMethod,
    /// Smoothing value for `floor`/`add-k`; `None` uses 0.1 / 1. Default: None.
    pub smooth_value: Option<f64>,
    /// Maximum n-gram order. Default: 4.
    pub max_ngram_order: usize,
    /// Average only over orders with hypothesis n-grams (sentence BLEU). Default: false.
    pub effective_order: bool,
}

impl Default for BleuParams {
    fn default() -> Self {
        Self {
            lowercase: false,
            tokenize: Tokenizer::Tok13a,
            smooth_method: SmoothMethod::Exp,
            smooth_value: None,
            max_ngram_order: 4,
            effective_order: false,
        }
    }
}

impl Validate for BleuParams {
    /// Check ranges: order in 1..=16, smoothing value finite and >= 0.
    fn validate(&self) -> Result<(), InvalidParam> {
        if !(1..=16).contains(&self.max_ngram_order) {
            return Err(InvalidParam::new(
                "max_ngram_order",
                format!("must be in 1..=16, got {}", self.max_ngram_order),
            ));
        }
        if let Some(v) = self.smooth_value
            && (!v.is_finite() || v < 0.0)
        {
            return Err(InvalidParam::new(
                "smooth_value",
                format!("must be a finite non-negative number, got {v}"),
            ));
        }
        Ok(())
    }
}

impl BleuParams {
    /// Width of a segment's statistics row: `[sys_len, ref_len, correct.., total..]`.
    pub fn dim(&self) -> usize {
        2 + 2 * self.max_ngram_order
    }

    /// `BLEU._preprocess_segment`: lowercase (optional), rstrip, tokenize.
    pub fn preprocess(&self, sent: &str) -> String {
        if self.lowercase {
            self.tokenize.tokenize(py_rstrip(&py_lower(sent)))
        } else {
            self.tokenize.tokenize(py_rstrip(sent))
        }
    }
}

/// A BLEU result with the figures sacrebleu's `BLEUScore` carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BleuScore {
    /// BLEU on the 0-100 scale.
    pub score: f64,
    /// Clipped n-gram matches per order (before add-k smoothing).
    pub counts: Vec<u64>,
    /// Hypothesis n-grams per order (before add-k smoothing).
    pub totals: Vec<u64>,
    /// Precisions per order on the 0-100 scale (after smoothing).
    pub precisions: Vec<f64>,
    /// Brevity penalty.
    pub bp: f64,
    /// Hypothesis length in tokens.
    pub sys_len: u64,
    /// Effective reference length in tokens.
    pub ref_len: u64,
    /// `sys_len / ref_len` (0 when `ref_len` is 0).
    pub ratio: f64,
}

impl BleuScore {
    /// sacrebleu's verbose part: `56.7/30.1/18.2/11.5 (BP = 1.000 ratio = 1.012 hyp_len = .. ref_len = ..)`.
    pub fn verbose(&self) -> String {
        let prec: Vec<String> = self.precisions.iter().map(|p| format!("{p:.1}")).collect();
        format!(
            "{} (BP = {:.3} ratio = {:.3} hyp_len = {} ref_len = {})",
            prec.join("/"),
            self.bp,
            self.ratio,
            self.sys_len,
            self.ref_len
        )
    }
}

/// `math.log` floored like sacrebleu's `utils.my_log`.
fn my_log(x: f64) -> f64 {
    if x == 0.0 { -9_999_999_999.0 } else { x.ln() }
}

/// Port of `BLEU.compute_bleu` from summed statistics `[sys_len, ref_len, correct.., total..]`.
pub fn compute_bleu(stats: &[i64], p: &BleuParams) -> BleuScore {
    let order = p.max_ngram_order;
    let sys_len = stats[0].max(0) as u64;
    let ref_len = stats[1].max(0) as u64;
    let counts: Vec<u64> = stats[2..2 + order]
        .iter()
        .map(|&c| c.max(0) as u64)
        .collect();
    let totals: Vec<u64> = stats[2 + order..2 + 2 * order]
        .iter()
        .map(|&c| c.max(0) as u64)
        .collect();
    let smooth_value = p
        .smooth_value
        .or(p.smooth_method.default_value())
        .unwrap_or(0.0);

    let mut bp = 1.0;
    if sys_len < ref_len {
        bp = if sys_len > 0 {
            (1.0 - ref_len as f64 / sys_len as f64).exp()
        } else {
            0.0
        };
    }
    let ratio = if ref_len > 0 {
        sys_len as f64 / ref_len as f64
    } else {
        0.0
    };
    let mut precisions = vec![0.0; order];
    let mk = |score, precisions| BleuScore {
        score,
        counts: counts.clone(),
        totals: totals.clone(),
        precisions,
        bp,
        sys_len,
        ref_len,
        ratio,
    };
    // Early stop if there are no matches (sacrebleu #141).
    if counts.iter().all(|&c| c == 0) {
        return mk(0.0, precisions);
    }
    let mut correct: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
    let mut total_f: Vec<f64> = totals.iter().map(|&c| c as f64).collect();
    let mut smooth_mteval = 1.0f64;
    let mut eff_order = order;
    for n in 1..=order {
        if p.smooth_method == SmoothMethod::AddK && n > 1 {
            correct[n - 1] += smooth_value;
            total_f[n - 1] += smooth_value;
        }
        if total_f[n - 1] == 0.0 {
            break;
        }
        if p.effective_order {
            eff_order = n;
        }
        if correct[n - 1] == 0.0 {
            match p.smooth_method {
                SmoothMethod::Exp => {
                    smooth_mteval *= 2.0;
                    precisions[n - 1] = 100.0 / (smooth_mteval * total_f[n - 1]);
                }
                SmoothMethod::Floor => {
                    precisions[n - 1] = 100.0 * smooth_value / total_f[n - 1];
                }
                SmoothMethod::AddK | SmoothMethod::None => {}
            }
        } else {
            precisions[n - 1] = 100.0 * correct[n - 1] / total_f[n - 1];
        }
    }
    // Python: sum([my_log(p) for p in precisions[:eff_order]]) / eff_order, summed from 0.
    let mut log_sum = 0.0f64;
    for &pr in &precisions[..eff_order] {
        log_sum += my_log(pr);
    }
    let score = bp * (log_sum / eff_order as f64).exp();
    mk(score, precisions)
}

/// `_get_closest_ref_len`: closest reference length, ties go to the shorter one.
pub fn closest_ref_len(hyp_len: usize, ref_lens: &[usize]) -> usize {
    let mut best: Option<(usize, usize)> = None;
    for &r in ref_lens {
        let diff = hyp_len.abs_diff(r);
        best = match best {
            None => Some((diff, r)),
            Some((d, l)) if diff < d || (diff == d && r < l) => Some((diff, r)),
            keep => keep,
        };
    }
    best.map_or(0, |(_, l)| l)
}

/// Statistics row of one segment; `hyp` and `refs` are raw (untokenized) lines.
pub fn segment_stats(hyp: &str, refs: &[&str], p: &BleuParams) -> Vec<i64> {
    let order = p.max_ngram_order;
    let hyp_tok = p.preprocess(hyp);
    let ref_toks: Vec<String> = refs.iter().map(|r| p.preprocess(r)).collect();
    let hyp_words: Vec<&str> = py_split(&hyp_tok).collect();
    let ref_words: Vec<Vec<&str>> = ref_toks.iter().map(|r| py_split(r).collect()).collect();
    let ref_lens: Vec<usize> = ref_words.iter().map(Vec::len).collect();

    let mut row = vec![0i64; p.dim()];
    row[0] = hyp_words.len() as i64;
    row[1] = closest_ref_len(hyp_words.len(), &ref_lens) as i64;
    for n in 1..=order {
        let hyp_counts = count_ngrams(&hyp_words, n);
        let mut ref_counts: Option<Counts<'_, &str>> = None;
        for rw in &ref_words {
            let c = count_ngrams(rw, n);
            ref_counts = Some(match ref_counts {
                None => c,
                Some(prev) => merge_max(&prev, &c),
            });
        }
        let ref_counts = ref_counts.unwrap_or_default();
        row[1 + n] = clipped_matches(&hyp_counts, &ref_counts) as i64;
        row[1 + order + n] = total(&hyp_counts) as i64;
    }
    row
}

/// Statistics of every segment. `refs[k][i]` is line `i` of reference stream `k`; all
/// streams must have `hyps.len()` lines (checked by the callers that read files).
pub fn corpus_stats(hyps: &[String], refs: &[Vec<String>], p: &BleuParams) -> SegmentStats {
    SegmentStats::per_segment(p.dim(), hyps, refs, |h, r| segment_stats(h, r, p))
}

/// Corpus BLEU (`BLEU.corpus_score`).
pub fn corpus_bleu(hyps: &[String], refs: &[Vec<String>], p: &BleuParams) -> BleuScore {
    compute_bleu(&corpus_stats(hyps, refs, p).sum(), p)
}

/// Sentence BLEU (`BLEU.sentence_score`); set `effective_order` as sacrebleu recommends.
pub fn sentence_bleu(hyp: &str, refs: &[&str], p: &BleuParams) -> BleuScore {
    compute_bleu(&segment_stats(hyp, refs, p), p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &[&str]) -> Vec<String> {
        x.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn perfect_match_is_100() {
        let h = s(&["the cat sat on the mat ."]);
        let b = corpus_bleu(&h, std::slice::from_ref(&h), &BleuParams::default());
        assert!((b.score - 100.0).abs() < 1e-12);
        assert_eq!(b.counts, vec![7, 6, 5, 4]);
        assert_eq!(b.bp, 1.0);
    }

    #[test]
    fn hand_derived_short_hypothesis() {
        // hyp "the cat" vs ref "the cat sat": p1 = 2/2, p2 = 1/1, p3: total 0 -> stop,
        // p3 = p4 = 0 -> BLEU 0 without effective order; BP = exp(1 - 3/2).
        let p = BleuParams::default();
        let b = sentence_bleu("the cat", &["the cat sat"], &p);
        assert_eq!(b.score, 0.0);
        assert_eq!(b.precisions, vec![100.0, 100.0, 0.0, 0.0]);
        assert!((b.bp - (-0.5f64).exp()).abs() < 1e-15);
        // With effective order: exp(mean(log 100, log 100)) * bp.
        let pe = BleuParams {
            effective_order: true,
            ..p
        };
        let b = sentence_bleu("the cat", &["the cat sat"], &pe);
        assert!((b.score - 100.0 * (-0.5f64).exp()).abs() < 1e-9);
    }

    #[test]
    fn exp_floor_addk_smoothing() {
        // hyp "a b c d" vs ref "a b x d": counts 3/1/0/0, totals 4/3/2/1.
        let h = "a b c d";
        let r = ["a b x d"];
        let exp = sentence_bleu(h, &r, &BleuParams::default());
        assert_eq!(
            exp.precisions,
            vec![75.0, 100.0 / 3.0, 100.0 / 4.0, 100.0 / 4.0]
        );
        let expected = ((75f64.ln() + (100.0f64 / 3.0).ln() + 25f64.ln() + 25f64.ln()) / 4.0).exp();
        assert!((exp.score - expected).abs() < 1e-9);
        let floor = sentence_bleu(
            h,
            &r,
            &BleuParams {
                smooth_method: SmoothMethod::Floor,
                ..Default::default()
            },
        );
        assert_eq!(floor.precisions[2], 100.0 * 0.1 / 2.0);
        let addk = sentence_bleu(
            h,
            &r,
            &BleuParams {
                smooth_method: SmoothMethod::AddK,
                ..Default::default()
            },
        );
        assert_eq!(addk.precisions, vec![75.0, 50.0, 100.0 / 3.0, 50.0]);
        let none = sentence_bleu(
            h,
            &r,
            &BleuParams {
                smooth_method: SmoothMethod::None,
                ..Default::default()
            },
        );
        assert_eq!(none.score, 0.0);
    }

    #[test]
    fn closest_ref_len_prefers_shorter_on_ties() {
        assert_eq!(closest_ref_len(5, &[7, 3]), 3);
        assert_eq!(closest_ref_len(5, &[6, 4]), 4);
        assert_eq!(closest_ref_len(5, &[9, 6]), 6);
    }

    #[test]
    fn multi_reference_clips_with_max_count() {
        let p = BleuParams::default();
        let row = segment_stats("a a a", &["a b", "a a c"], &p);
        // unigram a: hyp 3, max ref count 2; closest ref len to 3: 2 vs 3 -> 3.
        assert_eq!(row[..3], [3, 3, 2]);
    }

    #[test]
    fn empty_hypothesis_gives_zero() {
        let b = sentence_bleu("", &["a b"], &BleuParams::default());
        assert_eq!((b.score, b.bp, b.ratio), (0.0, 0.0, 0.0));
    }

    #[test]
    fn validate_rejects_bad_values() {
        assert!(
            BleuParams {
                max_ngram_order: 0,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            BleuParams {
                smooth_value: Some(-1.0),
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(BleuParams::default().validate().is_ok());
    }
}
