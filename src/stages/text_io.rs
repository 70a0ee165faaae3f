//! Reading text corpora: plain, gzip or xz (detected from the magic bytes, not the name),
//! line by line, with invalid UTF-8 reported per line instead of aborting the file.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::error::{IoContext, StageError};

/// Opens `path` for buffered reading, decompressing gzip and xz transparently.
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>, StageError> {
    let mut file = File::open(path).ctx("open", path)?;
    let mut magic = [0u8; 6];
    let n = read_prefix(&mut file, &mut magic).ctx("read", path)?;
    let file = File::open(path).ctx("open", path)?;
    const CAP: usize = 1 << 20;
    Ok(if n >= 2 && magic[..2] == [0x1f, 0x8b] {
        Box::new(BufReader::with_capacity(
            CAP,
            flate2::read::MultiGzDecoder::new(file),
        ))
    } else if n >= 6 && magic == [0xfd, b'7', b'z', b'X', b'Z', 0x00] {
        Box::new(BufReader::with_capacity(
            CAP,
            liblzma::read::XzDecoder::new_multi_decoder(file),
        ))
    } else {
        Box::new(BufReader::with_capacity(CAP, file))
    })
}

fn read_prefix(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// One line of a corpus.
#[derive(Clone, Copy)]
pub enum Line<'a> {
    /// Valid UTF-8, without its line terminator (`\n` or `\r\n`).
    Text(&'a str),
    /// Not UTF-8; the 1-based line number is in the iterator.
    Invalid,
}

/// Calls `f(line_number, line)` for every line of `reader`.
pub fn for_each_line(
    reader: &mut dyn BufRead,
    path: &Path,
    mut f: impl FnMut(u64, Line<'_>) -> Result<(), StageError>,
) -> Result<u64, StageError> {
    let mut buf = Vec::with_capacity(4096);
    let mut n = 0u64;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).ctx("read", path)? == 0 {
            return Ok(n);
        }
        n += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        match std::str::from_utf8(&buf) {
            Ok(s) => f(n, Line::Text(s))?,
            Err(_) => f(n, Line::Invalid)?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines(path: &Path) -> Vec<Option<String>> {
        let mut r = open(path).expect("opens");
        let mut out = Vec::new();
        for_each_line(&mut *r, path, |_, l| {
            out.push(match l {
                Line::Text(s) => Some(s.to_owned()),
                Line::Invalid => None,
            });
            Ok(())
        })
        .expect("reads");
        out
    }

    #[test]
    fn reads_plain_gzip_and_xz_alike() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = b"a b\r\n\xff\xfe\nc\n";
        let plain = dir.path().join("x.txt");
        std::fs::write(&plain, text).expect("write");
        let gz = dir.path().join("x.gz");
        let mut enc = flate2::write::GzEncoder::new(
            File::create(&gz).expect("create"),
            flate2::Compression::fast(),
        );
        enc.write_all(text).expect("write");
        enc.finish().expect("finish");
        let xz = dir.path().join("x.xz");
        let mut enc = liblzma::write::XzEncoder::new(File::create(&xz).expect("create"), 1);
        enc.write_all(text).expect("write");
        enc.finish().expect("finish");
        let want = vec![Some("a b".to_owned()), None, Some("c".to_owned())];
        assert_eq!(lines(&plain), want);
        assert_eq!(lines(&gz), want);
        assert_eq!(lines(&xz), want);
    }
}

#[cfg(test)]
mod error_tests {
    use super::*;

    #[test]
    fn a_missing_input_names_the_file_and_shows_the_os_error_once() {
        let e = open(Path::new("no/such/corpus.txt"))
            .err()
            .expect("missing file");
        insta::assert_snapshot!(crate::stages::error_chain(&e), @"failed to open `no/such/corpus.txt`: No such file or directory (os error 2)");
    }
}
