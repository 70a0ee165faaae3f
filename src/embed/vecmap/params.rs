//! Parameters of [`super::map`], with VecMap's defaults (map_embeddings.py argparse defaults
//! plus the `--identical` / `--supervised` recipe overrides).

use serde::{Deserialize, Serialize};

use super::normalize::NormalizeAction;
use crate::validate::{InvalidParam, Validate};

/// How the seed dictionary is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Every string present in both vocabularies (`--identical` / `--init_identical`).
    Identical,
    /// A given `src trg` dictionary (`--supervised DICT` / `--init_dictionary`).
    Supervised,
    /// No dictionary and no shared strings: the seed comes from the similarity distributions
    /// of the `unsupervised_vocab` most frequent words of each side (`--unsupervised` /
    /// `--init_unsupervised`, Artetxe et al. ACL 2018). For languages in different scripts,
    /// where identical strings are only numbers and punctuation.
    Unsupervised,
}

/// Which side's whitening a side is de-whitened with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Src,
    Trg,
}

/// Direction of dictionary induction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Each source word gets its best target.
    Forward,
    /// Each target word gets its best source.
    Backward,
    /// Both lists concatenated (VecMap default).
    Union,
}

/// VecMap parameters. `Default` = `map_embeddings.py --identical`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VecmapParams {
    /// Seed dictionary source: `identical`, `supervised` (a dictionary input) or
    /// `unsupervised`. Default `identical`.
    pub mode: Mode,
    /// With `mode = "unsupervised"`: the seed compares the N first (most frequent) words of
    /// each side; 0 = all. Memory grows as N^2 (three N x N float matrices). Default `4000`.
    pub unsupervised_vocab: usize,
    /// Normalisation actions applied to both matrices in order. Default `[unit, center, unit]`.
    pub normalize: Vec<NormalizeAction>,
    /// Whiten in the final mapping. Default `true`.
    pub whiten: bool,
    /// Source re-weighting exponent of the singular values. Default `0.5`.
    pub src_reweight: f64,
    /// Target re-weighting exponent of the singular values. Default `0.5`.
    pub trg_reweight: f64,
    /// De-whiten the source side with this side's whitening. Default `src`.
    pub src_dewhiten: Option<Side>,
    /// De-whiten the target side with this side's whitening. Default `trg`.
    pub trg_dewhiten: Option<Side>,
    /// Run self-learning iterations before the final mapping. Default `true`.
    pub self_learning: bool,
    /// Dictionary induction only uses the N first (most frequent) words of each side; 0 = all.
    /// Default `20000`.
    pub vocabulary_cutoff: usize,
    /// CSLS neighbourhood size for induction; 0 = plain nearest neighbour. Default `10`.
    pub csls: usize,
    /// Induction direction. Default `union`.
    pub direction: Direction,
    /// Minimum objective improvement that counts as progress. Default `1e-6`.
    pub threshold: f64,
    /// Initial keep probability of stochastic induction. Default `0.1`.
    pub stochastic_initial: f64,
    /// Keep-probability multiplier after `stochastic_interval` iterations without
    /// improvement. Default `2.0`.
    pub stochastic_multiplier: f64,
    /// Iterations without improvement before the keep probability grows (or, at 1, the loop
    /// ends). Default `50`.
    pub stochastic_interval: usize,
    /// Rows per similarity block (speed/memory only; blocks hold at most
    /// `batch_size * 20000` floats whatever the vocabulary). Default `10000`.
    pub batch_size: usize,
    /// Seed of the dropout masks. Default `0`.
    pub seed: u64,
    /// Safety cap on self-learning iterations (not in VecMap); when reached, the final
    /// mapping is applied and the result says `converged: false`. Default `10000`.
    pub max_iterations: usize,
}

