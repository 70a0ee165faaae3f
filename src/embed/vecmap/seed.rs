//! Seed dictionaries (vecmap map_embeddings.py, "Build the seed dictionary").
//! - identical: every string in both vocabularies (`--init_identical`), including `</s>`,
//!   numbers, punctuation and shared subword pieces: cheap supervision that works when the
//!   languages share some tokens;
//! - supervised: a `src trg` dictionary (one pair per line, tab or space), pairs with an
//!   out-of-vocabulary word are skipped (VecMap prints a warning per pair; we count them).
//!
//! - unsupervised: no shared strings at all (`--init_unsupervised`, Artetxe et al. ACL 2018):
//!   words of two languages are compared through the *distribution* of their similarities to
//!   the other words of their own language, which isometric spaces share up to the order of
//!   the words; see [`unsupervised_seed`].
//!
//! Identical pairs are `(src_row, trg_row)`, sorted by source row (VecMap iterates a Python
//! set, whose order does not affect the Procrustes solution). Duplicated words use their first
//! row. Unsupervised pairs keep VecMap's union order (forward pairs, then backward pairs).

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, Par};
use rayon::prelude::*;

use super::VecmapError;
use super::csls::{ColumnTopK, row_topk};
use super::normalize::{NormalizeAction, normalize};
use super::params::Direction;
use super::procrustes::{svd, to_f64, view};
use crate::embed::vec_format::Embeddings;

/// Identical-string seed, sorted by source row.
pub fn identical_seed(src: &Embeddings, trg: &Embeddings) -> Vec<(usize, usize)> {
    let trg_index = trg.word_index();
    let src_index = src.word_index();
    let mut pairs: Vec<(usize, usize)> = src_index
        .iter()
        .filter_map(|(w, &i)| trg_index.get(w).map(|&j| (i, j)))
        .collect();
    pairs.sort_unstable();
    pairs
}

/// Dictionary seed: `(pairs, n_oov)` where `n_oov` counts pairs dropped because a word is
/// missing from its vocabulary. Keeps dictionary order and duplicates (as VecMap does).
pub fn dictionary_seed(
    src: &Embeddings,
    trg: &Embeddings,
    dict: &[(String, String)],
) -> (Vec<(usize, usize)>, usize) {
    let si = src.word_index();
    let ti = trg.word_index();
    let mut oov = 0;
    let pairs = dict
        .iter()
        .filter_map(|(s, t)| match (si.get(s.as_str()), ti.get(t.as_str())) {
            (Some(&i), Some(&j)) => Some((i, j)),
            _ => {
                oov += 1;
                None
            }
        })
        .collect();
    (pairs, oov)
}

/// What [`unsupervised_seed`] reads from the parameters.
pub struct UnsupervisedSettings<'a> {
    /// Rows of each side compared (`unsupervised_vocab`; 0 = all). VecMap: 4000.
    pub vocab: usize,
    /// The normalisation applied to the embeddings, applied again to the similarity rows.
    pub normalize: &'a [NormalizeAction],
    /// CSLS neighbourhood (0: plain nearest neighbours).
    pub csls_k: usize,
    /// Which argmaxes form the seed.
    pub direction: Direction,
}

/// Rows compared by [`unsupervised_seed`] for vocabularies of `nx` and `nz` words.
pub fn unsupervised_size(nx: usize, nz: usize, vocab: usize) -> usize {
    match vocab {
        0 => nx.min(nz),
        v => nx.min(nz).min(v),
    }
}

