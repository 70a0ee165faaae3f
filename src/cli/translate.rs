//! `unmt translate`: raw text on stdin, translations on stdout, line by line.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use burn::tensor::backend::AutodiffBackend;
use clap::Args;

use crate::cache::Cache;
use crate::error::Error;
use crate::stages::params_from_args;
use crate::text::bpe::{BpeApplier, Codes, Vocab};
use crate::text::moses::MosesPipeline;
use crate::train::device::{OnDevice, dispatch};
use crate::train::unmt::bundle::ModelFiles;
use crate::train::unmt::{TranslateError, TranslateParams, Translator};

/// Arguments of `unmt translate`. Each stdin line is normalised and tokenized with the
/// model's Moses settings for `--src` (those of the `tokenize` nodes its training text went
/// through; XLM's defaults for a bare checkpoint), segmented with its BPE codes (restricted
/// to its vocabulary, as the `bpe_apply` stage does for validation text), translated, and
/// written detokenized as soon as it is done; an empty line gives an empty line. For files,
/// the `translate` stage batches many sentences per step and is faster.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("from").required(true).args(["node", "model"])))]
pub struct TranslateArgs {
    /// A `unmt` node that has run (name or key prefix, as for `unmt show`): its `best`
    /// checkpoint, vocabulary, BPE codes and tokenization come from the cache.
    #[arg(long)]
    pub node: Option<String>,
    /// The cache `--node` is looked up in.
    #[command(flatten)]
    pub cache: super::CacheArg,
    /// A model directory (`unmt export`), or a UNMT checkpoint file (`best` of a `unmt` node
    /// or of `unmt train-unmt`; then `--vocab` and `--codes` are needed).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The checkpoint file's vocabulary.
    #[arg(long, conflicts_with = "node")]
    pub vocab: Option<PathBuf>,
    /// The BPE codes the vocabulary was built with.
    #[arg(long, conflicts_with = "node")]
    pub codes: Option<PathBuf>,
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

/// Where the model's files are: from `--node`, a model directory, or three file arguments.
fn model_files(args: &TranslateArgs) -> Result<ModelFiles, Error> {
    if let Some(node) = &args.node {
        let found = crate::plan::find_model(&Cache::open(&args.cache.cache)?, node)?;
        warn_defaulted(&found.defaulted);
        return Ok(found.files);
    }
    let model = args.model.clone().unwrap_or_default();
    if ModelFiles::is_model_dir(&model) {
        if args.vocab.is_some() || args.codes.is_some() {
            return Err(Error::ModelDirArgs { dir: model });
        }
        return Ok(ModelFiles::open_dir(&model)?);
    }
    let (Some(vocab), Some(codes)) = (args.vocab.clone(), args.codes.clone()) else {
        return Err(Error::CheckpointNeedsFiles { model });
    };
    Ok(ModelFiles {
        model,
        vocab,
        codes,
        moses: std::collections::BTreeMap::new(),
    })
}

/// Says on stderr which languages use XLM's default Moses settings.
pub(super) fn warn_defaulted(langs: &[String]) {
    for l in langs {
        eprintln!(
            "warning: no `tokenize` node of this model has `lang = \"{l}\"`; {l} uses XLM's default Moses settings"
        );
    }
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
    let files = model_files(args)?;
    let codes = Codes::read(&files.codes)?;
    let vocab = Vocab::read(&files.vocab)?;
    let work = Work {
        files: &files,
        params: &params,
        bpe: BpeApplier::new(&codes, Some(&vocab)),
        moses: MosesPipeline::from_params(&files.moses_for(&args.src))?,
    };
    dispatch(params.device, work).map_err(TranslateError::from)??;
    Ok(())
}

struct Work<'a> {
    files: &'a ModelFiles,
    params: &'a TranslateParams,
    bpe: BpeApplier,
    moses: MosesPipeline,
}

impl OnDevice for Work<'_> {
    type Output = Result<(), Error>;

    fn run<B: AutodiffBackend>(self, device: &B::Device) -> Self::Output {
        let t = Translator::<B::InnerBackend>::load(
            &self.files.model,
            &self.files.vocab,
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
