//! Parameters of UNMT training: the `unmt` stage's and `unmt train-unmt`'s one struct.
//! Defaults are the paper's command (relm_unmt / lexical XLM README, reference section 7).

use serde::{Deserialize, Serialize};

use crate::backend::DeviceSpec;
use crate::train::noise::NoiseConfig;
use crate::train::schedule::{InverseSqrt, LambdaSchedule};
use crate::validate::{InvalidParam, Validate};

/// UNMT training parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnmtParams {
    /// Language names, one per `train` / `valid` / `refs` input, in the same order; they
    /// name metrics and are language-embedding ids 0, 1, ... as in the MLM. Default:
    /// `["en", "lmr"]`.
    pub langs: Vec<String>,
    /// `"cpu"` or `"cuda:N"`. Default: `"cpu"`.
    pub device: DeviceSpec,
    /// Denoising auto-encoding steps, one per language (XLM `--ae_steps`). Default: every
    /// language of `langs`; `[]` for none.
    pub ae_steps: Option<Vec<String>>,
    /// Online back-translation directions `l1-l2-l1` (XLM `--bt_steps`). Default: every
    /// ordered pair of `langs` (`en-mk-en`, `mk-en-mk` for two); `[]` for none.
    pub bt_steps: Option<Vec<String>>,
    /// Local shuffle distance (XLM `--word_shuffle`). Default: 3.
    pub word_shuffle: f64,
    /// Word dropout probability. Default: 0.1.
    pub word_dropout: f64,
    /// Word blanking probability. Default: 0.1.
    pub word_blank: f64,
    /// Weight of the AE loss by iteration (XLM `--lambda_ae`). Default:
    /// `"0:1,100000:0.1,300000:0"`.
    pub lambda_ae: LambdaSchedule,
    /// Tokens per training batch, both `</s>` included. Default: 1000.
    pub tokens_per_batch: usize,
    /// Longest training sentence in subwords; longer ones are dropped. Default: 100.
    pub max_len: usize,
    /// Peak learning rate of `adam_inverse_sqrt`. Default: 1e-4.
    pub lr: f64,
    /// Linear warm-up updates. Default: 4000.
    pub warmup_updates: u64,
    /// Learning rate of the first update. Default: 1e-7.
    pub warmup_init_lr: f64,
    /// Adam first-moment decay. Default: 0.9.
    pub beta1: f64,
    /// Adam second-moment decay. Default: 0.98.
    pub beta2: f64,
    /// Global gradient-norm clipping (0 = off). Default: 5.
    pub clip_grad_norm: f64,
    /// Sentences counted per update (XLM counts `batch_size` whatever the batch held).
    /// Default: 32.
    pub batch_size: usize,
    /// Data-parallel peers: each update's sentences are split over this many replicas, their
    /// gradients summed with Burn's all-reduce, one Adam step (XLM's multi-GPU training).
    /// Back-translations are generated once, on the whole batch. Equal to one peer's training
    /// up to float summation order without dropout; with dropout the masks differ (a shard
    /// pads to its own longest sentence). On the CPU the peers are threads sharing the node's
    /// cores; CUDA takes only 1 for now (one GPU per node). Default: 1.
    pub peers: usize,
    /// Sentences per epoch. Default: 50000.
    pub epoch_size: u64,
    /// Epoch limit. Default: 100000.
    pub max_epochs: usize,
    /// The metric early stopping watches (higher is better for `_bleu`, `_acc`, `_chrf`).
    /// Default: `valid_<l2>-<l1>_mt_bleu` for `langs = [l1, l2]`, e.g.
    /// `"valid_mk-en_mt_bleu"` (see [`UnmtParams::criterion`]).
    pub stopping_criterion: Option<String>,
    /// Epochs without improvement before stopping (XLM's counter must exceed it). Default: 10.
    pub patience: usize,
    /// Dropout in the encoder and decoder. Default: 0.1.
    pub dropout: f64,
    /// Attention dropout. Default: 0.1.
    pub attention_dropout: f64,
    /// Fresh language embeddings instead of the MLM's (RE-LM's code). Default: `false`.
    pub reinit_lang_embeddings: bool,
    /// Validation sentences per batch. Default: 32.
    pub eval_batch_size: usize,
    /// Seed of batching, noise, language order and dropout. Default: 0.
    pub seed: u64,
}

impl Default for UnmtParams {
    fn default() -> Self {
        Self {
            langs: vec!["en".into(), "lmr".into()],
            device: DeviceSpec::Cpu,
            ae_steps: None,
            bt_steps: None,
            word_shuffle: 3.0,
            word_dropout: 0.1,
            word_blank: 0.1,
            lambda_ae: LambdaSchedule::parse("0:1,100000:0.1,300000:0").unwrap_or_default(),
            tokens_per_batch: 1000,
            max_len: 100,
            lr: 1e-4,
            warmup_updates: 4000,
            warmup_init_lr: 1e-7,
            beta1: 0.9,
            beta2: 0.98,
            clip_grad_norm: 5.0,
            batch_size: 32,
            peers: 1,
            epoch_size: 50_000,
            max_epochs: 100_000,
            stopping_criterion: None,
            patience: 10,
            dropout: 0.1,
            attention_dropout: 0.1,
            reinit_lang_embeddings: false,
            eval_batch_size: 32,
            seed: 0,
        }
    }
}

