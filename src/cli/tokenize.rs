//! `unmt tokenize --lang L [--detok] [--threads N]`: standard input to standard output.

use std::io::{BufReader, BufWriter};

use crate::text::moses::{
    MosesDetokenizer, MosesError, MosesPipeline, detokenize_stream, tokenize_stream, validate_lang,
};

/// Arguments of `unmt tokenize`.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenizeArgs {
    /// Language code (en, mk, sq, ...); languages without their own Moses rules fall back
    /// exactly as sacremoses does (English nonbreaking prefixes, generic apostrophes).
    #[arg(long)]
    pub lang: String,
    /// Detokenize (Moses detokenizer) instead of normalising and tokenizing.
    #[arg(long)]
    pub detok: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<std::num::NonZeroUsize>,
}

/// Runs XLM's Moses chain (or the detokenizer) over standard input, writing standard
/// output, in input order.
pub fn run(args: &TokenizeArgs) -> Result<(), MosesError> {
    let threads = args
        .threads
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, std::num::NonZeroUsize::get);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|source| MosesError::ThreadPool { threads, source })?;
    // Unlocked handles: the run happens on a pool thread, and the locks are not `Send`.
    let reader = BufReader::with_capacity(1 << 20, std::io::stdin());
    let writer = BufWriter::with_capacity(1 << 20, std::io::stdout());
    let quiet = |_: u64, _: u64| {};
    if args.detok {
        validate_lang(&args.lang)?;
        let detokenizer = MosesDetokenizer::new(&args.lang);
        pool.install(|| detokenize_stream(reader, writer, &detokenizer, &quiet))?;
    } else {
        let pipeline = MosesPipeline::new(&args.lang)?;
        pool.install(|| tokenize_stream(reader, writer, &pipeline, &quiet))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::Cli;

    #[test]
    fn zero_threads_is_rejected_before_reading_input() {
        let err = Cli::try_parse_from(["unmt", "tokenize", "--lang", "en", "--threads", "0"])
            .expect_err("0 threads");
        assert!(err.to_string().contains("--threads"), "{err}");
    }
}
