//! Masked-LM training as XLM runs it (facebookresearch/XLM `train.py`, `xlm/trainer.py`
//! `mlm_step`/`end_epoch`, `xlm/evaluation/evaluator.py` `evaluate_mlm`):
//!
//! - each iteration visits the languages in a random order, one optimizer update per
//!   language, each adding `batch_size` to the epoch's sentence counter (XLM counts
//!   `params.batch_size` per step whatever the stream batch held);
//! - an epoch ends once the counter reaches `epoch_size`; then every language's validation
//!   stream is scored (perplexity, accuracy), the best model (lowest mean perplexity) is kept,
//!   and training stops after `patience` epochs without improvement or at `max_epochs`;
//! - at the end of every epoch the model, the optimizer and the counters are checkpointed, so
//!   a rerun after a crash resumes from the last finished epoch.
//!
//! Determinism: every random draw is a function of `(seed, counters)`: masking and the
//! language order use a ChaCha stream seeded per update, chunk orders per pass, and the
//! backend's generator (dropout) is reseeded before every forward pass, under a process-wide
//! lock because Burn's generator is global. A resumed run therefore equals an uninterrupted one.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::init::{AlignedRows, overwrite_embedding_rows};
use super::masking::{MaskConfig, Masked, mask_eval, mask_train};
use super::optim::{Adam, AdamConfig, clip_coefficient, global_grad_norm};
use super::stream::{ChunkOrder, Stream};
use crate::model::checkpoint::{self, CheckpointError};
use crate::model::{Batch, Transformer, TransformerConfig};

/// Version of the checkpoint state layout (`state.json`).
const STATE_FORMAT: u32 = 1;

/// Burn's random generator is process-global: whoever seeds it and then draws dropout masks
/// must not interleave with another training in the same process.
static BACKEND_RNG: Mutex<()> = Mutex::new(());

/// Errors of MLM training. Messages follow the crate convention (ARCHITECTURE.md, "Errors").
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum MlmError {
    /// A checkpoint could not be read or written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint directory holds state that does not belong to this run.
    #[error("failed to resume from `{path}`: {reason}")]
    Resume {
        /// `state.json`.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
    /// No language to train on.
    #[error("failed to train the masked LM: no languages given")]
    NoLanguages,
    /// The loss is not finite.
    #[error("failed to train the masked LM: the loss became {loss} at update {step} (lower `lr`?)")]
    Diverged {
        /// The loss value.
        loss: f32,
        /// The update.
        step: u64,
    },
}

/// Training settings (the stage's parameters after validation).
#[derive(Debug, Clone)]
pub struct MlmSettings {
    /// Positions per chunk. XLM: 256.
    pub bptt: usize,
    /// Parallel streams per batch, and the epoch counter's increment. XLM: 32.
    pub batch_size: usize,
    /// Masking.
    pub mask: MaskConfig,
    /// Optimizer.
    pub adam: AdamConfig,
    /// Global gradient-norm clip (0 = off). XLM: 5.
    pub clip_grad_norm: f64,
    /// Sentences (counted as `batch_size` per update) per epoch. Paper: 200,000.
    pub epoch_size: u64,
    /// Epoch limit.
    pub max_epochs: usize,
    /// Stop after this many epochs without a better validation perplexity. Paper: 10.
    pub patience: usize,
    /// Seed of every random draw.
    pub seed: u64,
    /// Keep the token embeddings (and so the tied output weight) fixed.
    pub freeze_embeddings: bool,
    /// Validation chunks per forward pass (speed only; results do not depend on it).
    pub eval_batch: usize,
}

/// One language's data.
#[derive(Debug, Clone)]
pub struct Language {
    /// Name used in metrics (`valid_<name>_mlm_ppl`).
    pub name: String,
    /// Training stream (`batch_size` streams).
    pub train: Stream,
    /// Validation stream (one stream, as XLM evaluates).
    pub valid: Stream,
}

/// Validation figures of one language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LangScore {
    /// Language name.
    pub lang: String,
    /// `exp(total cross-entropy / targets)`.
    pub ppl: f64,
    /// Percentage of targets predicted exactly (argmax).
    pub acc: f64,
    /// Number of targets.
    pub n_targets: usize,
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// 1-based epoch.
    pub epoch: usize,
    /// Optimizer updates so far.
    pub steps: u64,
    /// Mean training loss of the epoch's updates.
    pub train_loss: f64,
    /// Training tokens (positions fed) per second in this epoch.
    pub tokens_per_s: f64,
    /// Per-language validation.
    pub valid: Vec<LangScore>,
    /// Mean of the per-language perplexities (XLM `valid_mlm_ppl`).
    pub valid_mlm_ppl: f64,
}

