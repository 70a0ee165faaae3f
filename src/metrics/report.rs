//! File-level scoring API for the engine and the serializable [`ScoreReport`].
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::metrics::MetricsError;
use crate::metrics::bleu::{BleuParams, compute_bleu};
use crate::metrics::chrf::ChrfParams;
use crate::metrics::io::read_lines;
use crate::metrics::metric::Metric;
use crate::validate::{InvalidParam, Validate};

/// Which metrics to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricName {
    /// Corpus BLEU.
    Bleu,
    /// chrF (chrF++ when `chrf.word_order` is 2).
    Chrf,
}

/// Options of [`score_files`]; `Default` = sacrebleu's defaults with BLEU and chrF.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoreOptions {
    /// Metrics to compute. Default: `[bleu, chrf]`.
    pub metrics: Vec<MetricName>,
    /// BLEU parameters. Default: sacrebleu `BLEU()`.
    pub bleu: BleuParams,
    /// chrF parameters. Default: sacrebleu `CHRF()`.
    pub chrf: ChrfParams,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        Self {
            metrics: vec![MetricName::Bleu, MetricName::Chrf],
            bleu: BleuParams::default(),
            chrf: ChrfParams::default(),
        }
    }
}

impl Validate for ScoreOptions {
    /// Validate every part; at least one metric is required.
    fn validate(&self) -> Result<(), InvalidParam> {
        if self.metrics.is_empty() {
            return Err(InvalidParam::new(
                "metrics",
                "at least one metric is required",
            ));
        }
        self.bleu.validate().map_err(|e| e.within("bleu"))?;
        self.chrf.validate().map_err(|e| e.within("chrf"))
    }
}

impl ScoreOptions {
    /// The configured metrics in sacrebleu's output order (sorted by name: BLEU, CHRF).
    pub fn metric_list(&self) -> Vec<Metric> {
        let mut out = Vec::new();
        if self.metrics.contains(&MetricName::Bleu) {
            out.push(Metric::Bleu(self.bleu.clone()));
        }
        if self.metrics.contains(&MetricName::Chrf) {
            out.push(Metric::Chrf(self.chrf.clone()));
        }
        out
    }
}

/// BLEU figures of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BleuReport {
    /// Metric name (`BLEU`).
    pub name: String,
    /// BLEU 0-100.
    pub score: f64,
    /// Precisions 0-100, n = 1..max order.
    pub precisions: Vec<f64>,
    /// Clipped matches per order.
    pub counts: Vec<u64>,
    /// Hypothesis n-grams per order.
    pub totals: Vec<u64>,
    /// Brevity penalty.
    pub bp: f64,
    /// hyp_len / ref_len.
    pub ratio: f64,
    /// Hypothesis tokens.
    pub sys_len: u64,
    /// Effective reference tokens.
    pub ref_len: u64,
    /// sacrebleu's verbose string (`56.7/.. (BP = ..)`).
    pub verbose: String,
    /// Signature string.
    pub signature: String,
}

/// chrF figures of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChrfReport {
    /// Metric name (`chrF2`, `chrF2++`).
    pub name: String,
    /// chrF 0-100.
    pub score: f64,
    /// Word n-gram order (0 = chrF, 2 = chrF++).
    pub word_order: usize,
    /// Signature string.
    pub signature: String,
}

/// Scores of one system against its references.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreReport {
    /// Number of segments.
    pub segments: usize,
    /// Number of references.
    pub nrefs: usize,
    /// BLEU, when requested.
    pub bleu: Option<BleuReport>,
    /// chrF, when requested.
    pub chrf: Option<ChrfReport>,
}

impl ScoreReport {
    /// Headline numbers for the engine's node records: `bleu`, `bleu_p1..`, `bleu_bp`,
    /// `bleu_ratio`, `bleu_sys_len`, `bleu_ref_len`, then `chrf` (word order 0),
    /// `chrfpp` (word order 2) or `chrf_w{N}`.
    pub fn headline(&self) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        if let Some(b) = &self.bleu {
            out.push(("bleu".to_owned(), b.score));
            for (i, p) in b.precisions.iter().enumerate() {
                out.push((format!("bleu_p{}", i + 1), *p));
            }
            out.push(("bleu_bp".to_owned(), b.bp));
            out.push(("bleu_ratio".to_owned(), b.ratio));
            out.push(("bleu_sys_len".to_owned(), b.sys_len as f64));
            out.push(("bleu_ref_len".to_owned(), b.ref_len as f64));
        }
        if let Some(c) = &self.chrf {
            let key = match c.word_order {
                0 => "chrf".to_owned(),
                2 => "chrfpp".to_owned(),
                n => format!("chrf_w{n}"),
            };
            out.push((key, c.score));
        }
        out
    }
}

