//! Stochastic CSLS dictionary induction of the self-learning loop (vecmap
//! map_embeddings.py, "Update the training dictionary" and "Objective function evaluation").
//!
//! Restricted to the first `src_size` / `trg_size` rows (the vocabulary cutoff):
//! - forward: each source word i gets `argmax_j dropout(S_ij − r_T(j)/2)`, where r_T(j) is the
//!   mean of target j's k best similarities to the sources (the r_S(i) term of CSLS is
//!   constant for a fixed i and omitted, as in VecMap);
//! - backward: symmetric, each target j gets `argmax_i dropout(S_ij − r_S(i)/2)`;
//! - dropout (VecMap's `dropout`) **multiplies** each score by a Bernoulli(keep_prob) mask, so
//!   a dropped entry becomes 0 (not −∞) and can win when all kept scores are negative;
//! - objective = mean over the selected directions of each word's best raw similarity.
//!
//! `S = XW[:src_size] · ZW[:trg_size]^T` is computed in row blocks; when the whole matrix fits
//! in one block it is computed once per iteration, otherwise twice (statistics, then argmax).

use rayon::prelude::*;

use super::csls::{ColumnTopK, block_rows, for_each_block, row_topk, similarity_into};
use super::kernels::{Dropout, column_argmax, fill_bits, mix, row_argmax};
use super::params::Direction;

/// Result of one induction step.
#[derive(Debug, Clone, PartialEq)]
pub struct Induced {
    /// Source rows of the new dictionary.
    pub src: Vec<usize>,
    /// Target rows of the new dictionary (same length as `src`).
    pub trg: Vec<usize>,
    /// VecMap's objective (mean best raw similarity).
    pub objective: f64,
}

/// Settings of one induction step.
#[derive(Debug, Clone, Copy)]
pub struct InductionSettings {
    pub csls_k: usize,
    pub direction: Direction,
    pub keep_prob: f64,
    pub seed: u64,
    pub iteration: u64,
    pub batch_size: usize,
}

/// Deterministic keep/drop decisions for entries (row, col): 16 random bits per entry.
#[derive(Clone, Copy)]
struct Mask {
    key: u64,
    threshold: u32,
    active: bool,
}

impl Mask {
    fn new(s: &InductionSettings, direction_tag: u64) -> Self {
        let key =
            mix(mix(s.seed ^ direction_tag.wrapping_mul(0xA24B_AED4_963E_E407)) ^ s.iteration);
        Self {
            key,
            threshold: (s.keep_prob.clamp(0.0, 1.0) * 65536.0).round() as u32,
            active: s.keep_prob < 1.0,
        }
    }

    #[inline]
    fn row_key(&self, row: usize) -> u64 {
        mix(self.key ^ (row as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93))
    }

    /// Keep decision for column `col` given the row key.
    #[cfg(test)]
    fn keep(&self, row_key: u64, col: usize) -> bool {
        let bits = (mix(row_key ^ (col as u64 >> 2)) >> (16 * (col & 3))) as u32 & 0xFFFF;
        bits < self.threshold
    }

    /// The kernels' view of this mask for one row whose bits are in `bits`.
    fn dropout<'a>(&self, bits: &'a [u16]) -> Dropout<'a> {
        Dropout {
            bits: self.active.then_some(bits),
            threshold: self.threshold,
        }
    }
}

