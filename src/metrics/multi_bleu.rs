//! XLM's in-training BLEU: a port of Moses `scripts/generic/multi-bleu.perl` as vendored in
//! facebookresearch/XLM (xlm/evaluation/multi-bleu.perl, called by
//! xlm/evaluation/evaluator.py `eval_moses_bleu`).
//!
//! Semantics: input already tokenized; tokens split on ASCII whitespace (Perl `split` on
//! bytes); case-sensitive unless `lowercase` (Perl `lc` on bytes = ASCII only); 4-gram
//! clipped counts with the maximum count over references; closest reference length (ties
//! go to the shorter); BP = exp(1 - r/c) if c < r; no smoothing (a zero precision gives 0).
//! Where the Perl script dies (empty hypotheses: division by zero; XLM then logs
//! "Impossible to parse BLEU" and records -1) or prints its all-zero line (no reference
//! tokens), this port returns BLEU 0.0 with `degenerate = true`.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::metrics::MetricsError;
use crate::metrics::bleu::closest_ref_len;
use crate::metrics::ngrams::{Counts, clipped_matches, count_ngrams, merge_max, total};

/// multi-bleu.perl's printed figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiBleu {
    /// BLEU x 100 (0.0 when `degenerate`).
    pub bleu: f64,
    /// Precisions x 100 for n = 1..4.
    pub precisions: [f64; 4],
    /// Brevity penalty.
    pub bp: f64,
    /// hyp_len / ref_len (0 when ref_len is 0).
    pub ratio: f64,
    /// Hypothesis tokens.
    pub hyp_len: u64,
    /// Closest-reference tokens.
    pub ref_len: u64,
    /// True where multi-bleu.perl would crash or refuse (empty hypotheses or references).
    pub degenerate: bool,
}

impl MultiBleu {
    /// The Perl script's output line.
    pub fn format(&self) -> String {
        let p = self.precisions;
        format!(
            "BLEU = {:.2}, {:.1}/{:.1}/{:.1}/{:.1} (BP={:.3}, ratio={:.3}, hyp_len={}, ref_len={})",
            self.bleu, p[0], p[1], p[2], p[3], self.bp, self.ratio, self.hyp_len, self.ref_len
        )
    }
}

fn perl_words(s: &str, lowercase: bool) -> Vec<String> {
    s.split([' ', '\t', '\n', '\r', '\x0b', '\x0c'])
        .filter(|t| !t.is_empty())
        .map(|t| {
            if lowercase {
                t.to_ascii_lowercase()
            } else {
                t.to_owned()
            }
        })
        .collect()
}

/// Corpus BLEU of tokenized `hyps` against `refs[k][i]` (stream `k`, line `i`).
pub fn multi_bleu(hyps: &[String], refs: &[Vec<String>], lowercase: bool) -> MultiBleu {
    let mut correct = [0u64; 4];
    let mut totals = [0u64; 4];
    let (mut hyp_len, mut ref_len) = (0u64, 0u64);
    for (i, h) in hyps.iter().enumerate() {
        let hw = perl_words(h, lowercase);
        let rws: Vec<Vec<String>> = refs
            .iter()
            .filter_map(|r| r.get(i))
            .map(|r| perl_words(r, lowercase))
            .collect();
        let lens: Vec<usize> = rws.iter().map(Vec::len).collect();
        hyp_len += hw.len() as u64;
        ref_len += closest_ref_len(hw.len(), &lens) as u64;
        for n in 1..=4 {
            let hc = count_ngrams(&hw, n);
            let mut rc: Counts<'_, String> = Vec::new();
            for rw in &rws {
                rc = merge_max(&rc, &count_ngrams(rw, n));
            }
            totals[n - 1] += total(&hc);
            correct[n - 1] += clipped_matches(&hc, &rc);
        }
    }
    let mut prec = [0.0f64; 4];
    for n in 0..4 {
        prec[n] = if totals[n] > 0 {
            correct[n] as f64 / totals[n] as f64
        } else {
            0.0
        };
    }
    let degenerate = ref_len == 0 || hyp_len == 0;
    if degenerate {
        return MultiBleu {
            bleu: 0.0,
            precisions: prec.map(|p| 100.0 * p),
            bp: 0.0,
            ratio: if ref_len > 0 {
                hyp_len as f64 / ref_len as f64
            } else {
                0.0
            },
            hyp_len,
            ref_len,
            degenerate,
        };
    }
    let bp = if hyp_len < ref_len {
        (1.0 - ref_len as f64 / hyp_len as f64).exp()
    } else {
        1.0
    };
    let my_log = |x: f64| if x == 0.0 { -9_999_999_999.0 } else { x.ln() };
    let bleu =
        bp * ((my_log(prec[0]) + my_log(prec[1]) + my_log(prec[2]) + my_log(prec[3])) / 4.0).exp();
    MultiBleu {
        bleu: 100.0 * bleu,
        precisions: prec.map(|p| 100.0 * p),
        bp,
        ratio: hyp_len as f64 / ref_len as f64,
        hyp_len,
        ref_len,
        degenerate,
    }
}

