//! `unmt skipgram`: train vectors from the command line with fastText-named flags.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::embed::skipgram::{SkipgramError, SkipgramParams, Vocab, ngram_rows, train};
use crate::validate::{InvalidParam, Validate};

/// Arguments of `unmt skipgram` (flags named after fastText's; unset flags keep
/// fastText's skip-gram defaults, see [`SkipgramParams`]).
#[derive(Debug, Clone, clap::Args)]
pub struct SkipgramArgs {
    /// Training text file; repeat to train one model over several files (joint fastText).
    #[arg(long, required = true)]
    pub input: Vec<PathBuf>,
    /// Output prefix: writes PREFIX.vec (fastText text) and PREFIX.safetensors.
    #[arg(long, required_unless_present = "print_subwords")]
    pub output: Option<PathBuf>,
    /// Embedding dimension [default: 100].
    #[arg(long)]
    pub dim: Option<usize>,
    /// Initial learning rate [default: 0.05].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Maximum context window [default: 5].
    #[arg(long)]
    pub ws: Option<usize>,
    /// Number of epochs [default: 5].
    #[arg(long)]
    pub epoch: Option<usize>,
    /// Minimum word count [default: 5].
    #[arg(long = "min-count")]
    pub min_count: Option<u64>,
    /// Negatives per positive [default: 5].
    #[arg(long)]
    pub neg: Option<usize>,
    /// Character n-gram hash buckets [default: 2000000].
    #[arg(long)]
    pub bucket: Option<u32>,
    /// Minimum n-gram length [default: 3].
    #[arg(long)]
    pub minn: Option<usize>,
    /// Maximum n-gram length, 0 = no subwords [default: 6].
    #[arg(long)]
    pub maxn: Option<usize>,
    /// Training threads, 0 = all cores [default: 0].
    #[arg(long)]
    pub thread: Option<usize>,
    /// Subsampling threshold [default: 1e-4].
    #[arg(long)]
    pub t: Option<f64>,
    /// Tokens between learning-rate updates [default: 100].
    #[arg(long = "lr-update-rate")]
    pub lr_update_rate: Option<u64>,
    /// Random seed [default: 0].
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<i32>,
    /// Debug: print `word<TAB>count<TAB>rows` (input-matrix rows: word id, then n-gram rows)
    /// for every vocabulary word to stdout and exit without training.
    #[arg(long, hide = true)]
    pub print_subwords: bool,
}

impl SkipgramArgs {
    /// fastText defaults overridden by the given flags.
    pub fn params(&self) -> SkipgramParams {
        let d = SkipgramParams::default();
        SkipgramParams {
            lr: self.lr.unwrap_or(d.lr),
            dim: self.dim.unwrap_or(d.dim),
            ws: self.ws.unwrap_or(d.ws),
            epoch: self.epoch.unwrap_or(d.epoch),
            min_count: self.min_count.unwrap_or(d.min_count),
            neg: self.neg.unwrap_or(d.neg),
            word_ngrams: d.word_ngrams,
            bucket: self.bucket.unwrap_or(d.bucket),
            minn: self.minn.unwrap_or(d.minn),
            maxn: self.maxn.unwrap_or(d.maxn),
            thread: self.thread.unwrap_or(d.thread),
            lr_update_rate: self.lr_update_rate.unwrap_or(d.lr_update_rate),
            t: self.t.unwrap_or(d.t),
            seed: self.seed.unwrap_or(d.seed),
        }
    }
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = OsString::from(prefix.as_os_str());
    s.push(suffix);
    PathBuf::from(s)
}

fn print_subwords(inputs: &[PathBuf], params: &SkipgramParams) -> Result<(), SkipgramError> {
    let vocab = Vocab::from_files(inputs, params.min_count)?;
    let stdout = PathBuf::from("<stdout>");
    let err = |source| SkipgramError::Write {
        path: stdout.clone(),
        source,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut rows = Vec::new();
    for (i, (w, c)) in vocab.words().iter().zip(vocab.counts()).enumerate() {
        rows.clear();
        rows.push(i as u32);
        ngram_rows(
            w,
            params.minn,
            params.maxn,
            params.effective_bucket(),
            vocab.len() as u32,
            &mut rows,
        );
        let ids: Vec<String> = rows.iter().map(u32::to_string).collect();
        writeln!(out, "{w}\t{c}\t{}", ids.join(" ")).map_err(err)?;
    }
    out.flush().map_err(err)
}

/// Runs `unmt skipgram`: trains, writes PREFIX.vec and PREFIX.safetensors, and prints
/// fastText-style figures (words, tokens, words/sec/thread, loss) to stderr.
pub fn run(args: &SkipgramArgs) -> Result<(), SkipgramError> {
    let params = args.params();
    params.validate()?;
    if args.print_subwords {
        return print_subwords(&args.input, &params);
    }
    let Some(prefix) = args.output.as_deref() else {
        // clap requires `--output` unless `--print-subwords`; this is the library's check.
        let missing = InvalidParam::new("output", "an output prefix is required");
        return Err(missing.into());
    };
    let model = train(&args.input, &params, &|_, _| {})?;
    model.write_vec(&with_suffix(prefix, ".vec"))?;
    model.write_safetensors(&with_suffix(prefix, ".safetensors"))?;
    let s = model.stats();
    eprintln!("Number of words:  {}", s.nwords);
    eprintln!("Number of tokens: {}", s.ntokens);
    eprintln!(
        "Threads: {}  train time: {:.3}s  words/sec/thread: {:.0}  loss: {:.6}",
        s.threads, s.train_seconds, s.words_per_sec_per_thread, s.loss
    );
    Ok(())
}