/// A back-translation direction `l1-l2-l1`: `l1` sentences are translated to `l2` and back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtDirection {
    /// Index of `l1` in `langs`.
    pub src: usize,
    /// Index of `l2`.
    pub via: usize,
}

impl UnmtParams {
    /// The index of language `name`.
    pub fn lang_index(&self, name: &str) -> Option<usize> {
        self.langs.iter().position(|l| l == name)
    }

    /// `ae_steps` as language indices (validated).
    pub fn ae_langs(&self) -> Vec<usize> {
        match &self.ae_steps {
            None => (0..self.langs.len()).collect(),
            Some(steps) => steps.iter().filter_map(|l| self.lang_index(l)).collect(),
        }
    }

    /// `bt_steps` as directions (validated).
    pub fn bt_directions(&self) -> Vec<BtDirection> {
        match &self.bt_steps {
            None => (0..self.langs.len())
                .flat_map(|src| {
                    (0..self.langs.len())
                        .filter(move |&via| via != src)
                        .map(move |via| BtDirection { src, via })
                })
                .collect(),
            Some(steps) => steps.iter().filter_map(|s| self.parse_bt(s).ok()).collect(),
        }
    }

    /// The metric that picks the best epoch and stops training: `stopping_criterion`, by
    /// default `valid_<l2>-<l1>_mt_bleu` for `langs = [l1, l2, ..]` (the paper's
    /// `valid_mk-en_mt_bleu` for `["en", "mk"]`: into English).
    pub fn criterion(&self) -> String {
        match (&self.stopping_criterion, &self.langs[..]) {
            (Some(c), _) => c.clone(),
            (None, [l1, l2, ..]) => format!("valid_{l2}-{l1}_mt_bleu"),
            (None, _) => String::new(),
        }
    }

    fn parse_bt(&self, s: &str) -> Result<BtDirection, String> {
        let parts: Vec<&str> = s.split('-').collect();
        let [a, b, c] = parts[..] else {
            return Err(format!("`{s}` is not of the form `l1-l2-l1`"));
        };
        if a != c || a == b {
            return Err(format!("`{s}` must go from a language to another and back"));
        }
        let index = |l: &str| {
            self.lang_index(l)
                .ok_or_else(|| format!("`{s}` names `{l}`, which is not in `langs`"))
        };
        Ok(BtDirection {
            src: index(a)?,
            via: index(b)?,
        })
    }

    /// The noise configuration.
    pub fn noise(&self) -> NoiseConfig {
        NoiseConfig {
            word_shuffle: self.word_shuffle,
            word_dropout: self.word_dropout,
            word_blank: self.word_blank,
        }
    }

    /// The learning-rate schedule.
    pub fn schedule(&self) -> InverseSqrt {
        InverseSqrt {
            lr: self.lr,
            warmup_updates: self.warmup_updates,
            warmup_init_lr: self.warmup_init_lr,
        }
    }
}

