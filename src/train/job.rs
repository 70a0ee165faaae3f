//! A masked-LM training job from files: what the `mlm` stage and `unmt train-mlm` both run.
//!
//! Inputs: one binarized training and validation file per language (same dictionary), the
//! vocabulary, and for `init = "aligned"` a `.vec` file (a `vecmap` node's `joint`, or a joint
//! `skipgram` model). Outputs: the best and last models (safetensors), the model config
//! (JSON), the best model's token-embedding layer as a `.vec` file (dictionary strings, for
//! BLI), and the per-epoch history (JSON).

use std::path::{Path, PathBuf};

use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use super::device::{NoCuda, OnDevice, dispatch};
use super::init::{AlignedRows, aligned_rows};
use super::masking::MaskConfig;
use super::mlm::{self, EpochReport, Language, MlmSettings, MlmValid, ModelInit, Reload};
use super::optim::{AdamConfig, RowMask};
use super::reload::NewRows;
use super::scaffold::{self, Outcome, RunFiles, TrainError, TrainEvent};
use super::stream::Stream;
use super::trainable;
use crate::backend::DeviceSpec;
use crate::embed::vec_format::{Embeddings, VecFormatError, read_vec, write_vec};
use crate::model::TransformerConfig;
use crate::text::binarized::{BinarizedDataset, BinarizedError};
use crate::text::bpe::{BpeError, Vocab};
use crate::text::dictionary::{Dictionary, DictionaryError, PAD_INDEX};
use crate::validate::{InvalidParam, Validate};

/// How the token embeddings start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// XLM's `N(0, dim^-0.5)` (the plain XLM baseline).
    #[default]
    Random,
    /// Rows copied from aligned static vectors (the lexically aligned MLM).
    Aligned,
}

/// Which token rows train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TrainRows {
    /// Every row.
    #[default]
    All,
    /// Only the rows of tokens new to the `reload`ed model.
    New,
}

/// Parameters of MLM training. Defaults are the paper's (XLM commands in the lexical and
/// RE-LM READMEs): 6 layers, 1024 dimensions, 8 heads, dropout 0.1, bptt 256 x 32 streams,
/// Adam 1e-4, clipping 5, epochs of 200,000 sentences, stopping after 10 epochs without a
/// better mean validation perplexity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MlmParams {
    /// Language names, one per `train`/`valid` input, in the same order; used in metric
    /// names and as language-embedding ids (0, 1, ...). Default: `["en", "lmr"]`.
    pub langs: Vec<String>,
    /// `"cpu"` or `"cuda:N"` (needs a build with `--features cuda`). Default: `"cpu"`.
    pub device: DeviceSpec,
    /// `"random"` or `"aligned"` (needs the `vectors` input). Default: `"random"`.
    pub init: Init,
    /// Keep the token embeddings fixed. The output projection is tied to them, so it stays
    /// fixed too (its bias trains); everything else trains. Default: `false` (the paper's
    /// fine-tuned setting).
    pub freeze_embeddings: bool,
    /// Model dimension; with `init = "aligned"` it must equal the vectors'. Default: 1024.
    pub dim: usize,
    /// Layers. Default: 6.
    pub n_layers: usize,
    /// Attention heads. Default: 8.
    pub n_heads: usize,
    /// Dropout. Default: 0.1.
    pub dropout: f64,
    /// Attention dropout. Default: 0.1.
    pub attention_dropout: f64,
    /// Exact GELU (`false`: ReLU). Default: `true`.
    pub gelu_activation: bool,
    /// Positions per stream chunk (at most 512). Default: 256.
    pub bptt: usize,
    /// Parallel streams per batch. Default: 32.
    pub batch_size: usize,
    /// Fraction of positions predicted. Default: 0.15.
    pub word_pred: f64,
    /// MASK / keep / random probabilities of a predicted position. Default: `[0.8, 0.1, 0.1]`.
    pub word_mask_keep_rand: [f64; 3],
    /// Frequency-smoothed target sampling (XLM `sample_alpha`; 0 = uniform). Default: 0.
    pub sample_alpha: f64,
    /// Adam learning rate. Default: 1e-4.
    pub lr: f64,
    /// Global gradient-norm clipping (0 = off). Default: 5.
    pub clip_grad_norm: f64,
    /// Sentences per epoch, counted as `batch_size` per update. Default: 200000.
    pub epoch_size: u64,
    /// Epoch limit. Default: 100000 (XLM's `max_epoch`).
    pub max_epochs: usize,
    /// Epochs without improvement before stopping (XLM `_valid_mlm_ppl,10`). Default: 10.
    pub patience: usize,
    /// Seed of initialisation, masking, batching and dropout. Default: 0.
    pub seed: u64,
    /// Validation chunks per forward pass (speed only). Default: 32.
    pub eval_batch: usize,
    /// Data-parallel peers: each update's `batch_size` streams are split over this many
    /// replicas, their gradients summed with Burn's all-reduce, one Adam step (XLM's
    /// multi-GPU training). The result equals one peer's up to float summation order, dropout
    /// included. On the CPU the peers are threads sharing the node's cores; CUDA takes only 1
    /// for now (one GPU per node). Default: 1.
    pub peers: usize,
    /// Which parameters train: `*`/`?` patterns over parameter names
    /// (`layers.*.attention.*`), or the presets `"all"` and `"adapters"` (RE-LM's adapter
    /// fine-tuning: adapters, token and position embeddings, output layer, embedding
    /// LayerNorm). `freeze_embeddings` removes the token embeddings from the set. Default:
    /// `["all"]`.
    pub trainable: Vec<String>,
    /// RE-LM adapters of this bottleneck size in every layer (after the self-attention and
    /// after the FFN; the paper: 256), 0 for none. Adapter fine-tuning also sets
    /// `trainable = ["adapters"]`; a `reload`ed model without adapters gets fresh ones.
    /// Default: 0.
    pub adapters: usize,
    /// How the rows of tokens new to a `reload`ed model start: `"normal"` (`N(0, dim^-0.5)`,
    /// as the RE-LM paper describes) or `"relm"` (near zero, `U(-1/dim, 1/dim)`, what the
    /// public RE-LM code ends up with). New output biases start at 0. Default: `"normal"`.
    pub new_rows: NewRows,
    /// Which token rows of the embedding (and output bias) train: `"all"`, or `"new"` (only
    /// the tokens a `reload`ed model did not have; the pretrained rows stay as they were).
    /// Default: `"all"`.
    pub train_rows: TrainRows,
    /// The languages trained (XLM `--mlm_steps`); the others of `langs` are only validated
    /// (RE-LM's `--mlm_eval_steps en`), and `valid_mlm_ppl` is the mean over these. Default:
    /// every language of `langs`.
    pub train_langs: Option<Vec<String>>,
}

