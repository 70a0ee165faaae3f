//! `unmt binarize`: BPE-segmented text to XLM token ids, the `binarize` stage outside a
//! recipe. The file it writes is byte for byte the stage's `data` output for the same text,
//! vocabulary and `max_len`, so it is what `unmt train-mlm --train/--valid` reads:
//!
//! ```sh
//! unmt bpe apply --codes codes -i en.tok -o en.bpe
//! unmt bpe vocab en.bpe -o vocab
//! unmt binarize --vocab vocab -i en.bpe -o en.bin
//! unmt train-mlm --train en.bin --valid en.bin --vocab vocab --out mlm --set 'langs=["en"]'
//! ```

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::text::binarized::{self, BinarizeParams};
use crate::text::bpe::Vocab;
use crate::text::dictionary::Dictionary;

/// Arguments of `unmt binarize`.
#[derive(Debug, Clone, clap::Args)]
pub struct BinarizeArgs {
    /// The vocabulary (`unmt bpe vocab`, or a `vocab` node's output): XLM's dictionary is
    /// built from it, as the stage does; pass the same file to `train-mlm --vocab`.
    #[arg(long)]
    pub vocab: PathBuf,
    /// BPE-segmented text, one sentence per line (stdin when absent).
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// The binarized file to write.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Longest kept sentence in subwords (`</s>` excluded); longer and empty lines are
    /// dropped and counted (the stage's `max_len`).
    #[arg(long, default_value_t = BinarizeParams::default().max_len)]
    pub max_len: usize,
}

/// Runs `unmt binarize`: writes `--output` and prints what was kept and dropped on stdout.
pub fn run(args: &BinarizeArgs) -> Result<(), Error> {
    let vocab = Vocab::read(&args.vocab)?;
    let dico = Dictionary::from_vocab(&vocab)?;
    let params = BinarizeParams {
        max_len: args.max_len,
    };
    let none = |_: u64, _: u64| {};
    let meta = match args.input.as_deref().filter(|p| *p != Path::new("-")) {
        Some(input) => binarized::binarize_file(input, &dico, &params, &args.output, &none)?,
        None => binarized::binarize_reader(
            std::io::stdin().lock(),
            Path::new("-"),
            0,
            &dico,
            &params,
            &args.output,
            &none,
        )?,
    };
    println!(
        "{}: {} sentences, {} tokens ({} unknown) from {} lines; dropped {} empty, {} longer than {}",
        args.output.display(),
        meta.n_sentences,
        meta.n_tokens,
        meta.n_unk,
        meta.n_input_lines,
        meta.n_dropped_empty,
        meta.n_dropped_too_long,
        meta.max_len
    );
    Ok(())
}
