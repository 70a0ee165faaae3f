//! Bilingual lexicon induction, MUSE protocol (facebookresearch/MUSE
//! src/evaluation/word_translation.py `load_dictionary`, `get_word_translation_accuracy`;
//! src/utils.py `read_txt_embeddings`, `get_nn_avg_dist`).
//!
//! - Vocabularies: words lowercased (MUSE lowercases when not `full_vocab`), the first
//!   occurrence of a string wins, at most `max_vocab` distinct words (default 200,000); a
//!   zero vector gets `v[0] = 0.01` (MUSE: "avoid to have null embeddings").
//! - Dictionary: `src tgt` per line (tab or space); pairs with either word out of vocabulary
//!   are dropped and counted (coverage).
//! - Vectors L2-normalised; NN score = cosine; CSLS (k = 10) = 2 cos − r_T(x) − r_S(y) with
//!   r_T, r_S over the full loaded vocabularies.
//! - The 10 best targets per query; a unique source word is correct at k if any of its gold
//!   translations is among its k best; P@k = 100 × mean over unique source words.
//!
//! Word vectors from a model's subword embedding layer (lexical paper) come from
//! [`word_vectors_from_subwords`]; [`dictionary_vectors_from_subwords`] builds both sides
//! for a dictionary from BPE codes (the `bli` stage's and `unmt bli`'s `codes`).

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::embed::vec_format::{Embeddings, VecFormatError};
use crate::embed::vecmap::csls::{ColumnTopK, block_rows, for_each_block, row_topk, topk_indices};
use crate::embed::vecmap::normalize::unit_rows;
use crate::text::bpe::{BpeApplier, Codes};
use crate::validate::{InvalidParam, Validate};

/// Errors of BLI evaluation and dictionary reading.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BliError {
    /// A dictionary or output file could not be read / written.
    #[error("failed to {action} `{path}`")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A dictionary line is not valid UTF-8.
    #[error("failed to decode `{path}` line {line}: invalid UTF-8")]
    Utf8 { path: PathBuf, line: usize },
    /// A dictionary line does not have exactly two fields.
    #[error("failed to parse `{path}` line {line}: expected `source target`, found {found} fields")]
    Malformed {
        path: PathBuf,
        line: usize,
        found: usize,
    },
    /// A dictionary without a single pair: every figure would be 0 over nothing.
    #[error("dictionary `{path}` has no `source target` pairs")]
    EmptyDictionary { path: PathBuf },
    /// Embedding files could not be read.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Format(#[from] VecFormatError),
    /// No dictionary pair has both words in the embeddings: every figure would be 0 over
    /// nothing (wrong languages, another tokenization, or only identical pairs skipped).
    #[error(
        "no dictionary pair has both words in the embeddings ({pairs} pairs{}, source vocabulary {src_vocab}, target vocabulary {trg_vocab})",
        if *skipped_identical > 0 { format!(", {skipped_identical} identical-string pairs skipped") } else { String::new() }
    )]
    #[diagnostic(help(
        "check that the dictionary's languages and tokenization match the embeddings (source first)"
    ))]
    NoPairsCovered {
        pairs: usize,
        skipped_identical: usize,
        src_vocab: usize,
        trg_vocab: usize,
    },
    /// Source and target dimensions differ.
    #[error("failed to evaluate bli: source dim {src} differs from target dim {trg}")]
    DimMismatch { src: usize, trg: usize },
    /// Parameters out of range.
    #[error(transparent)]
    InvalidParam(#[from] InvalidParam),
}

