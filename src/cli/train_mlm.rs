//! `unmt train-mlm`: one MLM training job outside a recipe.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::error::Error;
use crate::stages::{ParamsArgError, params_from_args};
use crate::train::job::{self, MlmInputs, MlmOutputs, MlmParams};
use crate::train::mlm::TrainEvent;

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
    let summary = job::run(&params, &inputs, &outputs, &ckpt, &mut |e| match e {
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
            bar.set_message(crate::train::mlm::status_line(loss, tokens_per_s));
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
