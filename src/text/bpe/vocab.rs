//! Token-count vocabularies (`token count` per line, sorted by count descending then token
//! ascending), a port of glample/fastBPE `fastBPE/fastBPE.hpp` `getvocab` (writing) and
//! `readVocab` (reading).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::error::BpeError;
use super::fxhash::FxHashSet;
use super::words::{WordCounts, count_words};

/// An ordered list of `(token, count)` entries (a vocabulary file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vocab {
    /// Entries in file order.
    pub entries: Vec<(String, u64)>,
}

impl Vocab {
    /// The vocabulary of word counts, sorted as fastBPE `getvocab` sorts (count descending,
    /// then token ascending in byte order).
    pub fn from_counts(counts: &WordCounts) -> Self {
        Self {
            entries: counts
                .sorted()
                .into_iter()
                .map(|(w, c)| (w.to_owned(), c))
                .collect(),
        }
    }

    /// Reads a vocabulary file as fastBPE `readVocab` does (fields split on `' '`, empty
    /// fields ignored, exactly 2 fields, integer count, no duplicate token); violations are
    /// errors naming the file and 1-based line.
    pub fn read(path: &Path) -> Result<Self, BpeError> {
        let bytes = std::fs::read(path).map_err(|e| BpeError::read(path, e))?;
        Self::parse(&bytes, path)
    }

    /// Parses the bytes of a vocabulary file; `path` only names the input in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, BpeError> {
        let mut entries = Vec::new();
        let mut seen: FxHashSet<String> = FxHashSet::default();
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        if body.is_empty() {
            return Ok(Self { entries });
        }
        for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
            let line = i + 1;
            let text = std::str::from_utf8(raw).map_err(|_| BpeError::InvalidUtf8 {
                path: path.to_path_buf(),
                line,
            })?;
            let fields: Vec<&str> = text.split(' ').filter(|f| !f.is_empty()).collect();
            if fields.len() != 2 {
                return Err(BpeError::malformed(
                    path,
                    line,
                    format!("expected 2 fields `token count`, found {}", fields.len()),
                ));
            }
            let count = fields[1].parse::<u64>().map_err(|_| {
                BpeError::malformed(
                    path,
                    line,
                    format!("count `{}` is not a non-negative integer", fields[1]),
                )
            })?;
            if !seen.insert(fields[0].to_owned()) {
                return Err(BpeError::malformed(
                    path,
                    line,
                    format!("duplicate token `{}`", fields[0]),
                ));
            }
            entries.push((fields[0].to_owned(), count));
        }
        Ok(Self { entries })
    }

    /// Writes `token count` lines to `w`.
    pub fn write_to(&self, w: &mut dyn Write) -> std::io::Result<()> {
        for (t, c) in &self.entries {
            writeln!(w, "{t} {c}")?;
        }
        Ok(())
    }

    /// Writes the vocabulary file at `path`.
    pub fn write(&self, path: &Path) -> Result<(), BpeError> {
        let f = std::fs::File::create(path).map_err(|e| BpeError::write(path, e))?;
        let mut w = BufWriter::new(f);
        self.write_to(&mut w)
            .and_then(|()| w.flush())
            .map_err(|e| BpeError::write(path, e))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Pooled token counts of `paths` (`-` = stdin) sorted as fastBPE `getvocab`.
/// `on_progress(bytes_done, bytes_total)` is called once per ~1 MiB chunk.
pub fn get_vocab(
    paths: &[PathBuf],
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Vocab, BpeError> {
    Ok(Vocab::from_counts(&count_words(paths, on_progress)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getvocab_sorts_by_count_then_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, "b@@ a c\nZ b@@ a\n").unwrap();
        std::fs::write(&b, "c a\té\n").unwrap();
        let v = get_vocab(&[a, b], &|_, _| {}).unwrap();
        let mut out = Vec::new();
        v.write_to(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a 2\nb@@ 2\nc 2\nZ 1\na\té 1\n"
        );
    }

    #[test]
    fn read_round_trip_and_errors() {
        let v = Vocab::parse(b"x 3\ny  1\n", Path::new("v")).unwrap();
        assert_eq!(v.entries, vec![("x".into(), 3), ("y".into(), 1)]);
        for (bad, line) in [
            (&b"x 3\ny\n"[..], 2),
            (b"x 3\ny 1 2\n", 2),
            (b"x a\n", 1),
            (b"x 3\nx 1\n", 2),
        ] {
            match Vocab::parse(bad, Path::new("vocab.txt")) {
                Err(BpeError::Malformed { line: l, .. }) => assert_eq!(l, line),
                other => panic!("{other:?}"),
            }
        }
    }
}
