//! `unmt train-mlm`: one MLM training job outside a recipe.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::job::{self, Init, JobError, MlmInputs, MlmOutputs, MlmParams};
use super::mlm::TrainEvent;
use crate::backend::DeviceSpec;

/// Arguments of `unmt train-mlm`. Unset options take the `mlm` stage's defaults (the paper's).
#[derive(Debug, Args)]
pub struct TrainMlmArgs {
    /// Binarized training data, one per language (repeat, in `--langs` order).
    #[arg(long, required = true)]
    pub train: Vec<PathBuf>,
    /// Binarized validation data, one per language (repeat, in `--langs` order).
    #[arg(long, required = true)]
    pub valid: Vec<PathBuf>,
    /// Language names, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "en,lmr")]
    pub langs: Vec<String>,
    /// The vocabulary the data was binarized with.
    #[arg(long)]
    pub vocab: PathBuf,
    /// Aligned vectors (`.vec`); implies `--init aligned`.
    #[arg(long)]
    pub vectors: Option<PathBuf>,
    /// Output directory: best/last `.safetensors`, `config.json`, `embeddings.vec`,
    /// `history.json`; checkpoints in `checkpoints/` (rerunning resumes from them).
    #[arg(long)]
    pub out: PathBuf,
    /// `cpu` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceSpec,
    /// Keep the token embeddings (and the tied output weight) fixed.
    #[arg(long)]
    pub freeze_embeddings: bool,
    /// Model dimension.
    #[arg(long)]
    pub dim: Option<usize>,
    /// Layers.
    #[arg(long)]
    pub n_layers: Option<usize>,
    /// Attention heads.
    #[arg(long)]
    pub n_heads: Option<usize>,
    /// Positions per chunk.
    #[arg(long)]
    pub bptt: Option<usize>,
    /// Streams per batch.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Sentences per epoch (counted as batch_size per update).
    #[arg(long)]
    pub epoch_size: Option<u64>,
    /// Epoch limit.
    #[arg(long)]
    pub max_epochs: Option<usize>,
    /// Early-stopping patience in epochs.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Adam learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Dropout (attention dropout too).
    #[arg(long)]
    pub dropout: Option<f64>,
    /// Seed.
    #[arg(long)]
    pub seed: Option<u64>,
}

impl TrainMlmArgs {
    fn params(&self) -> MlmParams {
        let d = MlmParams::default();
        MlmParams {
            langs: self.langs.clone(),
            device: self.device,
            init: if self.vectors.is_some() {
                Init::Aligned
            } else {
                Init::Random
            },
            freeze_embeddings: self.freeze_embeddings,
            dim: self.dim.unwrap_or(d.dim),
            n_layers: self.n_layers.unwrap_or(d.n_layers),
            n_heads: self.n_heads.unwrap_or(d.n_heads),
            bptt: self.bptt.unwrap_or(d.bptt),
            batch_size: self.batch_size.unwrap_or(d.batch_size),
            epoch_size: self.epoch_size.unwrap_or(d.epoch_size),
            max_epochs: self.max_epochs.unwrap_or(d.max_epochs),
            patience: self.patience.unwrap_or(d.patience),
            lr: self.lr.unwrap_or(d.lr),
            dropout: self.dropout.unwrap_or(d.dropout),
            attention_dropout: self.dropout.unwrap_or(d.attention_dropout),
            seed: self.seed.unwrap_or(d.seed),
            ..d
        }
    }
}

/// Runs `unmt train-mlm`.
pub fn run(args: &TrainMlmArgs) -> Result<(), JobError> {
    let out = &args.out;
    let ckpt = out.join("checkpoints");
    std::fs::create_dir_all(&ckpt).map_err(|e| JobError::Output {
        path: ckpt.clone(),
        reason: e.to_string(),
    })?;
    let inputs = MlmInputs {
        train: args.train.clone(),
        valid: args.valid.clone(),
        vocab: args.vocab.clone(),
        vectors: args.vectors.clone(),
    };
    let outputs = MlmOutputs {
        best: out.join("best.safetensors"),
        last: out.join("last.safetensors"),
        config: out.join("config.json"),
        embeddings: out.join("embeddings.vec"),
        history: out.join("history.json"),
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "epoch {prefix} {wide_bar} {pos}/{len} sentences  {msg}  ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut epoch = 1;
    let summary = job::run(&args.params(), &inputs, &outputs, &ckpt, &mut |e| match e {
        TrainEvent::Log(line) => bar.suspend(|| eprintln!("{line}")),
        TrainEvent::Progress {
            done,
            total,
            loss,
            tokens_per_s,
        } => {
            bar.set_prefix(epoch.to_string());
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message(super::mlm::status_line(loss, tokens_per_s));
        }
        TrainEvent::Epoch(r) => {
            epoch = r.epoch + 1;
            bar.reset();
        }
    })?;
    bar.finish_and_clear();
    println!(
        "best epoch {} of {}; outputs in {}",
        summary.best_epoch,
        summary.history.len(),
        out.display()
    );
    Ok(())
}
