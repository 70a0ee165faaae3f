//! Confidence intervals and paired significance tests, an exact port of
//! sacrebleu/significance.py (sacrebleu 2.6.0, run with numpy 2.x): `_bootstrap_resample`,
//! `estimate_ci`, `_compute_p_value`, `_paired_bs_test`, `_paired_ar_test`, the seed handling
//! of `PairedTest.__init__`/`__call__`, and `Score.estimate_ci` (sacrebleu/metrics/base.py,
//! used by `corpus_score(n_bootstrap=...)`, i.e. `--confidence`).
//!
//! Like sacrebleu, resampling works on per-segment sufficient statistics, never on text, and
//! every figure is the one sacrebleu computes, bit for bit:
//! - the random numbers are numpy's `default_rng(seed)` ([`numpy_rng`]): bootstrap indices
//!   `rng.choice(n, size=(n_samples, n), replace=True)` (one matrix per seeded generator,
//!   reused for the baseline and every system as sacrebleu does), randomization masks
//!   `rng.integers(2, size=(n_trials, n), dtype=bool)`;
//! - resampled statistics are `np.array(stats, dtype='float32')[idxs][s].sum(0)`: float32
//!   rows added in resample order (numpy's axis-0 reduction of a C-contiguous matrix);
//! - scores from those float32 sums follow numpy 2 promotion (NEP 50: a Python float or int
//!   meeting a float32 is cast to float32), so BLEU precisions and the whole chrF formula
//!   are float32 arithmetic, and chrF score arrays are float32 arrays;
//! - `np.mean` is numpy's pairwise summation (`@TYPE@_pairwise_sum`, loops_utils.h.src) in
//!   the array's dtype, `statistics.mean` the exactly rounded mean, comparisons of float32
//!   arrays with a Python float cast the float to float32.
//!
//! Randomization trials score integer sums in f64, as numpy does for `bool @ int` matrices.
//!
//! Checked against sacrebleu 2.6.0 with numpy 2.4 and Python 3.11 (tests/parity). Under
//! numpy 1.x (value-based casting) sacrebleu computes resampled scores in f64 instead, and
//! Python >= 3.12 `sum()` of floats is compensated (BLEU's sum of log precisions), so
//! figures there can differ in the last bits.
//!
//! [`numpy_rng`]: crate::metrics::numpy_rng
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::metrics::MetricsError;
use crate::metrics::bleu::{BleuParams, SmoothMethod};
use crate::metrics::chrf::ChrfParams;
use crate::metrics::metric::Metric;
use crate::metrics::numpy_rng::Pcg64;
use crate::metrics::stats::SegmentStats;

/// Which paired test (`--paired-bs` or `--paired-ar`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PairedTest {
    /// Paired bootstrap resampling (Koehn 2004), default 1000 resamples.
    Bootstrap,
    /// Approximate randomization (Riezler & Maxwell 2005), default 10000 trials.
    ApproximateRandomization,
}

impl PairedTest {
    /// sacrebleu's `PairedTest._DEFAULT_SAMPLES`.
    pub fn default_samples(self) -> usize {
        match self {
            PairedTest::Bootstrap => 1000,
            PairedTest::ApproximateRandomization => 10000,
        }
    }
}

/// The seed as sacrebleu reads `SACREBLEU_SEED` (default `12345`; `none` = OS entropy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seed(pub Option<u64>);

impl Default for Seed {
    fn default() -> Self {
        Seed(Some(12345))
    }
}

impl Seed {
    /// Parse `12345` or `none` (any case), as `int(seed)` / `seed.lower() == 'none'`.
    pub fn parse(s: &str) -> Result<Self, MetricsError> {
        if s.trim().eq_ignore_ascii_case("none") {
            return Ok(Seed(None));
        }
        s.trim()
            .parse::<u64>()
            .map(|v| Seed(Some(v)))
            .map_err(|_| MetricsError::InvalidOption {
                option: "--seed",
                reason: format!("expected a non-negative integer or 'none', got {s:?}"),
            })
    }

    /// The seed as printed in signatures (`str(seed).lower()`).
    pub fn display(&self) -> String {
        self.0.map_or_else(|| "none".to_owned(), |v| v.to_string())
    }

    /// Seed used for the per-system paired tests: sacrebleu passes
    /// `self._seed if self._seed else None`, so seed 0 means unseeded there.
    pub fn for_system_tests(&self) -> Seed {
        Seed(self.0.filter(|&v| v != 0))
    }
}

/// Result for one system and one metric (sacrebleu `significance.Result`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemResult {
    /// The system's corpus score.
    pub score: f64,
    /// p-value against the baseline (none for the baseline itself).
    pub p_value: Option<f64>,
    /// Bootstrap estimate of the true mean (bootstrap test only).
    pub mean: Option<f64>,
    /// Half width of the 95% CI around the mean (bootstrap test only).
    pub ci: Option<f64>,
}