/// BLI settings; `Default` = MUSE's evaluation defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BliParams {
    /// Distinct words kept per side (file order), 0 = all. Default `200000`.
    pub max_vocab: usize,
    /// Lowercase embedding words and dictionary entries (MUSE). Default `true`.
    pub lowercase: bool,
    /// CSLS neighbourhood. Default `10`.
    pub csls_k: usize,
    /// Rows per similarity block (memory only). Default `10000`.
    pub batch_size: usize,
    /// Drop dictionary pairs whose two words are the same string (after lowercasing). MUSE
    /// keeps them (the en-mk 0-5000 dictionary has 268 such pairs, e.g. `world world`); in a
    /// shared embedding table (an MLM's) they are found trivially, so set this to measure
    /// only cross-lingual signal. Default `false`.
    pub skip_identical: bool,
}

impl Default for BliParams {
    fn default() -> Self {
        Self {
            max_vocab: 200_000,
            lowercase: true,
            csls_k: 10,
            batch_size: 10_000,
            skip_identical: false,
        }
    }
}

impl Validate for BliParams {
    /// Checks ranges.
    fn validate(&self) -> Result<(), InvalidParam> {
        if self.csls_k == 0 {
            return Err(InvalidParam::new("csls_k", "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(InvalidParam::new("batch_size", "must be at least 1"));
        }
        Ok(())
    }
}

/// P@1/5/10 (percent) of one retrieval method.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Precision {
    pub p1: f64,
    pub p5: f64,
    pub p10: f64,
}

/// BLI figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BliReport {
    /// Dictionary pairs read.
    pub pairs_total: usize,
    /// Pairs with both words in vocabulary.
    pub pairs_kept: usize,
    /// Distinct dictionary source words.
    pub src_words_total: usize,
    /// Distinct source words with at least one in-vocabulary pair (the queries).
    pub src_words_kept: usize,
    /// `src_words_kept / src_words_total`.
    pub coverage: f64,
    /// Source vocabulary size used.
    pub src_vocab: usize,
    /// Target vocabulary size used.
    pub trg_vocab: usize,
    /// Cosine nearest neighbour.
    pub nn: Precision,
    /// CSLS with `csls_k` neighbours.
    pub csls: Precision,
}

impl BliReport {
    /// Flat metrics for node records: nn_p1, nn_p5, nn_p10, csls_p1, ..., coverage.
    pub fn metrics(&self) -> Vec<(String, f64)> {
        let mut m = Vec::new();
        for (name, p) in [("nn", &self.nn), ("csls", &self.csls)] {
            m.push((format!("{name}_p1"), p.p1));
            m.push((format!("{name}_p5"), p.p5));
            m.push((format!("{name}_p10"), p.p10));
        }
        m.push(("coverage".into(), self.coverage));
        m.push(("pairs_kept".into(), self.pairs_kept as f64));
        m.push(("src_words_kept".into(), self.src_words_kept as f64));
        m
    }
}

/// Reads a `src tgt` dictionary (whitespace-separated, blank lines skipped). A dictionary
/// without pairs is an error: every figure computed from it would be a meaningless 0.
pub fn read_dictionary(path: &Path) -> Result<Vec<(String, String)>, BliError> {
    let file = std::fs::File::open(path).map_err(|source| BliError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = Vec::new();
    let mut reader = std::io::BufReader::new(file);
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| BliError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let text = std::str::from_utf8(&buf).map_err(|_| BliError::Utf8 {
            path: path.to_path_buf(),
            line: line_no,
        })?;
        let fields: Vec<&str> = text.split_whitespace().collect();
        match fields.as_slice() {
            [] => {}
            [s, t] => out.push((s.to_string(), t.to_string())),
            f => {
                return Err(BliError::Malformed {
                    path: path.to_path_buf(),
                    line: line_no,
                    found: f.len(),
                });
            }
        }
    }
    if out.is_empty() {
        return Err(BliError::EmptyDictionary {
            path: path.to_path_buf(),
        });
    }
    Ok(out)
}

