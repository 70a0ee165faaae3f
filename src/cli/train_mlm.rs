//! `unmt train-mlm`: one MLM training job outside a recipe.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::error::Error;
use crate::stages::{ParamsArgError, params_from_args};
use crate::train::job::{self, MlmInputs, MlmOutputs, MlmParams};
use crate::train::report::{Reporter, TrainSink};

/// Arguments of `unmt train-mlm`: the files, and the `mlm` stage's own parameters
/// (unset ones take its documented defaults, the paper's; `unmt stages` lists them).
#[derive(Debug, Args)]
pub struct TrainMlmArgs {
    /// Binarized training data, one per language (repeat, in `langs` order).
    #[arg(long, required = true)]
    pub train: Vec<PathBuf>,
    /// Binarized validation data, one per language (repeat, in `langs` order).
    #[arg(long, required = true)]
    pub valid: Vec<PathBuf>,
    /// The vocabulary the data was binarized with.
    #[arg(long)]
    pub vocab: PathBuf,
    /// Aligned vectors (`.vec`); `init` defaults to `"aligned"` when given.
    #[arg(long)]
    pub vectors: Option<PathBuf>,
    /// A pretrained model to start from (a `best.safetensors`), grown to `--vocab` (RE-LM
    /// fine-tuning on an extended vocabulary); needs `--reload-vocab`.
    #[arg(long, requires = "reload_vocab")]
    pub reload: Option<PathBuf>,
    /// The vocabulary the `--reload` model was trained with.
    #[arg(long, requires = "reload")]
    pub reload_vocab: Option<PathBuf>,
    /// Output directory: best/last `.safetensors`, `config.json`, `embeddings.vec`,
    /// `history.json`; checkpoints in `checkpoints/` (rerunning resumes from them).
    #[arg(long)]
    pub out: PathBuf,
    /// A TOML file of `mlm` parameters, as a recipe node's `params` table.
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
    /// One `mlm` parameter as KEY=VALUE (TOML value; repeatable, applied after `--params`):
    /// `--set dim=256 --set langs='["en","mk"]' --set device=cuda:0`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl TrainMlmArgs {
    fn params(&self) -> Result<MlmParams, ParamsArgError> {
        let mut implied = toml::Table::new();
        if self.vectors.is_some() {
            implied.insert("init".into(), toml::Value::String("aligned".into()));
        }
        params_from_args(implied, self.params.as_deref(), &self.set)
    }
}

/// Runs `unmt train-mlm`.
pub fn run(args: &TrainMlmArgs) -> Result<(), Error> {
    let params = args.params()?;
    let out = &args.out;
    let ckpt = out.join("checkpoints");
    std::fs::create_dir_all(&ckpt).map_err(|source| Error::Io {
        action: "create",
        path: ckpt.clone(),
        source,
    })?;
    let inputs = MlmInputs {
        train: args.train.clone(),
        valid: args.valid.clone(),
        vocab: args.vocab.clone(),
        vectors: args.vectors.clone(),
        reload: args.reload.clone().zip(args.reload_vocab.clone()),
    };
    let outputs = MlmOutputs {
        best: out.join("best.safetensors"),
        last: out.join("last.safetensors"),
        config: out.join("config.json"),
        embeddings: out.join("embeddings.vec"),
        history: out.join("history.json"),
    };
    let mut reporter = Reporter::new(EpochBar::new());
    let summary = job::run(&params, &inputs, &outputs, &ckpt, &mut |e| {
        reporter.event(e)
    })?;
    reporter.into_sink().0.finish_and_clear();
    println!(
        "best epoch {} of {}; outputs in {}",
        summary.best_epoch,
        summary.history.len(),
        out.display()
    );
    Ok(())
}

/// Training events on an indicatif bar per epoch; log lines above it.
pub(super) struct EpochBar(pub(super) ProgressBar);

impl EpochBar {
    pub(super) fn new() -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "epoch {prefix} {wide_bar} {pos}/{len} sentences  {msg}  ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Self(bar)
    }
}

impl TrainSink for EpochBar {
    fn log(&mut self, line: &str) {
        self.0.suspend(|| eprintln!("{line}"));
    }
    fn progress(&mut self, epoch: usize, done: u64, total: u64, status: &str) {
        self.0.set_prefix(epoch.to_string());
        self.0.set_length(total);
        self.0.set_position(done);
        self.0.set_message(status.to_owned());
    }
    fn epoch_done(&mut self, _epoch: usize) {
        self.0.reset();
    }
}
