//! The VecMap training loop (vecmap map_embeddings.py `main`, "Training loop"):
//!
//! ```text
//! normalise X, Z; seed dictionary D; keep_prob = stochastic_initial; it = 1
//! loop:
//!   if it - last_improvement > stochastic_interval:
//!       if keep_prob >= 1: end
//!       keep_prob = min(1, multiplier * keep_prob); last_improvement = it
//!   if not end: W = procrustes(D); XW = X W; ZW = Z
//!   else:       XW, ZW = advanced mapping (whiten / orthogonal / re-weight / de-whiten) on D; stop
//!   D, objective = induce(XW, ZW, keep_prob)
//!   if objective - best >= threshold: last_improvement = it; best = objective
//! ```
//! Without self-learning (`--supervised`) the first pass already ends. The output holds the
//! full vocabularies (the cutoff only restricts induction).

use std::time::Instant;

use serde::Serialize;

use super::VecmapError;
use super::induction::{InductionSettings, induce};
use super::normalize::normalize;
use super::params::{Mode, VecmapParams};
use super::procrustes::{apply, procrustes_into};
use super::seed::{UnsupervisedSettings, dictionary_seed, identical_seed, unsupervised_seed};
use super::whitening::{AdvancedSettings, advanced_mapping};
use crate::embed::vec_format::Embeddings;
use crate::validate::Validate;

/// Number of seed pairs kept in [`VecmapResult::seed_sample`].
pub const SEED_SAMPLE: usize = 40;

/// Output of [`map`].
#[derive(Debug, Clone)]
pub struct VecmapResult {
    /// Mapped source embeddings (full vocabulary, input order).
    pub src: Embeddings,
    /// Mapped target embeddings (full vocabulary, input order).
    pub trg: Embeddings,
    /// Summary figures.
    pub summary: VecmapSummary,
    /// The seed dictionary of the first iteration, `(src_row, trg_row)` in the order the
    /// mode builds it (`unmt vecmap --seed-out`).
    pub seed: Vec<(usize, usize)>,
}

/// Figures for reports and node records.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VecmapSummary {
    /// Self-learning iterations that induced a dictionary (0 without self-learning).
    pub iterations: usize,
    /// Objective of the last induction step (VecMap's printed "Objective"; NaN if none).
    pub objective: f64,
    /// Best objective seen.
    pub best_objective: f64,
    /// False when `max_iterations` stopped the loop before VecMap's convergence rule.
    pub converged: bool,
    /// Seed dictionary size (pairs).
    pub seed_size: usize,
    /// Dictionary pairs dropped as out-of-vocabulary (supervised mode).
    pub seed_oov: usize,
    /// The first seed pairs by source row (most frequent first for frequency-sorted files).
    pub seed_sample: Vec<(String, String)>,
    /// Size of the dictionary used by the final mapping.
    pub final_dictionary_size: usize,
    /// Wall time of [`map`] in seconds (normalisation to final product, no file I/O). Not
    /// in the `summary` file, so equal runs write equal bytes and a rerun's unchanged output
    /// spares its consumers (the stage records it as the `seconds` metric instead).
    #[serde(skip)]
    pub wall_time_s: f64,
    /// Where the wall time went (not in the `summary` file, for the same reason).
    #[serde(skip)]
    pub seconds: VecmapSeconds,
}

/// Wall time of [`map`] by phase, for `unmt vecmap --summary-json` and the benchmark.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct VecmapSeconds {
    /// Normalisation and the seed dictionary.
    pub seed: f64,
    /// The self-learning iterations (Procrustes, mapping, induction), all of them.
    pub iterations: f64,
    /// The final advanced mapping of the full vocabularies.
    pub final_mapping: f64,
}