/// Read a file as multi-bleu.perl sees it: lines split on `\n`, nothing stripped (Perl
/// `chop` only drops the newline; other whitespace only separates tokens). An empty file
/// gives no lines (a degenerate score, not an error).
fn read_raw_lines(path: &Path) -> Result<Vec<String>, MetricsError> {
    let bytes = std::fs::read(path).map_err(|source| MetricsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    body.split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, raw)| {
            String::from_utf8(raw.to_vec()).map_err(|_| MetricsError::InvalidUtf8 {
                path: path.to_path_buf(),
                line: i + 1,
            })
        })
        .collect()
}

/// File-level multi-bleu.perl: `perl multi-bleu.perl REF... < HYP`. Reference files must
/// have at least as many lines as the hypothesis file (Perl reads them in step; extra
/// reference lines are ignored there and here).
pub fn multi_bleu_files(
    hyp: &Path,
    refs: &[PathBuf],
    lowercase: bool,
) -> Result<MultiBleu, MetricsError> {
    if refs.is_empty() {
        return Err(MetricsError::NoReferences);
    }
    let hyps = read_raw_lines(hyp)?;
    let mut streams = Vec::with_capacity(refs.len());
    for r in refs {
        let lines = read_raw_lines(r)?;
        if lines.len() < hyps.len() {
            return Err(MetricsError::LineCountMismatch {
                hyp: hyp.to_path_buf(),
                hyp_lines: hyps.len(),
                reference: r.clone(),
                ref_lines: lines.len(),
            });
        }
        streams.push(lines);
    }
    Ok(multi_bleu(&hyps, &streams, lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn perfect_and_no_smoothing() {
        let r = v(&["a b c d e"]);
        let m = multi_bleu(&r, std::slice::from_ref(&r), false);
        assert!((m.bleu - 100.0).abs() < 1e-9);
        assert_eq!(
            m.format(),
            "BLEU = 100.00, 100.0/100.0/100.0/100.0 (BP=1.000, ratio=1.000, hyp_len=5, ref_len=5)"
        );
        // one 4-gram precision of zero -> BLEU 0 (no smoothing)
        let h = v(&["a b c x e"]);
        let m = multi_bleu(&h, std::slice::from_ref(&r), false);
        assert_eq!(m.bleu, 0.0);
        assert_eq!(m.precisions[0], 80.0);
        assert!(!m.degenerate);
    }

    #[test]
    fn empty_hypotheses_are_degenerate_not_a_crash() {
        let m = multi_bleu(&v(&["", ""]), &[v(&["a b", "c"])], false);
        assert!(m.degenerate);
        assert_eq!((m.bleu, m.hyp_len, m.ref_len), (0.0, 0, 3));
    }

    #[test]
    fn files_with_empty_hypotheses() {
        let d = tempfile::tempdir().unwrap();
        let h = d.path().join("h");
        let r = d.path().join("r");
        std::fs::write(&h, "").unwrap();
        std::fs::write(&r, "a b\n").unwrap();
        let m = multi_bleu_files(&h, std::slice::from_ref(&r), false).unwrap();
        assert!(m.degenerate && m.bleu == 0.0);
        std::fs::write(&h, "a b\nc\n").unwrap();
        assert!(multi_bleu_files(&h, &[r], false).is_err());
    }

    #[test]
    fn ascii_only_lowercase_and_brevity() {
        // "A" lowercases, "Ш" does not (Perl lc on bytes).
        let m = multi_bleu(&v(&["A Ш b c"]), &[v(&["a ш b c d e f g"])], true);
        assert_eq!(m.precisions[0], 75.0);
        assert!((m.bp - (1.0f64 - 8.0 / 4.0).exp()).abs() < 1e-15);
    }
}
