//! The one training scaffold every model trains on: epochs counted in sentences, optimizer
//! updates with global-norm clipping and a learning-rate schedule, validation after every
//! epoch, early stopping on a named metric, best and last models, and resumable checkpoints.
//! What differs between models is an [`Objective`]: the updates of one iteration (the MLM
//! step; the AE and BT steps) and the validation.
//!
//! It follows XLM's `train.py` loop and `Trainer.end_epoch` (facebookresearch/XLM
//! `xlm/trainer.py`): an epoch ends once the objective has counted `epoch_size` sentences;
//! then the objective validates, a strictly better value of the criterion metric saves
//! `best` and resets the counter, otherwise the counter grows, and training stops once it
//! exceeds `patience` (XLM's `decrease_counts > decrease_counts_max`) or at `max_epochs`.
//!
//! Resume: after every epoch the model, the optimizer's moments (unlike XLM, which drops
//! them), the counters and the objective's data cursor are written, `state.json` last, so a
//! rerun continues from the last finished epoch and, with draws seeded by the counters, ends
//! with the same weights as a run that never stopped.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::data_parallel::data_parallel_grads;
use super::optim::{Adam, AdamConfig, RowMask, clip_coefficient, global_grad_norm, mask_rows};
use super::schedule::InverseSqrt;
use crate::model::checkpoint::{self, CheckpointError};

/// Version of `state.json`'s layout.
const STATE_FORMAT: u32 = 2;

/// Errors of a training run. Messages follow the crate convention (ARCHITECTURE.md).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum TrainError {
    /// A checkpoint could not be read or written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint directory holds state that does not belong to this run.
    #[error("failed to resume from `{path}`: {reason}")]
    Resume {
        /// `state.json` or the optimizer file.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
    /// A loss is not finite. The last epoch checkpoint is kept.
    #[error(
        "failed to train: the {kind} loss became {loss} at update {update} (lower the learning rate?)"
    )]
    Diverged {
        /// The step kind (`mlm`, `ae_en`, `bt_en-mk-en`, ...).
        kind: String,
        /// The loss value.
        loss: f32,
        /// The 1-based update.
        update: u64,
    },
    /// The criterion metric is not among the validation metrics.
    #[error("failed to stop early on `{metric}`: validation reports {available}")]
    UnknownMetric {
        /// The criterion.
        metric: String,
        /// The metrics validation produced.
        available: String,
    },
    /// Training stopped before its end on request ([`RunFiles::stop_after_iterations`]), with
    /// a checkpoint from which the next call continues.
    #[error(
        "training stopped at update {updates} (epoch {epoch}) with a checkpoint; rerun to continue"
    )]
    Interrupted {
        /// The 1-based epoch in progress.
        epoch: usize,
        /// Updates done.
        updates: u64,
    },
    /// An objective-specific failure (bad batch, generation error), as a message.
    #[error("failed to run the {kind} step: {reason}")]
    Step {
        /// The step kind.
        kind: String,
        /// What went wrong.
        reason: String,
    },
}

/// Seed of a derived random stream: objectives seed every draw from `(seed, kind, a, b)`
/// with the counters as `a` and `b`, which is what makes a resumed run equal an
/// uninterrupted one.
pub fn derive(seed: u64, kind: u64, a: u64, b: u64) -> u64 {
    let mut h = blake3::Hasher::new();
    for x in [seed, kind, a, b] {
        h.update(&x.to_le_bytes());
    }
    let bytes = h.finalize();
    u64::from_le_bytes(bytes.as_bytes()[..8].try_into().unwrap_or_default())
}

/// A run's fingerprint: its parameters (as JSON) and the content of every input file.
pub fn fingerprint<'p>(
    params: &impl Serialize,
    files: impl IntoIterator<Item = &'p PathBuf>,
) -> Result<String, (PathBuf, std::io::Error)> {
    let mut h = blake3::Hasher::new();
    h.update(serde_json::to_string(params).unwrap_or_default().as_bytes());
    for f in files {
        h.update_mmap(f).map_err(|e| (f.clone(), e))?;
    }
    Ok(h.finalize().to_hex().to_string())
}

/// Whether smaller or larger values of a metric are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Perplexities, losses.
    Lower,
    /// BLEU, accuracy.
    Higher,
}

