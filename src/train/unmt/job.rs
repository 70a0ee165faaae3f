//! A UNMT training job from files: what the `unmt` stage and `unmt train-unmt` both run.
//!
//! Inputs: the MLM's best checkpoint (its configuration is in the metadata), the vocabulary
//! it was trained with, binarized monolingual training data per language, and per language a
//! line-aligned validation file (BPE-segmented) with its raw references. Outputs: the best
//! and last encoder-decoder (safetensors), its configuration (JSON), the per-epoch history
//! (JSON), and the best epoch's validation hypotheses (detokenized, one file per direction).

use std::path::{Path, PathBuf};

use burn::tensor::backend::AutodiffBackend;

use super::data::{DataError, ValidSide, check_aligned, load_mono, load_valid};
use super::model::{UnmtModelError, from_mlm};
use super::objective::{UnmtObjective, UnmtValid};
use super::params::{UnmtParams, higher_is_better};
use crate::model::TransformerConfig;
use crate::model::checkpoint::HostTensor;
use crate::text::bpe::{BpeError, Vocab};
use crate::text::dictionary::{Dictionary, DictionaryError};
use crate::train::device::{NoCuda, OnDevice, dispatch};
use crate::train::mlm::read_config;
use crate::train::optim::AdamConfig;
use crate::train::scaffold::{
    self, Criterion, Direction, EpochReport, LrSchedule, Outcome, RunFiles, ScaffoldSettings,
    TrainError, TrainEvent,
};
use crate::validate::{InvalidParam, Validate};

/// Input files of a job.
#[derive(Debug, Clone)]
pub struct UnmtInputs {
    /// The MLM checkpoint (`best` of an `mlm` node).
    pub model: PathBuf,
    /// The vocabulary the MLM and the data use.
    pub vocab: PathBuf,
    /// Binarized monolingual training data, one per language.
    pub train: Vec<PathBuf>,
    /// Validation text (BPE-segmented), one per language, line-aligned.
    pub valid: Vec<PathBuf>,
    /// Raw references of the validation text, one per language.
    pub refs: Vec<PathBuf>,
}

/// Output files of a job.
#[derive(Debug, Clone)]
pub struct UnmtOutputs {
    /// Best model.
    pub best: PathBuf,
    /// Last model.
    pub last: PathBuf,
    /// Model config JSON.
    pub config: PathBuf,
    /// Per-epoch history JSON.
    pub history: PathBuf,
    /// Directory of the best epoch's hypotheses, `SRC-TGT.txt`.
    pub hypotheses: PathBuf,
}

/// Figures of a finished job.
#[derive(Debug, Clone)]
pub struct UnmtSummary {
    /// Per-epoch reports.
    pub history: Vec<EpochReport<UnmtValid>>,
    /// Best epoch (1-based).
    pub best_epoch: usize,
    /// Trainable scalars of the encoder-decoder.
    pub n_params: usize,
}