/// Counters and bookkeeping checkpointed with the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TrainState {
    format: u32,
    fingerprint: String,
    epochs_done: usize,
    steps: u64,
    iterations: u64,
    orders: Vec<ChunkOrder>,
    passes: Vec<u64>,
    best_ppl: Option<f64>,
    best_epoch: usize,
    decrease_counts: usize,
    history: Vec<EpochReport>,
    finished: bool,
}

/// What a training run leaves behind (files in the checkpoint directory).
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Best model (lowest validation perplexity).
    pub best: PathBuf,
    /// Model after the last epoch.
    pub last: PathBuf,
    /// Per-epoch reports.
    pub history: Vec<EpochReport>,
    /// Epoch of the best model.
    pub best_epoch: usize,
    /// Whether this call resumed from a checkpoint.
    pub resumed_from_epoch: usize,
}

/// Notifications for logs and progress bars.
pub enum TrainEvent<'a> {
    /// A line for the log.
    Log(String),
    /// Sentences done in the current epoch, out of `epoch_size`.
    Progress {
        /// Done.
        done: u64,
        /// Total.
        total: u64,
        /// Mean training loss of the epoch so far.
        loss: f64,
        /// Training tokens per second in the epoch so far.
        tokens_per_s: f64,
    },
    /// An epoch finished.
    Epoch(&'a EpochReport),
}

/// The one-line training status shown beside progress bars.
pub fn status_line(loss: f64, tokens_per_s: f64) -> String {
    format!("loss {loss:.3}  {tokens_per_s:.0} tokens/s")
}

/// The model to start from.
#[derive(Debug, Clone)]
pub struct ModelInit {
    /// Architecture.
    pub config: TransformerConfig,
    /// Rows to take from aligned vectors (`init = "aligned"`).
    pub aligned: Option<AlignedRows>,
}

/// Where checkpoints live: `state.json`, `model.eN.safetensors`, `optim.eN.safetensors`,
/// `best.safetensors`.
fn state_path(dir: &Path) -> PathBuf {
    dir.join("state.json")
}
fn model_path(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("model.e{epoch}.safetensors"))
}
fn optim_path(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("optim.e{epoch}.safetensors"))
}
/// The best model's file in a checkpoint directory.
pub fn best_path(dir: &Path) -> PathBuf {
    dir.join("best.safetensors")
}

/// Builds the initial model: XLM's random init from `seed`, aligned rows, freezing.
pub fn initial_model<B: Backend>(
    init: &ModelInit,
    seed: u64,
    freeze: bool,
    device: &B::Device,
) -> Transformer<B> {
    let model = {
        let _guard = BACKEND_RNG
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        B::seed(device, seed);
        init.config.init::<B>(device)
    };
    let mut model = match &init.aligned {
        Some(rows) => overwrite_embedding_rows(model, rows),
        None => model,
    };
    if freeze {
        model.embeddings.weight = model.embeddings.weight.set_require_grad(false);
    }
    model
}

/// Seed of a derived random stream.
fn derive(seed: u64, kind: u64, a: u64, b: u64) -> u64 {
    let mut h = blake3::Hasher::new();
    for x in [seed, kind, a, b] {
        h.update(&x.to_le_bytes());
    }
    let bytes = h.finalize();
    u64::from_le_bytes(bytes.as_bytes()[..8].try_into().unwrap_or_default())
}