/// A number as sacrebleu's score code ends up holding it: a Python float or a numpy
/// float32 scalar. Arithmetic follows numpy 2 (NEP 50): Python floats and ints are "weak",
/// so an operation with a float32 casts the Python operand to float32 and rounds the result
/// to float32; Python with Python stays f64 (small Python ints are exact f64 here).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Py(f64),
    F32(f32),
}

impl Num {
    fn f64(self) -> f64 {
        match self {
            Num::Py(v) => v,
            Num::F32(v) => f64::from(v),
        }
    }

    fn op(self, o: Num, f: impl Fn(f64, f64) -> f64, g: impl Fn(f32, f32) -> f32) -> Num {
        match (self, o) {
            (Num::Py(a), Num::Py(b)) => Num::Py(f(a, b)),
            (Num::F32(a), Num::F32(b)) => Num::F32(g(a, b)),
            (Num::Py(a), Num::F32(b)) => Num::F32(g(a as f32, b)),
            (Num::F32(a), Num::Py(b)) => Num::F32(g(a, b as f32)),
        }
    }
}

impl std::ops::Add for Num {
    type Output = Num;
    fn add(self, o: Num) -> Num {
        self.op(o, |a, b| a + b, |a, b| a + b)
    }
}
impl std::ops::Sub for Num {
    type Output = Num;
    fn sub(self, o: Num) -> Num {
        self.op(o, |a, b| a - b, |a, b| a - b)
    }
}
impl std::ops::Mul for Num {
    type Output = Num;
    fn mul(self, o: Num) -> Num {
        self.op(o, |a, b| a * b, |a, b| a * b)
    }
}
impl std::ops::Div for Num {
    type Output = Num;
    fn div(self, o: Num) -> Num {
        self.op(o, |a, b| a / b, |a, b| a / b)
    }
}

/// `utils.my_log`.
fn my_log(x: f64) -> f64 {
    if x == 0.0 { -9_999_999_999.0 } else { x.ln() }
}

/// `BLEU._compute_score_from_stats(s).score` for a float32 sum `s` (a resample).
fn bleu_score_f32(s: &[f32], p: &BleuParams) -> f64 {
    let order = p.max_ngram_order;
    // int(stats[0]), int(stats[1])
    let sys_len = s[0] as i64;
    let ref_len = s[1] as i64;
    let mut correct: Vec<f32> = s[2..2 + order].to_vec();
    let mut total: Vec<f32> = s[2 + order..2 + 2 * order].to_vec();
    let smooth_value = p.smooth_value.or(p.smooth_method.default_value());
    let mut bp = 1.0f64;
    if sys_len < ref_len {
        bp = if sys_len > 0 {
            (1.0 - ref_len as f64 / sys_len as f64).exp()
        } else {
            0.0
        };
    }
    if correct.iter().all(|&c| c == 0.0) {
        return 0.0;
    }
    // `precisions = [0.0] * order`; assigned entries are float32, read back through
    // `math.log` (which takes their f64 value).
    let mut precisions = vec![0.0f64; order];
    let mut smooth_mteval = 1.0f64;
    let mut eff_order = order;
    for n in 1..=order {
        if p.smooth_method == SmoothMethod::AddK && n > 1 {
            let sv = smooth_value.unwrap_or(1.0) as f32;
            correct[n - 1] += sv;
            total[n - 1] += sv;
        }
        if total[n - 1] == 0.0 {
            break;
        }
        if p.effective_order {
            eff_order = n;
        }
        if correct[n - 1] == 0.0 {
            match p.smooth_method {
                SmoothMethod::Exp => {
                    smooth_mteval *= 2.0;
                    // 100. / (smooth_mteval * total[n - 1])
                    precisions[n - 1] = f64::from(100.0f32 / (smooth_mteval as f32 * total[n - 1]));
                }
                SmoothMethod::Floor => {
                    // (100. * smooth_value) is a Python float, then / float32.
                    let num = 100.0 * smooth_value.unwrap_or(0.1);
                    precisions[n - 1] = f64::from(num as f32 / total[n - 1]);
                }
                SmoothMethod::AddK | SmoothMethod::None => {}
            }
        } else {
            precisions[n - 1] = f64::from(100.0f32 * correct[n - 1] / total[n - 1]);
        }
    }
    let mut log_sum = 0.0f64;
    for &pr in &precisions[..eff_order] {
        log_sum += my_log(pr);
    }
    bp * (log_sum / eff_order as f64).exp()
}