/// Errors of a job.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum UnmtJobError {
    /// Training failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Train(#[from] TrainError),
    /// A parameter is out of range.
    #[error(transparent)]
    Params(#[from] InvalidParam),
    /// Training or validation data is unusable.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Data(#[from] DataError),
    /// The vocabulary could not be read.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Vocab(#[from] BpeError),
    /// The vocabulary is not a valid XLM dictionary.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Dictionary(#[from] DictionaryError),
    /// The encoder-decoder could not be built from the MLM.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Model(#[from] UnmtModelError),
    /// `device = "cuda:N"` in a build without CUDA.
    #[error(transparent)]
    #[diagnostic(transparent)]
    NoCuda(#[from] NoCuda),
    /// The encoder-decoder cannot be trained in the memory available.
    #[error(transparent)]
    #[diagnostic(transparent)]
    TooLarge(#[from] crate::train::memory::ModelTooLarge),
    /// Inputs and `langs` disagree in number.
    #[error(
        "failed to pair languages with inputs: `langs` names {langs} languages but there are {train} train, {valid} valid and {refs} refs inputs (one each per language, in order)"
    )]
    LanguageCount {
        /// Entries of `langs`.
        langs: usize,
        /// Train inputs.
        train: usize,
        /// Valid inputs.
        valid: usize,
        /// Reference inputs.
        refs: usize,
    },
    /// The MLM was trained with another vocabulary or other languages.
    #[error(
        "failed to start from `{path}`: the MLM has {mlm_words} words and {mlm_langs} languages, the vocabulary {words} words and `langs` {langs}"
    )]
    MlmMismatch {
        /// The checkpoint.
        path: PathBuf,
        /// Its vocabulary size.
        mlm_words: usize,
        /// Its languages.
        mlm_langs: usize,
        /// The given vocabulary's size (with reserved ids).
        words: usize,
        /// Entries of `langs`.
        langs: usize,
    },
    /// A training sentence does not fit one batch.
    #[error(
        "failed to batch `{path}`: `tokens_per_batch` {tokens_per_batch} is below its longest sentence ({longest} tokens with both `</s>`)"
    )]
    #[diagnostic(help("raise `tokens_per_batch` or lower `max_len`"))]
    BatchTooSmall {
        /// The data file.
        path: PathBuf,
        /// The setting.
        tokens_per_batch: usize,
        /// Its longest kept sentence.
        longest: usize,
    },
    /// Reading an input or writing an output failed.
    #[error("failed to {action} `{path}`")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Runs (or resumes, from `checkpoint_dir`) a job and writes its outputs.
pub fn run(
    p: &UnmtParams,
    inputs: &UnmtInputs,
    outputs: &UnmtOutputs,
    checkpoint_dir: &Path,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<UnmtSummary, UnmtJobError> {
    p.validate()?;
    let n = p.langs.len();
    if [inputs.train.len(), inputs.valid.len(), inputs.refs.len()] != [n, n, n] {
        return Err(UnmtJobError::LanguageCount {
            langs: n,
            train: inputs.train.len(),
            valid: inputs.valid.len(),
            refs: inputs.refs.len(),
        });
    }
    let dico = Dictionary::from_vocab(&Vocab::read(&inputs.vocab)?)?;
    let (mlm_config, tensors) = read_config(&inputs.model)?;
    if mlm_config.n_words != dico.len() || mlm_config.n_langs != n {
        return Err(UnmtJobError::MlmMismatch {
            path: inputs.model.clone(),
            mlm_words: mlm_config.n_words,
            mlm_langs: mlm_config.n_langs,
            words: dico.len(),
            langs: n,
        });
    }
    let mut config = mlm_config;
    config.dropout = p.dropout;
    config.attention_dropout = p.attention_dropout;
    crate::train::memory::check_fits_here(&config, 2, p.device)?;
    let mut mono = Vec::with_capacity(n);
    for path in &inputs.train {
        let sentences = load_mono(path, &dico, p.max_len)?;
        let longest = sentences.iter().map(Vec::len).max().unwrap_or(0);
        if longest > p.tokens_per_batch {
            return Err(UnmtJobError::BatchTooSmall {
                path: path.clone(),
                tokens_per_batch: p.tokens_per_batch,
                longest,
            });
        }
        mono.push(sentences);
    }
    let valid: Vec<ValidSide> = (0..n)
        .map(|i| load_valid(&p.langs[i], &inputs.valid[i], &inputs.refs[i], &dico))
        .collect::<Result<_, _>>()?;
    for i in 1..n {
        check_aligned(&valid[0], &inputs.valid[0], &valid[i], &inputs.valid[i])?;
    }
    let fingerprint = fingerprint(p, inputs)?;
    let files = RunFiles {
        dir: checkpoint_dir,
        fingerprint: &fingerprint,
        stop_after_epochs: None,
        stop_after_iterations: None,
    };
    let work = Train {
        p,
        mono: &mono,
        valid: &valid,
        dico: &dico,
        config: &config,
        tensors: &tensors,
        files,
        on_event,
    };
    let outcome = dispatch(p.device, work)??;
    let copy = |from: &Path, to: &Path| {
        std::fs::copy(from, to).map_err(|source| UnmtJobError::Io {
            action: "write",
            path: to.to_path_buf(),
            source,
        })
    };
    copy(&outcome.best, &outputs.best)?;
    copy(&outcome.last, &outputs.last)?;
    write_json(&outputs.config, &config)?;
    let json = crate::train::scaffold::history_json(&outcome.history);
    json.map_err(std::io::Error::other)
        .and_then(|j| std::fs::write(&outputs.history, j))
        .map_err(|source| UnmtJobError::Io {
            action: "write",
            path: outputs.history.clone(),
            source,
        })?;
    let hyp_dir = &outputs.hypotheses;
    std::fs::create_dir_all(hyp_dir).map_err(|source| UnmtJobError::Io {
        action: "create",
        path: hyp_dir.clone(),
        source,
    })?;
    let best_hyps = checkpoint_dir.join("best_hypotheses");
    if let Ok(entries) = std::fs::read_dir(&best_hyps) {
        for e in entries.flatten() {
            copy(&e.path(), &hyp_dir.join(e.file_name()))?;
        }
    }
    Ok(UnmtSummary {
        history: outcome.history,
        best_epoch: outcome.best_epoch,
        n_params: 2 * config.n_params(),
    })
}

struct Train<'a> {
    p: &'a UnmtParams,
    mono: &'a [Vec<Vec<u32>>],
    valid: &'a [ValidSide],
    dico: &'a Dictionary,
    config: &'a TransformerConfig,
    tensors: &'a std::collections::BTreeMap<String, HostTensor>,
    files: RunFiles<'a>,
    on_event: &'a mut dyn FnMut(TrainEvent),
}

