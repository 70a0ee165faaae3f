//! Reading hypothesis/reference files the way the sacrebleu CLI does
//! (sacrebleu/utils.py `smart_open` with `newline="\n"`, then `line.rstrip()`).
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::metrics::MetricsError;
use crate::metrics::text::py_rstrip;

/// Split bytes into lines on `\n` only (a final line without `\n` counts, a trailing `\n`
/// adds none), decode each as UTF-8 and rstrip Python whitespace.
pub fn split_lines(bytes: &[u8], path: &Path) -> Result<Vec<String>, MetricsError> {
    let mut out = Vec::new();
    if bytes.is_empty() {
        return Ok(out);
    }
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let s = std::str::from_utf8(raw).map_err(|_| MetricsError::InvalidUtf8 {
            path: path.to_path_buf(),
            line: i + 1,
        })?;
        out.push(py_rstrip(s).to_owned());
    }
    Ok(out)
}

/// Read a whole file into rstripped lines; an empty file is an error.
pub fn read_lines(path: &Path) -> Result<Vec<String>, MetricsError> {
    let bytes = std::fs::read(path).map_err(|source| MetricsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let lines = split_lines(&bytes, path)?;
    if lines.is_empty() {
        return Err(MetricsError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    Ok(lines)
}

/// Read standard input; tab-separated fields are separate systems (sacrebleu's stdin mode).
pub fn read_stdin_systems() -> Result<Vec<Vec<String>>, MetricsError> {
    let path = PathBuf::from("-");
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|source| MetricsError::Io {
            path: path.clone(),
            source,
        })?;
    let lines = split_lines(&bytes, &path)?;
    let Some(first) = lines.first() else {
        return Err(MetricsError::EmptyFile { path });
    };
    let n_sys = first.split('\t').count();
    let mut systems = vec![Vec::with_capacity(lines.len()); n_sys];
    for (i, l) in lines.iter().enumerate() {
        let fields: Vec<&str> = l.split('\t').collect();
        if fields.len() != n_sys {
            return Err(MetricsError::StdinFields {
                line: i + 1,
                expected: n_sys,
                found: fields.len(),
            });
        }
        for (s, f) in systems.iter_mut().zip(fields) {
            s.push(py_rstrip(f).to_owned());
        }
    }
    Ok(systems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_lf_only_and_rstrips() {
        let p = Path::new("x");
        assert_eq!(
            split_lines(b"a \r\nb\x1c\n\nc", p).unwrap(),
            vec!["a", "b", "", "c"]
        );
        assert_eq!(split_lines(b"a\n", p).unwrap(), vec!["a"]);
        assert!(split_lines(b"", p).unwrap().is_empty());
    }

    #[test]
    fn reports_invalid_utf8_line() {
        let e = split_lines(b"ok\nbad\xff\n", Path::new("h.txt")).unwrap_err();
        assert!(matches!(e, MetricsError::InvalidUtf8 { line: 2, .. }));
        assert_eq!(
            e.to_string(),
            "failed to decode `h.txt` line 2: invalid UTF-8"
        );
    }
}