/// MUSE vocabulary: lowercase (optional), first occurrence wins, at most `max_vocab` distinct
/// words, L2-normalised rows (zero rows get `v[0] = 0.01` first).
fn muse_vocabulary(emb: &Embeddings, p: &BliParams) -> Embeddings {
    let mut seen = std::collections::HashSet::new();
    let mut words = Vec::new();
    let mut data = Vec::new();
    for (i, w) in emb.words.iter().enumerate() {
        if p.max_vocab > 0 && words.len() >= p.max_vocab {
            break;
        }
        let w = if p.lowercase {
            w.to_lowercase()
        } else {
            w.clone()
        };
        if seen.insert(w.clone()) {
            words.push(w);
            data.extend_from_slice(emb.row(i));
        }
    }
    let dim = emb.dim;
    for row in data.chunks_mut(dim.max(1)) {
        if dim > 0 && row.iter().all(|&v| v == 0.0) {
            row[0] = 0.01;
        }
    }
    unit_rows(&mut data, dim);
    Embeddings { words, dim, data }
}

/// Evaluates BLI of `src -> trg` on `dict` with the MUSE protocol.
pub fn evaluate(
    src: &Embeddings,
    trg: &Embeddings,
    dict: &[(String, String)],
    params: &BliParams,
) -> Result<BliReport, BliError> {
    params.validate()?;
    if src.dim != trg.dim {
        return Err(BliError::DimMismatch {
            src: src.dim,
            trg: trg.dim,
        });
    }
    let dim = src.dim;
    let s = muse_vocabulary(src, params);
    let t = muse_vocabulary(trg, params);
    let si = s.word_index();
    let ti = t.word_index();

    // Gold translations per source row, in first-seen order of source words.
    let norm = |w: &str| {
        if params.lowercase {
            w.to_lowercase()
        } else {
            w.to_string()
        }
    };
    let mut all_src = std::collections::HashSet::new();
    let mut gold: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut order: Vec<usize> = Vec::new();
    let mut pairs_kept = 0;
    let mut skipped_identical = 0;
    for (a, b) in dict {
        let (a, b) = (norm(a), norm(b));
        if params.skip_identical && a == b {
            skipped_identical += 1;
            continue;
        }
        all_src.insert(a.clone());
        if let (Some(&i), Some(&j)) = (si.get(a.as_str()), ti.get(b.as_str())) {
            pairs_kept += 1;
            let g = gold.entry(i).or_insert_with(|| {
                order.push(i);
                Vec::new()
            });
            if !g.contains(&j) {
                g.push(j);
            }
        }
    }
    let empty = Precision {
        p1: 0.0,
        p5: 0.0,
        p10: 0.0,
    };
    let mut report = BliReport {
        pairs_total: dict.len(),
        pairs_kept,
        src_words_total: all_src.len(),
        src_words_kept: order.len(),
        coverage: if all_src.is_empty() {
            0.0
        } else {
            order.len() as f64 / all_src.len() as f64
        },
        src_vocab: s.len(),
        trg_vocab: t.len(),
        nn: empty,
        csls: empty,
    };
    if order.is_empty() {
        return Err(BliError::NoPairsCovered {
            pairs: dict.len(),
            skipped_identical,
            src_vocab: s.len(),
            trg_vocab: t.len(),
        });
    }
    let k = params.csls_k;
    let nt = t.len();

    // r_S(y): mean of the k best similarities of each target to all sources.
    let mut cols = ColumnTopK::new(nt, k);
    for_each_block(
        &s.data,
        &t.data,
        dim,
        block_rows(params.batch_size, nt),
        |_, rows, blk| {
            cols.update(blk, rows);
        },
    );
    let r_s = cols.means();

    // Queries: cosine rows -> r_T, NN top-10, CSLS top-10.
    let mut queries = Vec::with_capacity(order.len() * dim);
    for &i in &order {
        queries.extend_from_slice(s.row(i));
    }
    let mut hits_nn = [0usize; 3];
    let mut hits_csls = [0usize; 3];
    let ks = [1usize, 5, 10];
    for_each_block(
        &queries,
        &t.data,
        dim,
        block_rows(params.batch_size, nt),
        |start, _, blk| {
            let r_t = row_topk(blk, nt, k);
            let per_row: Vec<([bool; 3], [bool; 3])> = blk
                .par_chunks(nt)
                .enumerate()
                .map(|(r, row)| {
                    let g = &gold[&order[start + r]];
                    let nn = topk_indices(row, 10);
                    let cs: Vec<f32> = row
                        .iter()
                        .zip(&r_s)
                        .map(|(&c, &rs)| 2.0 * c - r_t[r].0 - rs)
                        .collect();
                    let cs = topk_indices(&cs, 10);
                    let hit = |top: &[(f32, usize)]| {
                        ks.map(|kk| top.iter().take(kk).any(|(_, j)| g.contains(j)))
                    };
                    (hit(&nn), hit(&cs))
                })
                .collect();
            for (a, b) in per_row {
                for x in 0..3 {
                    hits_nn[x] += usize::from(a[x]);
                    hits_csls[x] += usize::from(b[x]);
                }
            }
        },
    );
    let n = order.len() as f64;
    let prec = |h: [usize; 3]| Precision {
        p1: 100.0 * h[0] as f64 / n,
        p5: 100.0 * h[1] as f64 / n,
        p10: 100.0 * h[2] as f64 / n,
    };
    report.nn = prec(hits_nn);
    report.csls = prec(hits_csls);
    Ok(report)
}

