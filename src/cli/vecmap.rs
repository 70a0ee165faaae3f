//! `unmt vecmap`: command-line front end of [`crate::embed::vecmap::map`], mirroring
//! `map_embeddings.py (--identical | --unsupervised | --supervised DICT) SRC TRG SRC_OUT TRG_OUT`.

use std::path::PathBuf;

use super::values::serde_value;
use crate::embed::bli::read_dictionary;
use crate::embed::vec_format::{read_vec, write_vec};
use crate::embed::vecmap::normalize::NormalizeAction;
use crate::embed::vecmap::params::{Direction, Side, VecmapParams};
use crate::embed::vecmap::{VecmapError, map};
use crate::validate::Validate;

/// Seed choice: exactly one of `--identical` / `--unsupervised` / `--supervised DICT`.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct SeedArgs {
    /// Seed with identical strings, then self-learning (VecMap `--identical`).
    #[arg(long)]
    pub identical: bool,
    /// Seed from the similarity distributions of the most frequent words, no shared strings
    /// needed, then self-learning (VecMap `--unsupervised`).
    #[arg(long)]
    pub unsupervised: bool,
    /// Map with this `src trg` dictionary, no self-learning (VecMap `--supervised`).
    #[arg(long, value_name = "DICT")]
    pub supervised: Option<PathBuf>,
}

/// Arguments of `unmt vecmap`. Option flags override the recipe's defaults
/// ([`VecmapParams::default`] for `--identical`, [`VecmapParams::unsupervised`] for
/// `--unsupervised`, [`VecmapParams::supervised`] otherwise).
#[derive(Debug, Clone, clap::Args)]
pub struct VecmapArgs {
    #[command(flatten)]
    pub seed: SeedArgs,
    /// Source embeddings (.vec).
    pub src_vec: PathBuf,
    /// Target embeddings (.vec).
    pub trg_vec: PathBuf,
    /// Output: mapped source embeddings (.vec).
    pub src_out: PathBuf,
    /// Output: mapped target embeddings (.vec).
    pub trg_out: PathBuf,
    /// JSON file with [`VecmapParams`] fields (applied before the flags below).
    #[arg(long)]
    pub params: Option<PathBuf>,
    /// Read only the first N vectors of each file.
    #[arg(long)]
    pub max_words: Option<usize>,
    /// Normalisation actions, comma-separated (default unit,center,unit).
    #[arg(long, value_delimiter = ',', value_parser = serde_value::<NormalizeAction>)]
    pub normalize: Option<Vec<NormalizeAction>>,
    /// Whiten in the final mapping (default true).
    #[arg(long)]
    pub whiten: Option<bool>,
    #[arg(long)]
    pub src_reweight: Option<f64>,
    #[arg(long)]
    pub trg_reweight: Option<f64>,
    #[arg(long, value_parser = serde_value::<Side>)]
    pub src_dewhiten: Option<Side>,
    #[arg(long, value_parser = serde_value::<Side>)]
    pub trg_dewhiten: Option<Side>,
    /// Disable de-whitening on both sides (needed with `--whiten false`).
    #[arg(long)]
    pub no_dewhiten: bool,
    #[arg(long)]
    pub self_learning: Option<bool>,
    #[arg(long)]
    pub vocabulary_cutoff: Option<usize>,
    #[arg(long)]
    pub csls: Option<usize>,
    #[arg(long, value_parser = serde_value::<Direction>)]
    pub direction: Option<Direction>,
    #[arg(long)]
    pub threshold: Option<f64>,
    #[arg(long)]
    pub stochastic_initial: Option<f64>,
    #[arg(long)]
    pub stochastic_multiplier: Option<f64>,
    #[arg(long)]
    pub stochastic_interval: Option<usize>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    #[arg(long)]
    pub seed_value: Option<u64>,
    #[arg(long)]
    pub max_iterations: Option<usize>,
    /// Also write the run summary (iterations, objective, seed sample, time) as JSON here.
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
    /// Write the seed dictionary of the first iteration here (`SRC TRG` per line, in the
    /// order the mode builds it).
    #[arg(long, value_name = "FILE")]
    pub seed_out: Option<PathBuf>,
    /// With `--unsupervised`: words of each side the seed compares (VecMap 4000; 0 = all).
    #[arg(long)]
    pub unsupervised_vocab: Option<usize>,
}