impl Default for MlmParams {
    fn default() -> Self {
        Self {
            langs: vec!["en".into(), "lmr".into()],
            device: DeviceSpec::Cpu,
            init: Init::Random,
            freeze_embeddings: false,
            dim: 1024,
            n_layers: 6,
            n_heads: 8,
            dropout: 0.1,
            attention_dropout: 0.1,
            gelu_activation: true,
            bptt: 256,
            batch_size: 32,
            word_pred: 0.15,
            word_mask_keep_rand: [0.8, 0.1, 0.1],
            sample_alpha: 0.0,
            lr: 1e-4,
            clip_grad_norm: 5.0,
            epoch_size: 200_000,
            max_epochs: 100_000,
            patience: 10,
            seed: 0,
            eval_batch: 32,
            peers: 1,
            trainable: vec!["all".into()],
            adapters: 0,
            new_rows: NewRows::Normal,
            train_rows: TrainRows::All,
            train_langs: None,
        }
    }
}

impl MlmParams {
    /// Indices into `langs` of the trained languages.
    pub fn train_lang_ids(&self) -> Vec<usize> {
        match &self.train_langs {
            None => (0..self.langs.len()).collect(),
            Some(t) => t
                .iter()
                .filter_map(|l| self.langs.iter().position(|x| x == l))
                .collect(),
        }
    }
}