impl Validate for UnmtParams {
    fn validate(&self) -> Result<(), InvalidParam> {
        if self.langs.len() < 2 {
            return Err(InvalidParam::new(
                "langs",
                "must name at least two languages",
            ));
        }
        for (i, l) in self.langs.iter().enumerate() {
            if self.langs[..i].contains(l) {
                return Err(InvalidParam::new("langs", format!("names `{l}` twice")));
            }
        }
        for l in self.ae_steps.iter().flatten() {
            if self.lang_index(l).is_none() {
                return Err(InvalidParam::new(
                    "ae_steps",
                    format!("names `{l}`, which is not in `langs`"),
                ));
            }
        }
        for s in self.bt_steps.iter().flatten() {
            self.parse_bt(s)
                .map_err(|m| InvalidParam::new("bt_steps", m))?;
        }
        if self.ae_langs().is_empty() && self.bt_directions().is_empty() {
            return Err(InvalidParam::new(
                "bt_steps",
                "there must be at least one AE or BT step",
            ));
        }
        let noise = self.noise();
        if !(noise.word_shuffle == 0.0 || noise.word_shuffle > 1.0)
            || !noise.word_shuffle.is_finite()
        {
            return Err(InvalidParam::new(
                "word_shuffle",
                "must be 0 or above 1 (XLM)",
            ));
        }
        for (name, p) in [
            ("word_dropout", self.word_dropout),
            ("word_blank", self.word_blank),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(InvalidParam::new(
                    name,
                    format!("must be in [0, 1), got {p}"),
                ));
            }
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
        let positive = [
            ("tokens_per_batch", self.tokens_per_batch),
            ("max_len", self.max_len),
            ("batch_size", self.batch_size),
            ("max_epochs", self.max_epochs),
            ("eval_batch_size", self.eval_batch_size),
            ("peers", self.peers),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(InvalidParam::new(name, "must be at least 1"));
            }
        }
        if self.peers > 1 && matches!(self.device, DeviceSpec::Cuda(_)) {
            return Err(InvalidParam::new(
                "peers",
                "more than 1 needs `device = \"cpu\"`: the scheduler gives a node one GPU",
            ));
        }
        // Compared without adding: `max_len + 2` would wrap for a huge value in release builds.
        if self.max_len > 510 {
            return Err(InvalidParam::new(
                "max_len",
                "must be at most 510 (learned positions)",
            ));
        }
        if self.epoch_size == 0 {
            return Err(InvalidParam::new("epoch_size", "must be at least 1"));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(InvalidParam::new(
                "lr",
                format!("must be positive, got {}", self.lr),
            ));
        }
        if !(self.warmup_init_lr > 0.0 && self.warmup_init_lr <= self.lr) {
            return Err(InvalidParam::new("warmup_init_lr", "must be in (0, lr]"));
        }
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(InvalidParam::new(
                    name,
                    format!("must be in [0, 1), got {b}"),
                ));
            }
        }
        if self.clip_grad_norm < 0.0 {
            return Err(InvalidParam::new("clip_grad_norm", "must be non-negative"));
        }
        if !metric_shape(&self.criterion(), &self.langs) {
            return Err(InvalidParam::new(
                "stopping_criterion",
                format!(
                    "`{}` is not `valid_SRC-TGT_mt_{{bleu,sacrebleu,chrf,acc,ppl}}` over `langs`",
                    self.criterion()
                ),
            ));
        }
        if !self.device.available() {
            return Err(InvalidParam::new(
                "device",
                format!("`{}` needs a build with `--features cuda`", self.device),
            ));
        }
        Ok(())
    }
}

/// Whether `metric` is a validation metric the UNMT objective reports for `langs`.
fn metric_shape(metric: &str, langs: &[String]) -> bool {
    let Some(rest) = metric.strip_prefix("valid_") else {
        return false;
    };
    let Some((pair, kind)) = rest.split_once("_mt_") else {
        return false;
    };
    let Some((a, b)) = pair.split_once('-') else {
        return false;
    };
    a != b
        && langs.iter().any(|l| l == a)
        && langs.iter().any(|l| l == b)
        && ["bleu", "sacrebleu", "chrf", "acc", "ppl"].contains(&kind)
}

/// Whether higher values of a UNMT validation metric are better (`_ppl` is the exception).
pub fn higher_is_better(metric: &str) -> bool {
    !metric.ends_with("_ppl")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_the_paper_s() {
        let p = UnmtParams::default();
        p.validate().expect("defaults validate");
        assert_eq!(
            p.bt_directions(),
            [
                BtDirection { src: 0, via: 1 },
                BtDirection { src: 1, via: 0 }
            ]
        );
        assert_eq!(
            (p.tokens_per_batch, p.epoch_size, p.beta2),
            (1000, 50_000, 0.98)
        );
    }

    #[test]
    fn default_steps_and_criterion_follow_langs() {
        let p = UnmtParams {
            langs: vec!["en".into(), "sq".into()],
            ..UnmtParams::default()
        };
        p.validate().expect("valid for any two languages");
        assert_eq!(p.ae_langs(), [0, 1]);
        assert_eq!(p.bt_directions().len(), 2);
        assert_eq!(p.criterion(), "valid_sq-en_mt_bleu");
        let only_ae = UnmtParams {
            bt_steps: Some(vec![]),
            ..p
        };
        only_ae.validate().expect("AE alone is a valid run");
        assert!(only_ae.bt_directions().is_empty());
    }

    #[test]
    fn steps_must_name_languages_with_data() {
        let bad = |f: fn(&mut UnmtParams)| {
            let mut p = UnmtParams::default();
            f(&mut p);
            p.validate().expect_err("invalid").field
        };
        assert_eq!(bad(|p| p.ae_steps = Some(vec!["sq".into()])), "ae_steps");
        assert_eq!(
            bad(|p| p.bt_steps = Some(vec!["en-sq-en".into()])),
            "bt_steps"
        );
        assert_eq!(
            bad(|p| p.bt_steps = Some(vec!["en-lmr".into()])),
            "bt_steps"
        );
        assert_eq!(
            bad(|p| {
                p.ae_steps = Some(vec![]);
                p.bt_steps = Some(vec![]);
            }),
            "bt_steps"
        );
        assert_eq!(
            bad(|p| p.stopping_criterion = Some("valid_mk-en_mt_bleu".into())),
            "stopping_criterion"
        );
        assert_eq!(bad(|p| p.word_shuffle = 0.5), "word_shuffle");
        assert_eq!(bad(|p| p.langs = vec!["en".into()]), "langs");
    }
}
