//! Evaluation metrics that reproduce SacreBLEU 2.x ([`SACREBLEU_VERSION`]) to the last
//! printed digit: BLEU (13a/intl/char/none tokenizers, all smoothing methods, multiple
//! references), chrF/chrF++, signatures, bootstrap CIs and paired significance tests, plus
//! XLM's in-training multi-bleu.perl BLEU.
//!
//! Reference: github.com/mjpost/sacrebleu, release 2.6.0, files cited per module.
pub mod bleu;
pub mod chrf;
pub mod error;
pub mod io;
pub mod metric;
pub mod multi_bleu;
pub mod ngrams;
pub mod numpy_rng;
pub mod report;
pub mod signature;
pub mod significance;
pub mod stats;
pub mod text;
pub mod tokenizers;

pub use bleu::{BleuParams, BleuScore, SmoothMethod, corpus_bleu, sentence_bleu};
pub use chrf::{ChrfParams, corpus_chrf, sentence_chrf};
pub use error::MetricsError;
pub use metric::Metric;
pub use multi_bleu::{MultiBleu, multi_bleu, multi_bleu_files};
pub use report::{MetricName, ScoreOptions, ScoreReport, score_files, score_lines};
pub use signature::{SACREBLEU_VERSION, Signature};
pub use significance::{PairedTest, Seed, SystemResult};
pub use tokenizers::Tokenizer;
