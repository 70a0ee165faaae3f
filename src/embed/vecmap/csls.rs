//! Similarity blocks and CSLS neighbourhood statistics (Conneau et al. 2018; vecmap
//! map_embeddings.py `topk_mean`, MUSE src/utils.py `get_nn_avg_dist`).
//!
//! CSLS(x, y) = 2 cos(x, y) − r_T(x) − r_S(y), where r_T(x) is the mean similarity of x to
//! its k nearest targets and r_S(y) the mean similarity of y to its k nearest sources: it
//! penalises "hub" words that are close to everything. Similarities are computed block by
//! block (`A[rows] · B^T` with faer), so memory stays bounded by one block, and the k best
//! values per row / per column are kept in small sorted buffers (no full sorts).

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, Par};
use rayon::prelude::*;

use super::kernels::{column_topk_update, row_topk_into};
use super::procrustes::view;

/// Upper bound on the floats of one similarity block: VecMap's `batch_size` rows times its
/// 20,000-word vocabulary cutoff (callers scale the row count down for wider blocks).
pub fn block_rows(batch_size: usize, ncols: usize) -> usize {
    let budget = batch_size.max(1).saturating_mul(20_000);
    (budget / ncols.max(1)).clamp(1, batch_size.max(1))
}

/// The whole `S = A · B^T` (row-major `na x nb`) into `out`, for callers that read it twice;
/// `out` is reused across calls (a fresh 100 MB buffer per iteration costs its page faults).
pub fn similarity_into<'a>(a: &[f32], b: &[f32], dim: usize, out: &'a mut Vec<f32>) -> &'a [f32] {
    let na = a.len() / dim.max(1);
    let nb = b.len() / dim.max(1);
    out.resize(na * nb, 0.0);
    block_into(a, b, dim, out);
    out
}

/// `dst = A · B^T` for row-major `A` (`rows x dim`) and `B` (`nb x dim`).
fn block_into(a: &[f32], b: &[f32], dim: usize, dst: &mut [f32]) {
    let rows = a.len() / dim.max(1);
    let nb = b.len() / dim.max(1);
    let dst = MatMut::from_row_major_slice_mut(dst, rows, nb);
    matmul(
        dst,
        Accum::Replace,
        view(a, dim),
        view(b, dim).transpose(),
        1.0f32,
        Par::rayon(0),
    );
}

/// Calls `f(first_row, rows, block)` for consecutive row blocks of `S = A · B^T`
/// (`A`: `na x dim`, `B`: `nb x dim`, row-major); `block` is row-major `rows x nb`.
pub fn for_each_block(
    a: &[f32],
    b: &[f32],
    dim: usize,
    rows_per_block: usize,
    mut f: impl FnMut(usize, usize, &[f32]),
) {
    let na = a.len() / dim.max(1);
    let nb = b.len() / dim.max(1);
    let rpb = rows_per_block.max(1).min(na.max(1));
    let mut buf = vec![0.0f32; rpb * nb];
    for start in (0..na).step_by(rpb) {
        let rows = rpb.min(na - start);
        block_into(
            &a[start * dim..(start + rows) * dim],
            b,
            dim,
            &mut buf[..rows * nb],
        );
        f(start, rows, &buf[..rows * nb]);
    }
}

/// Mean of a descending k-buffer that saw `seen` values: when fewer than k values exist,
/// VecMap's `topk_mean` keeps adding the minimum, so the missing slots count as the smallest
/// value seen.
fn buffer_mean(buf: &[f32], seen: usize) -> f32 {
    let k = buf.len();
    if k == 0 {
        return 0.0;
    }
    let n = seen.min(k);
    if n == 0 {
        return 0.0;
    }
    let min = buf[n - 1];
    let sum: f64 =
        buf[..n].iter().map(|&v| f64::from(v)).sum::<f64>() + (k - n) as f64 * f64::from(min);
    (sum / k as f64) as f32
}

/// Running top-k per row of a block: returns (mean of top k, max) per row.
pub fn row_topk(block: &[f32], ncols: usize, k: usize) -> Vec<(f32, f32)> {
    let kk = k.max(1);
    block
        .par_chunks(ncols.max(1))
        .map(|row| {
            let mut buf = vec![f32::NEG_INFINITY; kk];
            row_topk_into(row, &mut buf);
            let mean = if k == 0 {
                0.0
            } else {
                buffer_mean(&buf, row.len())
            };
            (mean, buf[0])
        })
        .collect()
}

/// Top-k over the rows of all blocks seen so far, for every column.
pub struct ColumnTopK {
    k: usize,
    ncols: usize,
    seen: usize,
    vals: Vec<f32>,
    /// The last (k-th best) entry of each column's buffer, contiguous for the kernel.
    kth: Vec<f32>,
}

impl ColumnTopK {
    /// Empty statistics for `ncols` columns (k = 0 still tracks the maximum).
    pub fn new(ncols: usize, k: usize) -> Self {
        let kk = k.max(1);
        Self {
            k,
            ncols,
            seen: 0,
            vals: vec![f32::NEG_INFINITY; ncols * kk],
            kth: vec![f32::NEG_INFINITY; ncols],
        }
    }