impl Validate for MlmParams {
    /// Range checks; the first violation.
    fn validate(&self) -> Result<(), InvalidParam> {
        let positive = [
            ("dim", self.dim),
            ("n_layers", self.n_layers),
            ("n_heads", self.n_heads),
            ("batch_size", self.batch_size),
            ("max_epochs", self.max_epochs),
            ("eval_batch", self.eval_batch),
            ("peers", self.peers),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(InvalidParam::new(name, "must be at least 1"));
            }
        }
        if self.langs.is_empty() {
            return Err(InvalidParam::new(
                "langs",
                "must name at least one language",
            ));
        }
        // Streams are padded to `batch_size x bptt` tokens up front: a mistyped batch size
        // would allocate that many before training starts.
        for (name, v) in [
            ("batch_size", self.batch_size),
            ("eval_batch", self.eval_batch),
        ] {
            if v > 1 << 16 {
                return Err(InvalidParam::new(
                    name,
                    format!("must be in 1..=65536, got {v}"),
                ));
            }
        }
        if self.peers > self.batch_size {
            return Err(InvalidParam::new(
                "peers",
                format!(
                    "must be at most batch_size ({}): each peer takes whole streams, got {}",
                    self.batch_size, self.peers
                ),
            ));
        }
        if self.peers > 1 && matches!(self.device, DeviceSpec::Cuda(_)) {
            return Err(InvalidParam::new(
                "peers",
                "more than 1 needs `device = \"cpu\"`: the scheduler gives a node one GPU",
            ));
        }
        if !self.dim.is_multiple_of(self.n_heads) {
            return Err(InvalidParam::new(
                "n_heads",
                format!("must divide dim ({}), got {}", self.dim, self.n_heads),
            ));
        }
        if !(3..=512).contains(&self.bptt) {
            return Err(InvalidParam::new(
                "bptt",
                format!("must be in 3..=512 (learned positions), got {}", self.bptt),
            ));
        }
        if self.epoch_size == 0 {
            return Err(InvalidParam::new("epoch_size", "must be at least 1"));
        }
        for (name, p) in [
            ("dropout", self.dropout),
            ("attention_dropout", self.attention_dropout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(InvalidParam::new(
                    name,
                    format!("must be in [0, 1), got {p}"),
                ));
            }
        }
        if !(self.word_pred > 0.0 && self.word_pred <= 1.0) {
            return Err(InvalidParam::new(
                "word_pred",
                format!("must be in (0, 1], got {}", self.word_pred),
            ));
        }
        let s: f64 = self.word_mask_keep_rand.iter().sum();
        if self.word_mask_keep_rand.iter().any(|&p| p < 0.0) || (s - 1.0).abs() > 1e-6 {
            return Err(InvalidParam::new(
                "word_mask_keep_rand",
                format!(
                    "must be 3 probabilities summing to 1, got {:?}",
                    self.word_mask_keep_rand
                ),
            ));
        }
        if self.sample_alpha < 0.0 {
            return Err(InvalidParam::new("sample_alpha", "must be non-negative"));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(InvalidParam::new(
                "lr",
                format!("must be positive, got {}", self.lr),
            ));
        }
        if self.clip_grad_norm < 0.0 {
            return Err(InvalidParam::new("clip_grad_norm", "must be non-negative"));
        }
        if !self.device.available() {
            return Err(InvalidParam::new(
                "device",
                format!("`{}` needs a build with `--features cuda`", self.device),
            ));
        }
        if self.trainable.is_empty() {
            return Err(InvalidParam::new(
                "trainable",
                "must name at least one parameter pattern (\"all\" for every parameter)",
            ));
        }
        if let Some(t) = &self.train_langs {
            if t.is_empty() {
                return Err(InvalidParam::new(
                    "train_langs",
                    "must name at least one language",
                ));
            }
            if let Some(l) = t.iter().find(|l| !self.langs.contains(l)) {
                return Err(InvalidParam::new(
                    "train_langs",
                    format!("`{l}` is not one of `langs` {:?}", self.langs),
                ));
            }
        }
        Ok(())
    }
}

/// Input files of a job.
#[derive(Debug, Clone)]
pub struct MlmInputs {
    /// Binarized training data, one per language.
    pub train: Vec<PathBuf>,
    /// Binarized validation data, one per language.
    pub valid: Vec<PathBuf>,
    /// The vocabulary the data was binarized with.
    pub vocab: PathBuf,
    /// Aligned vectors for `init = "aligned"`.
    pub vectors: Option<PathBuf>,
    /// A pretrained model to start from (its `best` checkpoint) and the vocabulary it was
    /// trained with: RE-LM fine-tuning on an extended vocabulary.
    pub reload: Option<(PathBuf, PathBuf)>,
}

/// Output files of a job.
#[derive(Debug, Clone)]
pub struct MlmOutputs {
    /// Best model.
    pub best: PathBuf,
    /// Last model.
    pub last: PathBuf,
    /// Model config JSON.
    pub config: PathBuf,
    /// The best model's token embeddings as `.vec`.
    pub embeddings: PathBuf,
    /// Per-epoch history JSON.
    pub history: PathBuf,
}