/// Early stopping: the metric to watch, its direction, and XLM's patience.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Criterion {
    /// A validation metric name (`valid_mlm_ppl`, `valid_mk-en_mt_bleu`).
    pub metric: String,
    /// Which way is better.
    pub direction: Direction,
    /// Epochs without improvement tolerated; training stops when the count exceeds it.
    pub patience: usize,
}

impl Criterion {
    /// Whether `value` is strictly better than `best` (anything beats no best yet).
    pub fn improves(&self, value: f64, best: Option<f64>) -> bool {
        match (best, self.direction) {
            (None, _) => true,
            (Some(b), Direction::Lower) => value < b,
            (Some(b), Direction::Higher) => value > b,
        }
    }
}

/// The learning rate of each update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LrSchedule {
    /// The optimizer's `lr` throughout (XLM `adam`).
    Constant,
    /// Linear warm-up, then inverse square root (XLM `adam_inverse_sqrt`).
    InverseSqrt(InverseSqrt),
}

impl LrSchedule {
    /// The learning rate of 1-based update `n`.
    pub fn lr(&self, base: f64, n: u64) -> f64 {
        match self {
            Self::Constant => base,
            Self::InverseSqrt(s) => s.lr_of_update(n),
        }
    }
}

/// Settings of the scaffold itself (the objective has its own).
#[derive(Debug, Clone)]
pub struct ScaffoldSettings {
    /// Sentences per epoch, as the objective counts them. XLM `epoch_size`.
    pub epoch_size: u64,
    /// Epoch limit.
    pub max_epochs: usize,
    /// Early stopping.
    pub criterion: Criterion,
    /// Global gradient-norm clip (0 = off). XLM: 5.
    pub clip_grad_norm: f64,
    /// Optimizer.
    pub adam: AdamConfig,
    /// Learning rate per update.
    pub lr: LrSchedule,
    /// Parameters of which only some rows train ([`RowMask`]).
    pub row_masks: Vec<RowMask>,
    /// Data-parallel peers an update splits its batch over ([`Updater::update_sharded`]);
    /// 1: no split. Peers are threads on the training device.
    pub peers: usize,
}

/// Counters the objective's random draws are seeded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Finished epochs.
    pub epochs_done: usize,
    /// Optimizer updates so far.
    pub updates: u64,
    /// Iterations so far (this one excluded while it runs).
    pub iterations: u64,
}

/// Training figures of one step kind in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindStats {
    /// Mean loss of the kind's updates.
    pub loss: f64,
    /// Its updates.
    pub updates: u64,
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport<R> {
    /// 1-based epoch.
    pub epoch: usize,
    /// Optimizer updates so far.
    pub steps: u64,
    /// Loss per step kind.
    pub train: BTreeMap<String, KindStats>,
    /// Learning rate of the epoch's last update.
    pub lr: f64,
    /// Training tokens per second in this epoch (kept in the checkpoint and the record's
    /// metrics, left out of the `history` output: see [`history_json`]).
    #[serde(default)]
    pub tokens_per_s: f64,
    /// The objective's validation.
    pub valid: R,
    /// Validation metrics by name (the criterion reads one of them).
    pub metrics: BTreeMap<String, f64>,
}

impl<R> EpochReport<R> {
    /// Mean loss over every update of the epoch.
    pub fn train_loss(&self) -> f64 {
        let n: u64 = self.train.values().map(|k| k.updates).sum();
        let sum: f64 = self.train.values().map(|k| k.loss * k.updates as f64).sum();
        sum / n.max(1) as f64
    }
}

/// Notifications for logs and progress bars, rendered by [`super::report`].
#[derive(Debug, Clone)]
pub enum TrainEvent {
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
    /// An epoch finished, with its validation metrics.
    Epoch {
        /// 1-based epoch.
        epoch: usize,
        /// Validation metrics.
        metrics: BTreeMap<String, f64>,
    },
}

/// What differs between trainings.
pub trait Objective<B: AutodiffBackend> {
    /// The trained module.
    type Model: AutodiffModule<B> + Clone;
    /// Data positions and other state that must survive a resume.
    type Cursor: Serialize + DeserializeOwned + Clone;
    /// Validation figures kept in the history.
    type Report: Serialize + DeserializeOwned + Clone;

    /// The cursor of a fresh run.
    fn start(&self) -> Self::Cursor;

