//! Word counting over whole corpora, exactly as fastBPE's `readText` splits words: only the
//! bytes `' '` and `'\n'` separate words (tabs, `\r`, non-breaking spaces belong to words).
//!
//! Port of glample/fastBPE `fastBPE/fastBPE.hpp` `readText`, made parallel: each file is
//! memory-mapped, cut into chunks at line ends and counted with rayon, then the per-chunk maps
//! are merged. Two deliberate differences: the input must be valid UTF-8 (an error names the file
//! and line), and a last word not followed by a delimiter is counted (fastBPE drops it).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use super::error::BpeError;
use super::fxhash::FxHashMap;
use super::is_word_delim;

/// Chunk size for parallel counting (bytes); chunks end at a `'\n'`.
const CHUNK: usize = 1 << 20;

/// Pooled word counts of one or more corpora.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WordCounts {
    counts: FxHashMap<String, u64>,
}

impl WordCounts {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n` occurrences of `word`.
    pub fn add(&mut self, word: &str, n: u64) {
        if let Some(c) = self.counts.get_mut(word) {
            *c += n;
        } else {
            self.counts.insert(word.to_owned(), n);
        }
    }

    /// Counts the words of `text` (split on `' '` and `'\n'` only).
    pub fn add_text(&mut self, text: &str) {
        for w in text.split([' ', '\n']) {
            if !w.is_empty() {
                self.add(w, 1);
            }
        }
    }

    /// Count of `word` (0 when absent).
    pub fn get(&self, word: &str) -> u64 {
        self.counts.get(word).copied().unwrap_or(0)
    }

    /// Number of distinct words.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether no word was counted.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Total number of word occurrences.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Iterates over `(word, count)` in unspecified order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.counts.iter().map(|(w, &c)| (w.as_str(), c))
    }

    /// `(word, count)` sorted by count descending, then word ascending (byte order), as
    /// fastBPE's `getvocab` sorts.
    pub fn sorted(&self) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.iter().collect();
        v.par_sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v
    }
}

/// Bytes of one input: a memory map of a file, or stdin read into memory (`-`).
pub(crate) enum Source {
    Map(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Source {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Source::Map(m) => m,
            Source::Owned(v) => v,
        }
    }
}

/// Opens `path` for reading as bytes; `-` reads stdin to the end.
pub(crate) fn open_source(path: &Path) -> Result<Source, BpeError> {
    if path.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut v)
            .map_err(|e| BpeError::read(path, e))?;
        return Ok(Source::Owned(v));
    }
    let f = std::fs::File::open(path).map_err(|e| BpeError::read(path, e))?;
    let len = f.metadata().map_err(|e| BpeError::read(path, e))?.len();
    if len == 0 {
        return Ok(Source::Owned(Vec::new()));
    }
    // SAFETY: the map is read-only; a corpus being modified while we read it is outside
    // what this tool supports (as for fastBPE, which also mmaps its inputs).
    let map = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| BpeError::read(path, e))?;
    Ok(Source::Map(map))
}

/// Splits `data` into ranges of about `target` bytes, each ending just after a `'\n'` (the
/// last one at the end of data), so that chunks start at line starts.
pub(crate) fn line_chunks(data: &[u8], target: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let mut end = (start + target).min(data.len());
        if end < data.len() {
            match data[end..].iter().position(|&b| b == b'\n') {
                Some(p) => end += p + 1,
                None => end = data.len(),
            }
        }
        out.push((start, end));
        start = end;
    }
    out
}

/// 1-based line number of byte `offset` in `data`.
pub(crate) fn line_of(data: &[u8], offset: usize) -> usize {
    data[..offset.min(data.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Counts the words of `data` (UTF-8 checked); `path` only names the input in errors.
pub(crate) fn count_bytes(
    data: &[u8],
    path: &Path,
    done: &AtomicU64,
    total: u64,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<FxHashMap<String, u64>, BpeError> {
    let chunks = line_chunks(data, CHUNK);
    let maps = chunks
        .par_iter()
        .map(|&(s, e)| {
            let bytes = &data[s..e];
            if let Err(err) = std::str::from_utf8(bytes) {
                return Err(BpeError::InvalidUtf8 {
                    path: path.to_path_buf(),
                    line: line_of(data, s + err.valid_up_to()),
                });
            }
            // Splitting valid UTF-8 at ASCII bytes keeps every word valid UTF-8.
            let mut m: FxHashMap<&[u8], u64> = FxHashMap::default();
            for w in bytes.split(|&b| is_word_delim(b)) {
                if !w.is_empty() {
                    *m.entry(w).or_insert(0) += 1;
                }
            }
            let d = done.fetch_add((e - s) as u64, Ordering::Relaxed) + (e - s) as u64;
            on_progress(d, total);
            Ok(m)
        })
        .collect::<Result<Vec<_>, BpeError>>()?;
    let mut out: FxHashMap<String, u64> = FxHashMap::default();
    for m in maps {
        for (w, c) in m {
            let w = String::from_utf8_lossy(w);
            if let Some(x) = out.get_mut(w.as_ref()) {
                *x += c;
            } else {
                out.insert(w.into_owned(), c);
            }
        }
    }
    Ok(out)
}

/// Counts the words of all `paths` pooled together (joint BPE = plain concatenation, as
/// fastBPE `learnbpe`/`getvocab` with two files). `-` is stdin. `on_progress(bytes_done,
/// bytes_total)` is called once per ~1 MiB chunk.
pub fn count_words(
    paths: &[PathBuf],
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<WordCounts, BpeError> {
    let sources = paths
        .iter()
        .map(|p| open_source(p))
        .collect::<Result<Vec<_>, _>>()?;
    let total: u64 = sources.iter().map(|s| s.len() as u64).sum();
    let done = AtomicU64::new(0);
    let mut counts = WordCounts::new();
    for (src, path) in sources.iter().zip(paths) {
        let m = count_bytes(src, path, &done, total, on_progress)?;
        if counts.counts.is_empty() {
            counts.counts = m;
        } else {
            for (w, c) in m {
                *counts.counts.entry(w).or_insert(0) += c;
            }
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_space_and_newline_split_words() {
        let mut c = WordCounts::new();
        c.add_text("a\tb a  c\r\nc\u{a0}d a\n");
        assert_eq!(c.get("a\tb"), 1);
        assert_eq!(c.get("a"), 2);
        assert_eq!(c.get("c\r"), 1);
        assert_eq!(c.get("c\u{a0}d"), 1);
        assert_eq!(c.len(), 4);
        assert_eq!(c.total(), 5);
    }

    #[test]
    fn counts_files_and_reports_bad_utf8_line() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        let b = dir.path().join("b.txt");
        std::fs::write(&a, "x y x\nz").unwrap();
        std::fs::write(&b, "x z\n").unwrap();
        let c = count_words(&[a.clone(), b.clone()], &|_, _| {}).unwrap();
        assert_eq!(c.get("x"), 3);
        assert_eq!(c.get("z"), 2);
        assert_eq!(c.sorted(), vec![("x", 3), ("z", 2), ("y", 1)]);
        std::fs::write(&b, b"ok\nstill ok\nbad \xff\n").unwrap();
        match count_words(&[a, b], &|_, _| {}) {
            Err(BpeError::InvalidUtf8 { line, .. }) => assert_eq!(line, 3),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn chunks_cover_data_and_end_at_newlines() {
        let data = b"aa\nbbb\ncc\nd";
        let ch = line_chunks(data, 2);
        assert_eq!(ch, vec![(0, 3), (3, 7), (7, 10), (10, 11)]);
    }
}