/// Trains (or resumes) a masked LM. `fingerprint` identifies the run's settings; a checkpoint
/// with another fingerprint is an error rather than silently mixed in. `stop_after_epochs`
/// ends the call early without marking the run finished (tests use it to simulate a crash).
#[expect(
    clippy::too_many_arguments,
    reason = "moves onto the training scaffold (issue 12)"
)]
pub fn train<B: AutodiffBackend>(
    settings: &MlmSettings,
    langs: &[Language],
    init: &ModelInit,
    checkpoint_dir: &Path,
    fingerprint: &str,
    device: &B::Device,
    stop_after_epochs: Option<usize>,
    on_event: &mut dyn FnMut(TrainEvent<'_>),
) -> Result<Outcome, MlmError> {
    if langs.is_empty() {
        return Err(MlmError::NoLanguages);
    }
    let config = &init.config;
    let n_langs = langs.len();
    let (mut model, mut adam, mut state) = match load_state(checkpoint_dir, fingerprint)? {
        Some(state) => {
            let fresh = initial_model::<B>(init, settings.seed, settings.freeze_embeddings, device);
            let e = state.epochs_done;
            let model = checkpoint::load_module(fresh, &model_path(checkpoint_dir, e))?;
            let (tensors, meta) = checkpoint::read_safetensors(&optim_path(checkpoint_dir, e))?;
            let step = meta
                .get("step")
                .and_then(|s| s.parse().ok())
                .unwrap_or(state.steps);
            let adam =
                Adam::from_host(settings.adam, &tensors, step, device).map_err(|reason| {
                    MlmError::Resume {
                        path: optim_path(checkpoint_dir, e),
                        reason,
                    }
                })?;
            on_event(TrainEvent::Log(format!(
                "resuming after epoch {e} ({} updates)",
                state.steps
            )));
            (model, adam, state)
        }
        None => (
            initial_model::<B>(init, settings.seed, settings.freeze_embeddings, device),
            Adam::new(settings.adam),
            TrainState {
                format: STATE_FORMAT,
                fingerprint: fingerprint.to_owned(),
                epochs_done: 0,
                steps: 0,
                iterations: 0,
                orders: vec![ChunkOrder::new(); n_langs],
                passes: vec![0; n_langs],
                best_ppl: None,
                best_epoch: 0,
                decrease_counts: 0,
                history: Vec::new(),
                finished: false,
            },
        ),
    };
    let resumed_from_epoch = state.epochs_done;
    let (bs, bptt) = (settings.batch_size, settings.bptt);

    while !state.finished {
        if stop_after_epochs.is_some_and(|n| state.epochs_done - resumed_from_epoch >= n) {
            break;
        }
        let epoch = state.epochs_done + 1;
        let started = Instant::now();
        let mut n_sentences = 0u64;
        let (mut loss_sum, mut n_updates) = (0.0f64, 0u64);
        while n_sentences < settings.epoch_size {
            let mut order: Vec<usize> = (0..n_langs).collect();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(derive(
                settings.seed,
                1,
                state.iterations,
                0,
            )));
            state.iterations += 1;
            for li in order {
                let lang = &langs[li];
                let mut rng = ChaCha8Rng::seed_from_u64(derive(settings.seed, 2, state.steps, 0));
                if state.orders[li].exhausted() {
                    state.passes[li] += 1;
                }
                let mut order_rng = ChaCha8Rng::seed_from_u64(derive(
                    settings.seed,
                    3,
                    li as u64,
                    state.passes[li],
                ));
                let chunk = lang
                    .train
                    .chunk(state.orders[li].next(lang.train.n_batches(), &mut order_rng));
                let masked = mask_train(&chunk, bs, bptt, &settings.mask, &mut rng);
                let loss = {
                    let _guard = BACKEND_RNG
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    B::seed(device, derive(settings.seed, 4, state.steps, 0));
                    mlm_loss(&model, &masked, li, n_langs, bs, bptt, device)
                };
                let loss_value: f32 = loss.clone().into_scalar().elem();
                if !loss_value.is_finite() {
                    return Err(MlmError::Diverged {
                        loss: loss_value,
                        step: state.steps + 1,
                    });
                }
                let mut grads = GradientsParams::from_grads(loss.backward(), &model);
                let norm = global_grad_norm(&model, &grads);
                let coef = clip_coefficient(norm, settings.clip_grad_norm);
                model = adam.step(model, &mut grads, coef);
                state.steps += 1;
                loss_sum += f64::from(loss_value);
                n_updates += 1;
                n_sentences += bs as u64;
                on_event(TrainEvent::Progress {
                    done: n_sentences.min(settings.epoch_size),
                    total: settings.epoch_size,
                    loss: loss_sum / n_updates as f64,
                    tokens_per_s: (n_updates as usize * bs * bptt) as f64
                        / started.elapsed().as_secs_f64().max(1e-9),
                });
            }
        }
        let seconds = started.elapsed().as_secs_f64().max(1e-9);
        let tokens_per_s = (n_updates as usize * bs * bptt) as f64 / seconds;
        let inference = model.valid();
        let valid: Vec<LangScore> = langs
            .iter()
            .enumerate()
            .map(|(li, l)| evaluate(&inference, l, li, n_langs, settings, device))
            .collect();
        let valid_mlm_ppl = valid.iter().map(|s| s.ppl).sum::<f64>() / valid.len() as f64;
        let report = EpochReport {
            epoch,
            steps: state.steps,
            train_loss: loss_sum / n_updates.max(1) as f64,
            tokens_per_s,
            valid,
            valid_mlm_ppl,
        };
        on_event(TrainEvent::Log(format!(
            "epoch {epoch}: {} updates, train loss {:.4}, {:.0} tokens/s, valid ppl {}",
            state.steps,
            report.train_loss,
            report.tokens_per_s,
            report
                .valid
                .iter()
                .map(|s| format!("{} {:.2} (acc {:.2}%)", s.lang, s.ppl, s.acc))
                .collect::<Vec<_>>()
                .join(", ")
        )));
        on_event(TrainEvent::Epoch(&report));

        // XLM `end_epoch`: a strictly better metric resets the counter, otherwise it grows,
        // and training stops once it exceeds `patience`.
        if state.best_ppl.is_none_or(|b| valid_mlm_ppl < b) {
            state.best_ppl = Some(valid_mlm_ppl);
            state.best_epoch = epoch;
            state.decrease_counts = 0;
            checkpoint::save_module(
                &model,
                &best_path(checkpoint_dir),
                model_metadata(config, epoch),
            )?;
        } else {
            state.decrease_counts += 1;
        }
        state.history.push(report);
        state.epochs_done = epoch;
        if state.decrease_counts > settings.patience {
            on_event(TrainEvent::Log(format!(
                "stopping: no better validation perplexity for {} epochs",
                state.decrease_counts
            )));
            state.finished = true;
        }
        if epoch >= settings.max_epochs {
            state.finished = true;
        }
        save_state(checkpoint_dir, &model, &adam, &state, config)?;
    }
    Ok(Outcome {
        best: best_path(checkpoint_dir),
        last: model_path(checkpoint_dir, state.epochs_done),
        history: state.history,
        best_epoch: state.best_epoch,
        resumed_from_epoch,
    })
}

