//! SacreBLEU reproducibility signatures, a port of sacrebleu/metrics/base.py `Signature`
//! plus `BLEUSignature` (bleu.py) and `CHRFSignature` (chrf.py).
use serde::{Deserialize, Serialize};

use crate::metrics::bleu::BleuParams;
use crate::metrics::chrf::ChrfParams;

/// The sacrebleu release this port reproduces, printed as `version:` in signatures.
pub const SACREBLEU_VERSION: &str = "2.6.0";

/// A signature: global fields (`nrefs`, `bs`, `ar`, `seed`) then metric fields, version last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Number of references.
    pub nrefs: usize,
    /// Bootstrap resamples, when a bootstrap was run.
    pub bs: Option<usize>,
    /// Approximate randomization trials, when that test was run.
    pub ar: Option<usize>,
    /// RNG seed as sacrebleu prints it (`12345`, `none`).
    pub seed: Option<String>,
    /// Metric-specific `(key, value)` pairs in sacrebleu's order.
    pub fields: Vec<(String, String)>,
}

/// Short names used by `--short` (`Signature._abbr`).
fn abbr(key: &str) -> &str {
    match key {
        "version" => "v",
        "nrefs" => "#",
        "seed" => "rs",
        "case" => "c",
        "eff" => "e",
        "smooth" => "s",
        "space" => "s",
        other => other,
    }
}

impl Signature {
    /// `BLEUSignature` for the given parameters.
    pub fn bleu(p: &BleuParams, nrefs: usize) -> Self {
        let mut smooth = p.smooth_method.name().to_owned();
        if let Some(def) = p.smooth_method.default_value() {
            smooth = format!("{smooth}[{:.2}]", p.smooth_value.unwrap_or(def));
        }
        Self::with_fields(
            nrefs,
            vec![
                ("case", if p.lowercase { "lc" } else { "mixed" }.to_owned()),
                (
                    "eff",
                    if p.effective_order { "yes" } else { "no" }.to_owned(),
                ),
                ("tok", p.tokenize.signature().to_owned()),
                ("smooth", smooth),
            ],
        )
    }

    /// `CHRFSignature` for the given parameters.
    pub fn chrf(p: &ChrfParams, nrefs: usize) -> Self {
        Self::with_fields(
            nrefs,
            vec![
                ("case", if p.lowercase { "lc" } else { "mixed" }.to_owned()),
                ("eff", if p.eps_smoothing { "no" } else { "yes" }.to_owned()),
                ("nc", p.char_order.to_string()),
                ("nw", p.word_order.to_string()),
                ("space", if p.whitespace { "yes" } else { "no" }.to_owned()),
            ],
        )
    }

    fn with_fields(nrefs: usize, f: Vec<(&str, String)>) -> Self {
        Self {
            nrefs,
            bs: None,
            ar: None,
            seed: None,
            fields: f.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }

    /// `Signature.format(short)`: `nrefs:1|case:mixed|...|version:2.6.0`.
    pub fn format(&self, short: bool) -> String {
        let key = |k: &'static str| {
            if short {
                abbr(k).to_owned()
            } else {
                k.to_owned()
            }
        };
        let mut parts = vec![format!("{}:{}", key("nrefs"), self.nrefs)];
        if let Some(bs) = self.bs {
            parts.push(format!("{}:{bs}", key("bs")));
        }
        if let Some(ar) = self.ar {
            parts.push(format!("{}:{ar}", key("ar")));
        }
        if let Some(seed) = &self.seed {
            parts.push(format!("{}:{seed}", key("seed")));
        }
        for (k, v) in &self.fields {
            let k = if short { abbr(k).to_owned() } else { k.clone() };
            parts.push(format!("{k}:{v}"));
        }
        parts.push(format!("{}:{SACREBLEU_VERSION}", key("version")));
        parts.join("|")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::bleu::SmoothMethod;

    #[test]
    fn default_signatures() {
        assert_eq!(
            Signature::bleu(&BleuParams::default(), 1).format(false),
            "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
        );
        assert_eq!(
            Signature::chrf(&ChrfParams::default(), 2).format(false),
            "nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0"
        );
        let p = BleuParams {
            smooth_method: SmoothMethod::Floor,
            lowercase: true,
            ..Default::default()
        };
        let mut s = Signature::bleu(&p, 1);
        s.bs = Some(1000);
        s.seed = Some("12345".into());
        assert_eq!(
            s.format(false),
            "nrefs:1|bs:1000|seed:12345|case:lc|eff:no|tok:13a|smooth:floor[0.10]|version:2.6.0"
        );
        assert_eq!(
            s.format(true),
            "#:1|bs:1000|rs:12345|c:lc|e:no|tok:13a|s:floor[0.10]|v:2.6.0"
        );
    }
}
