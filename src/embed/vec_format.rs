//! The fastText / word2vec text format (`.vec`): a header line `count dim`, then one line per
//! word: the word, a space, and `dim` space-separated floats.
//!
//! Readers in the field differ in small ways; this module follows the strictest useful subset:
//! - vecmap embeddings.py `read`: header split on spaces, each line split once at the first
//!   space; we additionally check the field counts and report file + 1-based line on errors.
//! - fastText `.vec` export writes a trailing space after the last float: tolerated (empty
//!   fields are ignored), as is a `\r` before the newline.
//! - Duplicated words are kept in [`Embeddings::words`] (file order); [`Embeddings::word_index`]
//!   maps each string to its **first** occurrence, like XLM's reader
//!   (lexical_xlm_relm src/model/pretrain.py), which also skips later duplicates.
//!
//! Writing uses vecmap embeddings.py `write`'s `%.6g` (C printf semantics, see [`format_g6`]).

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

/// Errors of reading or writing `.vec` files.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum VecFormatError {
    /// The file could not be opened, read or written.
    #[error("failed to {action} `{path}`")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line is not valid UTF-8.
    #[error("failed to decode `{path}` line {line}: invalid UTF-8")]
    Utf8 { path: PathBuf, line: usize },
    /// The header is not `count dim` with two non-negative integers (dim > 0).
    #[error("failed to parse `{path}` line 1: malformed header {header:?} (expected `count dim`)")]
    Header { path: PathBuf, header: String },
    /// A vector line has the wrong number of fields.
    #[error(
        "failed to parse `{path}` line {line}: expected a word and {expected} floats, found {found} fields"
    )]
    FieldCount {
        path: PathBuf,
        line: usize,
        expected: usize,
        found: usize,
    },
    /// A field is not a float.
    #[error("failed to parse `{path}` line {line}: bad float {field:?}")]
    BadFloat {
        path: PathBuf,
        line: usize,
        field: String,
    },
    /// The header announces more dimensions than the file could hold.
    #[error(
        "failed to parse `{path}` line 1: the header announces {dim} dimensions, more than a file of {bytes} bytes can hold"
    )]
    ImplausibleDim {
        path: PathBuf,
        dim: usize,
        bytes: usize,
    },
    /// A value is NaN or infinite: every distance computed from it would be meaningless.
    #[error("failed to parse `{path}` line {line}: non-finite value {field:?}")]
    NonFinite {
        path: PathBuf,
        line: usize,
        field: String,
    },
    /// The number of vector lines differs from the header's count.
    #[error(
        "failed to parse `{path}`: header announces {expected} vectors but the file has {found}"
    )]
    CountMismatch {
        path: PathBuf,
        expected: usize,
        found: usize,
    },
    /// Two embedding sets with different dimensions were combined.
    #[error("failed to combine embeddings: dimensions differ ({left} vs {right})")]
    DimMismatch { left: usize, right: usize },
    /// An in-memory embedding set is inconsistent (data length != words * dim).
    #[error(
        "failed to build embeddings: {words} words x {dim} dims needs {expected} floats, got {found}"
    )]
    Shape {
        words: usize,
        dim: usize,
        expected: usize,
        found: usize,
    },
}

/// Word vectors in file order; `data` is row-major (`words.len() * dim` floats).
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// Words in file order (duplicates possible, see [`Embeddings::word_index`]).
    pub words: Vec<String>,
    /// Vector dimension.
    pub dim: usize,
    /// Row-major vectors, row `i` belongs to `words[i]`.
    pub data: Vec<f32>,
}