/// The MLM loss of one masked chunk (mean cross-entropy over the targets), as XLM's
/// `mlm_step` computes it. Public so `examples/xlm_parity_dump.rs` checks this exact code
/// against the PyTorch port in `examples/xlm_reference.py`.
pub fn mlm_loss<B: Backend>(
    model: &Transformer<B>,
    masked: &Masked,
    lang: usize,
    n_langs: usize,
    bs: usize,
    len: usize,
    device: &B::Device,
) -> Tensor<B, 1> {
    let (logits, targets) = forward_targets(model, masked, lang, n_langs, bs, len, device);
    let n = masked.targets.len();
    let logp = log_softmax(logits, 1);
    logp.gather(1, targets.reshape([n, 1])).mean().neg()
}

/// Vocabulary scores at the masked positions, and the targets.
fn forward_targets<B: Backend>(
    model: &Transformer<B>,
    masked: &Masked,
    lang: usize,
    n_langs: usize,
    bs: usize,
    len: usize,
    device: &B::Device,
) -> (Tensor<B, 2>, Tensor<B, 1, Int>) {
    let ids: Vec<i64> = masked.input.iter().map(|&t| i64::from(t)).collect();
    let tokens = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [bs, len]), device);
    let langs = (n_langs > 1).then(|| Tensor::<B, 2, Int>::full([bs, len], lang as i64, device));
    let batch = Batch {
        tokens,
        langs,
        padding: None,
    };
    let hidden = model.forward(&batch, false, None);
    let dim = hidden.dims()[2];
    let pos: Vec<i64> = masked.positions.iter().map(|&p| p as i64).collect();
    let n = pos.len();
    let pos = Tensor::<B, 1, Int>::from_data(TensorData::new(pos, [n]), device);
    let selected = hidden.reshape([bs * len, dim]).select(0, pos);
    let targets: Vec<i64> = masked.targets.iter().map(|&t| i64::from(t)).collect();
    let targets = Tensor::<B, 1, Int>::from_data(TensorData::new(targets, [n]), device);
    (model.predict(selected), targets)
}

