//! Embedding normalisation (vecmap embeddings.py `normalize`, `length_normalize`,
//! `mean_center`, `length_normalize_dimensionwise`, `mean_center_embeddingwise`).
//! `--identical` applies `unit, center, unit`: re-normalising after centring keeps cosine =
//! dot product while removing the common direction all embeddings share.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// One normalisation action, applied in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NormalizeAction {
    /// L2-normalise each row; zero rows are left as they are.
    Unit,
    /// Subtract the column (dimension) mean from every row.
    Center,
    /// L2-normalise each column; zero columns are left as they are.
    Unitdim,
    /// Subtract each row's own mean from that row.
    Centeremb,
    /// Do nothing.
    None,
}

/// Applies `actions` in order to the row-major `data` (rows of length `dim`).
pub fn normalize(data: &mut [f32], dim: usize, actions: &[NormalizeAction]) {
    if dim == 0 {
        return;
    }
    for a in actions {
        match a {
            NormalizeAction::Unit => unit_rows(data, dim),
            NormalizeAction::Center => center_columns(data, dim),
            NormalizeAction::Unitdim => unit_columns(data, dim),
            NormalizeAction::Centeremb => center_rows(data, dim),
            NormalizeAction::None => {}
        }
    }
}

/// L2-normalises every row in place; rows of norm 0 are left unchanged (vecmap sets their
/// norm to 1).
pub fn unit_rows(data: &mut [f32], dim: usize) {
    data.par_chunks_mut(dim).for_each(|row| {
        let n = row
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt();
        if n > 0.0 {
            let inv = (1.0 / n) as f32;
            row.iter_mut().for_each(|v| *v *= inv);
        }
    });
}

fn column_sums(data: &[f32], dim: usize, f: impl Fn(f32) -> f64 + Sync) -> Vec<f64> {
    data.par_chunks(dim)
        .fold(
            || vec![0.0f64; dim],
            |mut acc, row| {
                acc.iter_mut().zip(row).for_each(|(a, &v)| *a += f(v));
                acc
            },
        )
        .reduce(
            || vec![0.0f64; dim],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        )
}

fn center_columns(data: &mut [f32], dim: usize) {
    let rows = data.len() / dim;
    if rows == 0 {
        return;
    }
    let mean: Vec<f32> = column_sums(data, dim, f64::from)
        .into_iter()
        .map(|s| (s / rows as f64) as f32)
        .collect();
    data.par_chunks_mut(dim).for_each(|row| {
        row.iter_mut().zip(&mean).for_each(|(v, m)| *v -= m);
    });
}

fn unit_columns(data: &mut [f32], dim: usize) {
    let inv: Vec<f32> = column_sums(data, dim, |v| f64::from(v) * f64::from(v))
        .into_iter()
        .map(|s| {
            if s > 0.0 {
                (1.0 / s.sqrt()) as f32
            } else {
                1.0
            }
        })
        .collect();
    data.par_chunks_mut(dim).for_each(|row| {
        row.iter_mut().zip(&inv).for_each(|(v, m)| *v *= m);
    });
}

fn center_rows(data: &mut [f32], dim: usize) {
    data.par_chunks_mut(dim).for_each(|row| {
        let mean = (row.iter().map(|&v| f64::from(v)).sum::<f64>() / dim as f64) as f32;
        row.iter_mut().for_each(|v| *v -= mean);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use NormalizeAction::*;

    #[test]
    fn unit_center_unit_by_hand() {
        // rows (3,4), (0,0), (1,0): unit -> (0.6,0.8), (0,0), (1,0); mean (0.5333, 0.2667)
        let mut d = vec![3.0, 4.0, 0.0, 0.0, 1.0, 0.0];
        normalize(&mut d, 2, &[Unit]);
        assert_eq!(d, vec![0.6, 0.8, 0.0, 0.0, 1.0, 0.0]);
        normalize(&mut d, 2, &[Center]);
        let want = [0.6 - 1.6 / 3.0, 0.8 - 0.8 / 3.0, -1.6 / 3.0, -0.8 / 3.0];
        for (a, b) in d.iter().zip(want) {
            assert!((f64::from(*a) - b).abs() < 1e-6);
        }
        normalize(&mut d, 2, &[Unit]);
        for row in d.chunks(2) {
            let n: f32 = row.iter().map(|v| v * v).sum();
            assert!((n - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn zero_rows_stay_zero() {
        let mut d = vec![0.0, 0.0, 2.0, 0.0];
        normalize(&mut d, 2, &[Unit]);
        assert_eq!(d, vec![0.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn dimensionwise_and_embeddingwise() {
        let mut d = vec![3.0, 1.0, 4.0, 3.0];
        normalize(&mut d, 2, &[Unitdim]);
        assert_eq!(d, vec![0.6, 1.0 / 10f32.sqrt(), 0.8, 3.0 / 10f32.sqrt()]);
        let mut e = vec![1.0, 3.0, 2.0, 2.0];
        normalize(&mut e, 2, &[Centeremb, None]);
        assert_eq!(e, vec![-1.0, 1.0, 0.0, 0.0]);
    }
}
