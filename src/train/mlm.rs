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
use std::path::Path;
use std::sync::Mutex;

use burn::tensor::activation::log_softmax;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::init::{AlignedRows, overwrite_embedding_rows};
use super::masking::{MaskConfig, Masked, mask_eval, mask_train};
use super::optim::{AdamConfig, RowMask};
use super::reload::{self, NewRows};
use super::scaffold::{
    self, Counters, Criterion, Direction, LrSchedule, Objective, Outcome, RunFiles,
    ScaffoldSettings, TrainError, TrainEvent, Updater, derive,
};
use super::stream::{ChunkOrder, Stream};
use super::trainable;
use crate::model::checkpoint::{self, CheckpointError, HostTensor};
use crate::model::dropout;
use crate::model::{Batch, Transformer, TransformerConfig, TransformerInput};
use crate::text::dictionary::Dictionary;
use crate::train::data_parallel::shard_rows;

/// Burn's random generator is process-global: whoever seeds it and then initialises a model
/// must not interleave with another training in the same process. (Dropout masks do not use
/// it: they come from [`dropout`]'s per-thread streams.)
pub(crate) static BACKEND_RNG: Mutex<()> = Mutex::new(());

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
    /// Indices into the languages of those trained (XLM `--mlm_steps`); the others are only
    /// validated. The stopping metric `valid_mlm_ppl` is the mean over these.
    pub train_langs: Vec<usize>,
    /// Validation chunks per forward pass (speed only; results do not depend on it).
    pub eval_batch: usize,
    /// Data-parallel peers each batch's streams are split over (1: none). Equal to one
    /// device's training up to float summation order ([`crate::train::data_parallel`]).
    pub peers: usize,
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

/// Validation of every language after an epoch (XLM `evaluate_mlm`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlmValid {
    /// Per-language figures.
    pub langs: Vec<LangScore>,
    /// Mean of the per-language perplexities (XLM `valid_mlm_ppl`, the stopping criterion).
    pub valid_mlm_ppl: f64,
}

/// One epoch of MLM training.
pub type EpochReport = scaffold::EpochReport<MlmValid>;

/// Where each language's training stream is: chunk order and passes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MlmCursor {
    orders: Vec<ChunkOrder>,
    passes: Vec<u64>,
}

/// The model to start from.
#[derive(Debug, Clone)]
pub struct ModelInit {
    /// Architecture.
    pub config: TransformerConfig,
    /// A pretrained model to grow to this dictionary (RE-LM).
    pub reload: Option<Reload>,
    /// Rows to take from aligned vectors (`init = "aligned"`).
    pub aligned: Option<AlignedRows>,
    /// Patterns of the parameters that train ([`trainable`]).
    pub trainable: Vec<String>,
    /// Parameters of which only some rows train (RE-LM's new rows only).
    pub row_masks: Vec<RowMask>,
}

/// A pretrained masked LM and the dictionaries its rows move between ([`reload::grow`]).
#[derive(Debug, Clone)]
pub struct Reload {
    /// Its tensors.
    pub tensors: BTreeMap<String, HostTensor>,
    /// Its dictionary.
    pub old_dico: Dictionary,
    /// This model's (extended) dictionary.
    pub new_dico: Dictionary,
    /// How new rows start.
    pub new_rows: NewRows,
}

