//! One interface over BLEU and chrF for corpus scoring and significance tests
//! (sacrebleu/metrics/base.py `Metric`: statistics once, scores from summed statistics).
use crate::metrics::bleu::{self, BleuParams};
use crate::metrics::chrf::{self, ChrfParams};
use crate::metrics::signature::Signature;
use crate::metrics::stats::SegmentStats;

/// A configured metric.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// BLEU with its parameters.
    Bleu(BleuParams),
    /// chrF / chrF++ with its parameters.
    Chrf(ChrfParams),
}

impl Metric {
    /// Display name as sacrebleu prints it (`BLEU`, `chrF2`, `chrF2++`).
    pub fn name(&self) -> String {
        match self {
            Metric::Bleu(_) => "BLEU".to_owned(),
            Metric::Chrf(p) => p.name(),
        }
    }

    /// Per-segment statistics of a system (`refs[k][i]` = line `i` of reference `k`).
    pub fn corpus_stats(&self, hyps: &[String], refs: &[Vec<String>]) -> SegmentStats {
        match self {
            Metric::Bleu(p) => bleu::corpus_stats(hyps, refs, p),
            Metric::Chrf(p) => chrf::corpus_stats(hyps, refs, p),
        }
    }

    /// Statistics row of one segment.
    pub fn segment_stats(&self, hyp: &str, refs: &[&str]) -> Vec<i64> {
        match self {
            Metric::Bleu(p) => bleu::segment_stats(hyp, refs, p),
            Metric::Chrf(p) => chrf::segment_stats(hyp, refs, p),
        }
    }

    /// Score (0-100) from summed statistics (`_compute_score_from_stats`).
    pub fn score(&self, sums: &[i64]) -> f64 {
        match self {
            Metric::Bleu(p) => bleu::compute_bleu(sums, p).score,
            Metric::Chrf(p) => p.f_score(sums),
        }
    }

    /// The metric's signature for `nrefs` references.
    pub fn signature(&self, nrefs: usize) -> Signature {
        match self {
            Metric::Bleu(p) => Signature::bleu(p, nrefs),
            Metric::Chrf(p) => Signature::chrf(p, nrefs),
        }
    }

    /// Text line for a score as sacrebleu's `Score.format` prints it.
    pub fn format_line(
        &self,
        sums: &[i64],
        width: usize,
        signature: &str,
        extra: Option<String>,
    ) -> String {
        let score = self.score(sums);
        let head = if signature.is_empty() {
            self.name()
        } else {
            format!("{}|{signature}", self.name())
        };
        let mut line = format!("{head} = {score:.width$}");
        if let Some(e) = extra {
            line.push_str(&format!(" ({e})"));
        }
        if let Metric::Bleu(p) = self {
            line.push(' ');
            line.push_str(&bleu::compute_bleu(sums, p).verbose());
        }
        line
    }
}