impl Default for VecmapParams {
    fn default() -> Self {
        Self {
            mode: Mode::Identical,
            unsupervised_vocab: 4000,
            normalize: vec![
                NormalizeAction::Unit,
                NormalizeAction::Center,
                NormalizeAction::Unit,
            ],
            whiten: true,
            src_reweight: 0.5,
            trg_reweight: 0.5,
            src_dewhiten: Some(Side::Src),
            trg_dewhiten: Some(Side::Trg),
            self_learning: true,
            vocabulary_cutoff: 20000,
            csls: 10,
            direction: Direction::Union,
            threshold: 1e-6,
            stochastic_initial: 0.1,
            stochastic_multiplier: 2.0,
            stochastic_interval: 50,
            batch_size: 10000,
            seed: 0,
            max_iterations: 10000,
        }
    }
}

impl VecmapParams {
    /// `map_embeddings.py --supervised DICT`: the same final mapping on the given dictionary,
    /// no self-learning (so no vocabulary cutoff / CSLS), batch size 1000.
    pub fn supervised() -> Self {
        Self {
            mode: Mode::Supervised,
            self_learning: false,
            vocabulary_cutoff: 0,
            csls: 0,
            batch_size: 1000,
            ..Self::default()
        }
    }
}

impl VecmapParams {
    /// `map_embeddings.py --unsupervised`: `--identical`'s settings with the unsupervised seed.
    pub fn unsupervised() -> Self {
        Self {
            mode: Mode::Unsupervised,
            ..Self::default()
        }
    }
}

impl Validate for VecmapParams {
    /// Checks ranges and combinations (VecMap: de-whitening requires whitening).
    fn validate(&self) -> Result<(), InvalidParam> {
        let bad = |field: &str, m: &str| Err(InvalidParam::new(field, m));
        if (self.src_dewhiten.is_some() || self.trg_dewhiten.is_some()) && !self.whiten {
            return bad(
                if self.src_dewhiten.is_some() {
                    "src_dewhiten"
                } else {
                    "trg_dewhiten"
                },
                "requires whiten = true",
            );
        }
        if !(self.stochastic_initial > 0.0 && self.stochastic_initial <= 1.0) {
            return bad("stochastic_initial", "must be in (0, 1]");
        }
        if !(self.stochastic_multiplier > 1.0 && self.stochastic_multiplier.is_finite()) {
            return bad("stochastic_multiplier", "must be finite and > 1");
        }
        if self.stochastic_interval == 0 {
            return bad("stochastic_interval", "must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if self.max_iterations == 0 {
            return bad("max_iterations", "must be at least 1");
        }
        if !self.threshold.is_finite() {
            return bad("threshold", "must be finite");
        }
        if !self.src_reweight.is_finite() {
            return bad("src_reweight", "must be finite");
        }
        if !self.trg_reweight.is_finite() {
            return bad("trg_reweight", "must be finite");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_round_trip_and_unknown_fields() {
        let p = VecmapParams::default();
        let s = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<VecmapParams>(&s).unwrap(), p);
        let partial: VecmapParams =
            serde_json::from_str(r#"{"csls": 0, "mode": "supervised"}"#).unwrap();
        assert_eq!(partial.csls, 0);
        assert_eq!(partial.vocabulary_cutoff, 20000);
        assert!(serde_json::from_str::<VecmapParams>(r#"{"cls": 0}"#).is_err());
    }

    #[test]
    fn validate_rejects_bad_values() {
        assert!(VecmapParams::default().validate().is_ok());
        assert!(VecmapParams::supervised().validate().is_ok());
        let p = VecmapParams {
            whiten: false,
            ..Default::default()
        };
        assert!(p.validate().is_err());
        let p = VecmapParams {
            stochastic_initial: 0.0,
            ..Default::default()
        };
        assert!(p.validate().is_err());
        let p = VecmapParams {
            stochastic_multiplier: 1.0,
            ..Default::default()
        };
        assert!(p.validate().is_err());
        let p = VecmapParams {
            batch_size: 0,
            ..Default::default()
        };
        assert!(p.validate().is_err());
    }
}