/// Validation of one language (XLM `evaluate_mlm`): its bs=1 stream, masks from a generator
/// seeded 0, `eval_batch` chunks per forward pass.
pub fn evaluate<B: Backend>(
    model: &Transformer<B>,
    lang: &Language,
    li: usize,
    n_langs: usize,
    settings: &MlmSettings,
    device: &B::Device,
) -> LangScore {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let len = settings.bptt;
    let (mut xe, mut n_targets, mut n_correct) = (0.0f64, 0usize, 0usize);
    let n = lang.valid.n_batches();
    let group = settings.eval_batch.max(1);
    for start in (0..n).step_by(group) {
        let end = (start + group).min(n);
        let mut merged = Masked {
            input: Vec::new(),
            positions: Vec::new(),
            targets: Vec::new(),
        };
        for (k, i) in (start..end).enumerate() {
            let m = mask_eval(&lang.valid.chunk(i), settings.mask.word_pred, &mut rng);
            merged.input.extend(&m.input);
            merged
                .positions
                .extend(m.positions.iter().map(|p| p + k * len));
            merged.targets.extend(&m.targets);
        }
        let (logits, targets) =
            forward_targets(model, &merged, li, n_langs, end - start, len, device);
        let t = merged.targets.len();
        let logp = log_softmax(logits.clone(), 1);
        let nll: f32 = logp
            .gather(1, targets.clone().reshape([t, 1]))
            .sum()
            .neg()
            .into_scalar()
            .elem();
        let correct: i64 = logits
            .argmax(1)
            .reshape([t])
            .equal(targets)
            .int()
            .sum()
            .into_scalar()
            .elem();
        xe += f64::from(nll);
        n_targets += t;
        n_correct += usize::try_from(correct).unwrap_or(0);
    }
    let (ppl, acc) = if n_targets == 0 {
        (1e9, 0.0)
    } else {
        (
            (xe / n_targets as f64).exp(),
            100.0 * n_correct as f64 / n_targets as f64,
        )
    };
    LangScore {
        lang: lang.name.clone(),
        ppl,
        acc,
        n_targets,
    }
}

fn model_metadata(config: &TransformerConfig, epoch: usize) -> HashMap<String, String> {
    HashMap::from([
        ("format".to_owned(), "unmt-transformer".to_owned()),
        (
            "config".to_owned(),
            serde_json::to_string(config).unwrap_or_default(),
        ),
        ("epoch".to_owned(), epoch.to_string()),
    ])
}

/// Writes this epoch's model and optimizer, then `state.json` (the commit point), then
/// removes the previous epoch's files. A crash at any point leaves a consistent checkpoint.
fn save_state<B: AutodiffBackend>(
    dir: &Path,
    model: &Transformer<B>,
    adam: &Adam<B::InnerBackend>,
    state: &TrainState,
    config: &TransformerConfig,
) -> Result<(), MlmError> {
    let e = state.epochs_done;
    checkpoint::save_module(model, &model_path(dir, e), model_metadata(config, e))?;
    let (tensors, step) = adam.to_host();
    checkpoint::write_safetensors(
        &optim_path(dir, e),
        &tensors,
        HashMap::from([("step".to_owned(), step.to_string())]),
    )?;
    let path = state_path(dir);
    let json = serde_json::to_vec_pretty(state).map_err(std::io::Error::other);
    json.and_then(|j| crate::io::write_atomic(&path, &j))
        .map_err(|source| CheckpointError::Io {
            action: "write",
            path: path.clone(),
            source,
        })?;
    if e > 0 {
        let _ = std::fs::remove_file(model_path(dir, e - 1));
        let _ = std::fs::remove_file(optim_path(dir, e - 1));
    }
    Ok(())
}

