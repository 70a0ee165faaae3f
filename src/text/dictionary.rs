//! XLM's dictionary (facebookresearch/XLM `xlm/data/dictionary.py`, class `Dictionary`,
//! `read_vocab`, `check_valid`, `index`) and RE-LM's vocabulary extension
//! (alexandra-chron/relm_unmt `add_vocabs.py`).
//!
//! Ids 0..14 are fixed: `<s>`, `</s>`, `<pad>`, `<unk>`, `<special0>`..`<special9>`
//! (`<special0>` = separator, `<special1>` = MASK). Entries of the vocabulary file follow from
//! id 14 in file order.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::text::bpe::Vocab;

/// `<s>` (BOS) id.
pub const BOS_INDEX: u32 = 0;
/// `</s>` (EOS) id; XLM also uses it as the sentence start symbol.
pub const EOS_INDEX: u32 = 1;
/// `<pad>` id.
pub const PAD_INDEX: u32 = 2;
/// `<unk>` id.
pub const UNK_INDEX: u32 = 3;
/// `<special0>` id, XLM's separator.
pub const SEP_INDEX: u32 = 4;
/// `<special1>` id, XLM's MASK.
pub const MASK_INDEX: u32 = 5;
/// Number of `<specialN>` words (XLM `SPECIAL_WORDS`).
pub const SPECIAL_WORDS: u32 = 10;
/// Number of reserved ids before the first vocabulary entry.
pub const N_RESERVED: u32 = 4 + SPECIAL_WORDS;

/// Errors of reading a dictionary. Messages follow the crate convention (ARCHITECTURE.md, "Errors").
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DictionaryError {
    /// The file could not be read.
    #[error("failed to read dictionary `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not valid UTF-8.
    #[error("failed to decode dictionary `{path}` line {line}: invalid UTF-8")]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// The count field is not an integer (XLM asserts `isdigit()`).
    #[error(
        "failed to parse dictionary `{path}` line {line}: count `{count}` is not a non-negative integer"
    )]
    BadCount {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The offending field.
        count: String,
    },
    /// The file is not sorted by non-increasing count (XLM `check_valid`).
    #[error(
        "failed to read dictionary `{path}` line {line}: count {count} is larger than the previous entry's {previous} (the file must be sorted by non-increasing count)"
    )]
    Unsorted {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The count on that line.
        count: u64,
        /// The previous kept entry's count.
        previous: u64,
    },
}

/// Whitespace as Python's `str.split()` sees it (Unicode White_Space plus `\x1c`..`\x1f`).
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

pub(crate) fn py_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_py_space).filter(|f| !f.is_empty())
}

/// An XLM dictionary: word <-> id, with counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dictionary {
    words: Vec<String>,
    counts: Vec<u64>,
    ids: HashMap<String, u32>,
    skipped: usize,
}