    /// One iteration: each of its updates computes a loss from [`Updater::model`] and hands
    /// it to [`Updater::update`].
    fn iteration(
        &mut self,
        updater: &mut Updater<'_, B, Self::Model>,
        cursor: &mut Self::Cursor,
    ) -> Result<(), TrainError>;

    /// Validation of the inference copy of the model: the report and its metrics by name.
    fn validate(
        &mut self,
        model: &<Self::Model as AutodiffModule<B>>::InnerModule,
        counters: Counters,
    ) -> Result<(Self::Report, BTreeMap<String, f64>), TrainError>;

    /// Metadata stored with every saved model (e.g. its configuration).
    fn model_metadata(&self, epoch: usize) -> HashMap<String, String>;

    /// Called with the best model whenever it improves (e.g. to keep its hypotheses).
    fn on_best(&mut self, _report: &Self::Report, _dir: &Path) -> Result<(), TrainError> {
        Ok(())
    }
}

/// Hands out the model and applies updates: what an objective sees during an iteration.
pub struct Updater<'e, B: AutodiffBackend, M: AutodiffModule<B>> {
    model: Option<M>,
    /// One per peer.
    devices: Vec<B::Device>,
    adam: Adam<B::InnerBackend>,
    settings: &'e ScaffoldSettings,
    counters: Counters,
    epoch: EpochTally,
    on_event: &'e mut dyn FnMut(TrainEvent),
}

/// Running sums of the current epoch.
#[derive(Debug, Clone)]
struct EpochTally {
    started: Instant,
    sentences: u64,
    tokens: u64,
    lr: f64,
    kinds: BTreeMap<String, (f64, u64)>,
}

impl EpochTally {
    fn to_partial(&self, updates: u64) -> PartialEpoch {
        PartialEpoch {
            updates,
            sentences: self.sentences,
            tokens: self.tokens,
            lr: self.lr,
            kinds: self.kinds.clone(),
            elapsed_s: self.started.elapsed().as_secs_f64(),
        }
    }

    fn from_partial(p: &PartialEpoch) -> Self {
        let now = Instant::now();
        Self {
            started: now
                .checked_sub(std::time::Duration::from_secs_f64(p.elapsed_s.max(0.0)))
                .unwrap_or(now),
            sentences: p.sentences,
            tokens: p.tokens,
            lr: p.lr,
            kinds: p.kinds.clone(),
        }
    }

    fn new() -> Self {
        Self {
            started: Instant::now(),
            sentences: 0,
            tokens: 0,
            lr: 0.0,
            kinds: BTreeMap::new(),
        }
    }

    fn mean_loss(&self) -> f64 {
        let n: u64 = self.kinds.values().map(|(_, n)| n).sum();
        let sum: f64 = self.kinds.values().map(|(s, _)| s).sum();
        sum / n.max(1) as f64
    }

    fn tokens_per_s(&self) -> f64 {
        self.tokens as f64 / self.started.elapsed().as_secs_f64().max(1e-9)
    }
}

