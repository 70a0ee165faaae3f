//! `unmt tokenize --lang L [--detok] [--threads N]`: standard input to standard output.

use std::io::{BufReader, BufWriter};

use super::detokenize::MosesDetokenizer;
use super::error::MosesError;
use super::params::validate_lang;
use super::pipeline::MosesPipeline;
use super::stream::{detokenize_stream, tokenize_stream};

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
    pub threads: Option<usize>,
}

/// Runs XLM's Moses chain (or the detokenizer) over standard input, writing standard
/// output, in input order.
pub fn run(args: &TokenizeArgs) -> Result<(), MosesError> {
    let threads = match args.threads {
        Some(0) => {
            return Err(MosesError::InvalidParam {
                field: "threads",
                reason: "expected at least 1".to_string(),
            });
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
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
    use super::*;

    #[test]
    fn zero_threads_is_rejected_before_reading_input() {
        let args = TokenizeArgs {
            lang: "en".to_string(),
            detok: false,
            threads: Some(0),
        };
        assert!(matches!(
            run(&args),
            Err(MosesError::InvalidParam {
                field: "threads",
                ..
            })
        ));
    }
}