/// The seed dictionary of map_embeddings.py's `init_unsupervised`, on the *normalised*
/// embeddings `x` (`nx x dim`) and `z` (`nz x dim`), row-major:
///
/// ```text
/// n = min(nx, nz, vocab)
/// U S Vt = svd(X[:n]);  Xsim = (U S) U^T      # = (X X^T)^(1/2), an n x n matrix
/// same for Z;  sort every row of Xsim and Zsim;  normalise them as the embeddings are
/// sim = Xsim Zsim^T;  with CSLS: sim -= knn_fwd[:, None]/2 + knn_bwd/2
/// union: src = [0..n) ++ argmax(sim, axis 0);  trg = argmax(sim, axis 1) ++ [0..n)
/// ```
///
/// Sorting a row throws away *which* word each similarity belongs to and keeps only their
/// distribution, which is comparable across languages when the spaces are nearly isometric;
/// the square root of `X X^T` (rather than `X X^T`) makes those distributions less peaked.
/// `(U S) U^T` does not depend on the signs an SVD picks for its singular vectors.
/// Ties in an argmax go to the lower index, as in NumPy.
pub fn unsupervised_seed(
    x: &[f32],
    z: &[f32],
    dim: usize,
    s: &UnsupervisedSettings<'_>,
) -> Result<Vec<(usize, usize)>, VecmapError> {
    let nx = x.len() / dim.max(1);
    let nz = z.len() / dim.max(1);
    let n = unsupervised_size(nx, nz, s.vocab);
    if n == 0 {
        return Err(VecmapError::EmptySeed);
    }
    let needed = (n as u64).saturating_mul(n as u64).saturating_mul(4 * 3);
    if let Some(avail) = crate::io::available_memory_bytes()
        && needed > avail
    {
        return Err(VecmapError::UnsupervisedTooLarge {
            n,
            needed_gb: needed as f64 / 1e9,
            available_gb: avail as f64 / 1e9,
        });
    }
    let mut xsim = sorted_sqrt_gram(&x[..n * dim], dim)?;
    let mut zsim = sorted_sqrt_gram(&z[..n * dim], dim)?;
    normalize(&mut xsim, n, s.normalize);
    normalize(&mut zsim, n, s.normalize);
    let mut sim = vec![0.0f32; n * n];
    matmul(
        MatMut::from_row_major_slice_mut(&mut sim, n, n),
        Accum::Replace,
        view(&xsim, n),
        view(&zsim, n).transpose(),
        1.0f32,
        Par::rayon(0),
    );
    drop((xsim, zsim));
    if s.csls_k > 0 {
        let fwd: Vec<f32> = row_topk(&sim, n, s.csls_k).iter().map(|r| r.0).collect();
        let mut cols = ColumnTopK::new(n, s.csls_k);
        cols.update(&sim, n);
        let bwd = cols.means();
        sim.par_chunks_mut(n).zip(&fwd).for_each(|(row, &f)| {
            for (v, &b) in row.iter_mut().zip(&bwd) {
                *v -= f / 2.0 + b / 2.0;
            }
        });
    }
    let forward = || -> Vec<usize> { sim.par_chunks(n).map(first_argmax).collect() };
    let backward = || -> Vec<usize> {
        let mut best = vec![(f32::NEG_INFINITY, 0usize); n];
        for (i, row) in sim.chunks(n).enumerate() {
            for (b, &v) in best.iter_mut().zip(row) {
                if v > b.0 {
                    *b = (v, i);
                }
            }
        }
        best.into_iter().map(|b| b.1).collect()
    };
    let pairs = match s.direction {
        Direction::Forward => forward().into_iter().enumerate().collect(),
        Direction::Backward => backward()
            .into_iter()
            .enumerate()
            .map(|(j, i)| (i, j))
            .collect(),
        Direction::Union => {
            let mut p: Vec<(usize, usize)> = forward().into_iter().enumerate().collect();
            p.extend(backward().into_iter().enumerate().map(|(j, i)| (i, j)));
            p
        }
    };
    Ok(pairs)
}