/// Builds the initial model: XLM's random init from `seed`, then the pretrained model grown
/// into it, aligned rows, and which parameters train (the trainable patterns, minus the
/// embeddings when frozen).
pub fn initial_model<B: Backend>(
    init: &ModelInit,
    seed: u64,
    freeze: bool,
    device: &B::Device,
) -> Result<Transformer<B>, TrainError> {
    // Burn initialises parameters lazily, on first use, from its global generator: setting
    // which ones train materialises every one of them here, under the lock and right after
    // seeding, so the initial weights depend on `seed` alone.
    let mut model = {
        let _guard = BACKEND_RNG
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        B::seed(device, seed);
        trainable::apply(init.config.init::<B>(device), &init.trainable).0
    };
    if let Some(r) = &init.reload {
        let step = |reason| TrainError::Step {
            kind: "reload".into(),
            reason,
        };
        let fresh = checkpoint::named_parameters(&model);
        let grown = reload::grow(
            &r.tensors,
            &r.old_dico,
            &r.new_dico,
            &fresh,
            r.new_rows,
            seed,
        )
        .map_err(step)?;
        model = checkpoint::load_parameters(model, &grown.tensors).map_err(step)?;
    }
    let model = match &init.aligned {
        Some(rows) => overwrite_embedding_rows(model, rows),
        None => model,
    };
    let mut model = model;
    if freeze {
        model.embeddings.weight = model.embeddings.weight.set_require_grad(false);
    }
    Ok(model)
}

/// The MLM objective: each iteration visits the languages in a random order, one update
/// per language on a masked stream chunk; validation scores every language's stream.
pub struct MlmObjective<'a, B: Backend> {
    settings: &'a MlmSettings,
    langs: &'a [Language],
    config: &'a TransformerConfig,
    device: B::Device,
}

impl<B: AutodiffBackend> Objective<B> for MlmObjective<'_, B> {
    type Model = Transformer<B>;
    type Cursor = MlmCursor;
    type Report = MlmValid;

    fn start(&self) -> MlmCursor {
        MlmCursor {
            orders: vec![ChunkOrder::new(); self.langs.len()],
            passes: vec![0; self.langs.len()],
        }
    }

    fn iteration(
        &mut self,
        updater: &mut Updater<'_, B, Transformer<B>>,
        cursor: &mut MlmCursor,
    ) -> Result<(), TrainError> {
        let (s, n_langs) = (self.settings, self.langs.len());
        let (bs, bptt) = (s.batch_size, s.bptt);
        let mut order: Vec<usize> = s.train_langs.clone();
        let iteration = updater.counters().iterations;
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(derive(
            s.seed, 1, iteration, 0,
        )));
        for li in order {
            let lang = &self.langs[li];
            let steps = updater.counters().updates;
            let mut rng = ChaCha8Rng::seed_from_u64(derive(s.seed, 2, steps, 0));
            if cursor.orders[li].exhausted() {
                cursor.passes[li] += 1;
            }
            let mut order_rng =
                ChaCha8Rng::seed_from_u64(derive(s.seed, 3, li as u64, cursor.passes[li]));
            let chunk = lang
                .train
                .chunk(cursor.orders[li].next(lang.train.n_batches(), &mut order_rng));
            let masked = mask_train(&chunk, bs, bptt, &s.mask, &mut rng);
            // Peer p computes rows [first_p, first_p + rows_p) of the batch; its loss is its
            // targets' share of the batch mean, and its dropout stream starts at its first row.
            let peers = updater.peers();
            let shards = shard_rows(&masked, bs, bptt, peers).map_err(|e| TrainError::Step {
                kind: "mlm".into(),
                reason: e.to_string(),
            })?;
            let first_rows: Vec<usize> = shards
                .iter()
                .scan(0, |row, (_, rows)| {
                    let first = *row;
                    *row += rows;
                    Some(first)
                })
                .collect();
            let total = masked.targets.len();
            let dropout_seed = derive(s.seed, 4, steps, 0);
            let shard_loss = |model: &Transformer<B>, p: usize, device: &B::Device| {
                let (shard, rows) = &shards[p];
                if shard.targets.is_empty() {
                    return Ok(None);
                }
                dropout::seed(dropout_seed, first_rows[p]);
                let mean = mlm_loss(model, shard, li, n_langs, *rows, bptt, device);
                Ok(Some(if peers == 1 {
                    mean
                } else {
                    mean.mul_scalar(shard.targets.len() as f64 / total as f64)
                }))
            };
            updater.update_sharded("mlm", shard_loss, bs as u64, (bs * bptt) as u64)?;
        }
        Ok(())
    }

    fn validate(
        &mut self,
        model: &Transformer<B::InnerBackend>,
        _: Counters,
    ) -> Result<(MlmValid, BTreeMap<String, f64>), TrainError> {
        let n_langs = self.langs.len();
        let langs: Vec<LangScore> = self
            .langs
            .iter()
            .enumerate()
            .map(|(li, l)| evaluate(model, l, li, n_langs, self.settings, &self.device))
            .collect();
        let trained = &self.settings.train_langs;
        let valid_mlm_ppl =
            trained.iter().map(|&i| langs[i].ppl).sum::<f64>() / trained.len().max(1) as f64;
        let mut metrics = BTreeMap::from([("valid_mlm_ppl".to_owned(), valid_mlm_ppl)]);
        for s in &langs {
            metrics.insert(format!("valid_{}_mlm_ppl", s.lang), s.ppl);
            metrics.insert(format!("valid_{}_mlm_acc", s.lang), s.acc);
        }
        Ok((
            MlmValid {
                langs,
                valid_mlm_ppl,
            },
            metrics,
        ))
    }

    fn model_metadata(&self, epoch: usize) -> HashMap<String, String> {
        model_metadata(self.config, epoch)
    }
}