impl OnDevice for Train<'_> {
    type Output = Result<Outcome<UnmtValid>, UnmtJobError>;

    fn run<B: AutodiffBackend>(self, device: &B::Device) -> Self::Output {
        let p = self.p;
        let fresh = from_mlm::<B>(
            self.config,
            self.tensors,
            p.reinit_lang_embeddings,
            p.seed,
            device,
        )?;
        let settings = ScaffoldSettings {
            epoch_size: p.epoch_size,
            max_epochs: p.max_epochs,
            criterion: Criterion {
                metric: p.criterion(),
                direction: if higher_is_better(&p.criterion()) {
                    Direction::Higher
                } else {
                    Direction::Lower
                },
                patience: p.patience,
            },
            clip_grad_norm: p.clip_grad_norm,
            adam: AdamConfig {
                lr: p.lr,
                beta1: p.beta1,
                beta2: p.beta2,
                eps: 1e-8,
            },
            lr: LrSchedule::InverseSqrt(p.schedule()),
            row_masks: Vec::new(),
            peers: p.peers,
        };
        let mut objective = UnmtObjective::<B>::new(
            p,
            self.mono,
            self.valid,
            self.dico,
            self.config,
            device.clone(),
        );
        Ok(scaffold::run::<B, _>(
            &mut objective,
            fresh,
            &settings,
            &self.files,
            device,
            self.on_event,
        )?)
    }
}

/// Identifies the run: parameters and the content of every input.
fn fingerprint(p: &UnmtParams, inputs: &UnmtInputs) -> Result<String, UnmtJobError> {
    let all = [&inputs.model, &inputs.vocab]
        .into_iter()
        .chain(&inputs.train)
        .chain(&inputs.valid)
        .chain(&inputs.refs);
    scaffold::fingerprint(p, all).map_err(|(path, source)| UnmtJobError::Io {
        action: "read",
        path,
        source,
    })
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), UnmtJobError> {
    let json = serde_json::to_vec_pretty(value).map_err(std::io::Error::other);
    json.and_then(|j| std::fs::write(path, j))
        .map_err(|source| UnmtJobError::Io {
            action: "write",
            path: path.to_path_buf(),
            source,
        })
}
