//! The final "advanced mapping" of VecMap (map_embeddings.py, `else: # advanced mapping`
//! branch; Artetxe et al. AAAI 2018), applied once after self-learning converged:
//! 1. whitening `W1 = V diag(1/s) V^T` from the SVD of each side's dictionary rows, so the
//!    dictionary rows have identity covariance;
//! 2. orthogonal mapping `SVD((X W_x1)[src]^T (Z W_z1)[trg]) = U_x S U_z^T`;
//! 3. re-weighting of the columns by `S^src_reweight` / `S^trg_reweight`;
//! 4. de-whitening with `U^T W1^{-1} U` of the chosen side (restores the original variance
//!    structure in the shared space).
//!
//! Everything is composed into one `dim x dim` transform per side (`T_x`, `T_z`), returned for
//! a single big product `X T_x`, `Z T_z`. No dimensionality reduction.

use faer::Mat;

use super::VecmapError;
use super::params::Side;
use super::procrustes::{gather, svd, to_f64};

/// Settings of the final mapping (see [`super::VecmapParams`]).
#[derive(Debug, Clone, Copy)]
pub struct AdvancedSettings {
    pub whiten: bool,
    pub src_reweight: f64,
    pub trg_reweight: f64,
    pub src_dewhiten: Option<Side>,
    pub trg_dewhiten: Option<Side>,
}

/// Whitening matrix `V diag(1/s) V^T` and its inverse `V diag(s) V^T` of `m` (n x dim).
pub fn whitening(m: &Mat<f64>) -> Result<(Mat<f64>, Mat<f64>), VecmapError> {
    let dim = m.ncols();
    let (_, s, v) = svd(m.as_ref())?;
    let smin = s.iter().copied().fold(f64::INFINITY, f64::min);
    if s.len() < dim || smin.is_nan() || smin <= 1e-12 * s.first().copied().unwrap_or(0.0) {
        return Err(VecmapError::SingularWhitening(if s.len() < dim {
            0.0
        } else {
            smin
        }));
    }
    let scaled = |p: f64| Mat::from_fn(dim, dim, |i, j| v[(i, j)] * s[j].powf(p));
    let w = &scaled(-1.0) * v.transpose();
    let w_inv = &scaled(1.0) * v.transpose();
    Ok((w, w_inv))
}

/// Transforms `(T_x, T_z)` of the advanced mapping for the dictionary `(src[i], trg[i])`.
pub fn advanced_mapping(
    x: &[f32],
    z: &[f32],
    dim: usize,
    src: &[usize],
    trg: &[usize],
    p: &AdvancedSettings,
) -> Result<(Mat<f64>, Mat<f64>), VecmapError> {
    let xs = to_f64(&gather(x, dim, src), dim);
    let zs = to_f64(&gather(z, dim, trg), dim);
    let eye = || Mat::<f64>::identity(dim, dim);
    let ((wx1, wx1_inv), (wz1, wz1_inv)) = if p.whiten {
        (whitening(&xs)?, whitening(&zs)?)
    } else {
        ((eye(), eye()), (eye(), eye()))
    };
    // (X W_x1)[src]^T (Z W_z1)[trg] = W_x1^T X[src]^T Z[trg] W_z1
    let m = wx1.transpose() * (xs.transpose() * &zs) * &wz1;
    let (wx2, s, wz2) = svd(m.as_ref())?;
    let reweight =
        |a: f64| Mat::<f64>::from_fn(dim, dim, |i, j| if i == j { s[i].powf(a) } else { 0.0 });
    let dewhiten = |side: Option<Side>| match side {
        Some(Side::Src) => wx2.transpose() * &wx1_inv * &wx2,
        Some(Side::Trg) => wz2.transpose() * &wz1_inv * &wz2,
        None => eye(),
    };
    let tx = &wx1 * &wx2 * reweight(p.src_reweight) * dewhiten(p.src_dewhiten);
    let tz = &wz1 * &wz2 * reweight(p.trg_reweight) * dewhiten(p.trg_dewhiten);
    Ok((tx, tz))
}

#[cfg(test)]
mod tests {
    use super::super::procrustes::apply;
    use super::*;

    fn settings(rw: f64) -> AdvancedSettings {
        AdvancedSettings {
            whiten: true,
            src_reweight: rw,
            trg_reweight: rw,
            src_dewhiten: Some(Side::Src),
            trg_dewhiten: Some(Side::Trg),
        }
    }

    #[test]
    fn whitening_by_hand_and_inverse() {
        // Rows (2,0), (0,1): X^T X = diag(4, 1) -> W = diag(1/2, 1), W^-1 = diag(2, 1).
        let m = Mat::from_fn(2, 2, |i, j| [[2.0, 0.0], [0.0, 1.0]][i][j]);
        let (w, wi) = whitening(&m).unwrap();
        let want = [[0.5, 0.0], [0.0, 1.0]];
        let prod = &w * &wi;
        for i in 0..2 {
            for j in 0..2 {
                assert!((w[(i, j)] - want[i][j]).abs() < 1e-12);
                assert!((prod[(i, j)] - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        let singular = Mat::from_fn(2, 2, |i, j| [[1.0, 1.0], [1.0, 1.0]][i][j]);
        assert!(matches!(
            whitening(&singular),
            Err(VecmapError::SingularWhitening(_))
        ));
    }

    // 4 x 3 source rows and a target Z = X Q for a fixed rotation Q.
    fn data() -> (Vec<f32>, Vec<f32>) {
        let x = vec![
            1.0, 0.2, -0.3, 0.1, 0.9, 0.4, -0.5, 0.3, 1.1, 0.7, -0.6, 0.2,
        ];
        let (c, s) = (0.6f32, 0.8f32);
        let q = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]];
        let z = x
            .chunks(3)
            .flat_map(|r| (0..3).map(move |j| (0..3).map(|k| r[k] * q[k][j]).sum::<f32>()))
            .collect();
        (x, z)
    }

    #[test]
    fn exact_rotation_maps_both_sides_to_the_same_points() {
        // With Z = X Q and the identity dictionary, whitening + orthogonal + any symmetric
        // re-weighting + self de-whitening gives X T_x = Z T_z (derivation in the report).
        let (x, z) = data();
        let idx = [0, 1, 2, 3];
        for rw in [0.0, 0.5, 1.0] {
            let (tx, tz) = advanced_mapping(&x, &z, 3, &idx, &idx, &settings(rw)).unwrap();
            let xw = apply(&x, 3, tx.as_ref());
            let zw = apply(&z, 3, tz.as_ref());
            for (a, b) in xw.iter().zip(&zw) {
                assert!((a - b).abs() < 1e-4, "rw {rw}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn no_reweight_with_dewhitening_is_orthogonal() {
        // reweight 0 and de-whitening with the own side cancel the whitening: T_x = U_x is
        // orthogonal, so row norms are preserved.
        let (x, z) = data();
        let idx = [0, 1, 2, 3];
        let (tx, _) = advanced_mapping(&x, &z, 3, &idx, &idx, &settings(0.0)).unwrap();
        let xw = apply(&x, 3, tx.as_ref());
        for (a, b) in x.chunks(3).zip(xw.chunks(3)) {
            let na: f32 = a.iter().map(|v| v * v).sum();
            let nb: f32 = b.iter().map(|v| v * v).sum();
            assert!((na - nb).abs() < 1e-4);
        }
        let ttx = tx.transpose() * &tx;
        for i in 0..3 {
            for j in 0..3 {
                assert!((ttx[(i, j)] - if i == j { 1.0 } else { 0.0 }).abs() < 1e-6);
            }
        }
    }
}