/// Trains (or resumes) a masked LM on the scaffold: stops on `valid_mlm_ppl` (lower is
/// better) with `patience`, constant learning rate, as XLM's MLM runs.
pub fn train<B: AutodiffBackend>(
    settings: &MlmSettings,
    langs: &[Language],
    init: &ModelInit,
    files: &RunFiles<'_>,
    device: &B::Device,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<Outcome<MlmValid>, TrainError> {
    if langs.is_empty() {
        return Err(TrainError::Step {
            kind: "mlm".into(),
            reason: "no languages given".into(),
        });
    }
    let scaffold = ScaffoldSettings {
        epoch_size: settings.epoch_size,
        max_epochs: settings.max_epochs,
        criterion: Criterion {
            metric: "valid_mlm_ppl".into(),
            direction: Direction::Lower,
            patience: settings.patience,
        },
        clip_grad_norm: settings.clip_grad_norm,
        adam: settings.adam,
        lr: LrSchedule::Constant,
        row_masks: init.row_masks.clone(),
        peers: settings.peers,
    };
    let fresh = initial_model::<B>(init, settings.seed, settings.freeze_embeddings, device)?;
    let mut objective = MlmObjective {
        settings,
        langs,
        config: &init.config,
        device: device.clone(),
    };
    scaffold::run::<B, _>(&mut objective, fresh, &scaffold, files, device, on_event)
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
    let hidden = model.forward(TransformerInput::encoder(&batch));
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

/// Reads the model configuration stored in a checkpoint's metadata.
pub fn read_config(
    path: &Path,
) -> Result<(TransformerConfig, BTreeMap<String, checkpoint::HostTensor>), TrainError> {
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
            train_langs: vec![0, 1],
            eval_batch: 4,
            peers: 1,
        }
    }

    fn init() -> ModelInit {
        ModelInit {
            config: TransformerConfig::new(40, 2, 16, 1, 2),
            reload: None,
            aligned: None,
            trainable: vec!["*".into()],
            row_masks: Vec::new(),
        }
    }

    fn files<'a>(dir: &'a Path, fingerprint: &'static str, stop: Option<usize>) -> RunFiles<'a> {
        RunFiles {
            dir,
            fingerprint,
            stop_after_epochs: stop,
            stop_after_iterations: None,
        }
    }

    fn run(
        s: &MlmSettings,
        init: &ModelInit,
        dir: &Path,
        stop: Option<usize>,
    ) -> Outcome<MlmValid> {
        let f = files(dir, "test", stop);
        train::<Ad>(s, &languages(), init, &f, &Default::default(), &mut |_| {}).unwrap()
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
        assert!(h[2].train_loss() < h[0].train_loss(), "{h:?}");
        assert!(h[2].valid.valid_mlm_ppl < h[0].valid.valid_mlm_ppl, "{h:?}");
        // 80 sentences per epoch at 4 per update = 20 updates (10 iterations x 2 languages)
        assert_eq!(h[0].steps, 20);
        assert!(out.best.exists() && out.last.exists());
    }

    /// A short run on 2 data-parallel peers (dropout on) follows the 1-peer run: the same
    /// losses, perplexities and weights up to float summation order.
    #[test]
    fn two_peers_train_like_one() {
        let mut init = init();
        init.config.dropout = 0.1;
        init.config.attention_dropout = 0.1;
        let mut s = settings();
        s.max_epochs = 2;
        let one_dir = tempfile::tempdir().unwrap();
        let one = run(&s, &init, one_dir.path(), None);
        s.peers = 2;
        let two_dir = tempfile::tempdir().unwrap();
        let two = run(&s, &init, two_dir.path(), None);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-4 * a.abs().max(1.0);
        for (a, b) in one.history.iter().zip(&two.history) {
            assert_eq!(a.steps, b.steps);
            assert!(close(a.train_loss(), b.train_loss()), "{a:?}\n{b:?}");
            assert!(
                close(a.valid.valid_mlm_ppl, b.valid.valid_mlm_ppl),
                "{a:?}\n{b:?}"
            );
        }
        let (wa, wb) = (params(&one.last), params(&two.last));
        // The key bias's true gradient is 0 (softmax ignores a constant per query): it gets
        // rounding noise only, which Adam scales up to full steps, differently per run.
        for (name, a) in wa.iter().filter(|(n, _)| !n.ends_with("k_lin.bias")) {
            let worst = a
                .values
                .iter()
                .zip(&wb[name].values)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-6, "{name}: {worst}");
        }
        // Dropout was on: the same run without it is not this close.
        s.peers = 1;
        init.config.dropout = 0.0;
        init.config.attention_dropout = 0.0;
        let other_dir = tempfile::tempdir().unwrap();
        let other = run(&s, &init, other_dir.path(), None);
        assert!(!close(
            one.history[1].train_loss(),
            other.history[1].train_loss()
        ));
    }

    #[test]
    fn frozen_embeddings_stay_bit_identical() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings();
        s.freeze_embeddings = true;
        s.max_epochs = 1;
        let before = named_parameters(
            &initial_model::<Ad>(&init(), s.seed, true, &Default::default()).unwrap(),
        );
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
            let before = named_parameters(
                &initial_model::<Ad>(&i, s.seed, false, &Default::default()).unwrap(),
            );
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
        let m = initial_model::<Ad>(&i, 3, false, &Default::default()).unwrap();
        let emb = &named_parameters(&m)["embeddings.weight"];
        assert_eq!(emb.values[16..32], v[..]);
        assert_eq!(
            emb.values[20 * 16..21 * 16],
            v.iter().map(|x| -x).collect::<Vec<_>>()[..]
        );
        let plain = initial_model::<Ad>(&init(), 3, false, &Default::default()).unwrap();
        let emb0 = &named_parameters(&plain)["embeddings.weight"];
        assert_eq!(
            emb.values[32..48],
            emb0.values[32..48],
            "other rows keep the random init"
        );
    }

    /// The tensors that differ after one epoch, for a set of trainable patterns.
    fn changed_after_training(trainable: &[&str], freeze: bool) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings();
        s.max_epochs = 1;
        s.freeze_embeddings = freeze;
        let mut i = init();
        i.trainable = trainable.iter().map(|p| (*p).to_owned()).collect();
        let before = named_parameters(
            &initial_model::<Ad>(&i, s.seed, freeze, &Default::default()).unwrap(),
        );
        let after = params(&run(&s, &i, dir.path(), None).last);
        before
            .iter()
            .filter(|(k, v)| after.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .collect()
    }

    #[test]
    fn only_the_trainable_parameters_change() {
        let all = changed_after_training(&["*"], false);
        assert!(all.contains(&"embeddings.weight".to_owned()), "{all:?}");
        assert!(all.iter().any(|k| k.starts_with("layers.0.")), "{all:?}");
        let frozen = changed_after_training(&["*"], true);
        assert!(
            !frozen.contains(&"embeddings.weight".to_owned()),
            "{frozen:?}"
        );
        assert_eq!(frozen.len(), all.len() - 1, "{frozen:?} vs {all:?}");
        let bias_only = changed_after_training(&["pred_bias", "layer_norm_emb.*"], false);
        assert_eq!(
            bias_only,
            ["layer_norm_emb.beta", "layer_norm_emb.gamma", "pred_bias"],
            "{bias_only:?}"
        );
    }

    #[test]
    fn adapter_fine_tuning_trains_adapters_embeddings_and_output_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings();
        s.max_epochs = 1;
        let mut i = init();
        i.config.adapter_size = Some(4);
        i.trainable = trainable::expand(&["adapters".to_owned()]);
        let before =
            named_parameters(&initial_model::<Ad>(&i, s.seed, false, &Default::default()).unwrap());
        let after = params(&run(&s, &i, dir.path(), None).last);
        let changed: Vec<&String> = before
            .keys()
            .filter(|k| after.get(*k) != before.get(*k))
            .collect();
        for k in before.keys() {
            let trains = k.contains(".adapter_")
                || [
                    "embeddings.weight",
                    "position_embeddings.weight",
                    "pred_bias",
                ]
                .contains(&k.as_str())
                || k.starts_with("layer_norm_emb.");
            assert_eq!(changed.contains(&k), trains, "{k}: changed {changed:?}");
        }
    }

    #[test]
    fn masked_rows_stay_as_they_are_and_the_others_train() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings();
        s.max_epochs = 1;
        let mut i = init();
        // Rows 0..30 frozen (the "pretrained" tokens), 30..40 train.
        let rows: Vec<bool> = (0..40).map(|r| r >= 30).collect();
        i.row_masks = ["embeddings.weight", "pred_bias"]
            .iter()
            .map(|p| RowMask {
                param: (*p).to_owned(),
                rows: rows.clone(),
            })
            .collect();
        let before =
            named_parameters(&initial_model::<Ad>(&i, s.seed, false, &Default::default()).unwrap());
        let after = params(&run(&s, &i, dir.path(), None).last);
        let (b, a) = (&before["embeddings.weight"], &after["embeddings.weight"]);
        assert_eq!(b.values[..30 * 16], a.values[..30 * 16]);
        assert_ne!(b.values[30 * 16..], a.values[30 * 16..]);
        let (b, a) = (&before["pred_bias"], &after["pred_bias"]);
        assert_eq!(b.values[..30], a.values[..30]);
        assert_ne!(b.values[30..], a.values[30..]);
        assert_ne!(
            before["layers.0.ffn.lin1.weight"], after["layers.0.ffn.lin1.weight"],
            "other parameters still train"
        );
    }

    #[test]
    fn an_evaluated_only_language_is_scored_but_not_trained() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings();
        s.max_epochs = 1;
        s.train_langs = vec![1];
        let out = run(&s, &init(), dir.path(), None);
        let v = &out.history[0].valid;
        assert_eq!(v.langs.len(), 2, "both languages are validated");
        assert_eq!(
            v.valid_mlm_ppl, v.langs[1].ppl,
            "the criterion is the trained one's"
        );
        // One update per iteration now: 20 iterations of one language.
        assert_eq!(out.history[0].steps, 20);
    }

    #[test]
    fn a_reloaded_model_keeps_its_rows_and_grows_new_ones() {
        use crate::text::bpe::Vocab;
        let dico = |n: usize| {
            let entries = (0..n).map(|i| (format!("w{i}"), 1000 - i as u64)).collect();
            Dictionary::from_vocab(&Vocab { entries }).unwrap()
        };
        let (old_dico, new_dico) = (dico(26), dico(30));
        let old =
            named_parameters(&initial_model::<Ad>(&init(), 1, false, &Default::default()).unwrap());
        let mut i = init();
        i.config.n_words = new_dico.len();
        i.reload = Some(Reload {
            tensors: old.clone(),
            old_dico: old_dico.clone(),
            new_dico,
            new_rows: NewRows::Normal,
        });
        let grown =
            named_parameters(&initial_model::<Ad>(&i, 2, false, &Default::default()).unwrap());
        let (n_old, dim) = (old_dico.len(), 16);
        let emb = &grown["embeddings.weight"].values;
        assert_eq!(emb[..n_old * dim], old["embeddings.weight"].values[..]);
        assert_eq!(grown["embeddings.weight"].shape, [n_old + 4, dim]);
        let bias = &grown["pred_bias"].values;
        assert_eq!(bias[..n_old], old["pred_bias"].values[..]);
        assert!(bias[n_old..].iter().all(|&b| b == 0.0));
        assert_eq!(
            grown["layers.0.ffn.lin1.weight"],
            old["layers.0.ffn.lin1.weight"]
        );
    }

    #[test]
    fn checkpoint_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let a = initial_model::<Cpu>(&init(), 1, false, &Default::default()).unwrap();
        checkpoint::save_module(&a, &path, HashMap::new()).unwrap();
        let b = initial_model::<Cpu>(&init(), 2, false, &Default::default()).unwrap();
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
                .map(|r| (r.train_loss(), r.valid.valid_mlm_ppl))
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&a.history), strip(&b.history));
    }

    /// Ctrl-C inside an epoch: a checkpoint at that update, from which the rerun ends with
    /// the weights and history of a run that never stopped.
    #[test]
    fn run_cut_short_inside_an_epoch_resumes_to_the_uninterrupted_weights() {
        let s = settings();
        let whole = tempfile::tempdir().unwrap();
        let a = run(&s, &init(), whole.path(), None);
        let split = tempfile::tempdir().unwrap();
        let mut f = files(split.path(), "test", None);
        // Epochs of 80 sentences, 8 per iteration (an update of 4 per language): iteration
        // 27 is inside the third.
        f.stop_after_iterations = Some(27);
        let err = train::<Ad>(
            &s,
            &languages(),
            &init(),
            &f,
            &Default::default(),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                TrainError::Interrupted {
                    epoch: 3,
                    updates: 54
                }
            ),
            "{err}"
        );
        let mut log = Vec::new();
        let f = files(split.path(), "test", None);
        let b = train::<Ad>(
            &s,
            &languages(),
            &init(),
            &f,
            &Default::default(),
            &mut |e| {
                if let crate::train::scaffold::TrainEvent::Log(l) = e {
                    log.push(l);
                }
            },
        )
        .unwrap();
        assert!(
            log[0].starts_with("resuming inside epoch 3 (54 updates)"),
            "{log:?}"
        );
        assert_eq!(params(&a.last), params(&b.last));
        assert_eq!(params(&a.best), params(&b.best));
        let strip = |h: &[EpochReport]| {
            h.iter()
                .map(|r| (r.train_loss(), r.valid.valid_mlm_ppl))
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&a.history), strip(&b.history));
        let leftovers: Vec<_> = std::fs::read_dir(split.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".u"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn checkpoint_of_another_run_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings();
        s.max_epochs = 1;
        run(&s, &init(), dir.path(), None);
        let f = files(dir.path(), "other", None);
        let err = train::<Ad>(
            &s,
            &languages(),
            &init(),
            &f,
            &Default::default(),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("other settings"), "{err}");
    }
}
