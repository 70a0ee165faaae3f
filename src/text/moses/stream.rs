//! Streaming, order-preserving, parallel application of a per-line function.
//!
//! Lines are read in chunks (at most [`CHUNK_LINES`] lines or [`CHUNK_BYTES`] bytes), each
//! chunk is processed in parallel with rayon while the next one is being read, and the
//! results are written in input order. Memory therefore stays at about two chunks
//! whatever the input size (a single line longer than a chunk is still read whole).
//!
//! Line model (as Moses' perl scripts and `sacremoses` on `\n`-split text): lines end at
//! `\n`; the `\n` is not part of the line, any `\r` is (the normaliser deletes it, the
//! tokenizer treats it as whitespace); a last line without `\n` is still a line; every
//! output line ends with `\n`.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use rayon::prelude::*;

use super::detokenize::MosesDetokenizer;
use super::error::MosesError;
use super::pipeline::MosesPipeline;

/// Most lines per parallel chunk.
pub const CHUNK_LINES: usize = 16_384;
/// Most input bytes per parallel chunk (a chunk always holds at least one line).
pub const CHUNK_BYTES: usize = 8 << 20;

/// Name used for standard input/output (or any reader/writer) in errors.
const STREAM_NAME: &str = "-";

/// What a streaming run processed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Lines read (and written).
    pub lines: u64,
    /// Input bytes read, line breaks included.
    pub bytes_in: u64,
    /// Output bytes written, line breaks included.
    pub bytes_out: u64,
}

