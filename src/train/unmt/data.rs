//! UNMT data: monolingual training sentences per language (binarized, as the MLM reads
//! them) and line-aligned validation sets per language (BPE-segmented text with the raw
//! references), all in XLM's sentence layout `[</s>, w1 .. wn, </s>]`.

use std::path::{Path, PathBuf};

use crate::text::binarized::{BinarizedDataset, BinarizedError};
use crate::text::dictionary::{Dictionary, EOS_INDEX};

/// Why UNMT data could not be loaded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DataError {
    /// A binarized file is unusable or was built with another dictionary.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Binarized(#[from] BinarizedError),
    /// A text file could not be read.
    #[error("failed to read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A text file has a line that is not UTF-8.
    #[error("failed to decode `{path}` line {line}: invalid UTF-8")]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
    },
    /// No usable sentence.
    #[error("failed to load `{path}`: no sentence of 1 to {max_len} tokens")]
    Empty {
        /// The file.
        path: PathBuf,
        /// The length limit in force.
        max_len: usize,
    },
    /// Two files that must be line-aligned are not.
    #[error(
        "failed to align `{left}` ({left_lines} lines) with `{right}` ({right_lines} lines): parallel validation files must have the same number of lines"
    )]
    LineCount {
        /// One file.
        left: PathBuf,
        /// Its lines.
        left_lines: usize,
        /// The other.
        right: PathBuf,
        /// Its lines.
        right_lines: usize,
    },
}

/// `[</s>, ids.., </s>]`.
pub fn with_boundaries(ids: &[u32]) -> Vec<u32> {
    let mut s = Vec::with_capacity(ids.len() + 2);
    s.push(EOS_INDEX);
    s.extend_from_slice(ids);
    s.push(EOS_INDEX);
    s
}

/// The training sentences of one binarized file: those of 1 to `max_len` tokens (XLM
/// `remove_empty_sentences`, `remove_long_sentences(max_len)`), with boundaries.
pub fn load_mono(
    path: &Path,
    dico: &Dictionary,
    max_len: usize,
) -> Result<Vec<Vec<u32>>, DataError> {
    let data = BinarizedDataset::open(path)?;
    data.check_dictionary(dico)?;
    let sentences: Vec<Vec<u32>> = data
        .iter()
        .filter(|s| !s.is_empty() && s.len() <= max_len)
        .map(|s| with_boundaries(&s))
        .collect();
    if sentences.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
            max_len,
        });
    }
    Ok(sentences)
}

/// One language's side of the parallel validation data.
#[derive(Debug, Clone)]
pub struct ValidSide {
    /// Language name.
    pub lang: String,
    /// BPE-segmented sentences as ids (unknown subwords are `<unk>`), with boundaries.
    pub sentences: Vec<Vec<u32>>,
    /// The raw (detokenized) reference lines, for SacreBLEU.
    pub references: Vec<String>,
    /// The BPE text lines (XLM's in-training BLEU scores against these, BPE merged).
    pub segmented: Vec<String>,
}

/// A generated sentence as subword text: its `</s>` boundaries dropped, ids written as their
/// dictionary words (`<unk>` for an id the dictionary lacks). BPE is still in.
pub fn subword_text(dico: &Dictionary, sentence: &[u32]) -> String {
    sentence
        .iter()
        .filter(|&&id| id != EOS_INDEX)
        .map(|&id| dico.word(id).unwrap_or("<unk>"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads one side: `bpe_text` (one BPE-segmented sentence per line) and `references` (the
/// same sentences, raw), which must have the same number of lines.
pub fn load_valid(
    lang: &str,
    bpe_text: &Path,
    references: &Path,
    dico: &Dictionary,
) -> Result<ValidSide, DataError> {
    let segmented = read_lines(bpe_text)?;
    let refs = read_lines(references)?;
    if segmented.len() != refs.len() {
        return Err(DataError::LineCount {
            left: bpe_text.to_path_buf(),
            left_lines: segmented.len(),
            right: references.to_path_buf(),
            right_lines: refs.len(),
        });
    }
    let sentences = segmented
        .iter()
        .map(|line| {
            let ids: Vec<u32> = line.split_whitespace().map(|w| dico.index(w)).collect();
            with_boundaries(&ids)
        })
        .collect();
    Ok(ValidSide {
        lang: lang.to_owned(),
        sentences,
        references: refs,
        segmented,
    })
}

/// Checks that two sides are line-aligned (same number of sentences).
pub fn check_aligned(
    a: &ValidSide,
    a_path: &Path,
    b: &ValidSide,
    b_path: &Path,
) -> Result<(), DataError> {
    if a.sentences.len() == b.sentences.len() {
        return Ok(());
    }
    Err(DataError::LineCount {
        left: a_path.to_path_buf(),
        left_lines: a.sentences.len(),
        right: b_path.to_path_buf(),
        right_lines: b.sentences.len(),
    })
}

fn read_lines(path: &Path) -> Result<Vec<String>, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        DataError::InvalidUtf8 {
            path: path.to_path_buf(),
            line: upto.iter().filter(|&&b| b == b'\n').count() + 1,
        }
    })?;
    Ok(text.lines().map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_sides_must_match_their_references() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (bpe, refs) = (dir.path().join("v.bpe"), dir.path().join("v.txt"));
        std::fs::write(&bpe, "a b@@ c\nd\n").expect("write");
        std::fs::write(&refs, "a bc\n").expect("write");
        let dico = Dictionary::parse(b"a 3\nd 2\n", Path::new("vocab")).expect("dico");
        let e = load_valid("en", &bpe, &refs, &dico).expect_err("line counts differ");
        assert!(
            e.to_string().contains("(2 lines)") && e.to_string().contains("(1 lines)"),
            "{e}"
        );
        std::fs::write(&refs, "a bc\nd\n").expect("write");
        let side = load_valid("en", &bpe, &refs, &dico).expect("valid");
        let a = dico.index("a");
        assert_eq!(side.sentences[0][..2], [EOS_INDEX, a]);
        assert_eq!(side.sentences[1].len(), 3);
        assert_eq!(side.references[1], "d");
    }
}