impl<B: AutodiffBackend, M: AutodiffModule<B>> Updater<'_, B, M> {
    /// The model as it is now.
    pub fn model(&self) -> &M {
        self.model
            .as_ref()
            .expect("the model is only taken inside `update`")
    }

    /// The counters (the current iteration's number is `iterations`).
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Sentences counted so far in this epoch.
    pub fn epoch_sentences(&self) -> u64 {
        self.epoch.sentences
    }

    /// Reports a log line.
    pub fn log(&mut self, line: String) {
        (self.on_event)(TrainEvent::Log(line));
    }

    /// Data-parallel peers ([`ScaffoldSettings::peers`]).
    pub fn peers(&self) -> usize {
        self.devices.len()
    }

    /// One optimizer update on `loss` (computed from [`Self::model`]): backward, global-norm
    /// clipping, the scheduled learning rate, Adam. `sentences` counts toward the epoch
    /// (XLM counts `batch_size` per step), `tokens` toward the throughput figure.
    pub fn update(
        &mut self,
        kind: &str,
        loss: Tensor<B, 1>,
        sentences: u64,
        tokens: u64,
    ) -> Result<(), TrainError> {
        let value: f32 = loss.clone().into_scalar().elem();
        self.check_finite(kind, value)?;
        let model = self
            .model
            .take()
            .expect("the model is present between updates");
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.apply(kind, model, grads, value, sentences, tokens);
        Ok(())
    }

    /// One optimizer update on a batch split over [`Self::peers`] shards: peer `p` computes
    /// `shard_loss(replica, p, device)`, its shard's share of the batch loss (the shard's
    /// summed loss over the batch's count, so that the shares add up to the batch mean;
    /// `Ok(None)`: nothing to contribute). With one peer this is [`Self::update`] on peer 0's
    /// loss; with several, [`data_parallel_grads`] sums their gradients and one Adam step
    /// follows.
    pub fn update_sharded<F>(
        &mut self,
        kind: &str,
        shard_loss: F,
        sentences: u64,
        tokens: u64,
    ) -> Result<(), TrainError>
    where
        M: Send,
        B::Device: Send + Sync,
        F: Fn(&M, usize, &B::Device) -> Result<Option<Tensor<B, 1>>, TrainError> + Sync,
    {
        let model = self
            .model
            .take()
            .expect("the model is present between updates");
        let (grads, value) = if self.devices.len() == 1 {
            let loss = match shard_loss(&model, 0, &self.devices[0]) {
                Ok(loss) => loss,
                Err(e) => {
                    self.model = Some(model);
                    return Err(e);
                }
            };
            match loss {
                Some(loss) => {
                    let value: f32 = loss.clone().into_scalar().elem();
                    (GradientsParams::from_grads(loss.backward(), &model), value)
                }
                None => (GradientsParams::new(), 0.0),
            }
        } else {
            let devices = &self.devices;
            let reduced = data_parallel_grads::<B, M, _>(&model, devices, |replica, p| {
                shard_loss(replica, p, &devices[p]).map_err(|e| e.to_string())
            });
            match reduced {
                Ok((grads, value)) => (grads, value as f32),
                Err(e) => {
                    self.model = Some(model);
                    return Err(TrainError::Step {
                        kind: kind.to_owned(),
                        reason: e.to_string(),
                    });
                }
            }
        };
        if let Err(e) = self.check_finite(kind, value) {
            self.model = Some(model);
            return Err(e);
        }
        self.apply(kind, model, grads, value, sentences, tokens);
        Ok(())
    }

    fn check_finite(&self, kind: &str, value: f32) -> Result<(), TrainError> {
        if value.is_finite() {
            Ok(())
        } else {
            Err(TrainError::Diverged {
                kind: kind.to_owned(),
                loss: value,
                update: self.counters.updates + 1,
            })
        }
    }

    /// Clipping, the learning rate and Adam on `grads`, then the epoch's tallies.
    fn apply(
        &mut self,
        kind: &str,
        model: M,
        mut grads: GradientsParams,
        value: f32,
        sentences: u64,
        tokens: u64,
    ) {
        let n = self.counters.updates + 1;
        if !self.settings.row_masks.is_empty() {
            mask_rows(&model, &mut grads, &self.settings.row_masks);
        }
        let norm = global_grad_norm(&model, &grads);
        let coef = clip_coefficient(norm, self.settings.clip_grad_norm);
        let lr = self.settings.lr.lr(self.settings.adam.lr, n);
        self.adam.set_lr(lr);
        self.model = Some(self.adam.step(model, &mut grads, coef));
        self.counters.updates = n;
        let tally = &mut self.epoch;
        let entry = tally.kinds.entry(kind.to_owned()).or_insert((0.0, 0));
        entry.0 += f64::from(value);
        entry.1 += 1;
        tally.sentences += sentences;
        tally.tokens += tokens;
        tally.lr = lr;
        let event = TrainEvent::Progress {
            done: tally.sentences.min(self.settings.epoch_size),
            total: self.settings.epoch_size,
            loss: tally.mean_loss(),
            tokens_per_s: tally.tokens_per_s(),
        };
        (self.on_event)(event);
    }
}

/// Counters and bookkeeping checkpointed with the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound = "C: Serialize + DeserializeOwned, R: Serialize + DeserializeOwned")]
struct RunState<C, R> {
    format: u32,
    fingerprint: String,
    counters: Counters,
    cursor: C,
    best: Option<f64>,
    best_epoch: usize,
    decrease_counts: usize,
    history: Vec<EpochReport<R>>,
    finished: bool,
    /// Set when the run stopped inside an epoch (Ctrl-C): its tallies so far; the model and
    /// optimizer are then in the `.uN` files of that update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    partial: Option<PartialEpoch>,
}