/// `CHRF._compute_f_score(s)` for a float32 sum `s`, with numpy 2 scalar promotion.
fn chrf_score_f32(s: &[f32], p: &ChrfParams) -> Num {
    let eps = Num::Py(1e-16);
    let factor = Num::Py(f64::from(p.beta * p.beta));
    let one = Num::Py(1.0);
    let mut score = Num::Py(0.0);
    let mut effective_order = 0usize;
    let (mut avg_prec, mut avg_rec) = (Num::Py(0.0), Num::Py(0.0));
    for i in 0..p.order() {
        let (n_hyp, n_ref, n_match) = (s[3 * i], s[3 * i + 1], s[3 * i + 2]);
        let prec = if n_hyp > 0.0 {
            Num::F32(n_match / n_hyp)
        } else {
            eps
        };
        let rec = if n_ref > 0.0 {
            Num::F32(n_match / n_ref)
        } else {
            eps
        };
        let denom = factor * prec + rec;
        score = score
            + if denom.f64() > 0.0 {
                (one + factor) * prec * rec / denom
            } else {
                eps
            };
        if n_hyp > 0.0 && n_ref > 0.0 {
            avg_prec = avg_prec + prec;
            avg_rec = avg_rec + rec;
            effective_order += 1;
        }
    }
    if p.eps_smoothing {
        return Num::Py(100.0) * score / Num::Py(p.order() as f64);
    }
    if effective_order == 0 {
        avg_prec = Num::Py(0.0);
        avg_rec = Num::Py(0.0);
    } else {
        avg_prec = avg_prec / Num::Py(effective_order as f64);
        avg_rec = avg_rec / Num::Py(effective_order as f64);
    }
    if (avg_prec + avg_rec).f64() != 0.0 {
        let mut sc = (one + factor) * avg_prec * avg_rec;
        sc = sc / ((factor * avg_prec) + avg_rec);
        Num::Py(100.0) * sc
    } else {
        Num::Py(0.0)
    }
}

/// `metric._compute_score_from_stats(sums).score` for float32 sums.
fn score_f32(metric: &Metric, sums: &[f32]) -> Num {
    match metric {
        Metric::Bleu(p) => Num::Py(bleu_score_f32(sums, p)),
        Metric::Chrf(p) => chrf_score_f32(sums, p),
    }
}

/// A numpy array of scores, `np.array([x.score for x in ...])`: float32 when every score is
/// a float32 scalar, float64 otherwise.
#[derive(Debug, Clone, PartialEq)]
enum Scores {
    F64(Vec<f64>),
    F32(Vec<f32>),
}

impl Scores {
    fn from_nums(v: &[Num]) -> Self {
        if !v.is_empty() && v.iter().all(|x| matches!(x, Num::F32(_))) {
            Scores::F32(v.iter().map(|x| x.f64() as f32).collect())
        } else {
            Scores::F64(v.iter().map(|x| x.f64()).collect())
        }
    }

    fn to_f64(&self) -> Vec<f64> {
        match self {
            Scores::F64(v) => v.clone(),
            Scores::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        }
    }
}

/// numpy's `@TYPE@_pairwise_sum` (loops_utils.h.src, `PW_BLOCKSIZE` 128), which
/// `np.add.reduce` / `np.mean` use on a contiguous 1-D float array.
fn pairwise_sum<T: Copy + std::ops::Add<Output = T>>(a: &[T], zero: T) -> T {
    let n = a.len();
    if n < 8 {
        let mut res = zero;
        for &x in a {
            res = res + x;
        }
        res
    } else if n <= 128 {
        let mut r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
        let mut i = 8;
        while i < n - (n % 8) {
            for (rj, &x) in r.iter_mut().zip(&a[i..i + 8]) {
                *rj = *rj + x;
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res = res + a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2], zero) + pairwise_sum(&a[n2..], zero)
    }
}

/// `np.mean` of a float64 array.
fn np_mean_f64(a: &[f64]) -> f64 {
    pairwise_sum(a, 0.0) / a.len() as f64
}

/// `np.mean` of a float32 array (float32 sum; `ret.dtype.type(ret / rcount)`).
fn np_mean_f32(a: &[f32]) -> f32 {
    (f64::from(pairwise_sum(a, 0.0f32)) / a.len() as f64) as f32
}