impl Dictionary {
    /// A dictionary holding only the 14 reserved words.
    fn reserved() -> Self {
        let mut words: Vec<String> = ["<s>", "</s>", "<pad>", "<unk>"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        words.extend((0..SPECIAL_WORDS).map(|i| format!("<special{i}>")));
        let ids = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        Self {
            counts: vec![0; words.len()],
            words,
            ids,
            skipped: 0,
        }
    }

    /// Reads a vocabulary file (`word count` lines) as XLM `Dictionary.read_vocab` does:
    /// lines containing U+2028 or not made of exactly 2 whitespace-separated fields are
    /// skipped (see [`Dictionary::skipped`]), as are words already present (duplicates and
    /// reserved words); a non-integer count or an increase of the count is an error with the
    /// file and line. (XLM's `check_valid` does not check the last entry; we check all.)
    pub fn read(path: &Path) -> Result<Self, DictionaryError> {
        let bytes = std::fs::read(path).map_err(|source| DictionaryError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&bytes, path)
    }

    /// Parses the bytes of a vocabulary file; `path` only names the input in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, DictionaryError> {
        let mut d = Self::reserved();
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        if body.is_empty() {
            return Ok(d);
        }
        for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
            let text = std::str::from_utf8(raw).map_err(|_| DictionaryError::InvalidUtf8 {
                path: path.to_path_buf(),
                line: i + 1,
            })?;
            d.add_line(text, i + 1, path)?;
        }
        Ok(d)
    }

    /// Builds the dictionary of a vocabulary with the same rules as [`Dictionary::read`]
    /// applied to its `token count` lines.
    pub fn from_vocab(vocab: &Vocab) -> Result<Self, DictionaryError> {
        let mut d = Self::reserved();
        let path = Path::new("<vocabulary>");
        for (i, (w, c)) in vocab.entries.iter().enumerate() {
            d.add_line(&format!("{w} {c}"), i + 1, path)?;
        }
        Ok(d)
    }

    fn add_line(&mut self, text: &str, line: usize, path: &Path) -> Result<(), DictionaryError> {
        if text.contains('\u{2028}') {
            self.skipped += 1;
            return Ok(());
        }
        let fields: Vec<&str> = py_split(text).collect();
        if fields.len() != 2 {
            self.skipped += 1;
            return Ok(());
        }
        let bad = || DictionaryError::BadCount {
            path: path.to_path_buf(),
            line,
            count: fields[1].to_owned(),
        };
        if !fields[1].bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let count: u64 = fields[1].parse().map_err(|_| bad())?;
        if self.ids.contains_key(fields[0]) {
            self.skipped += 1;
            return Ok(());
        }
        if self.words.len() > N_RESERVED as usize {
            let previous = self.counts[self.words.len() - 1];
            if count > previous {
                return Err(DictionaryError::Unsorted {
                    path: path.to_path_buf(),
                    line,
                    count,
                    previous,
                });
            }
        }
        let id = self.words.len() as u32;
        self.ids.insert(fields[0].to_owned(), id);
        self.words.push(fields[0].to_owned());
        self.counts.push(count);
        Ok(())
    }

    /// Id of `word`, `<unk>` (3) when absent (XLM `index(word, no_unk=False)`).
    pub fn index(&self, word: &str) -> u32 {
        self.get(word).unwrap_or(UNK_INDEX)
    }

    /// Id of `word` if present.
    pub fn get(&self, word: &str) -> Option<u32> {
        self.ids.get(word).copied()
    }

    /// Word of `id`.
    pub fn word(&self, id: u32) -> Option<&str> {
        self.words.get(id as usize).map(String::as_str)
    }

    /// Count of `id` (0 for reserved words).
    pub fn count(&self, id: u32) -> Option<u64> {
        self.counts.get(id as usize).copied()
    }

    /// Number of ids (reserved words included).
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Always false: the reserved words are always there.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Number of skipped lines (U+2028, not 2 fields, word already present).
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Stable 64-bit fingerprint of the id -> word mapping (FNV-1a over the words in id order,
    /// each followed by `'\n'`), stored in binarized datasets to detect a dictionary mismatch.
    pub fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for w in &self.words {
            for &b in w.as_bytes().iter().chain(b"\n") {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        h
    }
}

/// RE-LM vocabulary extension (alexandra-chron/relm_unmt `add_vocabs.py`): all HMR entries
/// (those with exactly 2 fields) with their counts raised by the count of the first LMR entry
/// absent from the HMR vocabulary (the most frequent new item, so the result stays sorted),
/// followed by the LMR entries absent from the HMR vocabulary with their own counts. Returns
/// the extended vocabulary and the number of new entries (`--increase_vocab_by`), so HMR ids are
/// unchanged. When there is no new entry the reference script crashes; we raise by 0.
pub fn extend(hmr: &Vocab, lmr: &Vocab) -> (Vocab, usize) {
    let two_fields = |w: &str| py_split(w).count() == 1 && !w.contains(is_py_space);
    let hmr_kept: Vec<&(String, u64)> = hmr.entries.iter().filter(|(w, _)| two_fields(w)).collect();
    let hmr_set: std::collections::HashSet<&str> =
        hmr_kept.iter().map(|(w, _)| w.as_str()).collect();
    let new: Vec<&(String, u64)> = lmr
        .entries
        .iter()
        .filter(|(w, _)| two_fields(w) && !hmr_set.contains(w.as_str()))
        .collect();
    let raise = new.first().map_or(0, |(_, c)| *c);
    let mut entries: Vec<(String, u64)> = hmr_kept
        .iter()
        .map(|(w, c)| (w.clone(), c + raise))
        .collect();
    entries.extend(new.iter().map(|(w, c)| (w.clone(), *c)));
    (Vocab { entries }, new.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab(e: &[(&str, u64)]) -> Vocab {
        Vocab {
            entries: e.iter().map(|(w, c)| ((*w).to_owned(), *c)).collect(),
        }
    }

    #[test]
    fn fixed_ids_and_file_order() {
        let d = Dictionary::parse(b"the 10\nof 7\nand 7\nzz 1\n", Path::new("v")).unwrap();
        assert_eq!(d.len(), 18);
        assert_eq!(d.word(0), Some("<s>"));
        assert_eq!(d.word(1), Some("</s>"));
        assert_eq!(d.word(2), Some("<pad>"));
        assert_eq!(d.word(3), Some("<unk>"));
        assert_eq!(d.word(4), Some("<special0>"));
        assert_eq!(d.word(MASK_INDEX), Some("<special1>"));
        assert_eq!(d.word(13), Some("<special9>"));
        assert_eq!(d.index("the"), 14);
        assert_eq!(d.index("and"), 16);
        assert_eq!(d.index("zz"), 17);
        assert_eq!(d.index("missing"), UNK_INDEX);
        assert_eq!(d.count(15), Some(7));
        assert_eq!(d.word(18), None);
    }

    #[test]
    fn skips_like_xlm() {
        let text = "a 5\nb\u{2028}x 4\nonly\nc d 3\n\n<unk> 3\na 3\ne 2\n";
        let d = Dictionary::parse(text.as_bytes(), Path::new("v")).unwrap();
        assert_eq!(d.skipped(), 6);
        assert_eq!(d.index("a"), 14);
        assert_eq!(d.index("e"), 15);
        assert_eq!(d.len(), 16);
    }

    #[test]
    fn unsorted_and_bad_count_errors() {
        match Dictionary::parse(b"a 5\nb 3\nc 4\n", Path::new("dict.txt")) {
            Err(e @ DictionaryError::Unsorted { line: 3, .. }) => {
                assert!(e.to_string().contains("`dict.txt` line 3"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Dictionary::parse(b"a 5\nb x\n", Path::new("d")),
            Err(DictionaryError::BadCount { line: 2, .. })
        ));
        assert!(matches!(
            Dictionary::parse(b"a 5\n\xff 3\n", Path::new("d")),
            Err(DictionaryError::InvalidUtf8 { line: 2, .. })
        ));
    }

    #[test]
    fn from_vocab_matches_read_and_fingerprint_tracks_order() {
        let v = vocab(&[("x", 3), ("y", 2)]);
        let a = Dictionary::from_vocab(&v).unwrap();
        let b = Dictionary::parse(b"x 3\ny 2\n", Path::new("v")).unwrap();
        assert_eq!(a, b);
        let c = Dictionary::parse(b"y 3\nx 2\n", Path::new("v")).unwrap();
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_eq!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn relm_extension() {
        let hmr = vocab(&[("the", 100), ("a@@", 50), ("и", 3)]);
        let lmr = vocab(&[("и", 40), ("на", 30), ("the", 20), ("од@@", 10)]);
        let (ext, n_new) = extend(&hmr, &lmr);
        assert_eq!(n_new, 2);
        assert_eq!(
            ext,
            vocab(&[
                ("the", 130),
                ("a@@", 80),
                ("и", 33),
                ("на", 30),
                ("од@@", 10)
            ])
        );
        let d = Dictionary::from_vocab(&ext).unwrap();
        assert_eq!(d.index("the"), 14);
        assert_eq!(d.index("од@@"), 18);
        let (same, n) = extend(&hmr, &hmr);
        assert_eq!((same, n), (hmr.clone(), 0));
    }
}