/// The sums of an epoch cut short, to continue it where it stopped.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PartialEpoch {
    updates: u64,
    sentences: u64,
    tokens: u64,
    lr: f64,
    kinds: BTreeMap<String, (f64, u64)>,
    elapsed_s: f64,
}

/// What a training run leaves behind (files in the checkpoint directory).
#[derive(Debug, Clone)]
pub struct Outcome<R> {
    /// Best model by the criterion.
    pub best: PathBuf,
    /// Model after the last epoch.
    pub last: PathBuf,
    /// Per-epoch reports.
    pub history: Vec<EpochReport<R>>,
    /// Epoch of the best model.
    pub best_epoch: usize,
    /// Epochs that were done before this call (resume).
    pub resumed_from_epoch: usize,
}

/// The checkpoint directory's files: `state.json`, `model.eN.safetensors`,
/// `optim.eN.safetensors`, `best.safetensors`.
fn state_path(dir: &Path) -> PathBuf {
    dir.join("state.json")
}
fn model_path(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("model.e{epoch}.safetensors"))
}
fn optim_path(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("optim.e{epoch}.safetensors"))
}
/// The model and optimizer files of a state: the epoch's, or those of the update where an
/// epoch was cut short.
fn state_files<C, R>(dir: &Path, state: &RunState<C, R>) -> (PathBuf, PathBuf) {
    let e = state.counters.epochs_done;
    match &state.partial {
        None => (model_path(dir, e), optim_path(dir, e)),
        Some(p) => (
            dir.join(format!("model.e{e}.u{}.safetensors", p.updates)),
            dir.join(format!("optim.e{e}.u{}.safetensors", p.updates)),
        ),
    }
}
/// The best model's file in a checkpoint directory.
pub fn best_path(dir: &Path) -> PathBuf {
    dir.join("best.safetensors")
}

/// Where and how a run checkpoints.
pub struct RunFiles<'a> {
    /// The checkpoint directory (survives crashes of the node).
    pub dir: &'a Path,
    /// Identifies the run's settings and data; a checkpoint with another one is refused.
    pub fingerprint: &'a str,
    /// End the call after this many epochs without marking the run finished (tests use it
    /// to simulate a crash).
    pub stop_after_epochs: Option<usize>,
    /// Stop once this many iterations are done in all, inside an epoch, as Ctrl-C does:
    /// write a mid-epoch checkpoint and return [`TrainError::Interrupted`] (tests).
    pub stop_after_iterations: Option<u64>,
}