/// `(U S) U^T` of the row-major `n x dim` matrix `m`, every row sorted ascending (f32).
fn sorted_sqrt_gram(m: &[f32], dim: usize) -> Result<Vec<f32>, VecmapError> {
    let n = m.len() / dim.max(1);
    let (u, sv, _) = svd(to_f64(m, dim).as_ref())?;
    let k = sv.len();
    let us = Mat::<f32>::from_fn(n, k, |i, j| (u[(i, j)] * sv[j]) as f32);
    let uf = Mat::<f32>::from_fn(n, k, |i, j| u[(i, j)] as f32);
    let mut out = vec![0.0f32; n * n];
    matmul(
        MatMut::from_row_major_slice_mut(&mut out, n, n),
        Accum::Replace,
        us.as_ref(),
        uf.as_ref().transpose(),
        1.0f32,
        Par::rayon(0),
    );
    out.par_chunks_mut(n)
        .for_each(|row| row.sort_unstable_by(f32::total_cmp));
    Ok(out)
}

/// Index of the first maximum (NumPy's `argmax`); NaNs never win.
fn first_argmax(row: &[f32]) -> usize {
    let mut best = (f32::NEG_INFINITY, 0usize);
    for (j, &v) in row.iter().enumerate() {
        if v > best.0 {
            best = (v, j);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emb(words: &[&str]) -> Embeddings {
        let n = words.len();
        Embeddings::new(
            words.iter().map(|w| w.to_string()).collect(),
            1,
            vec![0.0; n],
        )
        .unwrap()
    }

    #[test]
    fn identical_strings_including_symbols() {
        let s = emb(&["</s>", "the", ",", "2024", "bog", "the"]);
        let t = emb(&["</s>", ",", "бог", "2024", "the"]);
        assert_eq!(identical_seed(&s, &t), vec![(0, 0), (1, 4), (2, 1), (3, 3)]);
    }

    #[test]
    fn dictionary_skips_oov() {
        let s = emb(&["god", "earth"]);
        let t = emb(&["бог", "земја"]);
        let d: Vec<(String, String)> = [("god", "бог"), ("sky", "небо"), ("earth", "земја")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(dictionary_seed(&s, &t, &d), (vec![(0, 0), (1, 1)], 1));
    }

    /// Z is X rotated and its rows reversed: the similarity distributions of a word are the
    /// same in both spaces, so the seed finds every planted pair without a shared string.
    #[test]
    fn unsupervised_seed_finds_a_permuted_rotation() {
        use rand::{RngExt, SeedableRng};
        let (n, dim) = (60, 6);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        // Decaying scales per dimension make the spectrum, and so the distributions, distinct.
        let x: Vec<f32> = (0..n * dim)
            .map(|k| (rng.random::<f32>() - 0.5) * (1.0 + (dim - k % dim) as f32))
            .collect();
        let (c, s) = (0.6f32, 0.8f32);
        let mut z = vec![0.0f32; n * dim];
        for i in 0..n {
            let (src, dst) = (&x[i * dim..(i + 1) * dim], n - 1 - i);
            let row = &mut z[dst * dim..(dst + 1) * dim];
            row.copy_from_slice(src);
            row[0] = c * src[0] - s * src[1];
            row[1] = s * src[0] + c * src[1];
        }
        let actions = [
            NormalizeAction::Unit,
            NormalizeAction::Center,
            NormalizeAction::Unit,
        ];
        let (mut xn, mut zn) = (x.clone(), z.clone());
        normalize(&mut xn, dim, &actions);
        normalize(&mut zn, dim, &actions);
        let settings = UnsupervisedSettings {
            vocab: 0,
            normalize: &actions,
            csls_k: 10,
            direction: Direction::Union,
        };
        let pairs = unsupervised_seed(&xn, &zn, dim, &settings).unwrap();
        assert_eq!(pairs.len(), 2 * n);
        let right = pairs.iter().filter(|&&(i, j)| j == n - 1 - i).count();
        assert!(right >= 2 * n * 9 / 10, "{right} of {} pairs right", 2 * n);
        assert_eq!(pairs[0].0, 0);
        assert_eq!(pairs[n].1, 0);
    }
}