/// Word vectors for a dictionary's words from two subword embedding tables (an `mlm` node's
/// `embeddings`, given as both), as BLI evaluates a model's embedding layer: the distinct
/// source (target) words of `dict`, in first-seen order, are segmented in isolation with
/// `codes` (no vocabulary restriction) and averaged over `src` (`trg`) by
/// [`word_vectors_from_subwords`]. The target search space is then every target word of the
/// dictionary, since a subword table has no word vocabulary of its own.
pub fn dictionary_vectors_from_subwords(
    src: &Embeddings,
    trg: &Embeddings,
    dict: &[(String, String)],
    codes: &Codes,
) -> SubwordSides {
    let applier = BpeApplier::new(codes, None);
    let segment = |w: &str| -> Vec<String> {
        let mut out = Vec::new();
        if !w.is_empty() {
            applier.apply_word(w.as_bytes(), &mut out);
        }
        String::from_utf8_lossy(&out)
            .split(' ')
            .map(str::to_owned)
            .collect()
    };
    let side = |sub: &Embeddings, words: &[String]| {
        let index = sub.word_index();
        word_vectors_from_subwords(
            words,
            &segment,
            &|p| index.get(p).copied(),
            &sub.data,
            sub.dim,
        )
    };
    let (src, src_missing) = side(src, &dictionary_words(dict, |(s, _)| s));
    let (trg, trg_missing) = side(trg, &dictionary_words(dict, |(_, t)| t));
    SubwordSides {
        src,
        trg,
        src_missing,
        trg_missing,
    }
}

/// What [`dictionary_vectors_from_subwords`] returns.
#[derive(Debug, Clone)]
pub struct SubwordSides {
    /// Source dictionary words that have a vector.
    pub src: Embeddings,
    /// Target dictionary words that have a vector.
    pub trg: Embeddings,
    /// Distinct source words without any known subword (out of vocabulary).
    pub src_missing: usize,
    /// Distinct target words without any known subword.
    pub trg_missing: usize,
}

/// The distinct words of one side of a dictionary, in first-seen order.
fn dictionary_words(
    dict: &[(String, String)],
    side: impl Fn(&(String, String)) -> &String,
) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    dict.iter()
        .map(side)
        .filter(|w| seen.insert(w.as_str()))
        .cloned()
        .collect()
}