/// Trains (or resumes) `fresh` with `objective` until the criterion or `max_epochs` stops it.
pub fn run<B, O>(
    objective: &mut O,
    fresh: O::Model,
    settings: &ScaffoldSettings,
    files: &RunFiles<'_>,
    device: &B::Device,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<Outcome<O::Report>, TrainError>
where
    B: AutodiffBackend,
    O: Objective<B>,
{
    let dir = files.dir;
    let active = super::stop::Active::enter();
    let (model, adam, mut state) = match load_state::<O::Cursor, O::Report>(dir, files.fingerprint)?
    {
        Some(state) => {
            let e = state.counters.epochs_done;
            let (model_file, optim_file) = state_files(dir, &state);
            let model = checkpoint::load_module(fresh, &model_file)?;
            let (tensors, meta) = checkpoint::read_safetensors(&optim_file)?;
            let step = meta
                .get("step")
                .and_then(|s| s.parse().ok())
                .unwrap_or(state.counters.updates);
            let adam =
                Adam::from_host(settings.adam, &tensors, step, device).map_err(|reason| {
                    TrainError::Resume {
                        path: optim_file.clone(),
                        reason,
                    }
                })?;
            let within = if state.partial.is_some() {
                format!(" inside epoch {}", e + 1)
            } else {
                format!(" after epoch {e}")
            };
            on_event(TrainEvent::Log(format!(
                "resuming{within} ({} updates)",
                state.counters.updates
            )));
            (model, adam, state)
        }
        None => (
            fresh,
            Adam::new(settings.adam),
            RunState {
                format: STATE_FORMAT,
                fingerprint: files.fingerprint.to_owned(),
                counters: Counters {
                    epochs_done: 0,
                    updates: 0,
                    iterations: 0,
                },
                cursor: objective.start(),
                best: None,
                best_epoch: 0,
                decrease_counts: 0,
                history: Vec::new(),
                finished: false,
                partial: None,
            },
        ),
    };
    let mut resumed_tally = state.partial.take().map(|p| EpochTally::from_partial(&p));
    let resumed_from_epoch = state.counters.epochs_done;
    let mut updater = Updater {
        model: Some(model),
        devices: vec![device.clone(); settings.peers.max(1)],
        adam,
        settings,
        counters: state.counters,
        epoch: EpochTally::new(),
        on_event,
    };
    while !state.finished {
        let done_here = state.counters.epochs_done - resumed_from_epoch;
        if files.stop_after_epochs.is_some_and(|n| done_here >= n) {
            break;
        }
        let epoch = state.counters.epochs_done + 1;
        updater.epoch = resumed_tally.take().unwrap_or_else(EpochTally::new);
        while updater.epoch.sentences < settings.epoch_size {
            let asked = super::stop::requested();
            if asked
                || files
                    .stop_after_iterations
                    .is_some_and(|n| updater.counters.iterations >= n)
            {
                state.counters = updater.counters;
                state.partial = Some(updater.epoch.to_partial(state.counters.updates));
                let meta = objective.model_metadata(epoch);
                save_state(dir, updater.model(), &updater.adam, &state, meta)?;
                let updates = state.counters.updates;
                updater.log(format!(
                    "interrupted: checkpoint written at update {updates} (epoch {epoch}); a rerun continues from it"
                ));
                if asked {
                    super::stop::checkpointed(active);
                }
                return Err(TrainError::Interrupted { epoch, updates });
            }
            objective.iteration(&mut updater, &mut state.cursor)?;
            updater.counters.iterations += 1;
        }
        state.counters = updater.counters;
        let tally = updater.epoch.clone();
        let tokens_per_s = tally.tokens_per_s();
        let inference = updater.model().valid();
        let (report, metrics) = objective.validate(&inference, state.counters)?;
        let Some(&value) = metrics.get(&settings.criterion.metric) else {
            return Err(TrainError::UnknownMetric {
                metric: settings.criterion.metric.clone(),
                available: metrics.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        };
        let epoch_report = EpochReport {
            epoch,
            steps: state.counters.updates,
            train: tally
                .kinds
                .iter()
                .map(|(k, &(sum, n))| {
                    let stats = KindStats {
                        loss: sum / n.max(1) as f64,
                        updates: n,
                    };
                    (k.clone(), stats)
                })
                .collect(),
            lr: tally.lr,
            tokens_per_s,
            valid: report.clone(),
            metrics: metrics.clone(),
        };
        updater.log(epoch_line(&epoch_report));
        (updater.on_event)(TrainEvent::Epoch {
            epoch,
            metrics: metrics.clone(),
        });
        if settings.criterion.improves(value, state.best) {
            state.best = Some(value);
            state.best_epoch = epoch;
            state.decrease_counts = 0;
            let meta = objective.model_metadata(epoch);
            checkpoint::save_module(updater.model(), &best_path(dir), meta)?;
            objective.on_best(&report, dir)?;
        } else {
            state.decrease_counts += 1;
        }
        state.history.push(epoch_report);
        state.counters.epochs_done = epoch;
        updater.counters.epochs_done = epoch;
        if state.decrease_counts > settings.criterion.patience {
            updater.log(format!(
                "stopping: no better {} for {} epochs",
                settings.criterion.metric, state.decrease_counts
            ));
            state.finished = true;
        }
        if epoch >= settings.max_epochs {
            state.finished = true;
        }
        let meta = objective.model_metadata(epoch);
        save_state(dir, updater.model(), &updater.adam, &state, meta)?;
    }
    Ok(Outcome {
        best: best_path(dir),
        last: model_path(dir, state.counters.epochs_done),
        history: state.history,
        best_epoch: state.best_epoch,
        resumed_from_epoch,
    })
}

/// The history as a content output: each epoch's report without its wall-clock figures
/// (`tokens_per_s`), so that two identical runs write identical bytes and early cutoff
/// works for every consumer (#17). Throughput goes into the node's record as a metric.
pub fn history_json<R: Serialize>(history: &[EpochReport<R>]) -> serde_json::Result<Vec<u8>> {
    let mut v = serde_json::to_value(history)?;
    if let Some(epochs) = v.as_array_mut() {
        for e in epochs {
            if let Some(o) = e.as_object_mut() {
                o.remove("tokens_per_s");
            }
        }
    }
    serde_json::to_vec_pretty(&v)
}

/// The log line of a finished epoch.
fn epoch_line<R>(r: &EpochReport<R>) -> String {
    let train: Vec<String> = r
        .train
        .iter()
        .map(|(k, s)| format!("{k} {:.4}", s.loss))
        .collect();
    let valid: Vec<String> = r
        .metrics
        .iter()
        .map(|(k, v)| format!("{k} {v:.2}"))
        .collect();
    format!(
        "epoch {}: {} updates, lr {:.3e}, {:.0} tokens/s, train {}; {}",
        r.epoch,
        r.steps,
        r.lr,
        r.tokens_per_s,
        train.join(", "),
        valid.join(", ")
    )
}

/// Writes this epoch's (or this update's, for an epoch cut short) model and optimizer, then
/// `state.json` (the commit point), then removes the files it supersedes. A crash at any point leaves a consistent checkpoint.
fn save_state<B, M, C, R>(
    dir: &Path,
    model: &M,
    adam: &Adam<B::InnerBackend>,
    state: &RunState<C, R>,
    metadata: HashMap<String, String>,
) -> Result<(), TrainError>
where
    B: AutodiffBackend,
    M: Module<B>,
    C: Serialize + DeserializeOwned,
    R: Serialize + DeserializeOwned,
{
    let e = state.counters.epochs_done;
    let (model_file, optim_file) = state_files(dir, state);
    checkpoint::save_module(model, &model_file, metadata)?;
    let (tensors, step) = adam.to_host();
    checkpoint::write_safetensors(
        &optim_file,
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
    if e > 0 && state.partial.is_none() {
        let _ = std::fs::remove_file(model_path(dir, e - 1));
        let _ = std::fs::remove_file(optim_path(dir, e - 1));
    }
    // Files of earlier cut-short epochs (`.uN`), now superseded.
    let keep = [model_file, optim_file];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for p in entries.flatten().map(|e| e.path()) {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let cut_short = name.contains(".u") && name.ends_with(".safetensors");
            if cut_short && !keep.contains(&p) {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
    Ok(())
}

fn load_state<C, R>(dir: &Path, fingerprint: &str) -> Result<Option<RunState<C, R>>, TrainError>
where
    C: Serialize + DeserializeOwned,
    R: Serialize + DeserializeOwned,
{
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
    #[derive(Deserialize)]
    struct Header {
        format: u32,
    }
    let header: Header = serde_json::from_slice(&bytes).map_err(|e| TrainError::Resume {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if header.format != STATE_FORMAT {
        return Err(TrainError::Resume {
            path,
            reason: format!(
                "state format {} (this build writes {STATE_FORMAT}); remove the directory to start over",
                header.format
            ),
        });
    }
    let state: RunState<C, R> = serde_json::from_slice(&bytes).map_err(|e| TrainError::Resume {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if state.fingerprint != fingerprint {
        return Err(TrainError::Resume {
            path,
            reason: "the checkpoint was written by a run with other settings or data; \
                     remove the directory to start over"
                .into(),
        });
    }
    Ok(Some(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_compare_in_their_direction() {
        let lower = Criterion {
            metric: "ppl".into(),
            direction: Direction::Lower,
            patience: 1,
        };
        let higher = Criterion {
            direction: Direction::Higher,
            ..lower.clone()
        };
        assert!(lower.improves(5.0, None) && higher.improves(5.0, None));
        assert!(lower.improves(4.0, Some(5.0)) && !lower.improves(5.0, Some(5.0)));
        assert!(higher.improves(6.0, Some(5.0)) && !higher.improves(5.0, Some(5.0)));
    }

    #[test]
    fn the_train_loss_weights_kinds_by_updates() {
        let r = EpochReport {
            epoch: 1,
            steps: 4,
            train: BTreeMap::from([
                (
                    "a".to_owned(),
                    KindStats {
                        loss: 1.0,
                        updates: 3,
                    },
                ),
                (
                    "b".to_owned(),
                    KindStats {
                        loss: 5.0,
                        updates: 1,
                    },
                ),
            ]),
            lr: 1e-4,
            tokens_per_s: 1.0,
            valid: (),
            metrics: BTreeMap::new(),
        };
        assert!((r.train_loss() - 2.0).abs() < 1e-12);
    }
}