/// Figures of a finished job.
#[derive(Debug, Clone)]
pub struct MlmSummary {
    /// Per-epoch reports.
    pub history: Vec<EpochReport>,
    /// Best epoch (1-based).
    pub best_epoch: usize,
    /// Fraction of the dictionary initialised from vectors (aligned init).
    pub init_coverage: Option<f64>,
    /// Trainable scalars.
    pub n_params: usize,
    /// Epochs done before this call (resume).
    pub resumed_from_epoch: usize,
}

/// Errors of a job.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum JobError {
    /// Training failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Train(#[from] TrainError),
    /// A parameter is out of range.
    #[error(transparent)]
    Params(#[from] InvalidParam),
    /// A binarized data file is unusable or does not match the vocabulary.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Data(#[from] BinarizedError),
    /// The vocabulary could not be read.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Vocab(#[from] BpeError),
    /// The vocabulary is not a valid XLM dictionary.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Dictionary(#[from] DictionaryError),
    /// The aligned vectors could not be read, or embeddings not written.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Vectors(#[from] VecFormatError),
    /// `langs` and the train/valid inputs disagree in number.
    #[error(
        "failed to pair languages with inputs: `langs` names {langs} languages but there are {train} train and {valid} valid inputs (one each per language, in order)"
    )]
    LanguageCount {
        /// Entries of `langs`.
        langs: usize,
        /// Train inputs.
        train: usize,
        /// Valid inputs.
        valid: usize,
    },
    /// A data file holds no token.
    #[error("failed to batch `{path}`: the file holds no token")]
    EmptyData {
        /// The binarized file.
        path: PathBuf,
    },
    /// `init = "aligned"` without vectors.
    #[error(
        "failed to initialise the embeddings: init = \"aligned\" needs a `vectors` input (.vec)"
    )]
    MissingVectors,
    /// The vectors do not fit the model.
    #[error("failed to initialise the embeddings from `{path}`: {reason}")]
    AlignedInit {
        /// The `.vec` file.
        path: PathBuf,
        /// What does not fit.
        reason: String,
    },
    /// `train_rows = "new"` needs a pretrained model to tell which rows are new.
    #[error("failed to train new rows only: `train_rows = \"new\"` needs a `reload` input")]
    NewRowsWithoutReload,
    /// The pretrained model does not fit this one.
    #[error("failed to start from `{path}`: {reason}")]
    Reload {
        /// The pretrained checkpoint.
        path: PathBuf,
        /// What does not fit.
        reason: String,
    },
    /// The model configuration is inconsistent.
    #[error("failed to build the model: {reason}")]
    Model {
        /// The broken invariant.
        reason: String,
    },
    /// `device = "cuda:N"` in a build without CUDA.
    #[error(transparent)]
    #[diagnostic(transparent)]
    NoCuda(#[from] NoCuda),
    /// The model cannot be trained in the memory available.
    #[error(transparent)]
    #[diagnostic(transparent)]
    TooLarge(#[from] super::memory::ModelTooLarge),
    /// A model file lacks a tensor.
    #[error("failed to export embeddings from `{path}`: no tensor `{tensor}`")]
    MissingTensor {
        /// The model file.
        path: PathBuf,
        /// The tensor name.
        tensor: &'static str,
    },
    /// An input could not be read.
    #[error("failed to read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Copying or writing an output failed.
    #[error("failed to write `{path}`")]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn stream_of(
    path: &Path,
    dico: &Dictionary,
    streams: usize,
    bptt: usize,
) -> Result<Stream, JobError> {
    let data = BinarizedDataset::open(path)?;
    data.check_dictionary(dico)?;
    let tokens: Vec<u32> = (0..data.n_array_tokens())
        .filter_map(|j| data.token(j))
        .collect();
    Stream::new(&tokens, streams, bptt).ok_or_else(|| JobError::EmptyData {
        path: path.to_path_buf(),
    })
}

/// Runs (or resumes, from `checkpoint_dir`) a job and writes its outputs.
pub fn run(
    p: &MlmParams,
    inputs: &MlmInputs,
    outputs: &MlmOutputs,
    checkpoint_dir: &Path,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<MlmSummary, JobError> {
    p.validate()?;
    let n = p.langs.len();
    if inputs.train.len() != n || inputs.valid.len() != n {
        return Err(JobError::LanguageCount {
            langs: n,
            train: inputs.train.len(),
            valid: inputs.valid.len(),
        });
    }
    let vocab = Vocab::read(&inputs.vocab)?;
    let dico = Dictionary::from_vocab(&vocab)?;
    let mut langs = Vec::with_capacity(n);
    for (i, name) in p.langs.iter().enumerate() {
        langs.push(Language {
            name: name.clone(),
            train: stream_of(&inputs.train[i], &dico, p.batch_size, p.bptt)?,
            valid: stream_of(&inputs.valid[i], &dico, 1, p.bptt)?,
        });
    }
    let mut config = TransformerConfig::new(dico.len(), n, p.dim, p.n_layers, p.n_heads);
    config.dropout = p.dropout;
    config.attention_dropout = p.attention_dropout;
    config.gelu_activation = p.gelu_activation;
    config.adapter_size = (p.adapters > 0).then_some(p.adapters);
    config
        .validate()
        .map_err(|reason| JobError::Model { reason })?;
    super::memory::check_fits_here(&config, 1, p.device)?;

    let aligned: Option<AlignedRows> = match (p.init, &inputs.vectors) {
        (Init::Random, _) => None,
        (Init::Aligned, None) => {
            return Err(JobError::MissingVectors);
        }
        (Init::Aligned, Some(path)) => {
            let vectors = read_vec(path, None)?;
            let rows =
                aligned_rows(&dico, &vectors, p.dim).map_err(|reason| JobError::AlignedInit {
                    path: path.clone(),
                    reason,
                })?;
            on_event(TrainEvent::Log(format!(
                "aligned init: {} of {} dictionary entries ({:.1}%) found in {}",
                rows.rows.len(),
                rows.total,
                100.0 * rows.coverage(),
                path.display()
            )));
            Some(rows)
        }
    };
    let reload = match &inputs.reload {
        None => None,
        Some((path, vocab_path)) => {
            let (old_config, tensors) = mlm::read_config(path)?;
            let arch = |c: &TransformerConfig| (c.dim, c.n_layers, c.n_heads);
            if arch(&old_config) != arch(&config) {
                return Err(JobError::Reload {
                    path: path.clone(),
                    reason: format!(
                        "it has dim {}, {} layers, {} heads; set `dim`, `n_layers` and `n_heads` to these",
                        old_config.dim, old_config.n_layers, old_config.n_heads
                    ),
                });
            }
            let old_dico = Dictionary::from_vocab(&Vocab::read(vocab_path)?)?;
            let new_words = (0..dico.len())
                .filter(|&id| {
                    dico.word(id as u32)
                        .is_some_and(|w| old_dico.get(w).is_none())
                })
                .count();
            on_event(TrainEvent::Log(format!(
                "reload: {} of {} dictionary entries from {}, {new_words} new ({})",
                dico.len() - new_words,
                dico.len(),
                path.display(),
                match p.new_rows {
                    NewRows::Normal => "N(0, dim^-0.5)",
                    NewRows::Relm => "near zero, as the RE-LM code",
                }
            )));
            Some(Reload {
                tensors,
                old_dico,
                new_dico: dico.clone(),
                new_rows: p.new_rows,
            })
        }
    };
    // Lexically aligned RE-LM: only the rows new to the pretrained model take vectors; the
    // pretrained rows stay as they were learned.
    let aligned = match (aligned, &reload) {
        (Some(mut rows), Some(r)) => {
            rows.rows.retain(|(id, _)| {
                dico.word(*id as u32)
                    .is_none_or(|w| r.old_dico.get(w).is_none())
            });
            on_event(TrainEvent::Log(format!(
                "aligned init of new entries only: {} rows from the vectors",
                rows.rows.len()
            )));
            Some(rows)
        }
        (a, _) => a,
    };
    let init_coverage = aligned.as_ref().map(AlignedRows::coverage);
    let sample_scores = (p.sample_alpha > 0.0).then(|| {
        (0..dico.len())
            .map(|id| {
                let c = dico.count(id as u32).unwrap_or(0);
                if c == 0 || id == PAD_INDEX as usize {
                    0.0
                } else {
                    (c as f64).powf(-p.sample_alpha)
                }
            })
            .collect()
    });
    let settings = MlmSettings {
        bptt: p.bptt,
        batch_size: p.batch_size,
        mask: MaskConfig {
            word_pred: p.word_pred,
            mask_keep_rand: p.word_mask_keep_rand,
            n_words: dico.len() as u32,
            sample_scores,
        },
        adam: AdamConfig {
            lr: p.lr,
            ..AdamConfig::default()
        },
        clip_grad_norm: p.clip_grad_norm,
        epoch_size: p.epoch_size,
        max_epochs: p.max_epochs,
        patience: p.patience,
        seed: p.seed,
        freeze_embeddings: p.freeze_embeddings,
        train_langs: p.train_lang_ids(),
        eval_batch: p.eval_batch,
        peers: p.peers,
    };
    let row_masks = match (p.train_rows, &reload) {
        (TrainRows::All, _) => Vec::new(),
        (TrainRows::New, None) => return Err(JobError::NewRowsWithoutReload),
        (TrainRows::New, Some(r)) => {
            let rows: Vec<bool> = (0..dico.len())
                .map(|id| {
                    dico.word(id as u32)
                        .is_none_or(|w| r.old_dico.get(w).is_none())
                })
                .collect();
            ["embeddings.weight", "pred_bias"]
                .into_iter()
                .map(|param| RowMask {
                    param: param.to_owned(),
                    rows: rows.clone(),
                })
                .collect()
        }
    };
    let init = ModelInit {
        config: config.clone(),
        reload,
        aligned,
        trainable: trainable::expand(&p.trainable),
        row_masks,
    };
    // The node key already pins parameters and inputs; the fingerprint protects one-off
    // `train-mlm` runs that reuse an output directory with other settings.
    let files = inputs
        .train
        .iter()
        .chain(&inputs.valid)
        .chain([&inputs.vocab])
        .chain(&inputs.vectors)
        .chain(inputs.reload.iter().flat_map(|(m, v)| [m, v]));
    let fingerprint = scaffold::fingerprint(p, files)
        .map_err(|(path, source)| JobError::Read { path, source })?;
    struct Train<'a> {
        settings: &'a MlmSettings,
        langs: &'a [Language],
        init: &'a ModelInit,
        files: RunFiles<'a>,
        on_event: &'a mut dyn FnMut(TrainEvent),
    }
    impl OnDevice for Train<'_> {
        type Output = Result<Outcome<MlmValid>, TrainError>;
        fn run<B: AutodiffBackend>(self, device: &B::Device) -> Self::Output {
            mlm::train::<B>(
                self.settings,
                self.langs,
                self.init,
                &self.files,
                device,
                self.on_event,
            )
        }
    }
    let work = Train {
        settings: &settings,
        langs: &langs,
        init: &init,
        files: RunFiles {
            dir: checkpoint_dir,
            fingerprint: &fingerprint,
            stop_after_epochs: None,
            stop_after_iterations: None,
        },
        on_event,
    };
    let outcome = dispatch(p.device, work)??;

    let out_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| JobError::Output { path, source }
    };
    std::fs::copy(&outcome.best, &outputs.best).map_err(out_err(&outputs.best))?;
    std::fs::copy(&outcome.last, &outputs.last).map_err(out_err(&outputs.last))?;
    let json = serde_json::to_vec_pretty(&config).map_err(std::io::Error::other);
    json.and_then(|j| std::fs::write(&outputs.config, j))
        .map_err(out_err(&outputs.config))?;
    let json = super::scaffold::history_json(&outcome.history).map_err(std::io::Error::other);
    json.and_then(|j| std::fs::write(&outputs.history, j))
        .map_err(out_err(&outputs.history))?;
    export_embeddings(&outcome.best, &dico, &outputs.embeddings)?;
    Ok(MlmSummary {
        history: outcome.history,
        best_epoch: outcome.best_epoch,
        init_coverage,
        n_params: config.n_params(),
        resumed_from_epoch: outcome.resumed_from_epoch,
    })
}

/// Writes a model's token-embedding rows as `.vec`, one line per dictionary entry.
pub fn export_embeddings(model: &Path, dico: &Dictionary, out: &Path) -> Result<(), JobError> {
    let (_, tensors) = mlm::read_config(model)?;
    let emb = tensors
        .get("embeddings.weight")
        .ok_or_else(|| JobError::MissingTensor {
            path: model.to_path_buf(),
            tensor: "embeddings.weight",
        })?;
    let dim = emb.shape[1];
    let words: Vec<String> = (0..emb.shape[0])
        .map(|id| dico.word(id as u32).unwrap_or("<unk>").to_owned())
        .collect();
    let e = Embeddings::new(words, dim, emb.values.clone())?;
    Ok(write_vec(out, &e)?)
}