/// `statistics.mean`: the exact sum of the values divided by their count, rounded once.
/// Values must be finite and non-negative (scores are); others fall back to an f64 sum.
fn exact_mean(values: &[f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if values.iter().any(|v| !v.is_finite() || *v < 0.0) {
        return values.iter().sum::<f64>() / n as f64;
    }
    // v = m * 2^e with integer m.
    let parts: Vec<(u64, i32)> = values
        .iter()
        .filter(|v| **v != 0.0)
        .map(|v| {
            let bits = v.to_bits();
            let exp = ((bits >> 52) & 0x7ff) as i32;
            let frac = bits & ((1u64 << 52) - 1);
            if exp == 0 {
                (frac, -1074)
            } else {
                (frac | (1u64 << 52), exp - 1075)
            }
        })
        .collect();
    let Some(emin) = parts.iter().map(|p| p.1).min() else {
        return 0.0;
    };
    // Big integer (little-endian u64 limbs), two zero limbs below for 128 extra bits so the
    // quotient by n keeps more than 64 significant bits.
    let mut acc: Vec<u64> = vec![0, 0];
    let add_at = |acc: &mut Vec<u64>, mut k: usize, v: u64| {
        let mut carry = v;
        while carry != 0 {
            if acc.len() <= k {
                acc.resize(k + 1, 0);
            }
            let (s, o) = acc[k].overflowing_add(carry);
            acc[k] = s;
            carry = u64::from(o);
            k += 1;
        }
    };
    for &(m, e) in &parts {
        let shift = (e - emin) as usize + 128;
        let (limb, bit) = (shift / 64, shift % 64);
        let wide = u128::from(m) << bit;
        add_at(&mut acc, limb, wide as u64);
        add_at(&mut acc, limb + 1, (wide >> 64) as u64);
    }
    // q, r = divmod(acc, n)
    let d = n as u128;
    let mut q = vec![0u64; acc.len()];
    let mut r = 0u128;
    for i in (0..acc.len()).rev() {
        let cur = (r << 64) | u128::from(acc[i]);
        q[i] = (cur / d) as u64;
        r = cur % d;
    }
    // Round q * 2^(emin - 128) (plus r/n below the last bit) to 53 significant bits.
    let top = q.iter().rposition(|&w| w != 0).unwrap_or(0);
    let bitlen = top * 64 + (64 - q[top].leading_zeros() as usize);
    let bit = |i: usize| (q[i / 64] >> (i % 64)) & 1;
    let drop = bitlen.saturating_sub(53);
    let mut mant = 0u64;
    for i in (drop..bitlen).rev() {
        mant = (mant << 1) | bit(i);
    }
    if drop > 0 {
        let half = bit(drop - 1) == 1;
        let sticky = r != 0 || (0..drop - 1).any(|i| bit(i) == 1);
        if half && (sticky || mant & 1 == 1) {
            mant += 1;
        }
    }
    ldexp(mant as f64, emin - 128 + drop as i32)
}

fn ldexp(mut x: f64, mut e: i32) -> f64 {
    let pow2 = |k: i32| f64::from_bits(((k + 1023) as u64) << 52);
    while e > 1000 {
        x *= pow2(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= pow2(-1000);
        e += 1000;
    }
    x * pow2(e)
}

/// `estimate_ci` on a numpy array: sort, `scores.mean()` of the sorted array, and
/// `0.5 * (upper - lower)` with the `n // 40` order statistics, in the array's dtype.
fn np_estimate_ci(scores: &Scores) -> (f64, f64) {
    match scores {
        Scores::F64(v) => estimate_ci(v),
        Scores::F32(v) => {
            let mut s = v.clone();
            s.sort_by(f32::total_cmp);
            let n = s.len();
            let lower = n / 40;
            let upper = n - lower - 1;
            let mean = np_mean_f32(&s);
            (f64::from(mean), f64::from(0.5f32 * (s[upper] - s[lower])))
        }
    }
}

/// `Score.estimate_ci` (what `corpus_score(n_bootstrap=...)` reports): `sorted`,
/// `statistics.mean` (exactly rounded, then cast to float32 for float32 scores) and
/// `0.5 * (upper - lower)` in the scores' type.
fn score_estimate_ci(scores: &[Num]) -> (f64, f64) {
    let n = scores.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mut s = scores.to_vec();
    s.sort_by(|a, b| a.f64().total_cmp(&b.f64()));
    let lower = n / 40;
    let upper = n - lower - 1;
    let ci = (Num::Py(0.5) * (s[upper] - s[lower])).f64();
    let vals: Vec<f64> = s.iter().map(|x| x.f64()).collect();
    let mean = exact_mean(&vals);
    let mean = if s.iter().all(|x| matches!(x, Num::F32(_))) {
        f64::from(mean as f32)
    } else {
        mean
    };
    (mean, ci)
}

/// `estimate_ci` for a float64 score array: mean (numpy's pairwise mean of the sorted
/// scores) and half the spread between the 2.5% and 97.5% order statistics (`n // 40`
/// from each end).
pub fn estimate_ci(scores: &[f64]) -> (f64, f64) {
    let mut s = scores.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let lower = n / 40;
    let upper = n - lower - 1;
    (np_mean_f64(&s), 0.5 * (s[upper] - s[lower]))
}

/// `_compute_p_value`: `(#(stats > real_difference) + 1) / (len + 1)`.
pub fn p_value(stats: &[f64], real_difference: f64) -> f64 {
    let c = stats.iter().filter(|&&x| x > real_difference).count();
    (c as f64 + 1.0) / (stats.len() as f64 + 1.0)
}

/// The p-value of `_paired_bs_test`: `sample_diffs = np.abs(scores_sys - scores_bl)`,
/// centered on `sample_diffs.mean()`, counted against `diff` (cast to float32 when the
/// arrays are float32, as numpy compares them).
fn paired_bs_p_value(sys: &Scores, bl: &Scores, diff: f64) -> f64 {
    match (sys, bl) {
        (Scores::F32(s), Scores::F32(b)) => {
            let d: Vec<f32> = s.iter().zip(b).map(|(x, y)| (x - y).abs()).collect();
            let mean = np_mean_f32(&d);
            let thr = diff as f32;
            let c = d.iter().filter(|&&x| x - mean > thr).count();
            (c as f64 + 1.0) / (d.len() as f64 + 1.0)
        }
        _ => {
            let (s, b) = (sys.to_f64(), bl.to_f64());
            let d: Vec<f64> = s.iter().zip(&b).map(|(x, y)| (x - y).abs()).collect();
            let mean = np_mean_f64(&d);
            let centered: Vec<f64> = d.iter().map(|x| x - mean).collect();
            p_value(&centered, diff)
        }
    }
}

/// `np.random.default_rng(seed).choice(n, size=(n_samples, n), replace=True)`, row-major.
fn choice_matrix(n: usize, n_samples: usize, seed: Option<u64>) -> Vec<u32> {
    assert!(u32::try_from(n).is_ok(), "more than 2^32 segments");
    Pcg64::new(seed)
        .integers(n as u64, n * n_samples)
        .into_iter()
        .map(|i| i as u32)
        .collect()
}

/// Scores of every resample (`idxs` row-major, `n_samples` rows) for each `(stats, metric)`
/// pair: `out[j][s] = metric_j._compute_score_from_stats(float32(stats_j)[idxs[s]].sum(0))`.
fn resampled_scores(
    pairs: &[(&SegmentStats, &Metric)],
    idxs: &[u32],
    n_samples: usize,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Vec<Vec<Num>> {
    // np.array(stats, dtype='float32')
    let f32_stats: Vec<Vec<f32>> = pairs
        .iter()
        .map(|(m, _)| m.data.iter().map(|&v| v as f32).collect())
        .collect();
    let n = idxs.len().checked_div(n_samples).unwrap_or(0);
    let done = AtomicU64::new(0);
    let per_sample: Vec<Vec<Num>> = (0..n_samples)
        .into_par_iter()
        .map(|s| {
            let row = &idxs[s * n..(s + 1) * n];
            let scores = pairs
                .iter()
                .zip(&f32_stats)
                .map(|((m, metric), data)| {
                    let dim = m.dim;
                    let mut acc = vec![0.0f32; dim];
                    for &i in row {
                        let r = &data[i as usize * dim..(i as usize + 1) * dim];
                        for (a, v) in acc.iter_mut().zip(r) {
                            *a += v;
                        }
                    }
                    score_f32(metric, &acc)
                })
                .collect();
            let d = done.fetch_add(1, Ordering::Relaxed) + 1;
            if d.is_multiple_of(100) || d == n_samples as u64 {
                on_progress(d, n_samples as u64);
            }
            scores
        })
        .collect();
    (0..pairs.len())
        .map(|j| per_sample.iter().map(|s| s[j]).collect())
        .collect()
}

/// Bootstrap 95% CI of one system as `metric.corpus_score(hyps, refs, n_bootstrap)` reports
/// it (`--confidence`): `_bootstrap_resample` with `default_rng(seed)` (0 included), then
/// `Score.estimate_ci`. Returns `(mean, ci)`.
pub fn bootstrap_ci(
    stats: &SegmentStats,
    metric: &Metric,
    n_samples: usize,
    seed: Seed,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> (f64, f64) {
    let idxs = choice_matrix(stats.rows(), n_samples, seed.0);
    let scores = resampled_scores(&[(stats, metric)], &idxs, n_samples, on_progress);
    score_estimate_ci(&scores[0])
}

/// The baseline's CI in a paired bootstrap test (`PairedTest.__init__`:
/// `_bootstrap_resample` with `default_rng(seed)`, then the numpy `estimate_ci`). It can
/// differ from [`bootstrap_ci`] in the last bits of the mean.
pub fn paired_baseline_ci(
    stats: &SegmentStats,
    metric: &Metric,
    n_samples: usize,
    seed: Seed,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> (f64, f64) {
    let idxs = choice_matrix(stats.rows(), n_samples, seed.0);
    let scores = resampled_scores(&[(stats, metric)], &idxs, n_samples, on_progress);
    np_estimate_ci(&Scores::from_nums(&scores[0]))
}

/// The result of `_paired_bs_test` for one system and metric from the resampled scores of
/// the baseline and the system on one index matrix.
fn paired_bs_result(score: f64, bl_score: f64, bl: &[Num], sys: &[Num]) -> SystemResult {
    let (bl, sys) = (Scores::from_nums(bl), Scores::from_nums(sys));
    let (mean, ci) = np_estimate_ci(&sys);
    SystemResult {
        score,
        p_value: Some(paired_bs_p_value(&sys, &bl, (bl_score - score).abs())),
        mean: Some(mean),
        ci: Some(ci),
    }
}

/// `_paired_bs_test` for one system against the baseline, with `default_rng(seed)` (pass
/// [`Seed::for_system_tests`] to mirror `PairedTest`).
pub fn paired_bootstrap(
    baseline: &SegmentStats,
    system: &SegmentStats,
    metric: &Metric,
    n_samples: usize,
    seed: Seed,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> SystemResult {
    let bl_score = metric.score(&baseline.sum());
    let sys_score = metric.score(&system.sum());
    let idxs = choice_matrix(baseline.rows(), n_samples, seed.0);
    let s = resampled_scores(
        &[(baseline, metric), (system, metric)],
        &idxs,
        n_samples,
        on_progress,
    );
    paired_bs_result(sys_score, bl_score, &s[0], &s[1])
}

/// `PairedTest(test_type='bs')` for several systems and metrics: `stats[k][m]` holds the
/// statistics of system `k` (0 = baseline) for `metrics[m]`. The baseline CI uses
/// `default_rng(seed)`, each system's test `default_rng(seed.for_system_tests())`; when the
/// two are the same seeded generator (any seed but 0 and `none`) one index matrix serves
/// every system and metric, as in sacrebleu, and everything is scored in one pass.
/// Returns `results[k][m]`; the baseline gets its mean/CI and no p-value.
pub fn paired_bootstrap_all(
    stats: &[Vec<&SegmentStats>],
    metrics: &[Metric],
    n_samples: usize,
    seed: Seed,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Vec<Vec<SystemResult>> {
    let Some(first) = stats.first().and_then(|v| v.first()) else {
        return Vec::new();
    };
    let n = first.rows();
    let nm = metrics.len();
    let actual: Vec<Vec<f64>> = stats
        .iter()
        .map(|sys| {
            metrics
                .iter()
                .zip(sys)
                .map(|(m, st)| m.score(&st.sum()))
                .collect()
        })
        .collect();
    let bl_idxs = choice_matrix(n, n_samples, seed.0);
    let sys_seed = seed.for_system_tests();
    let shared = sys_seed == seed && seed.0.is_some();
    // scores[k * nm + m][sample] on the baseline's matrix (all systems when it is shared).
    let scored = if shared { stats.len() } else { 1 };
    let pairs: Vec<(&SegmentStats, &Metric)> = stats[..scored]
        .iter()
        .flat_map(|sys| sys.iter().copied().zip(metrics))
        .collect();
    let scores = resampled_scores(&pairs, &bl_idxs, n_samples, on_progress);
    let mut out: Vec<Vec<SystemResult>> = Vec::with_capacity(stats.len());
    out.push(
        (0..nm)
            .map(|m| {
                let (mean, ci) = np_estimate_ci(&Scores::from_nums(&scores[m]));
                SystemResult {
                    score: actual[0][m],
                    p_value: None,
                    mean: Some(mean),
                    ci: Some(ci),
                }
            })
            .collect(),
    );
    for k in 1..stats.len() {
        let row = if shared {
            (0..nm)
                .map(|m| {
                    paired_bs_result(actual[k][m], actual[0][m], &scores[m], &scores[k * nm + m])
                })
                .collect()
        } else {
            // A fresh generator per system, as `_paired_bs_test` seeds its own.
            let idxs = choice_matrix(n, n_samples, sys_seed.0);
            let pairs: Vec<(&SegmentStats, &Metric)> = stats[0]
                .iter()
                .copied()
                .zip(metrics)
                .chain(stats[k].iter().copied().zip(metrics))
                .collect();
            let s = resampled_scores(&pairs, &idxs, n_samples, on_progress);
            (0..nm)
                .map(|m| paired_bs_result(actual[k][m], actual[0][m], &s[m], &s[nm + m]))
                .collect()
        };
        out.push(row);
    }
    out
}

/// `_paired_ar_test` for one system against the baseline (no bootstrap CI: sacrebleu's
/// `n_ar_confidence=-1`): trial `t` takes segment `i` from the baseline into pseudo system
/// A where `rng.integers(2, size=(n_trials, n), dtype=bool)[t, i]` holds, from the system
/// otherwise, and B the other way round; scores come from integer sums, as numpy's
/// `bool @ int` matrix products give.
pub fn paired_approximate_randomization(
    baseline: &SegmentStats,
    system: &SegmentStats,
    metric: &Metric,
    n_trials: usize,
    seed: Seed,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> SystemResult {
    let bl_sum = baseline.sum();
    let sys_sum = system.sum();
    let diff = (metric.score(&bl_sum) - metric.score(&sys_sum)).abs();
    let n = baseline.rows();
    let dim = baseline.dim;
    // shuf_a = sys_sum + sum over selected segments of (bl - sys); shuf_b = total - shuf_a.
    let delta: Vec<i64> = baseline
        .data
        .iter()
        .zip(&system.data)
        .map(|(b, s)| b - s)
        .collect();
    let both: Vec<i64> = bl_sum.iter().zip(&sys_sum).map(|(a, b)| a + b).collect();
    let bits = Pcg64::new(seed.0).bool_bits(n_trials * n);
    let done = AtomicU64::new(0);
    let stats: Vec<f64> = (0..n_trials)
        .into_par_iter()
        .map(|t| {
            let mut a = sys_sum.clone();
            for i in 0..n {
                let b = t * n + i;
                if bits[b / 64] >> (b % 64) & 1 == 1 {
                    for (x, v) in a.iter_mut().zip(&delta[i * dim..(i + 1) * dim]) {
                        *x += v;
                    }
                }
            }
            let b: Vec<i64> = both.iter().zip(&a).map(|(t, x)| t - x).collect();
            let d = done.fetch_add(1, Ordering::Relaxed) + 1;
            if d.is_multiple_of(500) || d == n_trials as u64 {
                on_progress(d, n_trials as u64);
            }
            (metric.score(&a) - metric.score(&b)).abs()
        })
        .collect();
    SystemResult {
        score: metric.score(&sys_sum),
        p_value: Some(p_value(&stats, diff)),
        mean: None,
        ci: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::bleu::BleuParams;

    fn none(_: u64, _: u64) {}

    #[test]
    fn ci_uses_n_over_40_order_statistics() {
        let scores: Vec<f64> = (0..80).map(f64::from).collect();
        // n=80 -> lower idx 2, upper idx 77 -> ci = 0.5*(77-2)
        assert_eq!(estimate_ci(&scores), (39.5, 37.5));
        assert_eq!(p_value(&[0.1, 0.5, 0.9], 0.4), 3.0 / 4.0);
    }

    #[test]
    fn seed_parsing() {
        assert_eq!(Seed::parse("None").unwrap(), Seed(None));
        assert_eq!(Seed::parse("7").unwrap().display(), "7");
        assert!(Seed::parse("x").is_err());
        assert_eq!(Seed(Some(0)).for_system_tests(), Seed(None));
    }

    fn corpus(k: usize) -> (Vec<String>, Vec<String>) {
        let refs: Vec<String> = (0..60)
            .map(|i| format!("w{} x{} y{} z{} end", i % 7, i % 5, i % 3, i))
            .collect();
        let hyps = refs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                if i % k == 0 {
                    "nothing here".to_owned()
                } else {
                    r.clone()
                }
            })
            .collect();
        (hyps, refs)
    }

    #[test]
    fn identical_systems_are_not_significant_and_different_ones_are() {
        let m = Metric::Bleu(BleuParams::default());
        let (h1, r) = corpus(2);
        let (h2, _) = corpus(61);
        let refs = vec![r];
        let s1 = m.corpus_stats(&h1, &refs);
        let s2 = m.corpus_stats(&h2, &refs);
        // A system against itself: every resampled delta is 0 and `0 > 0` never holds, so
        // sacrebleu's formula gives the minimum p-value 1/(n+1) (as sacrebleu does).
        let same = paired_bootstrap(&s1, &s1, &m, 200, Seed::default(), &none);
        assert_eq!(same.p_value, Some(1.0 / 201.0));
        assert_eq!(same.score, m.score(&s1.sum()));
        let diff = paired_bootstrap(&s1, &s2, &m, 200, Seed::default(), &none);
        assert!(diff.p_value.unwrap() < 0.01);
        let ar = paired_approximate_randomization(&s1, &s2, &m, 500, Seed::default(), &none);
        assert!(ar.p_value.unwrap() < 0.01);
        let ar_same = paired_approximate_randomization(&s1, &s1, &m, 200, Seed::default(), &none);
        assert_eq!(ar_same.p_value, Some(1.0 / 201.0));
        // Seeded runs are reproducible.
        let again = paired_bootstrap(&s1, &s2, &m, 200, Seed::default(), &none);
        assert_eq!(diff, again);
        // The one-pass version gives the same figures as the pairwise functions.
        let all = paired_bootstrap_all(
            &[vec![&s1], vec![&s2]],
            std::slice::from_ref(&m),
            200,
            Seed::default(),
            &none,
        );
        assert_eq!(all[1][0], diff);
        let (mu, ci) = paired_baseline_ci(&s1, &m, 200, Seed::default(), &none);
        assert_eq!(
            (all[0][0].mean, all[0][0].ci, all[0][0].p_value),
            (Some(mu), Some(ci), None)
        );
    }

    /// A third system: `corpus(3)` with "end" -> "fin" where `i % 3 == 1`.
    fn corpus_fin() -> Vec<String> {
        corpus(3)
            .0
            .iter()
            .enumerate()
            .map(|(i, h)| {
                if i % 3 == 1 {
                    h.replace("end", "fin")
                } else {
                    h.clone()
                }
            })
            .collect()
    }

    /// Expected figures printed by sacrebleu 2.6.0 / numpy 2.4.6 (SACREBLEU_SEED=12345):
    /// `PairedTest([base, a, b], {m: M(references=[refs])}, None, 'bs', 200)()`,
    /// `M().corpus_score(b, [refs], n_bootstrap=200)` and `PairedTest([base, b], ..., 'ar',
    /// 300)()`, with base = corpus(2), a = corpus(61), b = corpus_fin().
    #[test]
    fn figures_equal_sacrebleu() {
        let (h1, r) = corpus(2);
        let (h2, _) = corpus(61);
        let h3 = corpus_fin();
        let refs = vec![r];
        let cases = [
            (
                Metric::Bleu(BleuParams::default()),
                [
                    (
                        56.638831021784775,
                        None,
                        55.91992612979035,
                        12.968709394561671,
                    ),
                    (
                        98.72348844013263,
                        Some(0.004975124378109453),
                        98.71099230434315,
                        1.9319061878038823,
                    ),
                    (
                        60.51674801935203,
                        Some(0.23383084577114427),
                        60.016645363087825,
                        9.435443508626808,
                    ),
                ],
                (60.016645363087825, 9.435443508626808),
                0.627906976744186,
            ),
            (
                Metric::Chrf(crate::metrics::chrf::ChrfParams::default()),
                [
                    (
                        51.88591536938297,
                        None,
                        51.220001220703125,
                        12.738744735717773,
                    ),
                    (
                        98.53438313339731,
                        Some(0.004975124378109453),
                        98.52501678466797,
                        2.214874267578125,
                    ),
                    (
                        57.439004649030345,
                        Some(0.208955223880597),
                        56.976070404052734,
                        9.65855598449707,
                    ),
                ],
                (56.976070404052734, 9.65855598449707),
                0.5049833887043189,
            ),
        ];
        for (m, bs, conf, ar_p) in cases {
            let st: Vec<SegmentStats> = [&h1, &h2, &h3]
                .iter()
                .map(|h| m.corpus_stats(h, &refs))
                .collect();
            let all = paired_bootstrap_all(
                &[vec![&st[0]], vec![&st[1]], vec![&st[2]]],
                std::slice::from_ref(&m),
                200,
                Seed::default(),
                &none,
            );
            for (k, &(score, p, mean, ci)) in bs.iter().enumerate() {
                let got = &all[k][0];
                assert_eq!(
                    (got.score, got.p_value, got.mean, got.ci),
                    (score, p, Some(mean), Some(ci)),
                    "{} system {k}",
                    m.name()
                );
            }
            assert_eq!(bootstrap_ci(&st[2], &m, 200, Seed::default(), &none), conf);
            let ar =
                paired_approximate_randomization(&st[0], &st[2], &m, 300, Seed::default(), &none);
            assert_eq!(ar.p_value, Some(ar_p), "{} ar", m.name());
        }
    }

    /// `np.random.default_rng(5).random(1000) * 100` (`next_double`: `(raw >> 11) / 2^53`).
    fn uniform_1000() -> Vec<f64> {
        let mut g = Pcg64::new(Some(5));
        (0..1000)
            .map(|_| (g.next_u64() >> 11) as f64 * (1.0 / 9007199254740992.0) * 100.0)
            .collect()
    }

    #[test]
    fn sums_and_means_match_numpy_and_statistics() {
        let a = uniform_1000();
        // np.sum(a) (pairwise) differs from a left-to-right sum (49070.61655493877).
        assert_eq!(pairwise_sum(&a, 0.0), 49070.61655493875);
        let a32: Vec<f32> = a.iter().map(|&x| x as f32).collect();
        // np.sum(a.astype(np.float32)); left to right gives 49070.62890625.
        assert_eq!(f64::from(pairwise_sum(&a32, 0.0f32)), 49070.6171875);
        assert_eq!(f64::from(np_mean_f32(&a32)), 49.07061767578125);
        // statistics.mean(a) is exactly rounded; math.fsum(a) / 1000 is 49.07061655493875.
        assert_eq!(exact_mean(&a), 49.070616554938745);
        assert_eq!(exact_mean(&[2f64.powi(53), 1.0, 1.0]), 3002399751580331.5);
        assert_eq!(
            exact_mean(&[0.1, 0.2, 0.3, 1e-20, 7.5, 3.3333333333333335]),
            1.9055555555555557
        );
        assert_eq!(exact_mean(&[0.0, 0.0]), 0.0);
    }

    #[test]
    fn numpy_scalar_promotion() {
        // np.float32(13) * 0.1 casts 0.1 to float32 first (NEP 50).
        let x = Num::F32(13.0) * Num::Py(0.1);
        assert_eq!(x, Num::F32(13.0f32 * 0.1f32));
        assert_ne!(x.f64(), f64::from((13.0f64 * 0.1) as f32));
        assert_eq!(Num::Py(0.5) * Num::Py(3.0), Num::Py(1.5));
    }
}