fn load_state(dir: &Path, fingerprint: &str) -> Result<Option<TrainState>, MlmError> {
    let path = state_path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CheckpointError::Io {
                action: "read",
                path,
                source,
            }
            .into());
        }
    };
    let state: TrainState = serde_json::from_slice(&bytes).map_err(|e| MlmError::Resume {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if state.format != STATE_FORMAT {
        return Err(MlmError::Resume {
            path,
            reason: format!(
                "state format {} (this build writes {STATE_FORMAT})",
                state.format
            ),
        });
    }
    if state.fingerprint != fingerprint {
        return Err(MlmError::Resume {
            path,
            reason: "the checkpoint was written by a run with other settings or data; \
                     remove the directory to start over"
                .into(),
        });
    }
    Ok(Some(state))
}

/// Reads the model configuration stored in a checkpoint's metadata.
pub fn read_config(
    path: &Path,
) -> Result<(TransformerConfig, BTreeMap<String, checkpoint::HostTensor>), MlmError> {
    let (tensors, meta) = checkpoint::read_safetensors(path)?;
    let config = meta
        .get("config")
        .and_then(|c| serde_json::from_str(c).ok())
        .ok_or_else(|| CheckpointError::Invalid {
            path: path.to_path_buf(),
            reason: "no model `config` in the metadata".into(),
        })?;
    Ok((config, tensors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Cpu;
    use crate::model::checkpoint::named_parameters;
    use burn::backend::Autodiff;

    type Ad = Autodiff<Cpu>;

    /// Two "languages" of short repeated patterns over ids 14..40.
    fn languages() -> Vec<Language> {
        let make = |offset: u32, n: usize| -> Vec<u32> {
            (0..n)
                .flat_map(|i| {
                    let a = 14 + offset + (i as u32 % 5);
                    vec![a, a + 1, a + 2, a + 3, 1]
                })
                .collect()
        };
        [("en", 0u32), ("mk", 10)]
            .iter()
            .map(|&(name, off)| Language {
                name: name.to_owned(),
                train: Stream::new(&make(off, 200), 4, 16).unwrap(),
                valid: Stream::new(&make(off, 20), 1, 16).unwrap(),
            })
            .collect()
    }

    fn settings() -> MlmSettings {
        MlmSettings {
            bptt: 16,
            batch_size: 4,
            mask: MaskConfig {
                word_pred: 0.15,
                mask_keep_rand: [0.8, 0.1, 0.1],
                n_words: 40,
                sample_scores: None,
            },
            adam: AdamConfig {
                lr: 1e-3,
                ..AdamConfig::default()
            },
            clip_grad_norm: 5.0,
            epoch_size: 80,
            max_epochs: 3,
            patience: 10,
            seed: 7,
            freeze_embeddings: false,
            eval_batch: 4,
        }
    }

    fn init() -> ModelInit {
        ModelInit {
            config: TransformerConfig::new(40, 2, 16, 1, 2),
            aligned: None,
        }
    }

    fn run(s: &MlmSettings, init: &ModelInit, dir: &Path, stop: Option<usize>) -> Outcome {
        train::<Ad>(
            s,
            &languages(),
            init,
            dir,
            "test",
            &Default::default(),
            stop,
            &mut |_| {},
        )
        .unwrap()
    }

    fn params(path: &Path) -> BTreeMap<String, checkpoint::HostTensor> {
        checkpoint::read_safetensors(path).unwrap().0
    }

    #[test]
    fn loss_and_validation_perplexity_decrease() {
        let dir = tempfile::tempdir().unwrap();
        let out = run(&settings(), &init(), dir.path(), None);
        let h = &out.history;
        assert_eq!(h.len(), 3);
        assert!(h[2].train_loss < h[0].train_loss, "{h:?}");
        assert!(h[2].valid_mlm_ppl < h[0].valid_mlm_ppl, "{h:?}");
        // 80 sentences per epoch at 4 per update = 20 updates (10 iterations x 2 languages)
        assert_eq!(h[0].steps, 20);
        assert!(out.best.exists() && out.last.exists());
    }

    #[test]
    fn frozen_embeddings_stay_bit_identical() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings();
        s.freeze_embeddings = true;
        s.max_epochs = 1;
        let before = named_parameters(&initial_model::<Ad>(
            &init(),
            s.seed,
            true,
            &Default::default(),
        ));
        let out = run(&s, &init(), dir.path(), None);
        let after = params(&out.last);
        assert_eq!(before["embeddings.weight"], after["embeddings.weight"]);
        assert_ne!(
            before["pred_bias"], after["pred_bias"],
            "the output bias still trains"
        );
        assert_ne!(
            before["position_embeddings.weight"],
            after["position_embeddings.weight"]
        );
    }

    #[test]
    fn fine_tuned_embeddings_train_for_random_and_aligned_init() {
        let mut s = settings();
        s.max_epochs = 1;
        let mut aligned = init();
        aligned.aligned = Some(AlignedRows {
            rows: vec![(20, vec![0.5; 16])],
            total: 40,
        });
        for i in [init(), aligned] {
            let dir = tempfile::tempdir().unwrap();
            let before =
                named_parameters(&initial_model::<Ad>(&i, s.seed, false, &Default::default()));
            let after = params(&run(&s, &i, dir.path(), None).last);
            let (b, a) = (
                &before["embeddings.weight"].values,
                &after["embeddings.weight"].values,
            );
            assert_ne!(
                b[20 * 16..21 * 16],
                a[20 * 16..21 * 16],
                "row of a trained token"
            );
        }
    }

    #[test]
    fn aligned_rows_are_the_loaded_vectors() {
        let mut i = init();
        let v: Vec<f32> = (0..16).map(|x| x as f32 / 10.0).collect();
        i.aligned = Some(AlignedRows {
            rows: vec![(1, v.clone()), (20, v.iter().map(|x| -x).collect())],
            total: 40,
        });
        let m = initial_model::<Ad>(&i, 3, false, &Default::default());
        let emb = &named_parameters(&m)["embeddings.weight"];
        assert_eq!(emb.values[16..32], v[..]);
        assert_eq!(
            emb.values[20 * 16..21 * 16],
            v.iter().map(|x| -x).collect::<Vec<_>>()[..]
        );
        let plain = initial_model::<Ad>(&init(), 3, false, &Default::default());
        let emb0 = &named_parameters(&plain)["embeddings.weight"];
        assert_eq!(
            emb.values[32..48],
            emb0.values[32..48],
            "other rows keep the random init"
        );
    }

    #[test]
    fn checkpoint_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let a = initial_model::<Cpu>(&init(), 1, false, &Default::default());
        checkpoint::save_module(&a, &path, HashMap::new()).unwrap();
        let b = initial_model::<Cpu>(&init(), 2, false, &Default::default());
        assert_ne!(named_parameters(&a), named_parameters(&b));
        let b = checkpoint::load_module(b, &path).unwrap();
        assert_eq!(named_parameters(&a), named_parameters(&b));
    }

    #[test]
    fn resumed_run_equals_uninterrupted_run() {
        let s = settings();
        let whole = tempfile::tempdir().unwrap();
        let a = run(&s, &init(), whole.path(), None);
        let split = tempfile::tempdir().unwrap();
        let first = run(&s, &init(), split.path(), Some(1));
        assert_eq!(first.history.len(), 1);
        let b = run(&s, &init(), split.path(), None);
        assert_eq!(b.resumed_from_epoch, 1);
        assert_eq!(params(&a.last), params(&b.last));
        let strip = |h: &[EpochReport]| {
            h.iter()
                .map(|r| (r.train_loss, r.valid_mlm_ppl))
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&a.history), strip(&b.history));
    }

    #[test]
    fn checkpoint_of_another_run_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings();
        s.max_epochs = 1;
        run(&s, &init(), dir.path(), None);
        let err = train::<Ad>(
            &s,
            &languages(),
            &init(),
            dir.path(),
            "other",
            &Default::default(),
            None,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("other settings"), "{err}");
    }
}
