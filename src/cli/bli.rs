//! `unmt bli`: P@1/5/10 (NN, CSLS) of two `.vec` files on a dictionary, MUSE's protocol.

use std::path::PathBuf;

use crate::embed::bli::{BliError, BliParams, evaluate, read_dictionary};
use crate::embed::vec_format::read_vec;

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
    /// Distinct words kept per side (MUSE `max_vocab`).
    #[arg(long, default_value_t = 200_000)]
    pub max_vocab: usize,
    /// Write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Runs `unmt bli`: prints coverage and P@1/5/10 (NN and CSLS) to stdout.
pub fn run(args: &BliArgs) -> Result<(), BliError> {
    let params = BliParams {
        max_vocab: args.max_vocab,
        ..BliParams::default()
    };
    // Distinct words <= lines, so reading max_vocab lines is not enough when the file has
    // duplicates; read everything and let `evaluate` cut by distinct words.
    let src = read_vec(&args.src_emb, None)?;
    let trg = read_vec(&args.trg_emb, None)?;
    let dict = read_dictionary(&args.dict)?;
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
    for (name, p) in [("nn", r.nn), ("csls_knn_10", r.csls)] {
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
