//! VecMap cross-lingual embedding mapping (artetxem/vecmap `map_embeddings.py`, commit
//! b560c94e), the `--identical` recipe (seed = identical strings, self-learning with
//! stochastic CSLS dictionary induction, then one whiten / orthogonal / re-weight / de-whiten
//! mapping), the `--unsupervised` recipe (the same with a seed from the similarity
//! distributions of the 4000 most frequent words, no shared strings needed) and the
//! `--supervised DICT` recipe (the same final mapping on a given dictionary, no
//! self-learning).
//!
//! Differences from the Python reference, all deliberate:
//! - random numbers: dropout masks come from a counter-based hash of (seed, iteration,
//!   direction, row, column) instead of NumPy's global Mersenne Twister, so runs are
//!   deterministic and parallel, but not bit-identical to VecMap's;
//! - small `dim x dim` algebra (SVDs, inverses) runs in f64; the big products in f32 (VecMap's
//!   default precision fp32);
//! - the whitening inverse is built from the same SVD (`V diag(s) V^T`) instead of
//!   `numpy.linalg.inv`, and all final transforms are composed into one `dim x dim` matrix per
//!   side before the single big product;
//! - duplicated words map to their first occurrence (VecMap's dict keeps the last).
//!
//! Outputs depend on the thread count: faer splits the big f32 products differently with 1
//! and 2 threads, so sums are rounded in another order, and over hundreds of self-learning
//! iterations a different near-tie can win in the dictionary induction. A run is repeatable
//! for a given thread count (rayon's global pool: `RAYON_NUM_THREADS`, all cores by default),
//! as NumPy over a multi-threaded BLAS is.

pub mod csls;
pub mod induction;
mod kernels;
pub mod map;
pub mod normalize;
pub mod params;
pub mod procrustes;
pub mod seed;
pub mod whitening;

pub use map::{VecmapResult, map};
pub use params::{Direction, Mode, Side, VecmapParams};

use std::path::PathBuf;

/// Errors of the VecMap pipeline.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum VecmapError {
    /// A parameter is out of range.
    #[error(transparent)]
    InvalidParam(#[from] crate::validate::InvalidParam),
    /// Reading or writing embeddings failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Format(#[from] crate::embed::vec_format::VecFormatError),
    /// Reading the seed dictionary failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Dictionary(#[from] crate::embed::bli::BliError),
    /// The two embedding sets have different dimensions.
    #[error("failed to map embeddings: source dim {src} differs from target dim {trg}")]
    DimMismatch { src: usize, trg: usize },
    /// The seed dictionary is empty (no identical strings / no in-vocabulary pair).
    #[error("failed to build the seed dictionary: no pair has both words in the vocabularies")]
    EmptySeed,
    /// Supervised mode without a dictionary, or another mode with one.
    #[error("failed to build the seed dictionary: {reason}")]
    SeedMode {
        /// Which combination of mode and dictionary was given.
        reason: &'static str,
    },
    /// The unsupervised seed's three `n x n` similarity matrices do not fit in memory.
    #[error(
        "failed to build the unsupervised seed: comparing the {n} most frequent words needs {needed_gb:.1} GB, {available_gb:.1} GB available; lower `unsupervised_vocab`"
    )]
    UnsupervisedTooLarge {
        /// Rows compared per side.
        n: usize,
        /// Estimate, GB.
        needed_gb: f64,
        /// `MemAvailable`, GB.
        available_gb: f64,
    },
    /// An SVD did not converge.
    #[error("failed to compute an svd ({0:?})")]
    Svd(faer::linalg::svd::SvdError),
    /// Whitening needs the dictionary rows to span the space.
    #[error(
        "failed to whiten the embeddings: the dictionary rows have rank < dim (smallest singular value {0:e}); use more pairs or whiten = false"
    )]
    SingularWhitening(f64),
    /// An output file could not be written.
    #[error("failed to write `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Parameters file problems.
    #[error("failed to read params file `{path}`: {message}")]
    ParamsFile { path: PathBuf, message: String },
}
