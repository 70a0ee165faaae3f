//! Per-segment sufficient statistics stored as one flat integer matrix.
//!
//! sacrebleu keeps `List[List[int]]` per segment and sums them (`sum_of_lists`) for corpus
//! scores, bootstrap resamples and randomization trials; a flat row-major `Vec<i64>` does the
//! same without per-row allocations.
use serde::{Deserialize, Serialize};

/// `rows x dim` matrix of per-segment statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentStats {
    /// Statistics per segment.
    pub dim: usize,
    /// Row-major data, `rows * dim` values.
    pub data: Vec<i64>,
}

impl SegmentStats {
    /// Statistics of every segment, computed in parallel by `segment(hyp, refs_of_segment)`.
    /// `refs[k][i]` is line `i` of reference stream `k`; every stream has `hyps.len()` lines
    /// (checked by the callers that read files).
    pub fn per_segment(
        dim: usize,
        hyps: &[String],
        refs: &[Vec<String>],
        segment: impl Fn(&str, &[&str]) -> Vec<i64> + Sync,
    ) -> Self {
        use rayon::prelude::*;
        let rows: Vec<Vec<i64>> = (0..hyps.len())
            .into_par_iter()
            .map(|i| {
                let r: Vec<&str> = refs.iter().map(|s| s[i].as_str()).collect();
                segment(&hyps[i], &r)
            })
            .collect();
        Self::from_rows(dim, rows)
    }

    /// Build from rows that all have length `dim`.
    pub fn from_rows(dim: usize, rows: Vec<Vec<i64>>) -> Self {
        let mut data = Vec::with_capacity(rows.len() * dim);
        for r in rows {
            debug_assert_eq!(r.len(), dim);
            data.extend_from_slice(&r);
        }
        Self { dim, data }
    }

    /// Number of segments.
    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Statistics of segment `i`.
    pub fn row(&self, i: usize) -> &[i64] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Column sums (corpus statistics).
    pub fn sum(&self) -> Vec<i64> {
        let mut acc = vec![0i64; self.dim];
        for r in self.data.chunks_exact(self.dim.max(1)) {
            for (a, v) in acc.iter_mut().zip(r) {
                *a += v;
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sums_columns() {
        let s = super::SegmentStats::from_rows(2, vec![vec![1, 2], vec![3, 4], vec![5, 6]]);
        assert_eq!(s.rows(), 3);
        assert_eq!(s.row(1), &[3, 4]);
        assert_eq!(s.sum(), vec![9, 12]);
    }
}