impl VecmapArgs {
    /// The parameters these arguments select.
    pub fn params(&self) -> Result<VecmapParams, VecmapError> {
        let mut p = match &self.params {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| VecmapError::ParamsFile {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                serde_json::from_str(&text).map_err(|e| VecmapError::ParamsFile {
                    path: path.clone(),
                    message: e.to_string(),
                })?
            }
            None if self.seed.supervised.is_some() => VecmapParams::supervised(),
            None if self.seed.unsupervised => VecmapParams::unsupervised(),
            None => VecmapParams::default(),
        };
        p.mode = if self.seed.supervised.is_some() {
            crate::embed::vecmap::Mode::Supervised
        } else if self.seed.unsupervised {
            crate::embed::vecmap::Mode::Unsupervised
        } else {
            crate::embed::vecmap::Mode::Identical
        };
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f.clone() { p.$f = v; } )* };
        }
        set!(
            normalize,
            whiten,
            src_reweight,
            trg_reweight,
            self_learning,
            vocabulary_cutoff,
            csls,
            direction,
            threshold,
            stochastic_initial,
            stochastic_multiplier,
            stochastic_interval,
            batch_size,
            max_iterations,
            unsupervised_vocab
        );
        if let Some(s) = self.seed_value {
            p.seed = s;
        }
        if self.src_dewhiten.is_some() {
            p.src_dewhiten = self.src_dewhiten;
        }
        if self.trg_dewhiten.is_some() {
            p.trg_dewhiten = self.trg_dewhiten;
        }
        if self.no_dewhiten {
            p.src_dewhiten = None;
            p.trg_dewhiten = None;
        }
        p.validate()?;
        Ok(p)
    }
}

/// Runs `unmt vecmap`: reads both files, maps, writes both outputs; prints iterations,
/// objective, seed size and wall time to stderr.
pub fn run(args: &VecmapArgs) -> Result<(), VecmapError> {
    let params = args.params()?;
    let src = read_vec(&args.src_vec, args.max_words)?;
    let trg = read_vec(&args.trg_vec, args.max_words)?;
    let dict = match &args.seed.supervised {
        Some(path) => Some(read_dictionary(path)?),
        None => None,
    };
    let result = map(&src, &trg, &params, dict.as_deref(), &|_, _| {})?;
    write_vec(&args.src_out, &result.src)?;
    write_vec(&args.trg_out, &result.trg)?;
    let s = &result.summary;
    let sample = s.seed_preview(20);
    eprintln!(
        "vecmap: src {} words, trg {} words, dim {}; seed {} pairs ({} oov) e.g. {}",
        src.len(),
        trg.len(),
        src.dim,
        s.seed_size,
        s.seed_oov,
        sample
    );
    eprintln!(
        "vecmap: {} iterations, objective {:.6} (best {:.6}), converged {}, final dictionary {} pairs, {:.1}s",
        s.iterations,
        s.objective,
        s.best_objective,
        s.converged,
        s.final_dictionary_size,
        s.wall_time_s
    );
    if let Some(path) = &args.seed_out {
        let mut text = String::new();
        for &(i, j) in &result.seed {
            text.push_str(&src.words[i]);
            text.push(' ');
            text.push_str(&trg.words[j]);
            text.push('\n');
        }
        crate::io::write_atomic(path, text.as_bytes()).map_err(|source| VecmapError::Write {
            path: path.clone(),
            source,
        })?;
    }
    if let Some(path) = &args.summary_json {
        // The summary plus the wall time by phase (`seconds`), which the stage's summary
        // file leaves out so that equal runs write equal bytes.
        let mut value = serde_json::to_value(s).unwrap_or_default();
        if let serde_json::Value::Object(map) = &mut value {
            map.insert("wall_time_s".into(), s.wall_time_s.into());
            map.insert(
                "seconds".into(),
                serde_json::to_value(s.seconds).unwrap_or_default(),
            );
        }
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        std::fs::write(path, text).map_err(|source| VecmapError::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}
