//! Unsupervised NMT as XLM trains it: an encoder-decoder initialised from a masked LM,
//! denoising auto-encoding and online back-translation, on the training scaffold.
//!
//! `model` (the encoder-decoder from an MLM), `steps` (XLM's `mt_step` loss, greedy
//! generation with the K/V cache, the back-translation step, teacher-forced scores), `beam`
//! (XLM's beam search),
//! `objective` (the iteration and the validation), `data` (monolingual and validation
//! sets), `params` (the stage's parameters), `job` (files in, files out), `translate` (a trained
//! model over text), `bundle` (a model directory that carries its vocabulary, codes and
//! tokenization).

pub mod beam;
pub mod bundle;
pub mod data;
pub mod job;
pub mod model;
pub mod objective;
pub mod params;
pub mod steps;
pub mod translate;

pub use beam::{BeamConfig, Hypothesis, generate_beam};
pub use job::{UnmtInputs, UnmtJobError, UnmtOutputs, UnmtSummary, run};
pub use model::{EncoderDecoder, UnmtModelError, from_mlm};
pub use params::UnmtParams;
pub use steps::{
    BackTranslation, MtScores, StepError, bt_loss, bt_max_len, generate_greedy, mt_loss, mt_scores,
};
pub use translate::{TranslateError, TranslateParams, Translations, Translator};