/// Word vectors from a model's subword embedding matrix (lexical paper's BLI vectors): each
/// word is segmented **in isolation** by `segment` (e.g. BPE with the model's codes), and its
/// vector is the mean of the rows of its subwords that `subword_index` knows (`matrix` is
/// row-major with `dim` columns). Unknown subwords are skipped; a word none of whose subwords
/// is known gets **no vector** (it is left out of the returned embeddings, so BLI counts it as
/// out of vocabulary) and is counted in the returned `n_missing`.
pub fn word_vectors_from_subwords(
    words: &[String],
    segment: &dyn Fn(&str) -> Vec<String>,
    subword_index: &dyn Fn(&str) -> Option<usize>,
    matrix: &[f32],
    dim: usize,
) -> (Embeddings, usize) {
    let rows = matrix.len() / dim.max(1);
    let mut out_words = Vec::new();
    let mut data = Vec::new();
    let mut missing = 0;
    for w in words {
        let ids: Vec<usize> = segment(w)
            .iter()
            .filter_map(|p| subword_index(p))
            .filter(|&i| i < rows)
            .collect();
        if ids.is_empty() {
            missing += 1;
            continue;
        }
        let mut acc = vec![0.0f64; dim];
        for &i in &ids {
            for (a, &v) in acc.iter_mut().zip(&matrix[i * dim..(i + 1) * dim]) {
                *a += f64::from(v);
            }
        }
        out_words.push(w.clone());
        data.extend(acc.iter().map(|&a| (a / ids.len() as f64) as f32));
    }
    (
        Embeddings {
            words: out_words,
            dim,
            data,
        },
        missing,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emb(words: &[&str], rows: &[[f32; 2]]) -> Embeddings {
        Embeddings::new(
            words.iter().map(|w| w.to_string()).collect(),
            2,
            rows.iter().flatten().copied().collect(),
        )
        .unwrap()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn counting_rules() {
        // Targets on the unit circle; each source points at one target.
        let t = emb(&["t0", "t1", "t2"], &[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]);
        let s = emb(&["a", "b", "c"], &[[1.0, 0.1], [0.1, 1.0], [-1.0, 0.2]]);
        let d = pairs(&[
            ("a", "t0"),   // correct
            ("b", "t2"),   // wrong gold ...
            ("b", "t1"),   // ... but a second gold translation is right: b counts once, correct
            ("c", "t1"),   // wrong at P@1 (c -> t2), right at P@5 (t1 is 2nd)
            ("c", "zzz"),  // target OOV: pair dropped, c stays a query
            ("oov", "t0"), // source OOV: dropped, lowers coverage
        ]);
        let p = BliParams {
            csls_k: 1,
            ..Default::default()
        };
        let r = evaluate(&s, &t, &d, &p).unwrap();
        assert_eq!((r.pairs_total, r.pairs_kept), (6, 4));
        assert_eq!((r.src_words_total, r.src_words_kept), (4, 3));
        assert!((r.coverage - 0.75).abs() < 1e-12);
        assert!((r.nn.p1 - 200.0 / 3.0).abs() < 1e-9);
        assert!((r.nn.p5 - 100.0).abs() < 1e-9);
        assert!((r.nn.p10 - 100.0).abs() < 1e-9);
        let m: HashMap<String, f64> = r.metrics().into_iter().collect();
        assert!((m["coverage"] - 0.75).abs() < 1e-12);
        assert!(m.contains_key("csls_p5"));
    }

    #[test]
    fn skip_identical_drops_same_string_pairs() {
        // One shared table: `world world` is found trivially, `house kuka` is not.
        let e = emb(
            &["world", "house", "kuka"],
            &[[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]],
        );
        let d = pairs(&[("world", "world"), ("house", "kuka")]);
        let all = evaluate(&e, &e, &d, &BliParams::default()).unwrap();
        assert_eq!(all.src_words_total, 2);
        assert!((all.nn.p1 - 50.0).abs() < 1e-9, "{:?}", all.nn);
        let p = BliParams {
            skip_identical: true,
            ..Default::default()
        };
        let cross = evaluate(&e, &e, &d, &p).unwrap();
        assert_eq!((cross.src_words_total, cross.pairs_kept), (1, 1));
        assert!(cross.nn.p1.abs() < 1e-9, "{:?}", cross.nn);
    }

    #[test]
    fn no_covered_pair_is_an_error_not_zero_precision() {
        let e = emb(&["world", "house"], &[[1.0, 0.0], [0.0, 1.0]]);
        let only_identical = pairs(&[("world", "world")]);
        let p = BliParams {
            skip_identical: true,
            ..Default::default()
        };
        assert!(matches!(
            evaluate(&e, &e, &only_identical, &p),
            Err(BliError::NoPairsCovered {
                pairs: 1,
                skipped_identical: 1,
                ..
            })
        ));
        let oov = pairs(&[("zzz", "house")]);
        assert!(matches!(
            evaluate(&e, &e, &oov, &BliParams::default()),
            Err(BliError::NoPairsCovered {
                skipped_identical: 0,
                ..
            })
        ));
    }

    #[test]
    fn csls_demotes_a_hub() {
        // t0 is a hub (close to both sources). NN maps both a and b to t0; CSLS sends b to t1.
        let t = emb(&["t0", "t1"], &[[1.0, 1.0], [0.0, 1.0]]);
        let s = emb(&["a", "b"], &[[1.0, 0.8], [0.45, 1.0]]);
        let d = pairs(&[("a", "t0"), ("b", "t1")]);
        let r = evaluate(
            &s,
            &t,
            &d,
            &BliParams {
                csls_k: 1,
                ..Default::default()
            },
        )
        .unwrap();
        assert!((r.nn.p1 - 50.0).abs() < 1e-9, "{:?}", r.nn);
        assert!((r.csls.p1 - 100.0).abs() < 1e-9, "{:?}", r.csls);
    }

    #[test]
    fn lowercase_first_wins_and_max_vocab() {
        let s = emb(&["The", "the", "x"], &[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]);
        let v = muse_vocabulary(
            &s,
            &BliParams {
                max_vocab: 2,
                ..Default::default()
            },
        );
        assert_eq!(v.words, vec!["the", "x"]);
        assert_eq!(v.row(0), &[1.0, 0.0]);
    }

    #[test]
    fn dictionary_reader() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.txt");
        std::fs::write(&p, "a\tb\n\nc d\n").unwrap();
        assert_eq!(
            read_dictionary(&p).unwrap(),
            pairs(&[("a", "b"), ("c", "d")])
        );
        std::fs::write(&p, "a b\nc d e\n").unwrap();
        assert!(matches!(
            read_dictionary(&p),
            Err(BliError::Malformed {
                line: 2,
                found: 3,
                ..
            })
        ));
        std::fs::write(&p, b"a b\n\xff b\n").unwrap();
        assert!(matches!(
            read_dictionary(&p),
            Err(BliError::Utf8 { line: 2, .. })
        ));
    }

    #[test]
    fn subword_means() {
        let vocab: HashMap<&str, usize> = [("hel@@", 0), ("lo", 1), ("x", 2)].into_iter().collect();
        let seg = |w: &str| -> Vec<String> {
            match w {
                "hello" => vec!["hel@@".into(), "lo".into()],
                "yo" => vec!["yo".into()],
                _ => vec![w.into()],
            }
        };
        let idx = |p: &str| vocab.get(p).copied();
        let m = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let words = vec!["hello".to_string(), "yo".to_string(), "x".to_string()];
        let (e, missing) = word_vectors_from_subwords(&words, &seg, &idx, &m, 2);
        assert_eq!(missing, 1);
        assert_eq!(e.words, vec!["hello", "x"]);
        assert_eq!(e.data, vec![2.0, 3.0, 5.0, 6.0]);
    }
}
