//! `unmt bli`: P@1/5/10 (NN, CSLS) of two `.vec` files on a dictionary, MUSE's protocol; with
//! `--codes`, of a subword embedding table on word dictionaries, as the `bli` stage does.

use std::path::PathBuf;

use crate::embed::bli::{self, BliError, BliParams, evaluate, read_dictionary};
use crate::embed::vec_format::read_vec;
use crate::error::Error;
use crate::text::bpe::Codes;

/// Arguments of `unmt bli`.
#[derive(Debug, Clone, clap::Args)]
pub struct BliArgs {
    /// Source embeddings (.vec).
    #[arg(long)]
    pub src_emb: PathBuf,
    /// Target embeddings (.vec).
    #[arg(long)]
    pub trg_emb: PathBuf,
    /// Dictionary, `src tgt` per line.
    #[arg(long)]
    pub dict: PathBuf,
    /// BPE codes: the embeddings are subword tables (an MLM's `embeddings.vec`, often given
    /// as both), each dictionary word is segmented alone and gets the mean of its subwords'
    /// rows, and the target search space is the dictionary's target words (the `bli` stage
    /// with its `codes` input).
    #[arg(long, value_name = "FILE")]
    pub codes: Option<PathBuf>,
    /// Distinct words kept per side (MUSE `max_vocab`; 0: all).
    #[arg(long, default_value_t = BliParams::default().max_vocab)]
    pub max_vocab: usize,
    /// CSLS neighbourhood size (the stage's `csls_k`).
    #[arg(long, value_name = "K", default_value_t = BliParams::default().csls_k)]
    pub csls_k: usize,
    /// Drop pairs whose two words are the same string (after lowercasing), as the stage's
    /// `*_cross` figures do: only cross-lingual signal is measured.
    #[arg(long)]
    pub skip_identical: bool,
    /// Write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Runs `unmt bli`: prints coverage and P@1/5/10 (NN and CSLS) to stdout.
pub fn run(args: &BliArgs) -> Result<(), Error> {
    let params = BliParams {
        max_vocab: args.max_vocab,
        csls_k: args.csls_k,
        skip_identical: args.skip_identical,
        ..BliParams::default()
    };
    // Distinct words <= lines, so reading max_vocab lines is not enough when the file has
    // duplicates; read everything and let `evaluate` cut by distinct words.
    let src = read_vec(&args.src_emb, None).map_err(BliError::from)?;
    let trg = read_vec(&args.trg_emb, None).map_err(BliError::from)?;
    let dict = read_dictionary(&args.dict)?;
    let (src, trg) = match &args.codes {
        Some(codes) => {
            let codes = Codes::read(codes)?;
            let sides = bli::dictionary_vectors_from_subwords(&src, &trg, &dict, &codes);
            for (side, emb, missing) in [
                ("source", &sides.src, sides.src_missing),
                ("target", &sides.trg, sides.trg_missing),
            ] {
                eprintln!(
                    "{side}: {} dictionary words embedded from subwords, {missing} without any known subword",
                    emb.words.len()
                );
            }
            (sides.src, sides.trg)
        }
        None => (src, trg),
    };
    let r = evaluate(&src, &trg, &dict, &params)?;
    println!(
        "coverage: {}/{} source words ({:.2}%), {}/{} pairs; vocab {} / {}",
        r.src_words_kept,
        r.src_words_total,
        100.0 * r.coverage,
        r.pairs_kept,
        r.pairs_total,
        r.src_vocab,
        r.trg_vocab
    );
    let csls = format!("csls_knn_{}", params.csls_k);
    for (name, p) in [("nn", r.nn), (csls.as_str(), r.csls)] {
        println!(
            "{name:>12}: P@1 {:6.2}  P@5 {:6.2}  P@10 {:6.2}",
            p.p1, p.p5, p.p10
        );
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&r).unwrap_or_default();
        std::fs::write(path, text).map_err(|source| BliError::Io {
            action: "write",
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}
