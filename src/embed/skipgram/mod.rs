//! fastText skip-gram with negative sampling and character n-gram subwords.
//!
//! A port of facebookresearch/fastText (v0.9.2, `src/args.cc`, `dictionary.cc`,
//! `fasttext.cc`, `model.cc`, `loss.cc`, `densematrix.cc`) for training the monolingual
//! (or, given several files, joint) embeddings that VecMap aligns. Each file names the
//! fastText functions it ports. Entry points: [`train`], [`SkipgramModel`] with
//! [`WordVectors::write_vec`] / [`WordVectors::write_safetensors`], [`read_safetensors`],
//! and the CLI pair [`SkipgramArgs`] / [`run`] (`unmt skipgram`).

mod cppsort;
mod error;
mod export;
mod memory;
mod model;
mod negatives;
mod params;
mod rng;
mod subwords;
mod tables;
mod train;
mod vocab;

pub use error::SkipgramError;
pub use export::{format_float, read_safetensors};
pub use memory::{available_memory_bytes, check_memory, estimate_memory_bytes};
pub use model::{SkipgramModel, TrainStats, WordVectors};
pub use negatives::{NEGATIVE_TABLE_SIZE, NegativeTable};
pub use params::SkipgramParams;
pub use rng::MinStd;
pub use subwords::{fasttext_hash, ngram_rows, ngram_strings};
pub use train::{SubwordIndex, train};
pub use vocab::{EOS, Vocab};
