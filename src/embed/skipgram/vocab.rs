//! Reading the corpus into fastText's vocabulary and token stream.
//!
//! Port of facebookresearch/fastText `src/dictionary.cc`: `readWord` (token splitting and the
//! `</s>` token per newline), `add`/`readFromFile` (counting, pruning when the vocabulary
//! outgrows 75% of `MAX_VOCAB_SIZE`), `threshold` (minCount filter, sort by count),
//! `initTableDiscard` (subsampling probabilities) and `getLine` (1024-token line cap).
//!
//! Several input files are read as one stream, like `cat a b` except that the end of each
//! file always ends the current word (a file without a final newline does not glue its
//! last word to the next file's first word). That is how one model over two languages (the
//! "joint fastText" baseline) is trained.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use super::cppsort::cpp_sort;
use super::error::SkipgramError;
use super::rng::MinStd;

/// The end-of-sentence token fastText emits for every newline.
pub const EOS: &str = "</s>";
/// fastText `Dictionary::MAX_VOCAB_SIZE`: vocabulary pruning starts at 75% of it.
const MAX_VOCAB_SIZE: usize = 30_000_000;
/// fastText `Dictionary::MAX_LINE_SIZE`: a training line ends after more than this many tokens.
pub const MAX_LINE_SIZE: u64 = 1024;

/// FNV-1a hasher for the word table (fastText hashes words with the same function).
pub struct FnvHasher(u32);

impl Default for FnvHasher {
    fn default() -> Self {
        Self(2_166_136_261)
    }
}

impl Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0 as u64
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u32;
            self.0 = self.0.wrapping_mul(16_777_619);
        }
    }
}

type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<FnvHasher>>;

/// The bytes fastText treats as word separators (`Dictionary::readWord`).
#[inline]
fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t' | 0x0B | 0x0C | 0)
}

/// Calls `f(token)` for every token of every file in order, `</s>` for every newline.
fn for_each_token(
    inputs: &[PathBuf],
    mut f: impl FnMut(&str) -> Result<(), SkipgramError>,
) -> Result<(), SkipgramError> {
    for path in inputs {
        let read_err = |source| SkipgramError::Read {
            path: path.clone(),
            source,
        };
        let file = File::open(path).map_err(read_err)?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut buf = Vec::new();
        let mut line_no = 0u64;
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf).map_err(read_err)?;
            if n == 0 {
                break;
            }
            line_no += 1;
            let has_newline = buf.last() == Some(&b'\n');
            let text = std::str::from_utf8(&buf).map_err(|_| SkipgramError::InvalidUtf8 {
                path: path.clone(),
                line: line_no,
            })?;
            for tok in text.split(|c: char| c.is_ascii() && is_separator(c as u8)) {
                if !tok.is_empty() {
                    f(tok)?;
                }
            }
            if has_newline {
                f(EOS)?;
            }
        }
    }
    Ok(())
}

/// The vocabulary: words with count >= minCount, sorted by decreasing count.
#[derive(Debug, Clone)]
pub struct Vocab {
    words: Vec<String>,
    counts: Vec<u64>,
    index: FnvMap<String, u32>,
    ntokens: u64,
}

impl Vocab {
    /// Counts the tokens of `inputs` and keeps those occurring at least `min_count` times.
    ///
    /// Words of equal count are ordered as fastText's `std::sort` leaves them (see
    /// [`crate::embed::skipgram`]'s `cppsort` port), so word ids match fastText's.
    pub fn from_files(inputs: &[PathBuf], min_count: u64) -> Result<Self, SkipgramError> {
        let mut words: Vec<String> = Vec::new();
        let mut counts: Vec<u64> = Vec::new();
        let mut index: FnvMap<String, u32> = FnvMap::default();
        let mut ntokens = 0u64;
        let mut min_threshold = 1u64;
        for_each_token(inputs, |tok| {
            ntokens += 1;
            if let Some(&i) = index.get(tok) {
                counts[i as usize] += 1;
            } else {
                index.insert(tok.to_owned(), words.len() as u32);
                words.push(tok.to_owned());
                counts.push(1);
            }
            if words.len() as f64 > 0.75 * MAX_VOCAB_SIZE as f64 {
                min_threshold += 1;
                threshold(&mut words, &mut counts, &mut index, min_threshold);
            }
            Ok(())
        })?;
        threshold(&mut words, &mut counts, &mut index, min_count);
        if words.is_empty() {
            return Err(SkipgramError::EmptyVocabulary { min_count });
        }
        if words.len() > i32::MAX as usize {
            return Err(SkipgramError::VocabularyTooLarge {
                words: words.len() as u64,
            });
        }
        Ok(Self {
            words,
            counts,
            index,
            ntokens,
        })
    }

