//! `unmt translate`: raw text on stdin, translations on stdout, line by line.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use burn::tensor::backend::AutodiffBackend;
use clap::Args;

use crate::error::Error;
use crate::stages::params_from_args;
use crate::text::bpe::{BpeApplier, Codes, Vocab};
use crate::text::moses::MosesPipeline;
use crate::train::device::{OnDevice, dispatch};
use crate::train::unmt::{TranslateError, TranslateParams, Translator};

/// Arguments of `unmt translate`. Each stdin line is normalised and tokenized as the
/// `tokenize` stage does for `--src`, segmented with `--codes` (restricted to `--vocab`, as
/// the `bpe_apply` stage does for validation text), translated, and written detokenized as
/// soon as it is done; an empty line gives an empty line. For files, the `translate` stage
/// batches many sentences per step and is faster.
#[derive(Debug, Args)]
pub struct TranslateArgs {
    /// The UNMT checkpoint (`best` of a `unmt` node or of `unmt train-unmt`).
    #[arg(long)]
    pub model: PathBuf,
    /// Its vocabulary.
    #[arg(long)]
    pub vocab: PathBuf,
    /// The BPE codes the vocabulary was built with.
    #[arg(long)]
    pub codes: PathBuf,
    /// Source language (one of the model's `langs`).
    #[arg(long)]
    pub src: String,
    /// Target language.
    #[arg(long)]
    pub tgt: String,
    /// Beam size (1: greedy). Default: 5.
    #[arg(long)]
    pub beam: Option<usize>,
    /// Any other `translate` parameter as KEY=VALUE (TOML value; repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// Runs `unmt translate`.
pub fn run(args: &TranslateArgs) -> Result<(), Error> {
    let mut implied = toml::Table::new();
    implied.insert("src".into(), args.src.clone().into());
    implied.insert("tgt".into(), args.tgt.clone().into());
    if let Some(b) = args.beam {
        implied.insert(
            "beam_size".into(),
            i64::try_from(b).unwrap_or(i64::MAX).into(),
        );
    }
    let params: TranslateParams = params_from_args(implied, None, &args.set)?;
    let codes = Codes::read(&args.codes)?;
    let vocab = Vocab::read(&args.vocab)?;
    let work = Work {
        args,
        params: &params,
        bpe: BpeApplier::new(&codes, Some(&vocab)),
        moses: MosesPipeline::new(&args.src)?,
    };
    dispatch(params.device, work).map_err(TranslateError::from)??;
    Ok(())
}

struct Work<'a> {
    args: &'a TranslateArgs,
    params: &'a TranslateParams,
    bpe: BpeApplier,
    moses: MosesPipeline,
}

impl OnDevice for Work<'_> {
    type Output = Result<(), Error>;

    fn run<B: AutodiffBackend>(self, device: &B::Device) -> Self::Output {
        let t = Translator::<B::InnerBackend>::load(
            &self.args.model,
            &self.args.vocab,
            self.params,
            device,
        )?;
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let io = |action, source| Error::Io {
            action,
            path: PathBuf::from("-"),
            source,
        };
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|e| io("read", e))?;
            let segmented = self.bpe.apply_line(&self.moses.tokenize_line(&line));
            let done = t.translate(&[segmented])?;
            if done.truncated > 0 {
                eprintln!("warning: a line longer than the model's positions was cut");
            }
            writeln!(out, "{}", done.detokenized[0]).map_err(|e| io("write", e))?;
            out.flush().map_err(|e| io("write", e))?;
        }
        Ok(())
    }
}
