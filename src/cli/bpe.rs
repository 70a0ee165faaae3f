//! `unmt bpe learn|apply|vocab`: command-line front end of the BPE module, mirroring fastBPE's
//! `learnbpe`, `applybpe` and `getvocab` commands.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::text::bpe::apply::{BpeApplier, apply_file};
use crate::text::bpe::codes::Codes;
use crate::text::bpe::error::BpeError;
use crate::text::bpe::learn::{LearnParams, learn_bpe};
use crate::text::bpe::vocab::{Vocab, get_vocab};

/// Arguments of `unmt bpe`.
#[derive(Debug, Clone, clap::Args)]
pub struct BpeArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: BpeCommand,
}

/// `unmt bpe` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum BpeCommand {
    /// Learn BPE merges from one or more corpora (joint = pooled word counts), like fastBPE
    /// `learnbpe`.
    Learn {
        /// Number of merges.
        #[arg(long, default_value_t = LearnParams::default().merges)]
        merges: usize,
        /// Input corpora (`-` = stdin).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output codes file (stdout when absent).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Apply BPE codes to a text, like fastBPE `applybpe`.
    Apply {
        /// Codes file.
        #[arg(long)]
        codes: PathBuf,
        /// Restrict the output to this vocabulary (`token count` lines).
        #[arg(long)]
        vocab: Option<PathBuf>,
        /// Input text (stdin when absent).
        #[arg(short, long)]
        input: Option<PathBuf>,
        /// Output text (stdout when absent).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Count tokens of one or more texts, like fastBPE `getvocab`.
    Vocab {
        /// Input texts (`-` = stdin).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output vocabulary (stdout when absent).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

/// Writes with `f` to `path`, or to stdout when `path` is `None` or `-`.
fn write_out(
    path: Option<&Path>,
    f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), BpeError> {
    match path.filter(|p| *p != Path::new("-")) {
        Some(p) => {
            let file = std::fs::File::create(p).map_err(|e| BpeError::write(p, e))?;
            let mut w = BufWriter::new(file);
            f(&mut w)
                .and_then(|()| w.flush())
                .map_err(|e| BpeError::write(p, e))
        }
        None => {
            let mut w = BufWriter::new(std::io::stdout().lock());
            f(&mut w)
                .and_then(|()| w.flush())
                .map_err(|e| BpeError::write("-", e))
        }
    }
}

/// Runs `unmt bpe ...`.
pub fn run(args: &BpeArgs) -> Result<(), BpeError> {
    match &args.command {
        BpeCommand::Learn {
            merges,
            files,
            output,
        } => {
            let params = LearnParams { merges: *merges };
            let codes = learn_bpe(files, &params, &|_, _| {})?;
            write_out(output.as_deref(), |w| codes.write_to(w))
        }
        BpeCommand::Apply {
            codes,
            vocab,
            input,
            output,
        } => {
            let codes = Codes::read(codes)?;
            let vocab = vocab.as_deref().map(Vocab::read).transpose()?;
            let applier = BpeApplier::new(&codes, vocab.as_ref());
            apply_file(&applier, input.as_deref(), output.as_deref(), &|_, _| {})?;
            Ok(())
        }
        BpeCommand::Vocab { files, output } => {
            let vocab = get_vocab(files, &|_, _| {})?;
            write_out(output.as_deref(), |w| vocab.write_to(w))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bpe: BpeArgs,
    }

    fn run_args(args: &[&str]) -> Result<(), BpeError> {
        let cli = Cli::try_parse_from(std::iter::once("unmt").chain(args.iter().copied()))
            .map_err(|e| crate::validate::InvalidParam::new("args", e.to_string()))?;
        run(&cli.bpe)
    }

    #[test]
    fn learn_apply_vocab_end_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
        std::fs::write(p("a.txt"), "low low low lower\n").unwrap();
        std::fs::write(p("b.txt"), "lowest low\n").unwrap();
        run_args(&[
            "learn",
            "--merges",
            "3",
            &p("a.txt"),
            &p("b.txt"),
            "-o",
            &p("codes"),
        ])
        .unwrap();
        // low x4, lower x1, lowest x1: (l,o)=6, then (lo,w</w>)=4, then a tie at 2 between
        // (lo,w) and (w,e); ids: l0 o1 w</w>2 (low), w3 e4 r</w>5 (lower), lo8 -> (w3,e4).
        assert_eq!(
            std::fs::read_to_string(p("codes")).unwrap(),
            "l o 6\nlo w</w> 4\nw e 2\n"
        );
        run_args(&[
            "apply",
            "--codes",
            &p("codes"),
            "-i",
            &p("a.txt"),
            "-o",
            &p("a.bpe"),
        ])
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(p("a.bpe")).unwrap(),
            "low low low lo@@ we@@ r\n"
        );
        run_args(&["vocab", &p("a.bpe"), "-o", &p("vocab")]).unwrap();
        assert_eq!(
            std::fs::read_to_string(p("vocab")).unwrap(),
            "low 3\nlo@@ 1\nr 1\nwe@@ 1\n"
        );
        assert!(matches!(
            run_args(&["apply", "--codes", &p("a.txt"), "-i", &p("a.txt")]),
            Err(BpeError::Malformed { line: 1, .. })
        ));
    }
}