    /// Builds a vocabulary from explicit (word, count) pairs, already in the wanted order.
    pub fn from_counts(pairs: Vec<(String, u64)>, ntokens: u64) -> Self {
        let mut index = FnvMap::default();
        let mut words = Vec::with_capacity(pairs.len());
        let mut counts = Vec::with_capacity(pairs.len());
        for (i, (w, c)) in pairs.into_iter().enumerate() {
            index.insert(w.clone(), i as u32);
            words.push(w);
            counts.push(c);
        }
        Self {
            words,
            counts,
            index,
            ntokens,
        }
    }

    /// Number of vocabulary words (fastText `nwords`).
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// True when no word is kept.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Words, most frequent first.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Counts, aligned with [`Vocab::words`].
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Number of tokens read, including `</s>` and words below minCount (fastText `ntokens`).
    pub fn ntokens(&self) -> u64 {
        self.ntokens
    }

    /// Id of `word`, if it is in the vocabulary.
    pub fn id(&self, word: &str) -> Option<u32> {
        self.index.get(word).copied()
    }

    /// Keep probabilities for subsampling: sqrt(t/f) + t/f with f = count / ntokens, computed
    /// in fastText's mixed float/double arithmetic (`Dictionary::initTableDiscard`). A token is
    /// dropped when a uniform draw in [0,1) exceeds it.
    pub fn discard_table(&self, t: f64) -> Vec<f32> {
        self.counts
            .iter()
            .map(|&c| {
                let f = c as f32 / self.ntokens as f32;
                let r = t / f as f64;
                (r.sqrt() + r) as f32
            })
            .collect()
    }

    /// The corpus as in-vocabulary word ids (fastText skips unknown words when training).
    pub fn encode(&self, inputs: &[PathBuf]) -> Result<Vec<u32>, SkipgramError> {
        let mut ids = Vec::with_capacity(self.ntokens as usize);
        for_each_token(inputs, |tok| {
            if let Some(&i) = self.index.get(tok) {
                ids.push(i);
            }
            Ok(())
        })?;
        Ok(ids)
    }

    /// Id of `</s>` when it is in the vocabulary.
    pub fn eos(&self) -> Option<u32> {
        self.id(EOS)
    }
}

/// `Dictionary::getLine` for skip-gram on the encoded stream: reads tokens from `*pos`,
/// keeps each with its subsampling probability (one `uniform(0,1)` draw per token, dropped
/// when the draw exceeds `discard[id]`), and stops after `</s>` or once more than
/// [`MAX_LINE_SIZE`] tokens were read. At the end of the stream the next call restarts
/// from the beginning (fastText's `reset` at EOF). Returns the number of tokens read
/// (kept or not), which is what advances training progress.
pub fn next_line(
    stream: &[u32],
    pos: &mut usize,
    discard: &[f32],
    eos: Option<u32>,
    rng: &mut MinStd,
    line: &mut Vec<u32>,
) -> u64 {
    if *pos >= stream.len() {
        *pos = 0;
    }
    line.clear();
    let mut ntokens = 0u64;
    while *pos < stream.len() {
        let wid = stream[*pos];
        *pos += 1;
        ntokens += 1;
        let r = rng.canonical() as f32;
        if r <= discard[wid as usize] {
            line.push(wid);
        }
        if ntokens > MAX_LINE_SIZE || Some(wid) == eos {
            break;
        }
    }
    ntokens
}

