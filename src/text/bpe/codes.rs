//! The fastBPE codes file: one merge per line, `left right count`, in merge order (rank = line
//! index). Tokens carry the end-of-word suffix `</w>`.
//!
//! Reading follows glample/fastBPE `fastBPE/fastBPE.hpp` `readCodes` (fields split on `' '`,
//! empty fields ignored), but a malformed line is an error naming the file and 1-based line
//! instead of an `assert`.

use std::io::{BufWriter, Write};
use std::path::Path;

use super::error::BpeError;

/// One merge: `left` and `right` are concatenated into a new subword; `count` is the pair's
/// frequency when it was learned (informative only: application uses the rank).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    /// Left subword.
    pub left: String,
    /// Right subword (ends with `</w>` when it ends a word).
    pub right: String,
    /// Pair count at the time of the merge.
    pub count: u64,
}

/// An ordered list of merges (a codes file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Codes {
    /// Merges in rank order (earliest = highest priority).
    pub merges: Vec<Merge>,
}

impl Codes {
    /// Reads a codes file.
    pub fn read(path: &Path) -> Result<Self, BpeError> {
        let bytes = std::fs::read(path).map_err(|e| BpeError::read(path, e))?;
        Self::parse(&bytes, path)
    }

    /// Parses the bytes of a codes file; `path` only names the input in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, BpeError> {
        let mut merges = Vec::new();
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        if body.is_empty() {
            return Ok(Self { merges });
        }
        for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
            let line = i + 1;
            let text = std::str::from_utf8(raw).map_err(|_| BpeError::InvalidUtf8 {
                path: path.to_path_buf(),
                line,
            })?;
            let fields: Vec<&str> = text.split(' ').filter(|f| !f.is_empty()).collect();
            if fields.len() != 3 {
                return Err(BpeError::malformed(
                    path,
                    line,
                    format!(
                        "expected 3 fields `left right count`, found {}",
                        fields.len()
                    ),
                ));
            }
            let count = fields[2].parse::<u64>().map_err(|_| {
                BpeError::malformed(
                    path,
                    line,
                    format!("count `{}` is not a non-negative integer", fields[2]),
                )
            })?;
            merges.push(Merge {
                left: fields[0].to_owned(),
                right: fields[1].to_owned(),
                count,
            });
        }
        Ok(Self { merges })
    }

    /// Writes the codes in fastBPE format to `w`.
    pub fn write_to(&self, w: &mut dyn Write) -> std::io::Result<()> {
        for m in &self.merges {
            writeln!(w, "{} {} {}", m.left, m.right, m.count)?;
        }
        Ok(())
    }

    /// Writes the codes file at `path`.
    pub fn write(&self, path: &Path) -> Result<(), BpeError> {
        let f = std::fs::File::create(path).map_err(|e| BpeError::write(path, e))?;
        let mut w = BufWriter::new(f);
        self.write_to(&mut w)
            .and_then(|()| w.flush())
            .map_err(|e| BpeError::write(path, e))
    }

    /// Number of merges.
    pub fn len(&self) -> usize {
        self.merges.len()
    }

    /// Whether there is no merge.
    pub fn is_empty(&self) -> bool {
        self.merges.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(l: &str, r: &str, c: u64) -> Merge {
        Merge {
            left: l.into(),
            right: r.into(),
            count: c,
        }
    }

    #[test]
    fn round_trip() {
        let codes = Codes {
            merges: vec![m("e", "r</w>", 12), m("т", "о</w>", 7), m("a", "b", 1)],
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("codes");
        codes.write(&p).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "e r</w> 12\nт о</w> 7\na b 1\n"
        );
        assert_eq!(Codes::read(&p).unwrap(), codes);
    }

    #[test]
    fn double_spaces_are_ignored_like_fastbpe_split() {
        let c = Codes::parse(b"a  b 3\n", Path::new("c")).unwrap();
        assert_eq!(c.merges, vec![m("a", "b", 3)]);
    }

    fn err_line(bytes: &[u8]) -> (usize, String) {
        match Codes::parse(bytes, Path::new("codes.txt")) {
            Err(e @ BpeError::Malformed { line, .. }) => (line, e.to_string()),
            Err(e @ BpeError::InvalidUtf8 { line, .. }) => (line, e.to_string()),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let (line, msg) = err_line(b"a b 3\nc d\n");
        assert_eq!(line, 2);
        assert!(msg.contains("`codes.txt` line 2"), "{msg}");
        assert_eq!(err_line(b"a b 3\nc d e 4\n").0, 2);
        let (line, msg) = err_line(b"a b 3\nc d x\n");
        assert_eq!(line, 2);
        assert!(msg.contains("`x`"), "{msg}");
        assert_eq!(err_line(b"a b -1\n").0, 1);
        assert_eq!(err_line(b"a b 3\n\nc d 1\n").0, 2);
        let (line, msg) = err_line(b"a b 3\nc d 2\n\xc3 e 1\n");
        assert_eq!(line, 3);
        assert!(msg.contains("UTF-8"), "{msg}");
    }
}