    /// Adds a row-major `rows x ncols` block.
    pub fn update(&mut self, block: &[f32], rows: usize) {
        const COLS: usize = 512;
        let kk = self.k.max(1);
        let ncols = self.ncols;
        self.vals
            .par_chunks_mut(COLS * kk)
            .zip(self.kth.par_chunks_mut(COLS))
            .enumerate()
            .for_each(|(ci, (buf, kth))| {
                let c0 = ci * COLS;
                let cn = kth.len();
                for i in 0..rows {
                    let row = &block[i * ncols + c0..i * ncols + c0 + cn];
                    column_topk_update(row, kth, buf, kk);
                }
            });
        self.seen += rows;
    }

    /// Mean of the k best values per column (0 when k = 0).
    pub fn means(&self) -> Vec<f32> {
        if self.k == 0 {
            return vec![0.0; self.ncols];
        }
        self.vals
            .chunks(self.k)
            .map(|b| buffer_mean(b, self.seen))
            .collect()
    }

    /// Best value per column.
    pub fn maxima(&self) -> Vec<f32> {
        self.vals.chunks(self.k.max(1)).map(|b| b[0]).collect()
    }
}

/// The `k` best `(score, column)` of a row, best first; ties keep the lower column first.
pub fn topk_indices(row: &[f32], k: usize) -> Vec<(f32, usize)> {
    let mut buf: Vec<(f32, usize)> = Vec::with_capacity(k + 1);
    for (j, &v) in row.iter().enumerate() {
        if v.is_nan() || (buf.len() == k && v <= buf[k - 1].0) {
            continue;
        }
        let mut p = buf.len();
        while p > 0 && buf[p - 1].0 < v {
            p -= 1;
        }
        buf.insert(p, (v, j));
        buf.truncate(k);
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_statistics_match_brute_force() {
        // A: 5 x 2, B: 4 x 2; S = A B^T computed by hand below.
        let a = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, -1.0, 0.0, 0.5, 0.5];
        let b = [1.0, 0.0, 0.0, 1.0, 2.0, 0.0, -1.0, -1.0];
        let s = [
            [1.0, 0.0, 2.0, -1.0],
            [0.0, 1.0, 0.0, -1.0],
            [1.0, 1.0, 2.0, -2.0],
            [-1.0, 0.0, -2.0, 1.0],
            [0.5, 0.5, 1.0, -1.0],
        ];
        let mut rows = Vec::new();
        let mut cols = ColumnTopK::new(4, 2);
        // two rows per block -> three blocks, exercises the running column statistics
        for_each_block(&a, &b, 2, 2, |start, n, blk| {
            for i in 0..n {
                for j in 0..4 {
                    assert_eq!(blk[i * 4 + j], s[start + i][j]);
                }
            }
            rows.extend(row_topk(blk, 4, 2));
            cols.update(blk, n);
        });
        assert_eq!(rows[0], (1.5, 2.0));
        assert_eq!(rows[3], (0.5, 1.0));
        assert_eq!(cols.means(), vec![1.0, 1.0, 2.0, 0.0]);
        assert_eq!(cols.maxima(), vec![1.0, 1.0, 2.0, 1.0]);
    }

    #[test]
    fn topk_mean_pads_with_minimum_like_vecmap() {
        // 2 values, k = 3: vecmap adds 3, then 1, then the minimum (1) again -> 5/3.
        let r = row_topk(&[1.0, 3.0], 2, 3);
        assert!((r[0].0 - 5.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn topk_indices_orders_and_breaks_ties() {
        let r = topk_indices(&[0.1, 0.9, 0.5, 0.9, -1.0], 3);
        assert_eq!(r, vec![(0.9, 1), (0.9, 3), (0.5, 2)]);
    }

    #[test]
    fn csls_hand_example() {
        // Hub target t0 is close to both sources; CSLS prefers t1 for s1 where NN picks t0.
        // S = [[0.9, 0.1], [0.8, 0.75]] with k = 1: r_T(s) = row max, r_S(t) = col max.
        let s = [0.9f32, 0.1, 0.8, 0.75];
        let rt: Vec<f32> = row_topk(&s, 2, 1).iter().map(|r| r.0).collect();
        let mut c = ColumnTopK::new(2, 1);
        c.update(&s, 2);
        let rs = c.means();
        assert_eq!(rt, vec![0.9, 0.8]);
        assert_eq!(rs, vec![0.9, 0.75]);
        let csls = |i: usize, j: usize| 2.0 * s[i * 2 + j] - rt[i] - rs[j];
        // s1: NN -> t0 (0.8 > 0.75); CSLS: t0 = 1.6-0.8-0.9 = -0.1, t1 = 1.5-0.8-0.75 = -0.05
        assert!((csls(1, 0) - -0.1).abs() < 1e-6);
        assert!((csls(1, 1) - -0.05).abs() < 1e-6);
        assert!(csls(1, 1) > csls(1, 0));
        assert!(csls(0, 0) > csls(0, 1));
    }
}