/// `Dictionary::threshold`: sort all entries by decreasing count with libstdc++'s
/// (unstable) `std::sort`, then drop words below `min` — in that order, as fastText, so
/// that equal-count words come out in fastText's order.
fn threshold(
    words: &mut Vec<String>,
    counts: &mut Vec<u64>,
    index: &mut FnvMap<String, u32>,
    min: u64,
) {
    let mut order: Vec<u32> = (0..words.len() as u32).collect();
    let c: &[u64] = counts;
    cpp_sort(&mut order, &|a: &u32, b: &u32| {
        c[*a as usize] > c[*b as usize]
    });
    let mut old_words = std::mem::take(words);
    let old_counts = std::mem::take(counts);
    index.clear();
    for &i in order.iter().filter(|&&i| old_counts[i as usize] >= min) {
        let w = std::mem::take(&mut old_words[i as usize]);
        index.insert(w.clone(), words.len() as u32);
        words.push(w);
        counts.push(old_counts[i as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &tempfile::TempDir, name: &str, content: &[u8]) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::File::create(&p)
            .unwrap()
            .write_all(content)
            .unwrap();
        p
    }

    #[test]
    fn counts_sorts_and_emits_eos_per_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "a.txt", b"b a a\tc\n\na  b a\r\nc");
        let v = Vocab::from_files(&[p], 1).unwrap();
        // a:4, </s>:3, b:2, c:2 (b before c: first occurrence), final line has no newline.
        assert_eq!(v.words(), ["a", "</s>", "b", "c"]);
        assert_eq!(v.counts(), [4, 3, 2, 2]);
        assert_eq!(v.ntokens(), 11);
        let v2 = Vocab::from_files(&[dir.path().join("a.txt")], 3).unwrap();
        assert_eq!(v2.words(), ["a", "</s>"]);
        assert_eq!(v2.ntokens(), 11);
    }

    #[test]
    fn files_are_concatenated_with_a_word_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(&dir, "a.txt", b"x y");
        let b = write(&dir, "b.txt", b"z x\n");
        let v = Vocab::from_files(&[a.clone(), b.clone()], 1).unwrap();
        assert_eq!(v.words(), ["x", "y", "z", "</s>"]);
        assert_eq!(v.encode(&[a, b]).unwrap(), [0, 1, 2, 0, 3]);
    }

    #[test]
    fn invalid_utf8_reports_path_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "bad.txt", b"ok line\nbad \xff byte\n");
        match Vocab::from_files(std::slice::from_ref(&p), 1) {
            Err(SkipgramError::InvalidUtf8 { path, line }) => {
                assert_eq!(path, p);
                assert_eq!(line, 2);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn empty_vocabulary_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "a.txt", b"a b c");
        assert!(matches!(
            Vocab::from_files(&[p], 2),
            Err(SkipgramError::EmptyVocabulary { min_count: 2 })
        ));
    }

    #[test]
    fn discard_probabilities_follow_sqrt_rule() {
        let v = Vocab::from_counts(vec![("the".into(), 1000), ("rare".into(), 1)], 10_000);
        let p = v.discard_table(1e-4);
        // f = 0.1: sqrt(1e-3) + 1e-3; f = 1e-4: 1 + 1 = 2 (always kept).
        assert!((p[0] - (1e-3f64.sqrt() + 1e-3) as f32).abs() < 1e-6);
        assert!((p[1] - 2.0).abs() < 1e-5);
    }

    #[test]
    fn lines_end_at_eos_or_after_1024_tokens_and_wrap() {
        let keep = [2.0f32, 2.0, 2.0];
        let mut rng = MinStd::new(0);
        let mut line = Vec::new();
        // No </s>: a line is cut after 1025 tokens (fastText's `ntokens > MAX_LINE_SIZE`).
        let stream = vec![0u32; 3000];
        let mut pos = 0;
        assert_eq!(
            next_line(&stream, &mut pos, &keep, None, &mut rng, &mut line),
            1025
        );
        assert_eq!(line.len(), 1025);
        // </s> (id 2) ends the line and is part of it.
        let stream = [0u32, 1, 2, 1, 1];
        let mut pos = 0;
        assert_eq!(
            next_line(&stream, &mut pos, &keep, Some(2), &mut rng, &mut line),
            3
        );
        assert_eq!(line, [0, 1, 2]);
        assert_eq!(
            next_line(&stream, &mut pos, &keep, Some(2), &mut rng, &mut line),
            2
        );
        // At the end of the stream the next line starts over.
        assert_eq!(
            next_line(&stream, &mut pos, &keep, Some(2), &mut rng, &mut line),
            3
        );
        assert_eq!(line, [0, 1, 2]);
        // Subsampling drops tokens but they still count.
        let drop_all = [0.0f32; 3];
        assert_eq!(
            next_line(&stream, &mut pos, &drop_all, Some(2), &mut rng, &mut line),
            2
        );
        assert!(line.is_empty());
    }
}