/// One dictionary induction step on mapped matrices `xw`, `zw` (row-major, `dim` columns).
pub fn induce(
    xw: &[f32],
    zw: &[f32],
    dim: usize,
    src_size: usize,
    trg_size: usize,
    s: &InductionSettings,
    scratch: &mut Vec<f32>,
) -> Induced {
    let a = &xw[..src_size * dim];
    let b = &zw[..trg_size * dim];
    let rpb = block_rows(s.batch_size, trg_size);
    let single = rpb >= src_size;

    // Pass 1: r_S per source row (row top-k), r_T per target column, raw maxima.
    let mut row_stats: Vec<(f32, f32)> = Vec::with_capacity(src_size);
    let mut cols = ColumnTopK::new(trg_size, s.csls_k);
    let mut pass1 = |_: usize, rows: usize, blk: &[f32]| {
        row_stats.extend(row_topk(blk, trg_size, s.csls_k));
        cols.update(blk, rows);
    };
    // One block: computed once and kept for the second pass (VecMap computes it four times).
    let whole = single.then(|| similarity_into(a, b, dim, scratch));
    match whole {
        Some(blk) => pass1(0, src_size, blk),
        None => for_each_block(a, b, dim, rpb, pass1),
    }
    let r_t = cols.means();
    let best_bwd = cols.maxima();
    let r_s: Vec<f32> = row_stats.iter().map(|r| r.0).collect();
    let best_fwd: Vec<f32> = row_stats.iter().map(|r| r.1).collect();

    let fwd = matches!(s.direction, Direction::Forward | Direction::Union);
    let bwd = matches!(s.direction, Direction::Backward | Direction::Union);
    let fmask = Mask::new(s, 1);
    let bmask = Mask::new(s, 2);
    let half_rt: Vec<f32> = r_t.iter().map(|v| v / 2.0).collect();
    let mut trg_of_src = vec![0usize; src_size];
    let mut src_of_trg = vec![0u32; trg_size];
    let mut best_b = vec![f32::NEG_INFINITY; trg_size];

    let mut pass2 = |start: usize, rows: usize, blk: &[f32]| {
        if fwd {
            trg_of_src[start..start + rows]
                .par_iter_mut()
                .zip(blk.par_chunks(trg_size))
                .enumerate()
                .for_each_init(
                    || vec![0u16; if fmask.active { trg_size } else { 0 }],
                    |bits, (r, (out, row))| {
                        if fmask.active {
                            fill_bits(fmask.row_key(start + r), 0, bits);
                        }
                        *out = row_argmax(row, &half_rt, fmask.dropout(bits));
                    },
                );
        }
        if bwd {
            const COLS: usize = 512;
            best_b
                .par_chunks_mut(COLS)
                .zip(src_of_trg.par_chunks_mut(COLS))
                .enumerate()
                .for_each(|(ci, (bv, bi))| {
                    let c0 = ci * COLS;
                    let mut bits = vec![0u16; if bmask.active { bv.len() } else { 0 }];
                    for r in 0..rows {
                        let i = start + r;
                        if bmask.active {
                            fill_bits(bmask.row_key(i), c0, &mut bits);
                        }
                        let row = &blk[r * trg_size + c0..r * trg_size + c0 + bv.len()];
                        let drop = bmask.dropout(&bits);
                        column_argmax(row, r_s[i] / 2.0, drop, bv, bi, i as u32);
                    }
                });
        }
    };
    match whole {
        Some(blk) => pass2(0, src_size, blk),
        None => for_each_block(a, b, dim, rpb, pass2),
    }
    let src_of_trg: Vec<usize> = src_of_trg.into_iter().map(|i| i as usize).collect();

    let mean = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len().max(1) as f64;
    let (src, trg, objective) = match s.direction {
        Direction::Forward => ((0..src_size).collect(), trg_of_src, mean(&best_fwd)),
        Direction::Backward => (src_of_trg, (0..trg_size).collect(), mean(&best_bwd)),
        Direction::Union => {
            let mut src: Vec<usize> = (0..src_size).collect();
            src.extend_from_slice(&src_of_trg);
            let mut trg = trg_of_src;
            trg.extend(0..trg_size);
            (src, trg, (mean(&best_fwd) + mean(&best_bwd)) / 2.0)
        }
    };
    Induced {
        src,
        trg,
        objective,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(direction: Direction, keep_prob: f64, csls_k: usize) -> InductionSettings {
        InductionSettings {
            csls_k,
            direction,
            keep_prob,
            seed: 0,
            iteration: 1,
            batch_size: 10000,
        }
    }

    // Unit vectors in 2-D: sources at angles 0°, 90°; targets at 10°, 80°, 110°.
    fn unit(deg: f32) -> [f32; 2] {
        let r = deg.to_radians();
        [r.cos(), r.sin()]
    }

    #[test]
    fn nearest_neighbour_union_without_dropout() {
        let x: Vec<f32> = [0.0, 90.0].iter().flat_map(|&d| unit(d)).collect();
        let z: Vec<f32> = [10.0, 80.0, 110.0].iter().flat_map(|&d| unit(d)).collect();
        let out = induce(
            &x,
            &z,
            2,
            2,
            3,
            &settings(Direction::Union, 1.0, 0),
            &mut Vec::new(),
        );
        assert_eq!(out.src, vec![0, 1, 0, 1, 1]);
        assert_eq!(out.trg, vec![0, 1, 0, 1, 2]);
        let c10 = 10f64.to_radians().cos();
        let c20 = 20f64.to_radians().cos();
        let want = (c10 + (2.0 * c10 + c20) / 3.0) / 2.0;
        assert!((out.objective - want).abs() < 1e-6);
        let f = induce(
            &x,
            &z,
            2,
            2,
            3,
            &settings(Direction::Forward, 1.0, 0),
            &mut Vec::new(),
        );
        assert_eq!((f.src, f.trg), (vec![0, 1], vec![0, 1]));
    }

    #[test]
    fn blocked_and_single_block_agree_with_dropout() {
        // Pseudo-random small integers (dot products exact in any summation order);
        // batch_size 1 forces one row per block (two matmul passes).
        let n = 37;
        let dim = 5;
        let x: Vec<f32> = (0..n * dim).map(|i| (i * 7919 % 7) as f32 - 3.0).collect();
        let z: Vec<f32> = (0..n * dim)
            .map(|i| (i * 104729 % 5) as f32 - 2.0)
            .collect();
        let mut s = settings(Direction::Union, 0.3, 3);
        let one = induce(&x, &z, dim, n, n, &s, &mut Vec::new());
        s.batch_size = 1;
        let many = induce(&x, &z, dim, n, n, &s, &mut Vec::new());
        assert_eq!(one, many);
        s.iteration = 2;
        let other = induce(&x, &z, dim, n, n, &s, &mut Vec::new());
        assert_ne!(one.trg, other.trg, "masks must change between iterations");
    }

    #[test]
    fn mask_keeps_the_requested_fraction() {
        let m = Mask::new(&settings(Direction::Union, 0.1, 10), 1);
        let mut kept = 0;
        for r in 0..100 {
            let rk = m.row_key(r);
            kept += (0..1000).filter(|&c| m.keep(rk, c)).count();
        }
        let frac = kept as f64 / 100_000.0;
        assert!((frac - 0.1).abs() < 0.01, "{frac}");
    }
}
