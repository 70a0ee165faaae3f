//! Confidence intervals and paired significance tests, a port of sacrebleu/significance.py
//! (sacrebleu 2.6.0): `_bootstrap_resample`, `estimate_ci`, `_compute_p_value`,
//! `_paired_bs_test`, `_paired_ar_test`, and the seed handling of `PairedTest.__init__`.
//!
//! Like sacrebleu, resampling works on per-segment sufficient statistics, never on text.
//! Differences from sacrebleu, on purpose: the random numbers come from ChaCha8 (one stream
//! per resample/trial, so runs are parallel and still reproducible), not numpy's PCG64, so
//! p-values, means and CIs agree with sacrebleu's only within sampling noise; and resampled
//! scores are computed from integer sums in f64 where numpy sums float32 arrays.
use std::sync::atomic::{AtomicU64, Ordering};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::metrics::MetricsError;
use crate::metrics::metric::Metric;
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

    fn base(&self) -> u64 {
        self.0.unwrap_or_else(rand::random::<u64>)
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

/// `estimate_ci`: mean of the scores and half the spread between the 2.5% and 97.5%
/// order statistics (`n // 40` from each end).
pub fn estimate_ci(scores: &[f64]) -> (f64, f64) {
    let mut s = scores.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let lower = n / 40;
    let upper = n - lower - 1;
    let mean = s.iter().sum::<f64>() / n as f64;
    (mean, 0.5 * (s[upper] - s[lower]))
}

/// `_compute_p_value`: `(#(stats > real_difference) + 1) / (len + 1)`.
pub fn p_value(stats: &[f64], real_difference: f64) -> f64 {
    let c = stats.iter().filter(|&&x| x > real_difference).count();
    (c as f64 + 1.0) / (stats.len() as f64 + 1.0)
}

/// Resample `n_samples` corpora of `n` segments with replacement and return, for each
/// resample, the summed statistics of every matrix in `systems` (same indices for all,
/// which is what makes the test paired).
fn bootstrap_sums(
    systems: &[&SegmentStats],
    n_samples: usize,
    seed: Seed,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Vec<Vec<Vec<i64>>> {
    let n = systems.first().map_or(0, |s| s.rows());
    let base = seed.base();
    let done = AtomicU64::new(0);
    (0..n_samples)
        .into_par_iter()
        .map(|s| {
            let mut rng = ChaCha8Rng::seed_from_u64(base);
            rng.set_stream(s as u64);
            let mut sums: Vec<Vec<i64>> = systems.iter().map(|m| vec![0i64; m.dim]).collect();
            for _ in 0..n {
                let idx = rng.random_range(0..n);
                for (acc, m) in sums.iter_mut().zip(systems) {
                    for (a, v) in acc.iter_mut().zip(m.row(idx)) {
                        *a += v;
                    }
                }
            }
            let d = done.fetch_add(1, Ordering::Relaxed) + 1;
            if d.is_multiple_of(100) || d == n_samples as u64 {
                on_progress(d, n_samples as u64);
            }
            sums
        })
        .collect()
}

/// Bootstrap 95% CI of one system (`_bootstrap_resample` + `estimate_ci`): `(mean, ci)`.
pub fn bootstrap_ci(
    stats: &SegmentStats,
    metric: &Metric,
    n_samples: usize,
    seed: Seed,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> (f64, f64) {
    let sums = bootstrap_sums(&[stats], n_samples, seed, on_progress);
    let scores: Vec<f64> = sums.par_iter().map(|s| metric.score(&s[0])).collect();
    estimate_ci(&scores)
}

/// `_paired_bs_test` for one system against the baseline.
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
    let diff = (bl_score - sys_score).abs();
    let sums = bootstrap_sums(&[baseline, system], n_samples, seed, on_progress);
    let pairs: Vec<(f64, f64)> = sums
        .par_iter()
        .map(|s| (metric.score(&s[0]), metric.score(&s[1])))
        .collect();
    let scores_sys: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    let (mean, ci) = estimate_ci(&scores_sys);
    let sample_diffs: Vec<f64> = pairs.iter().map(|(b, s)| (s - b).abs()).collect();
    let avg = sample_diffs.iter().sum::<f64>() / sample_diffs.len().max(1) as f64;
    let centered: Vec<f64> = sample_diffs.iter().map(|d| d - avg).collect();
    SystemResult {
        score: sys_score,
        p_value: Some(p_value(&centered, diff)),
        mean: Some(mean),
        ci: Some(ci),
    }
}

/// Paired bootstrap for several systems and metrics in one pass: `stats[k][m]` holds the
/// statistics of system `k` (0 = baseline) for `metrics[m]`. Every resample draws one index
/// set shared by all systems and metrics, exactly as sacrebleu reuses one seeded index
/// matrix for the baseline CI and every system's test. Returns `results[k][m]`; the
/// baseline gets its mean/CI and no p-value. Requires a seed that is the same for the
/// baseline CI and the system tests (sacrebleu seed 0 is not: use the pairwise functions).
pub fn paired_bootstrap_all(
    stats: &[Vec<&SegmentStats>],
    metrics: &[Metric],
    n_samples: usize,
    seed: Seed,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Vec<Vec<SystemResult>> {
    let flat: Vec<&SegmentStats> = stats.iter().flat_map(|v| v.iter().copied()).collect();
    let nm = metrics.len();
    let sums = bootstrap_sums(&flat, n_samples, seed, on_progress);
    // scores[sample][k * nm + m]
    let scores: Vec<Vec<f64>> = sums
        .par_iter()
        .map(|s| {
            s.iter()
                .enumerate()
                .map(|(j, v)| metrics[j % nm].score(v))
                .collect()
        })
        .collect();
    let mut out = Vec::with_capacity(stats.len());
    for (k, sys) in stats.iter().enumerate() {
        let mut row = Vec::with_capacity(nm);
        for (m, metric) in metrics.iter().enumerate() {
            let actual = metric.score(&sys[m].sum());
            let col: Vec<f64> = scores.iter().map(|s| s[k * nm + m]).collect();
            let (mean, ci) = estimate_ci(&col);
            let p = if k == 0 {
                None
            } else {
                let bl_actual = metric.score(&stats[0][m].sum());
                let diffs: Vec<f64> = scores
                    .iter()
                    .map(|s| (s[k * nm + m] - s[m]).abs())
                    .collect();
                let avg = diffs.iter().sum::<f64>() / diffs.len().max(1) as f64;
                let centered: Vec<f64> = diffs.iter().map(|d| d - avg).collect();
                Some(p_value(&centered, (bl_actual - actual).abs()))
            };
            row.push(SystemResult {
                score: actual,
                p_value: p,
                mean: Some(mean),
                ci: Some(ci),
            });
        }
        out.push(row);
    }
    out
}

/// `_paired_ar_test` for one system against the baseline: each trial swaps every
/// segment's statistics between the two systems with probability 1/2.
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
    let base = seed.base();
    let done = AtomicU64::new(0);
    let stats: Vec<f64> = (0..n_trials)
        .into_par_iter()
        .map(|t| {
            let mut rng = ChaCha8Rng::seed_from_u64(base);
            rng.set_stream(t as u64);
            let mut a = sys_sum.clone();
            let mut i = 0;
            while i < n {
                let bits: u64 = rng.random();
                for k in 0..64.min(n - i) {
                    if bits >> k & 1 == 1 {
                        for (x, v) in a.iter_mut().zip(&delta[(i + k) * dim..(i + k + 1) * dim]) {
                            *x += v;
                        }
                    }
                }
                i += 64;
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
        let (mu, ci) = bootstrap_ci(&s1, &m, 200, Seed::default(), &none);
        assert_eq!(
            (all[0][0].mean, all[0][0].ci, all[0][0].p_value),
            (Some(mu), Some(ci), None)
        );
    }
}
