//! Writing and reloading word vectors.
//!
//! - `.vec`: fastText's text format (`FastText::saveVectors` in facebookresearch/fastText
//!   `src/fasttext.cc`): a header `nwords dim`, then per word `word v1 v2 ... vdim ` — values
//!   printed by `operator<<(ostream&, const Vector&)` (`src/vector.cc`) with
//!   `std::setprecision(5)` in the default float format (C's `%.5g`), each followed by one
//!   space (so lines end with a space, as fastText's do). `</s>` is included.
//! - `.safetensors`: one tensor `vectors` of shape [nwords, dim], dtype F32, row i = word i;
//!   the metadata holds `format` = `unmt-skipgram-vectors-v1`, `dim`, `nwords` and `words`,
//!   a JSON array of the words in row order. One self-contained file that reloads without
//!   parsing text (safetensors caps the header at 100 MB, i.e. a few million words).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use safetensors::Dtype;
use safetensors::tensor::{SafeTensors, TensorView};

use super::error::SkipgramError;
use super::model::{SkipgramModel, WordVectors};

const FORMAT: &str = "unmt-skipgram-vectors-v1";

/// Formats `x` like C's `%.{precision}g` (what `std::setprecision(p)` gives an ostream in
/// the default float field): `precision` significant digits, trailing zeros removed,
/// scientific notation with a two-digit exponent when the exponent is < -4 or >= precision.
pub fn format_float(x: f64, precision: usize) -> String {
    let p = precision.max(1);
    if x.is_nan() {
        return if x.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{:.*e}", p - 1, x);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", strip_zeros(mant), sign, exp.unsigned_abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        strip_zeros(&format!("{x:.decimals$}")).to_owned()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

impl WordVectors {
    /// Writes the fastText `.vec` text file.
    pub fn write_vec(&self, path: &Path) -> Result<(), SkipgramError> {
        let err = |source| SkipgramError::Write {
            path: path.to_path_buf(),
            source,
        };
        let mut out = BufWriter::with_capacity(1 << 20, File::create(path).map_err(err)?);
        writeln!(out, "{} {}", self.len(), self.dim()).map_err(err)?;
        let mut line = String::new();
        for (i, w) in self.words().iter().enumerate() {
            line.clear();
            line.push_str(w);
            line.push(' ');
            for &v in self.vector(i) {
                line.push_str(&format_float(v as f64, 5));
                line.push(' ');
            }
            line.push('\n');
            out.write_all(line.as_bytes()).map_err(err)?;
        }
        out.flush().map_err(err)
    }

    /// Writes the vectors as a safetensors file (see the module docs for the layout).
    pub fn write_safetensors(&self, path: &Path) -> Result<(), SkipgramError> {
        let st_err = |reason: String| SkipgramError::Safetensors {
            path: path.to_path_buf(),
            reason,
        };
        let bytes: Vec<u8> = self.data().iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = TensorView::new(Dtype::F32, vec![self.len(), self.dim()], &bytes)
            .map_err(|e| st_err(e.to_string()))?;
        let words = serde_json::to_string(self.words()).map_err(|e| st_err(e.to_string()))?;
        let meta = HashMap::from([
            ("format".to_owned(), FORMAT.to_owned()),
            ("dim".to_owned(), self.dim().to_string()),
            ("nwords".to_owned(), self.len().to_string()),
            ("words".to_owned(), words),
        ]);
        let buf = safetensors::serialize([("vectors", view)], Some(meta))
            .map_err(|e| st_err(e.to_string()))?;
        // Sorted metadata: equal vectors give equal bytes (and equal cache hashes).
        let buf = crate::io::safetensors_sorted_metadata(buf).map_err(st_err)?;
        crate::io::write_atomic(path, &buf).map_err(|source| SkipgramError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

impl SkipgramModel {
    /// Writes the fastText `.vec` text file ([`WordVectors::write_vec`]).
    pub fn write_vec(&self, path: &Path) -> Result<(), SkipgramError> {
        self.vectors().write_vec(path)
    }

    /// Writes the safetensors file ([`WordVectors::write_safetensors`]).
    pub fn write_safetensors(&self, path: &Path) -> Result<(), SkipgramError> {
        self.vectors().write_safetensors(path)
    }
}

/// Reloads vectors written by [`WordVectors::write_safetensors`].
pub fn read_safetensors(path: &Path) -> Result<WordVectors, SkipgramError> {
    let st_err = |reason: String| SkipgramError::Safetensors {
        path: path.to_path_buf(),
        reason,
    };
    let buf = std::fs::read(path).map_err(|source| SkipgramError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let (_, meta) = SafeTensors::read_metadata(&buf).map_err(|e| st_err(e.to_string()))?;
    let info = meta
        .metadata()
        .as_ref()
        .ok_or_else(|| st_err("no metadata".into()))?;
    if info.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(st_err(format!("metadata `format` is not `{FORMAT}`")));
    }
    let words: Vec<String> = serde_json::from_str(
        info.get("words")
            .ok_or_else(|| st_err("no `words` metadata".into()))?,
    )
    .map_err(|e| st_err(format!("bad `words` metadata: {e}")))?;
    let st = SafeTensors::deserialize(&buf).map_err(|e| st_err(e.to_string()))?;
    let t = st.tensor("vectors").map_err(|e| st_err(e.to_string()))?;
    if t.dtype() != Dtype::F32 || t.shape().len() != 2 || t.shape()[0] != words.len() {
        return Err(st_err(format!(
            "tensor `vectors` is {:?} {:?}, expected F32 [{}, dim]",
            t.dtype(),
            t.shape(),
            words.len()
        )));
    }
    let dim = t.shape()[1];
    let data = t
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    WordVectors::new(words, dim, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_vectors_give_equal_safetensors_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let v = crate::embed::skipgram::WordVectors::new(
            vec!["a".into(), "b".into()],
            2,
            vec![1.0, 2.0, 3.0, 4.0],
        )
        .expect("vectors");
        // Each write's metadata map has its own hash seed: unsorted, the orders differed.
        let bytes: Vec<Vec<u8>> = (0..8)
            .map(|i| {
                let p = dir.path().join(format!("{i}.safetensors"));
                v.write_safetensors(&p).expect("write");
                std::fs::read(p).expect("read")
            })
            .collect();
        assert!(bytes.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn formats_like_printf_g5() {
        // Expected strings are what printf("%.5g") prints for these values.
        let cases: [(f64, &str); 12] = [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (0.5, "0.5"),
            (-0.123456, "-0.12346"),
            (0.00012345678, "0.00012346"),
            (0.000012345, "1.2345e-05"),
            (-3.0e-7, "-3e-07"),
            (12345.6, "12346"),
            (123456.0, "1.2346e+05"),
            (99999.5, "1e+05"),
            (1.5e-10, "1.5e-10"),
        ];
        for (x, s) in cases {
            assert_eq!(format_float(x, 5), s, "{x}");
        }
    }

    #[test]
    fn vec_and_safetensors_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let wv = WordVectors::new(
            vec!["a".into(), "</s>".into()],
            3,
            vec![0.5, -1.25, 1e-6, 0.0, 2.0, 3.0],
        )
        .unwrap();
        let vec_path = dir.path().join("x.vec");
        wv.write_vec(&vec_path).unwrap();
        let text = std::fs::read_to_string(&vec_path).unwrap();
        assert_eq!(text, "2 3\na 0.5 -1.25 1e-06 \n</s> 0 2 3 \n");
        let st_path = dir.path().join("x.safetensors");
        wv.write_safetensors(&st_path).unwrap();
        assert_eq!(read_safetensors(&st_path).unwrap(), wv);
        assert!(WordVectors::new(vec!["a".into()], 2, vec![1.0]).is_err());
    }
}