impl VecmapSummary {
    /// The first `n` seed pairs as `src=trg`, space-separated, for logs.
    pub fn seed_preview(&self, n: usize) -> String {
        self.seed_sample
            .iter()
            .take(n)
            .map(|(a, b)| format!("{a}={b}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Maps `src` and `trg` into a shared space. `seed_dict` is required in supervised mode and
/// must be `None` in identical mode. `on_progress(iteration, max_iterations)` is called once
/// per self-learning iteration (the total is only an upper bound).
pub fn map(
    src: &Embeddings,
    trg: &Embeddings,
    params: &VecmapParams,
    seed_dict: Option<&[(String, String)]>,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<VecmapResult, VecmapError> {
    let t0 = Instant::now();
    params.validate()?;
    if src.dim != trg.dim {
        return Err(VecmapError::DimMismatch {
            src: src.dim,
            trg: trg.dim,
        });
    }
    let dim = src.dim;
    let mut x = src.data.clone();
    let mut z = trg.data.clone();
    normalize(&mut x, dim, &params.normalize);
    normalize(&mut z, dim, &params.normalize);
    // After normalisation, as VecMap builds it: the unsupervised seed reads the normalised
    // vectors (the other seeds read only the words).
    let (seed, seed_oov) = match (params.mode, seed_dict) {
        (Mode::Identical, None) => (identical_seed(src, trg), 0),
        (Mode::Supervised, Some(d)) => dictionary_seed(src, trg, d),
        (Mode::Unsupervised, None) => {
            let settings = UnsupervisedSettings {
                vocab: params.unsupervised_vocab,
                normalize: &params.normalize,
                csls_k: params.csls,
                direction: params.direction,
            };
            (unsupervised_seed(&x, &z, dim, &settings)?, 0)
        }
        (Mode::Identical | Mode::Unsupervised, Some(_)) => {
            return Err(VecmapError::SeedMode {
                reason: "only supervised mode takes a dictionary",
            });
        }
        (Mode::Supervised, None) => {
            return Err(VecmapError::SeedMode {
                reason: "supervised mode needs a dictionary",
            });
        }
    };
    if seed.is_empty() {
        return Err(VecmapError::EmptySeed);
    }
    let t_seed = t0.elapsed().as_secs_f64();

    let cut = |n: usize| match params.vocabulary_cutoff {
        0 => n,
        c => c.min(n),
    };
    let (src_size, trg_size) = (cut(src.len()), cut(trg.len()));
    let mut dict_src: Vec<usize> = seed.iter().map(|p| p.0).collect();
    let mut dict_trg: Vec<usize> = seed.iter().map(|p| p.1).collect();

    let mut best = -100.0f64;
    let mut objective = f64::NAN;
    let mut it: usize = 1;
    let mut last_improvement: usize = 0;
    let mut keep_prob = params.stochastic_initial;
    let mut end = !params.self_learning;
    let mut converged = true;
    let mut t_iterations = 0.0;
    // Buffers reused by every iteration (fresh ones cost their page faults each time).
    let (mut scratch, mut xs, mut zs) = (Vec::new(), Vec::new(), Vec::new());
    let t_final;
    let (xw, zw) = loop {
        if it - last_improvement > params.stochastic_interval {
            if keep_prob >= 1.0 {
                end = true;
            }
            keep_prob = (params.stochastic_multiplier * keep_prob).min(1.0);
            last_improvement = it;
        }
        if !end && it > params.max_iterations {
            end = true;
            converged = false;
        }
        let t_step = Instant::now();
        if end {
            let settings = AdvancedSettings {
                whiten: params.whiten,
                src_reweight: params.src_reweight,
                trg_reweight: params.trg_reweight,
                src_dewhiten: params.src_dewhiten,
                trg_dewhiten: params.trg_dewhiten,
            };
            let (tx, tz) = advanced_mapping(&x, &z, dim, &dict_src, &dict_trg, &settings)?;
            let mapped = (apply(&x, dim, tx.as_ref()), apply(&z, dim, tz.as_ref()));
            t_final = t_step.elapsed().as_secs_f64();
            break mapped;
        }
        let w = procrustes_into(&x, &z, dim, &dict_src, &dict_trg, &mut xs, &mut zs)?;
        // Induction reads only the rows under the cutoff, so only those are mapped here
        // (VecMap maps all of X every iteration; the final mapping covers the full vocabulary).
        let xw = apply(&x[..src_size * dim], dim, w.as_ref());
        let induced = induce(
            &xw,
            &z,
            dim,
            src_size,
            trg_size,
            &InductionSettings {
                csls_k: params.csls,
                direction: params.direction,
                keep_prob,
                seed: params.seed,
                iteration: it as u64,
                batch_size: params.batch_size,
            },
            &mut scratch,
        );
        dict_src = induced.src;
        dict_trg = induced.trg;
        objective = induced.objective;
        if objective - best >= params.threshold {
            last_improvement = it;
            best = objective;
        }
        t_iterations += t_step.elapsed().as_secs_f64();
        on_progress(it as u64, params.max_iterations as u64);
        it += 1;
    };

    let sample = seed
        .iter()
        .take(SEED_SAMPLE)
        .map(|&(i, j)| (src.words[i].clone(), trg.words[j].clone()))
        .collect();
    let summary = VecmapSummary {
        iterations: it - 1,
        objective,
        best_objective: if it > 1 { best } else { f64::NAN },
        converged,
        seed_size: seed.len(),
        seed_oov,
        seed_sample: sample,
        final_dictionary_size: dict_src.len(),
        wall_time_s: t0.elapsed().as_secs_f64(),
        seconds: VecmapSeconds {
            seed: t_seed,
            iterations: t_iterations,
            final_mapping: t_final,
        },
    };
    Ok(VecmapResult {
        src: Embeddings {
            words: src.words.clone(),
            dim,
            data: xw,
        },
        trg: Embeddings {
            words: trg.words.clone(),
            dim,
            data: zw,
        },
        summary,
        seed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::bli::{BliParams, evaluate};
    use crate::embed::vecmap::procrustes::svd;
    use faer::Mat;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
        let u1: f64 = rng.random::<f64>().max(1e-12);
        let u2: f64 = rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// src words w0..w{n-1}; trg words: the first `shared` are the same strings, the rest
    /// u{i}; Z = X Q + noise for a random orthogonal Q.
    fn synthetic(
        n: usize,
        dim: usize,
        shared: usize,
        noise: f64,
    ) -> (Embeddings, Embeddings, Mat<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let g = Mat::from_fn(dim, dim, |_, _| gaussian(&mut rng));
        let (u, _, v) = svd(g.as_ref()).unwrap();
        let q = &u * v.transpose();
        let x = Mat::from_fn(n, dim, |_, _| gaussian(&mut rng));
        let z = &x * &q;
        let row_major = |m: &Mat<f64>, noise: f64, rng: &mut ChaCha8Rng| -> Vec<f32> {
            (0..m.nrows())
                .flat_map(|i| (0..m.ncols()).map(move |j| (i, j)))
                .map(|(i, j)| (m[(i, j)] + noise * gaussian(rng)) as f32)
                .collect()
        };
        let xs = row_major(&x, 0.0, &mut rng);
        let zs = row_major(&z, noise, &mut rng);
        let sw = (0..n).map(|i| format!("w{i}")).collect();
        let tw = (0..n)
            .map(|i| {
                if i < shared {
                    format!("w{i}")
                } else {
                    format!("u{i}")
                }
            })
            .collect();
        (
            Embeddings::new(sw, dim, xs).unwrap(),
            Embeddings::new(tw, dim, zs).unwrap(),
            q,
        )
    }

    fn gold(n: usize, shared: usize) -> Vec<(String, String)> {
        (shared..n)
            .map(|i| (format!("w{i}"), format!("u{i}")))
            .collect()
    }

    #[test]
    fn identical_mode_recovers_the_rotation() {
        let (n, dim, shared) = (400, 16, 40);
        let (src, trg, _q) = synthetic(n, dim, shared, 0.05);
        let before = evaluate(&src, &trg, &gold(n, shared), &BliParams::default()).unwrap();
        assert!(before.nn.p1 < 20.0, "unmapped P@1 {}", before.nn.p1);
        let calls = std::sync::atomic::AtomicU64::new(0);
        let r = map(&src, &trg, &VecmapParams::default(), None, &|_, _| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .unwrap();
        let s = &r.summary;
        assert_eq!(s.seed_size, shared);
        assert_eq!(s.seed_sample[0], ("w0".to_string(), "w0".to_string()));
        assert!(s.converged);
        // Schedule 0.1, 0.2, 0.4, 0.8, 1.0, each held >= 50 iterations, then the final stop.
        assert!(s.iterations >= 250, "{}", s.iterations);
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::Relaxed),
            s.iterations as u64
        );
        assert_eq!(r.src.words, src.words);
        assert_eq!(r.trg.len(), n);
        let after = evaluate(&r.src, &r.trg, &gold(n, shared), &BliParams::default()).unwrap();
        assert!(after.nn.p1 > 99.0, "mapped P@1 {:?}", after.nn);
        assert!(after.csls.p1 > 99.0, "mapped CSLS P@1 {:?}", after.csls);
        // Mapped rows agree: cosine(src_i, trg_i) close to 1 for every word.
        for i in 0..n {
            let (a, b) = (r.src.row(i), r.trg.row(i));
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
            let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!(dot / (na * nb) > 0.95, "row {i}: {}", dot / (na * nb));
        }
    }

    /// No string is shared (only `</s>`-like tokens would be, between scripts): identical
    /// mode has no seed, the unsupervised seed finds the rotation from the similarity
    /// distributions alone. Scales decay per dimension so the distributions are informative
    /// (isotropic Gaussians would make every word's look alike).
    #[test]
    fn unsupervised_mode_recovers_the_rotation_without_shared_strings() {
        let (n, dim) = (300, 12);
        let (mut src, mut trg, q) = synthetic(n, dim, 0, 0.0);
        for e in [&mut src] {
            for (k, v) in e.data.iter_mut().enumerate() {
                *v *= 1.0 + 0.5 * (dim - k % dim) as f32;
            }
        }
        // Z = X Q again, from the rescaled X.
        let x = crate::embed::vecmap::procrustes::to_f64(&src.data, dim);
        let z = &x * &q;
        trg.data = (0..n)
            .flat_map(|i| (0..dim).map(move |j| (i, j)))
            .map(|(i, j)| z[(i, j)] as f32)
            .collect();
        let identical = map(&src, &trg, &VecmapParams::default(), None, &|_, _| {});
        assert!(matches!(identical, Err(VecmapError::EmptySeed)));
        let params = VecmapParams {
            unsupervised_vocab: 200,
            ..VecmapParams::unsupervised()
        };
        let r = map(&src, &trg, &params, None, &|_, _| {}).unwrap();
        assert_eq!(r.summary.seed_size, 400);
        assert_eq!(r.seed.len(), 400);
        let right = r.seed.iter().filter(|&&(i, j)| i == j).count();
        assert!(right > 300, "{right} of 400 seed pairs right");
        let after = evaluate(&r.src, &r.trg, &gold(n, 0), &BliParams::default()).unwrap();
        assert!(after.csls.p1 > 99.0, "mapped CSLS P@1 {:?}", after.csls);
    }

    #[test]
    fn orthogonal_loop_recovers_q_itself() {
        // Without the final whitening (whiten off, no re-weighting) the last step is a pair of
        // rotations (U_x, U_z), and X U_x U_z^T must equal X Q on normalised data.
        let (n, dim, shared) = (300, 12, 30);
        let (src, trg, _q) = synthetic(n, dim, shared, 0.0);
        let params = VecmapParams {
            whiten: false,
            src_reweight: 0.0,
            trg_reweight: 0.0,
            src_dewhiten: None,
            trg_dewhiten: None,
            stochastic_interval: 5,
            ..Default::default()
        };
        let r = map(&src, &trg, &params, None, &|_, _| {}).unwrap();
        let err: f32 = r
            .src
            .data
            .iter()
            .zip(&r.trg.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 1e-3, "max abs difference {err}");
    }

    #[test]
    fn supervised_mode_and_errors() {
        let (n, dim, shared) = (200, 8, 0);
        let (src, trg, _) = synthetic(n, dim, shared, 0.01);
        let dict = gold(n, 0);
        let train = &dict[..100];
        let r = map(
            &src,
            &trg,
            &VecmapParams::supervised(),
            Some(train),
            &|_, _| {},
        )
        .unwrap();
        assert_eq!(r.summary.iterations, 0);
        assert_eq!(r.summary.seed_size, 100);
        let test = &dict[100..];
        let bli = evaluate(&r.src, &r.trg, test, &BliParams::default()).unwrap();
        assert!(bli.nn.p1 > 99.0, "{:?}", bli.nn);
        assert!(matches!(
            map(&src, &trg, &VecmapParams::default(), None, &|_, _| {}),
            Err(VecmapError::EmptySeed)
        ));
        assert!(matches!(
            map(&src, &trg, &VecmapParams::supervised(), None, &|_, _| {}),
            Err(VecmapError::SeedMode { .. })
        ));
        let tiny = &dict[..3];
        assert!(matches!(
            map(
                &src,
                &trg,
                &VecmapParams::supervised(),
                Some(tiny),
                &|_, _| {}
            ),
            Err(VecmapError::SingularWhitening(_))
        ));
    }

    #[test]
    fn max_iterations_cap_is_reported() {
        let (src, trg, _) = synthetic(100, 8, 20, 0.05);
        let p = VecmapParams {
            max_iterations: 3,
            ..Default::default()
        };
        let r = map(&src, &trg, &p, None, &|_, _| {}).unwrap();
        assert_eq!(r.summary.iterations, 3);
        assert!(!r.summary.converged);
    }
}
