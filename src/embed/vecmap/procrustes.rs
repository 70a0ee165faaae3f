//! Orthogonal Procrustes step of the self-learning loop (vecmap map_embeddings.py, "orthogonal
//! mapping" branch): SVD of `Z[trg]^T X[src] = U S V^T`, `W = V U^T`, `XW = X W`, `ZW = Z`.
//! `W` is the rotation that best aligns the dictionary's source rows to their target rows.
//! Also holds the small dense helpers shared with the whitening step.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::VecmapError;

/// Copies rows `idx` of the row-major `data` into a new row-major matrix.
pub fn gather(data: &[f32], dim: usize, idx: &[usize]) -> Vec<f32> {
    let mut out = Vec::new();
    gather_into(data, dim, idx, &mut out);
    out
}

/// [`gather`] into `out`, reusing its allocation.
pub fn gather_into(data: &[f32], dim: usize, idx: &[usize], out: &mut Vec<f32>) {
    out.resize(idx.len() * dim, 0.0);
    out.par_chunks_mut(dim)
        .zip(idx.par_iter())
        .for_each(|(o, &i)| o.copy_from_slice(&data[i * dim..(i + 1) * dim]));
}

/// Row-major `rows x dim` f32 slice as a faer view.
pub fn view(data: &[f32], dim: usize) -> MatRef<'_, f32> {
    MatRef::from_row_major_slice(data, data.len() / dim.max(1), dim)
}

/// Row-major slice as an f64 faer matrix.
pub fn to_f64(data: &[f32], dim: usize) -> Mat<f64> {
    let v = view(data, dim);
    Mat::from_fn(v.nrows(), v.ncols(), |i, j| f64::from(v[(i, j)]))
}

/// `A^T B` for two row-major `n x dim` matrices, accumulated in f32 by faer, returned as f64.
pub fn cross(a: &[f32], b: &[f32], dim: usize) -> Mat<f64> {
    let (a, b) = (view(a, dim), view(b, dim));
    let mut out = Mat::<f32>::zeros(dim, dim);
    matmul(
        out.as_mut(),
        Accum::Replace,
        a.transpose(),
        b,
        1.0f32,
        Par::rayon(0),
    );
    Mat::from_fn(dim, dim, |i, j| f64::from(out[(i, j)]))
}

/// `data · w` for a row-major `n x dim` f32 matrix and a `dim x dim` f64 transform.
pub fn apply(data: &[f32], dim: usize, w: MatRef<'_, f64>) -> Vec<f32> {
    let wf = Mat::<f32>::from_fn(w.nrows(), w.ncols(), |i, j| w[(i, j)] as f32);
    let rows = data.len() / dim.max(1);
    let mut out = vec![0.0f32; rows * w.ncols()];
    let dst = MatMut::from_row_major_slice_mut(&mut out, rows, w.ncols());
    matmul(
        dst,
        Accum::Replace,
        view(data, dim),
        wf.as_ref(),
        1.0f32,
        Par::rayon(0),
    );
    out
}

/// `(U, s, V)` of an SVD.
pub type SvdParts = (Mat<f64>, Vec<f64>, Mat<f64>);

/// `(U, s, V)` of a dense f64 matrix (full SVD for square input).
pub fn svd(m: MatRef<'_, f64>) -> Result<SvdParts, VecmapError> {
    let s = m.thin_svd().map_err(VecmapError::Svd)?;
    let sv = s.S().column_vector();
    let vals = (0..sv.nrows()).map(|i| sv[i]).collect();
    Ok((s.U().to_owned(), vals, s.V().to_owned()))
}

/// Orthogonal Procrustes on the dictionary `(src_idx[i], trg_idx[i])`: returns `W = V U^T`
/// from `Z[trg]^T X[src] = U S V^T`, so that `X[src] W ≈ Z[trg]`.
pub fn procrustes(
    x: &[f32],
    z: &[f32],
    dim: usize,
    src_idx: &[usize],
    trg_idx: &[usize],
) -> Result<Mat<f64>, VecmapError> {
    procrustes_into(
        x,
        z,
        dim,
        src_idx,
        trg_idx,
        &mut Vec::new(),
        &mut Vec::new(),
    )
}

/// [`procrustes`] with the gathered rows in `xs` / `zs`, reused across iterations.
pub fn procrustes_into(
    x: &[f32],
    z: &[f32],
    dim: usize,
    src_idx: &[usize],
    trg_idx: &[usize],
    xs: &mut Vec<f32>,
    zs: &mut Vec<f32>,
) -> Result<Mat<f64>, VecmapError> {
    gather_into(x, dim, src_idx, xs);
    gather_into(z, dim, trg_idx, zs);
    let m = cross(zs, xs, dim);
    let (u, _, v) = svd(m.as_ref())?;
    Ok(&v * u.transpose())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_plane_rotation() {
        // X = identity rows in 2-D, Z = X R with R = rotation by 90°: (1,0)->(0,1), (0,1)->(-1,0).
        let x = [1.0, 0.0, 0.0, 1.0, 0.6, 0.8];
        let z = [0.0, 1.0, -1.0, 0.0, -0.8, 0.6];
        let w = procrustes(&x, &z, 2, &[0, 1, 2], &[0, 1, 2]).unwrap();
        let want = [[0.0, 1.0], [-1.0, 0.0]];
        for i in 0..2 {
            for j in 0..2 {
                assert!(
                    (w[(i, j)] - want[i][j]).abs() < 1e-6,
                    "{i}{j}: {}",
                    w[(i, j)]
                );
            }
        }
        let xw = apply(&x, 2, w.as_ref());
        for (a, b) in xw.iter().zip(z) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn gather_rows() {
        assert_eq!(
            gather(&[1.0, 2.0, 3.0, 4.0], 2, &[1, 1, 0]),
            vec![3.0, 4.0, 3.0, 4.0, 1.0, 2.0]
        );
    }
}