/// Tokenizes `reader` line by line into `writer` with `pipeline`.
///
/// `on_progress(bytes_read, 0)` is called after each chunk (the total is 0 because a
/// stream's length is unknown; [`tokenize_file`] reports the file size instead).
/// Errors name the input `-`; an invalid UTF-8 line stops the run after the lines before
/// it were written.
pub fn tokenize_stream<R: BufRead, W: Write>(
    reader: R,
    writer: W,
    pipeline: &MosesPipeline,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Stats, MosesError> {
    map_lines(
        reader,
        writer,
        Names::streams(),
        0,
        &|line| pipeline.tokenize_line(line),
        on_progress,
    )
}

/// Detokenizes `reader` line by line into `writer` (see [`tokenize_stream`]).
pub fn detokenize_stream<R: BufRead, W: Write>(
    reader: R,
    writer: W,
    detokenizer: &MosesDetokenizer,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Stats, MosesError> {
    map_lines(
        reader,
        writer,
        Names::streams(),
        0,
        &|line| detokenizer.detokenize_line(line),
        on_progress,
    )
}

/// Tokenizes the file `input` into the file `output`; progress is in bytes of `input`.
pub fn tokenize_file(
    input: &Path,
    output: &Path,
    pipeline: &MosesPipeline,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Stats, MosesError> {
    map_file(
        input,
        output,
        &|line| pipeline.tokenize_line(line),
        on_progress,
    )
}

/// Detokenizes the file `input` into the file `output`; progress is in bytes of `input`.
pub fn detokenize_file(
    input: &Path,
    output: &Path,
    detokenizer: &MosesDetokenizer,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Stats, MosesError> {
    map_file(
        input,
        output,
        &|line| detokenizer.detokenize_line(line),
        on_progress,
    )
}

/// Input and output names for error messages.
struct Names {
    input: String,
    output: String,
}

impl Names {
    fn streams() -> Self {
        Names {
            input: STREAM_NAME.to_string(),
            output: STREAM_NAME.to_string(),
        }
    }
}

fn map_file(
    input: &Path,
    output: &Path,
    f: &(dyn Fn(&str) -> String + Sync),
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Stats, MosesError> {
    let names = Names {
        input: input.display().to_string(),
        output: output.display().to_string(),
    };
    let read_err = |source| MosesError::Read {
        path: names.input.clone(),
        source,
    };
    let file = File::open(input).map_err(read_err)?;
    let total = file.metadata().map_err(read_err)?.len();
    let out = File::create(output).map_err(|source| MosesError::Write {
        path: names.output.clone(),
        source,
    })?;
    map_lines(
        BufReader::with_capacity(1 << 20, file),
        BufWriter::with_capacity(1 << 20, out),
        names,
        total,
        f,
        on_progress,
    )
}

/// A chunk of input lines: one byte buffer plus the line spans (without `\n`).
#[derive(Default)]
struct Chunk {
    data: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Chunk {
    /// Reads up to [`CHUNK_LINES`] lines / [`CHUNK_BYTES`] bytes; empty at end of input.
    fn read<R: BufRead>(reader: &mut R, input: &str) -> Result<Chunk, MosesError> {
        let mut chunk = Chunk::default();
        while chunk.spans.len() < CHUNK_LINES && chunk.data.len() < CHUNK_BYTES {
            let start = chunk.data.len();
            let n = reader
                .read_until(b'\n', &mut chunk.data)
                .map_err(|source| MosesError::Read {
                    path: input.to_string(),
                    source,
                })?;
            if n == 0 {
                break;
            }
            let end = if chunk.data.last() == Some(&b'\n') {
                chunk.data.len() - 1
            } else {
                chunk.data.len()
            };
            chunk.spans.push((start, end));
        }
        Ok(chunk)
    }

    /// Applies `f` to every line in parallel; `None` marks a line that is not UTF-8.
    fn process(&self, f: &(dyn Fn(&str) -> String + Sync)) -> Vec<Option<String>> {
        self.spans
            .par_iter()
            .with_min_len(64)
            .map(|&(s, e)| std::str::from_utf8(&self.data[s..e]).ok().map(f))
            .collect()
    }
}

fn map_lines<R: BufRead, W: Write>(
    mut reader: R,
    mut writer: W,
    names: Names,
    total: u64,
    f: &(dyn Fn(&str) -> String + Sync),
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Stats, MosesError> {
    let write_err = |source| MosesError::Write {
        path: names.output.clone(),
        source,
    };
    let mut stats = Stats::default();
    let mut current = Chunk::read(&mut reader, &names.input)?;
    while !current.spans.is_empty() {
        // Process this chunk on the pool while this thread reads the next one.
        let mut outputs = Vec::new();
        let next = rayon::in_place_scope(|scope| {
            let chunk = &current;
            let slot = &mut outputs;
            scope.spawn(move |_| *slot = chunk.process(f));
            Chunk::read(&mut reader, &names.input)
        });
        for (i, out) in outputs.iter().enumerate() {
            let Some(text) = out else {
                writer.flush().map_err(write_err)?;
                return Err(MosesError::InvalidUtf8 {
                    path: names.input.clone(),
                    line: stats.lines + 1,
                });
            };
            writer.write_all(text.as_bytes()).map_err(write_err)?;
            writer.write_all(b"\n").map_err(write_err)?;
            stats.lines += 1;
            stats.bytes_out += text.len() as u64 + 1;
            let (s, e) = current.spans[i];
            stats.bytes_in += (e - s) as u64 + u64::from(current.data.get(e) == Some(&b'\n'));
        }
        on_progress(stats.bytes_in, total);
        current = next?;
    }
    writer.flush().map_err(write_err)?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn no_progress(_: u64, _: u64) {}

    #[test]
    fn stream_keeps_order_and_counts() {
        let pipeline = MosesPipeline::new("en").unwrap();
        let input: String = (0..40_000).map(|i| format!("Line {i}, ok.\n")).collect();
        let mut out = Vec::new();
        let stats = tokenize_stream(
            Cursor::new(input.as_bytes()),
            &mut out,
            &pipeline,
            &no_progress,
        )
        .unwrap();
        assert_eq!(stats.lines, 40_000);
        assert_eq!(stats.bytes_in, input.len() as u64);
        assert_eq!(stats.bytes_out, out.len() as u64);
        let text = String::from_utf8(out).unwrap();
        for (i, line) in text.lines().enumerate() {
            assert_eq!(line, format!("Line {i} , ok ."));
        }
    }

    #[test]
    fn last_line_without_newline_and_crlf() {
        let pipeline = MosesPipeline::new("en").unwrap();
        let mut out = Vec::new();
        let stats = tokenize_stream(
            Cursor::new(&b"a,b\r\n\nlast."[..]),
            &mut out,
            &pipeline,
            &no_progress,
        )
        .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a , b\n\nlast .\n");
        assert_eq!(stats.lines, 3);
        assert_eq!(stats.bytes_in, 11);
    }

    #[test]
    fn invalid_utf8_reports_the_line_number() {
        let pipeline = MosesPipeline::new("mk").unwrap();
        let mut input = Vec::new();
        for i in 0..20_000 {
            input.extend_from_slice(format!("ред {i}\n").as_bytes());
        }
        input.extend_from_slice(b"bad \xff\xfe line\nmore\n");
        let mut out = Vec::new();
        let err =
            tokenize_stream(Cursor::new(input), &mut out, &pipeline, &no_progress).unwrap_err();
        assert!(
            matches!(err, MosesError::InvalidUtf8 { line: 20_001, .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "failed to decode `-` line 20001: invalid UTF-8"
        );
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 20_000);
    }

    #[test]
    fn detokenize_stream_and_progress() {
        let detok = MosesDetokenizer::new("en");
        let seen = AtomicU64::new(0);
        let progress = |done: u64, _total: u64| seen.store(done, Ordering::Relaxed);
        let mut out = Vec::new();
        let input = b"Hello , world !\nit 's \" ok \" .\n";
        detokenize_stream(Cursor::new(&input[..]), &mut out, &detok, &progress).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Hello, world!\nit's \"ok\".\n"
        );
        assert_eq!(seen.load(Ordering::Relaxed), input.len() as u64);
    }

    #[test]
    fn file_variant_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.txt");
        std::fs::write(&input, b"ok\n\xc3(\n").unwrap();
        let output = dir.path().join("out.txt");
        let pipeline = MosesPipeline::new("sq").unwrap();
        let err = tokenize_file(&input, &output, &pipeline, &no_progress).unwrap_err();
        assert!(
            err.to_string().contains("in.txt") && err.to_string().contains("line 2"),
            "{err}"
        );
        let missing = tokenize_file(&dir.path().join("none"), &output, &pipeline, &no_progress);
        assert!(matches!(missing, Err(MosesError::Read { .. })));
    }
}