impl Embeddings {
    /// Builds embeddings, checking that `data.len() == words.len() * dim`.
    pub fn new(words: Vec<String>, dim: usize, data: Vec<f32>) -> Result<Self, VecFormatError> {
        if data.len() != words.len() * dim {
            return Err(VecFormatError::Shape {
                words: words.len(),
                dim,
                expected: words.len() * dim,
                found: data.len(),
            });
        }
        Ok(Self { words, dim, data })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The vector of row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Word -> row index; for duplicated words the **first** occurrence wins (XLM's reader).
    pub fn word_index(&self) -> HashMap<&str, usize> {
        let mut map = HashMap::with_capacity(self.words.len());
        for (i, w) in self.words.iter().enumerate() {
            map.entry(w.as_str()).or_insert(i);
        }
        map
    }
}

/// Reads a `.vec` file. `max_words` keeps only the first N vector lines (file order, like
/// vecmap's `threshold` and MUSE's `max_vocab` on a file without duplicates); the header
/// count is then only checked to be at least the number of lines read.
pub fn read_vec(path: &Path, max_words: Option<usize>) -> Result<Embeddings, VecFormatError> {
    let bytes = std::fs::read(path).map_err(|source| VecFormatError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    parse_vec(&bytes, path, max_words)
}

/// Parses `.vec` content held in memory (`path` is only used in error messages).
pub fn parse_vec(
    bytes: &[u8],
    path: &Path,
    max_words: Option<usize>,
) -> Result<Embeddings, VecFormatError> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let header = lines.first().copied().unwrap_or(b"");
    let header = std::str::from_utf8(header).map_err(|_| VecFormatError::Utf8 {
        path: path.to_path_buf(),
        line: 1,
    })?;
    let fields: Vec<&str> = header.split_whitespace().collect();
    let parsed = match fields.as_slice() {
        [c, d] => c.parse::<usize>().ok().zip(d.parse::<usize>().ok()),
        _ => None,
    };
    let (count, dim) = match parsed {
        Some((c, d)) if d > 0 => (c, d),
        _ => {
            return Err(VecFormatError::Header {
                path: path.to_path_buf(),
                header: header.to_string(),
            });
        }
    };
    // Every value takes at least two bytes (`0 `): a header announcing more is wrong, and
    // allocating for it would abort the process (not an error `catch_unwind` can catch).
    if dim > bytes.len() / 2 + 1 {
        return Err(VecFormatError::ImplausibleDim {
            path: path.to_path_buf(),
            dim,
            bytes: bytes.len(),
        });
    }
    let body = &lines[1.min(lines.len())..];
    let take = max_words.map_or(body.len(), |m| m.min(body.len()));
    let rows: Vec<(String, Vec<f32>)> = body[..take]
        .par_iter()
        .enumerate()
        .map(|(i, line)| parse_line(line, i + 2, dim, path))
        .collect::<Result<_, _>>()?;
    let complete = max_words.is_none_or(|m| m >= body.len());
    if (complete && body.len() != count) || (!complete && count < take) {
        return Err(VecFormatError::CountMismatch {
            path: path.to_path_buf(),
            expected: count,
            found: body.len(),
        });
    }
    let mut words = Vec::with_capacity(rows.len());
    let mut data = Vec::with_capacity(rows.len() * dim);
    for (w, v) in rows {
        words.push(w);
        data.extend_from_slice(&v);
    }
    Ok(Embeddings { words, dim, data })
}

fn parse_line(
    line: &[u8],
    line_no: usize,
    dim: usize,
    path: &Path,
) -> Result<(String, Vec<f32>), VecFormatError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = std::str::from_utf8(line).map_err(|_| VecFormatError::Utf8 {
        path: path.to_path_buf(),
        line: line_no,
    })?;
    // Split on ASCII space only (vecmap: `split(' ', 1)`), so other Unicode spaces stay in words.
    let mut fields = text.split(' ').filter(|f| !f.is_empty());
    let word = fields.next().unwrap_or("");
    let mut vec = Vec::with_capacity(dim);
    let mut found = usize::from(!word.is_empty());
    for f in fields {
        found += 1;
        if vec.len() < dim {
            let v = f.parse::<f32>().map_err(|_| VecFormatError::BadFloat {
                path: path.to_path_buf(),
                line: line_no,
                field: f.to_string(),
            })?;
            if !v.is_finite() {
                return Err(VecFormatError::NonFinite {
                    path: path.to_path_buf(),
                    line: line_no,
                    field: f.to_string(),
                });
            }
            vec.push(v);
        }
    }
    if found != dim + 1 {
        return Err(VecFormatError::FieldCount {
            path: path.to_path_buf(),
            line: line_no,
            expected: dim,
            found,
        });
    }
    Ok((word.to_string(), vec))
}

/// Formats like C's `printf("%.6g", x)` (what vecmap embeddings.py `write` emits): 6
/// significant digits, trailing zeros removed, exponent form `1.5e-05` when the decimal
/// exponent is < -4 or >= 6; `nan`, `inf`, `-inf` for non-finite values.
pub fn format_g6(x: f32) -> String {
    let x = f64::from(x);
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rust's `{:e}` rounds exactly like glibc (correct rounding of the binary value).
    let sci = format!("{x:.5e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        let decimals = usize::try_from(5 - exp).unwrap_or(0);
        strip_zeros(&format!("{x:.decimals$}")).to_string()
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", strip_zeros(mant), sign, exp.abs())
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Writes a `.vec` file: header `count dim`, then `word v1 ... vd` per line with `%.6g`
/// floats separated by single spaces, no trailing space, LF line endings (vecmap's `write`).
pub fn write_vec(path: &Path, emb: &Embeddings) -> Result<(), VecFormatError> {
    let io_err = |source| VecFormatError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(path).map_err(io_err)?;
    let mut out = BufWriter::new(file);
    writeln!(out, "{} {}", emb.len(), emb.dim).map_err(io_err)?;
    // Format in parallel chunks of rows, write sequentially to keep file order.
    const CHUNK: usize = 4096;
    for start in (0..emb.len()).step_by(CHUNK) {
        let end = (start + CHUNK).min(emb.len());
        let text: Vec<String> = (start..end)
            .into_par_iter()
            .map(|i| {
                let mut line = emb.words[i].clone();
                for &v in emb.row(i) {
                    line.push(' ');
                    line.push_str(&format_g6(v));
                }
                line.push('\n');
                line
            })
            .collect();
        for line in text {
            out.write_all(line.as_bytes()).map_err(io_err)?;
        }
    }
    out.flush().map_err(io_err)
}

/// Concatenates two embedding sets the way the lexical paper does (`cat en.mapped mk.mapped`
/// read by XLM's reader, lexical_xlm_relm src/model/pretrain.py): all rows of `first`, then
/// the rows of `second`; a string seen before (in either) is skipped, so the **first** vector
/// wins (shared tokens get the first file's vector). The result has no duplicated words.
pub fn concat_first_wins(
    first: &Embeddings,
    second: &Embeddings,
) -> Result<Embeddings, VecFormatError> {
    if first.dim != second.dim {
        return Err(VecFormatError::DimMismatch {
            left: first.dim,
            right: second.dim,
        });
    }
    let mut seen = std::collections::HashSet::new();
    let mut words = Vec::new();
    let mut data = Vec::new();
    for emb in [first, second] {
        for (i, w) in emb.words.iter().enumerate() {
            if seen.insert(w.as_str()) {
                words.push(w.clone());
                data.extend_from_slice(emb.row(i));
            }
        }
    }
    Ok(Embeddings {
        words,
        dim: first.dim,
        data,
    })
}

/// File version of [`concat_first_wins`]: reads two `.vec` files and writes one `.vec` file
/// with a single, correct header.
pub fn concat_vec_files(first: &Path, second: &Path, out: &Path) -> Result<(), VecFormatError> {
    let a = read_vec(first, None)?;
    let b = read_vec(second, None)?;
    write_vec(out, &concat_first_wins(&a, &b)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_headers_and_non_finite_values_are_errors_not_aborts() {
        let p = Path::new("x.vec");
        let e = parse_vec(b"2 99999999999\na 1\nb 2\n", p, None).expect_err("dim");
        assert!(
            e.to_string().contains("announces 99999999999 dimensions"),
            "{e}"
        );
        for bad in ["nan", "inf", "-inf"] {
            let text = format!("2 2\na 1 2\nb 0.5 {bad}\n");
            let e = parse_vec(text.as_bytes(), p, None).expect_err("non-finite");
            assert!(e.to_string().contains("line 3: non-finite value"), "{e}");
        }
    }

    fn parse(s: &str) -> Result<Embeddings, VecFormatError> {
        parse_vec(s.as_bytes(), Path::new("x.vec"), None)
    }

    #[test]
    fn parses_fasttext_with_trailing_space_and_crlf() {
        let e = parse("2 3\na 1 2 3 \r\nb -1 0.5 1e-3 \n").unwrap();
        assert_eq!(e.words, vec!["a", "b"]);
        assert_eq!(e.dim, 3);
        assert_eq!(e.data, vec![1.0, 2.0, 3.0, -1.0, 0.5, 0.001]);
    }

    #[test]
    fn max_words_keeps_file_order() {
        let e = parse_vec(b"3 1\nz 1\na 2\nm 3\n", Path::new("x"), Some(2)).unwrap();
        assert_eq!(e.words, vec!["z", "a"]);
        assert_eq!(e.data, vec![1.0, 2.0]);
    }

    #[test]
    fn errors_carry_line_numbers() {
        match parse("2 2\na 1 2\nb 1\n") {
            Err(VecFormatError::FieldCount {
                line: 3, found: 2, ..
            }) => {}
            other => panic!("{other:?}"),
        }
        match parse("1 2\na 1 x\n") {
            Err(VecFormatError::BadFloat { line: 2, field, .. }) => assert_eq!(field, "x"),
            other => panic!("{other:?}"),
        }
        match parse_vec(b"1 1\n\xff 1\n", Path::new("x"), None) {
            Err(VecFormatError::Utf8 { line: 2, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse("2\n"), Err(VecFormatError::Header { .. })));
        assert!(matches!(parse("1 0\n"), Err(VecFormatError::Header { .. })));
        match parse("3 1\na 1\nb 2\n") {
            Err(VecFormatError::CountMismatch {
                expected: 3,
                found: 2,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        let msg = parse("1 2\na 1 x\n").unwrap_err().to_string();
        assert_eq!(msg, "failed to parse `x.vec` line 2: bad float \"x\"");
    }

    #[test]
    fn first_occurrence_wins_in_index() {
        let e = parse("3 1\na 1\nb 2\na 3\n").unwrap();
        assert_eq!(e.word_index()["a"], 0);
        assert_eq!(e.word_index().len(), 2);
    }

    #[test]
    fn g6_matches_printf() {
        // Expected strings are Python's '%.6g' % float(numpy.float32(x)).
        let cases = [
            (0.0f32, "0"),
            (1.0, "1"),
            (-0.5, "-0.5"),
            (0.1, "0.1"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-1.5e-7, "-1.5e-07"),
            (2.718_281_7, "2.71828"),
            (0.123_456_79, "0.123457"),
            (99999.95, "100000"),
            (999999.5, "1e+06"),
        ];
        for (x, want) in cases {
            assert_eq!(format_g6(x), want, "{x}");
        }
    }

    #[test]
    fn write_read_round_trip_and_concat() {
        let dir = tempfile::tempdir().unwrap();
        let a = Embeddings::new(vec!["x".into(), "y".into()], 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let b = Embeddings::new(vec!["y".into(), "z".into()], 2, vec![9.0, 9.0, 5.0, 6.0]).unwrap();
        let pa = dir.path().join("a.vec");
        let pb = dir.path().join("b.vec");
        let pc = dir.path().join("c.vec");
        write_vec(&pa, &a).unwrap();
        write_vec(&pb, &b).unwrap();
        assert_eq!(read_vec(&pa, None).unwrap(), a);
        assert_eq!(std::fs::read_to_string(&pa).unwrap(), "2 2\nx 1 2\ny 3 4\n");
        concat_vec_files(&pa, &pb, &pc).unwrap();
        let c = read_vec(&pc, None).unwrap();
        assert_eq!(c.words, vec!["x", "y", "z"]);
        assert_eq!(c.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let d = Embeddings::new(vec!["q".into()], 1, vec![1.0]).unwrap();
        assert!(matches!(
            concat_first_wins(&a, &d),
            Err(VecFormatError::DimMismatch { .. })
        ));
    }
}
