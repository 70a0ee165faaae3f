//! `unmt train-unmt`: one UNMT training job outside a recipe.

use std::path::PathBuf;

use clap::Args;

use super::train_mlm::EpochBar;
use crate::error::Error;
use crate::stages::params_from_args;
use crate::train::report::Reporter;
use crate::train::unmt::{self, UnmtInputs, UnmtOutputs, UnmtParams};

/// Arguments of `unmt train-unmt`: the files, and the `unmt` stage's own parameters (unset
/// ones take its documented defaults, the paper's; `unmt stages` lists them).
#[derive(Debug, Args)]
pub struct TrainUnmtArgs {
    /// The MLM checkpoint to start from (`best.safetensors` of `train-mlm` or an `mlm` node).
    #[arg(long)]
    pub model: PathBuf,
    /// The vocabulary the MLM was trained with.
    #[arg(long)]
    pub vocab: PathBuf,
    /// Binarized monolingual training data, one per language (repeat, in `langs` order).
    #[arg(long, required = true)]
    pub train: Vec<PathBuf>,
    /// BPE-segmented validation text, one per language, line-aligned (repeat).
    #[arg(long, required = true)]
    pub valid: Vec<PathBuf>,
    /// Raw validation references, one per language (repeat).
    #[arg(long, required = true)]
    pub refs: Vec<PathBuf>,
    /// Output directory: best/last `.safetensors`, `config.json`, `history.json`,
    /// `hypotheses/`; checkpoints in `checkpoints/` (rerunning resumes from them).
    #[arg(long)]
    pub out: PathBuf,
    /// A TOML file of `unmt` parameters, as a recipe node's `params` table.
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
    /// One `unmt` parameter as KEY=VALUE (TOML value; repeatable, applied after `--params`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// Runs `unmt train-unmt`.
pub fn run(args: &TrainUnmtArgs) -> Result<(), Error> {
    let params: UnmtParams =
        params_from_args(toml::Table::new(), args.params.as_deref(), &args.set)?;
    let out = &args.out;
    let ckpt = out.join("checkpoints");
    std::fs::create_dir_all(&ckpt).map_err(|source| Error::Io {
        action: "create",
        path: ckpt.clone(),
        source,
    })?;
    let inputs = UnmtInputs {
        model: args.model.clone(),
        vocab: args.vocab.clone(),
        train: args.train.clone(),
        valid: args.valid.clone(),
        refs: args.refs.clone(),
    };
    let outputs = UnmtOutputs {
        best: out.join("best.safetensors"),
        last: out.join("last.safetensors"),
        config: out.join("config.json"),
        history: out.join("history.json"),
        hypotheses: out.join("hypotheses"),
    };
    let mut reporter = Reporter::new(EpochBar::new());
    let summary = unmt::run(&params, &inputs, &outputs, &ckpt, &mut |e| {
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