/// Score in-memory lines (`refs[k][i]` = line `i` of reference `k`; lengths must match).
pub fn score_lines(
    hyps: &[String],
    refs: &[Vec<String>],
    opts: &ScoreOptions,
) -> Result<ScoreReport, MetricsError> {
    opts.validate()?;
    if refs.is_empty() {
        return Err(MetricsError::NoReferences);
    }
    for (k, r) in refs.iter().enumerate() {
        if r.len() != hyps.len() {
            return Err(MetricsError::LineCountMismatch {
                hyp: PathBuf::from("<hypotheses>"),
                hyp_lines: hyps.len(),
                reference: PathBuf::from(format!("<reference {}>", k + 1)),
                ref_lines: r.len(),
            });
        }
    }
    let mut rep = ScoreReport {
        segments: hyps.len(),
        nrefs: refs.len(),
        bleu: None,
        chrf: None,
    };
    for m in opts.metric_list() {
        let sums = m.corpus_stats(hyps, refs).sum();
        let signature = m.signature(refs.len()).format(false);
        match &m {
            Metric::Bleu(p) => {
                let b = compute_bleu(&sums, p);
                rep.bleu = Some(BleuReport {
                    name: m.name(),
                    score: b.score,
                    verbose: b.verbose(),
                    precisions: b.precisions,
                    counts: b.counts,
                    totals: b.totals,
                    bp: b.bp,
                    ratio: b.ratio,
                    sys_len: b.sys_len,
                    ref_len: b.ref_len,
                    signature,
                });
            }
            Metric::Chrf(p) => {
                rep.chrf = Some(ChrfReport {
                    name: m.name(),
                    score: p.f_score(&sums),
                    word_order: p.word_order,
                    signature,
                });
            }
        }
    }
    Ok(rep)
}

/// Read references, checking they all have the hypothesis' line count.
pub fn read_references(
    refs: &[PathBuf],
    hyp_path: &Path,
    hyp_lines: usize,
) -> Result<Vec<Vec<String>>, MetricsError> {
    if refs.is_empty() {
        return Err(MetricsError::NoReferences);
    }
    let mut out = Vec::with_capacity(refs.len());
    for r in refs {
        let lines = read_lines(r)?;
        if lines.len() != hyp_lines {
            return Err(MetricsError::LineCountMismatch {
                hyp: hyp_path.to_path_buf(),
                hyp_lines,
                reference: r.clone(),
                ref_lines: lines.len(),
            });
        }
        out.push(lines);
    }
    Ok(out)
}

/// Score a hypothesis file against one or more reference files (one segment per line).
pub fn score_files(
    hyp: &Path,
    refs: &[PathBuf],
    opts: &ScoreOptions,
) -> Result<ScoreReport, MetricsError> {
    opts.validate()?;
    let hyps = read_lines(hyp)?;
    let refs = read_references(refs, hyp, hyps.len())?;
    score_lines(&hyps, &refs, opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
        let p = dir.join(name);
        let mut f = std::fs::File::create(&p).unwrap();
        f.write_all(content).unwrap();
        p
    }

    #[test]
    fn scores_files_and_lists_headline() {
        let d = tempfile::tempdir().unwrap();
        let h = file(d.path(), "h", b"the cat sat on the mat\nhello world\n");
        let r = file(d.path(), "r", b"the cat sat on the mat\nhello world\n");
        let rep = score_files(&h, &[r], &ScoreOptions::default()).unwrap();
        let hl = rep.headline();
        assert_eq!(hl[0].0, "bleu");
        assert!((hl[0].1 - 100.0).abs() < 1e-9);
        assert_eq!(hl.last().unwrap().0, "chrf");
        assert_eq!(
            rep.bleu.as_ref().unwrap().signature,
            "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
        );
        let json = serde_json::to_string(&rep).unwrap();
        let back: ScoreReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, rep);
    }

    #[test]
    fn errors_name_files_and_counts() {
        let d = tempfile::tempdir().unwrap();
        let h = file(d.path(), "hyp.txt", b"a\nb\n");
        let r = file(d.path(), "ref.txt", b"a\n");
        let e = score_files(&h, &[r], &ScoreOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("hyp.txt` (2 lines)") && e.contains("ref.txt` (1 lines)"),
            "{e}"
        );
        let empty = file(d.path(), "empty.txt", b"");
        let e =
            score_files(&empty, std::slice::from_ref(&h), &ScoreOptions::default()).unwrap_err();
        assert!(matches!(e, MetricsError::EmptyFile { .. }));
        let bad = file(d.path(), "bad.txt", b"a\n\xc3\n");
        let e = score_files(&bad, &[h], &ScoreOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.txt` line 2"), "{e}");
    }

    #[test]
    fn options_roundtrip_and_reject_unknown_fields() {
        let o = ScoreOptions::default();
        let s = serde_json::to_string(&o).unwrap();
        assert_eq!(serde_json::from_str::<ScoreOptions>(&s).unwrap(), o);
        assert!(serde_json::from_str::<ScoreOptions>(r#"{"bogus": 1}"#).is_err());
        assert!(serde_json::from_str::<ScoreOptions>(r#"{"bleu": {"tokenize": "intl"}}"#).is_ok());
    }
}
