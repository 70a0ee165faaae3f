//! Binarized datasets: a dictionary-indexed token stream where each sentence is followed by
//! `</s>`, plus per-sentence `[start, end)` offsets, as XLM's `Dictionary.index_data`
//! (facebookresearch/XLM `xlm/data/dictionary.py`) builds before `torch.save`, in a documented
//! file format that is memory-mapped on read instead of unpickled.
//!
//! Indexing follows XLM: words are split on whitespace (`line.rstrip().split()`), unknown words
//! map to `<unk>`, reserved words other than `<unk>` found in text (`<s>`, `</s>`, `<pad>`,
//! `<specialN>`) are dropped from the sentence and counted. Unlike `index_data`, which keeps
//! every line and leaves filtering to the loader (`remove_empty_sentences`,
//! `remove_long_sentences(max_len)`), sentences left empty or longer than `max_len` tokens
//! (EOS excluded) are dropped here and counted in the metadata. Only `'\n'` ends a line (`'\r'`
//! is whitespace; Python's universal newlines would also split at a lone `'\r'`).
//!
//! # On-disk format, version 1 (all integers little-endian)
//!
//! | bytes | content |
//! | --- | --- |
//! | 0..8 | magic `UNMTBIN\0` |
//! | 8..12 | format version `u32` = 1 |
//! | 12..16 | token width in bytes `u32`: 2 (`u16`) when the dictionary has < 65536 entries, else 4 (`u32`) |
//! | 16..24 | number of sentences `u64` = S |
//! | 24..32 | length of the token array `u64` = T (word tokens + one `</s>` per sentence) |
//! | 32..40 | byte position of the offsets array `u64` (= 64 + T * width) |
//! | 40..48 | byte position of the metadata `u64` (= offsets position + 16 S) |
//! | 48..56 | metadata length in bytes `u64` |
//! | 56..64 | reserved, 0 |
//! | 64.. | token array: T ids of `width` bytes |
//! | offsets position.. | S pairs `(start u64, end u64)`: sentence i is tokens `[start, end)`, `tokens[end]` is `</s>` |
//! | metadata position.. | [`Metadata`] as UTF-8 JSON |
//!
//! The writer streams tokens to the file and fills the header last, so it writes into any
//! path (the engine points it into a temporary directory and renames the result).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::text::dictionary::{Dictionary, EOS_INDEX, N_RESERVED, UNK_INDEX, py_split};
use crate::validate::{InvalidParam, Validate};

/// File magic.
pub const MAGIC: [u8; 8] = *b"UNMTBIN\0";
/// Current format version.
pub const FORMAT_VERSION: u32 = 1;
/// Header length in bytes.
pub const HEADER_LEN: u64 = 64;

/// Errors of writing or reading binarized datasets. Messages follow the crate convention (ARCHITECTURE.md, "Errors").
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BinarizedError {
    /// A file could not be read.
    #[error("failed to read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("failed to write `{path}`")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An input line is not valid UTF-8.
    #[error("failed to decode `{path}` line {line}: invalid UTF-8")]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// The file is not a valid binarized dataset.
    #[error("failed to read binarized dataset `{path}`: {message}")]
    BadFormat {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The dataset was built with another dictionary.
    #[error(
        "failed to match the dictionary of `{path}`: dataset has size {data_size} / fingerprint {data_fp}, dictionary has {dict_size} / {dict_fp}"
    )]
    DictionaryMismatch {
        /// The dataset file.
        path: PathBuf,
        /// Dictionary size stored in the dataset.
        data_size: u64,
        /// Fingerprint stored in the dataset.
        data_fp: String,
        /// Size of the dictionary given.
        dict_size: u64,
        /// Fingerprint of the dictionary given.
        dict_fp: String,
    },
    /// A parameter is out of range.
    #[error(transparent)]
    InvalidParam(#[from] InvalidParam),
}

/// Parameters of binarization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BinarizeParams {
    /// Longest kept sentence in subwords, `</s>` excluded; longer and empty ones are dropped
    /// and counted. Default 100 (XLM/RE-LM `--max_len`).
    pub max_len: usize,
}

impl Default for BinarizeParams {
    fn default() -> Self {
        Self { max_len: 100 }
    }
}

impl Validate for BinarizeParams {
    /// Checks that `max_len` is in `1..=1_000_000`.
    fn validate(&self) -> Result<(), InvalidParam> {
        if self.max_len == 0 || self.max_len > 1_000_000 {
            return Err(InvalidParam::new(
                "max_len",
                format!("must be in 1..=1000000, got {}", self.max_len),
            ));
        }
        Ok(())
    }
}

/// Metadata stored as JSON at the end of a binarized file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Number of ids of the dictionary used.
    pub dictionary_size: u64,
    /// [`Dictionary::fingerprint`] as 16 hex digits.
    pub dictionary_fingerprint: String,
    /// Bytes per token id (2 or 4).
    pub token_width: u32,
    /// `max_len` used for dropping.
    pub max_len: u64,
    /// Input lines read.
    pub n_input_lines: u64,
    /// Sentences kept.
    pub n_sentences: u64,
    /// Word tokens kept (`</s>` excluded).
    pub n_tokens: u64,
    /// `<unk>` tokens among the kept ones.
    pub n_unk: u64,
    /// Lines dropped because they had no token (after removing reserved words).
    pub n_dropped_empty: u64,
    /// Lines dropped because they had more than `max_len` tokens.
    pub n_dropped_too_long: u64,
    /// Reserved words (other than `<unk>`) removed from the text, over all lines.
    pub n_special_tokens_dropped: u64,
}

fn hex(x: u64) -> String {
    format!("{x:016x}")
}

/// Streams sentences into a binarized file.
pub struct BinarizedWriter<'d> {
    path: PathBuf,
    out: BufWriter<File>,
    dico: &'d Dictionary,
    width: u32,
    max_len: usize,
    offsets: Vec<(u64, u64)>,
    pos: u64,
    meta: Metadata,
    ids: Vec<u32>,
}

impl<'d> BinarizedWriter<'d> {
    /// Creates (truncates) `path` and reserves the header; [`Self::finish`] writes the real
    /// header last, so an interrupted write never looks like a valid file.
    pub fn create(
        path: &Path,
        dico: &'d Dictionary,
        params: &BinarizeParams,
    ) -> Result<Self, BinarizedError> {
        params.validate()?;
        let werr = |source| BinarizedError::Write {
            path: path.to_path_buf(),
            source,
        };
        let f = File::create(path).map_err(werr)?;
        let mut out = BufWriter::with_capacity(1 << 20, f);
        out.write_all(&[0u8; HEADER_LEN as usize]).map_err(werr)?;
        let width = if dico.len() < 1 << 16 { 2 } else { 4 };
        Ok(Self {
            path: path.to_path_buf(),
            out,
            dico,
            width,
            max_len: params.max_len,
            offsets: Vec::new(),
            pos: 0,
            meta: Metadata {
                format_version: FORMAT_VERSION,
                dictionary_size: dico.len() as u64,
                dictionary_fingerprint: hex(dico.fingerprint()),
                token_width: width,
                max_len: params.max_len as u64,
                n_input_lines: 0,
                n_sentences: 0,
                n_tokens: 0,
                n_unk: 0,
                n_dropped_empty: 0,
                n_dropped_too_long: 0,
                n_special_tokens_dropped: 0,
            },
            ids: Vec::new(),
        })
    }

    fn werr(&self, source: std::io::Error) -> BinarizedError {
        BinarizedError::Write {
            path: self.path.clone(),
            source,
        }
    }

    /// Indexes one line of text (one sentence) and appends it unless it is dropped.
    pub fn push_line(&mut self, line: &str) -> Result<(), BinarizedError> {
        self.meta.n_input_lines += 1;
        self.ids.clear();
        for w in py_split(line) {
            let id = self.dico.index(w);
            if id < N_RESERVED && id != UNK_INDEX {
                self.meta.n_special_tokens_dropped += 1;
                continue;
            }
            self.ids.push(id);
        }
        if self.ids.is_empty() {
            self.meta.n_dropped_empty += 1;
            return Ok(());
        }
        if self.ids.len() > self.max_len {
            self.meta.n_dropped_too_long += 1;
            return Ok(());
        }
        let n = self.ids.len() as u64;
        self.meta.n_unk += self.ids.iter().filter(|&&i| i == UNK_INDEX).count() as u64;
        self.ids.push(EOS_INDEX);
        let mut buf = Vec::with_capacity(self.ids.len() * self.width as usize);
        for &id in &self.ids {
            if self.width == 2 {
                buf.extend_from_slice(&(id as u16).to_le_bytes());
            } else {
                buf.extend_from_slice(&id.to_le_bytes());
            }
        }
        self.out.write_all(&buf).map_err(|e| self.werr(e))?;
        self.offsets.push((self.pos, self.pos + n));
        self.pos += n + 1;
        self.meta.n_sentences += 1;
        self.meta.n_tokens += n;
        Ok(())
    }

    /// Writes the offsets, the metadata and the header; returns the metadata.
    pub fn finish(mut self) -> Result<Metadata, BinarizedError> {
        let offsets_pos = HEADER_LEN + self.pos * u64::from(self.width);
        let mut buf = Vec::with_capacity(self.offsets.len() * 16);
        for &(s, e) in &self.offsets {
            buf.extend_from_slice(&s.to_le_bytes());
            buf.extend_from_slice(&e.to_le_bytes());
        }
        self.out.write_all(&buf).map_err(|e| self.werr(e))?;
        let meta_pos = offsets_pos + buf.len() as u64;
        let json = serde_json::to_vec_pretty(&self.meta)
            .map_err(|e| self.werr(std::io::Error::other(e)))?;
        self.out.write_all(&json).map_err(|e| self.werr(e))?;
        let mut header = Vec::with_capacity(HEADER_LEN as usize);
        header.extend_from_slice(&MAGIC);
        header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        header.extend_from_slice(&self.width.to_le_bytes());
        header.extend_from_slice(&(self.offsets.len() as u64).to_le_bytes());
        header.extend_from_slice(&self.pos.to_le_bytes());
        header.extend_from_slice(&offsets_pos.to_le_bytes());
        header.extend_from_slice(&meta_pos.to_le_bytes());
        header.extend_from_slice(&(json.len() as u64).to_le_bytes());
        header.extend_from_slice(&0u64.to_le_bytes());
        let mut f = self.out.into_inner().map_err(|e| BinarizedError::Write {
            path: self.path.clone(),
            source: e.into_error(),
        })?;
        let path = self.path;
        let werr = |source| BinarizedError::Write {
            path: path.clone(),
            source,
        };
        f.seek(SeekFrom::Start(0)).map_err(werr)?;
        f.write_all(&header).map_err(werr)?;
        f.sync_all().map_err(werr)?;
        Ok(self.meta)
    }
}

/// Binarizes the text file `input` (one sentence per line, already BPE-segmented) with `dico`
/// into `output`. `on_progress(bytes_done, bytes_total)` is called every 10,000 lines.
pub fn binarize_file(
    input: &Path,
    dico: &Dictionary,
    params: &BinarizeParams,
    output: &Path,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Metadata, BinarizedError> {
    let rerr = |source| BinarizedError::Read {
        path: input.to_path_buf(),
        source,
    };
    let f = File::open(input).map_err(rerr)?;
    let total = f.metadata().map_err(rerr)?.len();
    let reader = BufReader::with_capacity(1 << 20, f);
    binarize_reader(reader, input, total, dico, params, output, on_progress)
}

/// [`binarize_file`] on any reader (stdin): `input` is the path its errors show, `total` its
/// length in bytes for `on_progress` (0 when unknown). The output is the same bytes as
/// [`binarize_file`] writes for the same text.
pub fn binarize_reader(
    mut reader: impl BufRead,
    input: &Path,
    total: u64,
    dico: &Dictionary,
    params: &BinarizeParams,
    output: &Path,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Metadata, BinarizedError> {
    let rerr = |source| BinarizedError::Read {
        path: input.to_path_buf(),
        source,
    };
    let mut w = BinarizedWriter::create(output, dico, params)?;
    let mut line = Vec::new();
    let (mut n, mut done) = (0usize, 0u64);
    loop {
        line.clear();
        let k = reader.read_until(b'\n', &mut line).map_err(rerr)?;
        if k == 0 {
            break;
        }
        n += 1;
        done += k as u64;
        let text = std::str::from_utf8(&line).map_err(|_| BinarizedError::InvalidUtf8 {
            path: input.to_path_buf(),
            line: n,
        })?;
        w.push_line(text)?;
        if n % 10_000 == 0 {
            on_progress(done, total);
        }
    }
    on_progress(done, total);
    w.finish()
}

/// A memory-mapped binarized dataset.
pub struct BinarizedDataset {
    path: PathBuf,
    map: memmap2::Mmap,
    width: usize,
    n_sentences: usize,
    n_array: usize,
    offsets_pos: usize,
    meta: Metadata,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

impl BinarizedDataset {
    /// Maps `path` and checks its header, offsets and metadata.
    pub fn open(path: &Path) -> Result<Self, BinarizedError> {
        let bad = |message: String| BinarizedError::BadFormat {
            path: path.to_path_buf(),
            message,
        };
        let rerr = |source| BinarizedError::Read {
            path: path.to_path_buf(),
            source,
        };
        let f = File::open(path).map_err(rerr)?;
        let len = f.metadata().map_err(rerr)?.len();
        if len < HEADER_LEN {
            return Err(bad(format!("file is {len} bytes, shorter than the header")));
        }
        // SAFETY: read-only map of a file this process does not modify; datasets are
        // written once (into a temporary directory) and never changed afterwards.
        let map = unsafe { memmap2::Mmap::map(&f) }.map_err(rerr)?;
        let b: &[u8] = &map;
        if b[0..8] != MAGIC {
            return Err(bad("bad magic (not a unmt binarized dataset)".into()));
        }
        let version = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        if version != FORMAT_VERSION {
            return Err(bad(format!(
                "format version {version} is not supported (expected {FORMAT_VERSION})"
            )));
        }
        let width = u32::from_le_bytes([b[12], b[13], b[14], b[15]]);
        if width != 2 && width != 4 {
            return Err(bad(format!("token width {width} is not 2 or 4")));
        }
        let (s, t) = (u64_at(b, 16), u64_at(b, 24));
        let (op, mp, ml) = (u64_at(b, 32), u64_at(b, 40), u64_at(b, 48));
        let expect_op = t
            .checked_mul(u64::from(width))
            .and_then(|x| x.checked_add(HEADER_LEN));
        let expect_mp = expect_op.and_then(|o| s.checked_mul(16).and_then(|x| x.checked_add(o)));
        if Some(op) != expect_op || Some(mp) != expect_mp || mp.checked_add(ml) != Some(len) {
            return Err(bad("header sizes do not match the file length".into()));
        }
        let meta: Metadata = serde_json::from_slice(&b[mp as usize..(mp + ml) as usize])
            .map_err(|e| bad(format!("bad metadata: {e}")))?;
        if meta.n_sentences != s || meta.token_width != width {
            return Err(bad("metadata does not match the header".into()));
        }
        let ds = Self {
            path: path.to_path_buf(),
            width: width as usize,
            n_sentences: s as usize,
            n_array: t as usize,
            offsets_pos: op as usize,
            meta,
            map,
        };
        for i in 0..ds.n_sentences {
            let (st, en) = ds.offsets(i);
            if st > en || en >= ds.n_array {
                return Err(bad(format!("sentence {i} has bad offsets [{st}, {en})")));
            }
        }
        Ok(ds)
    }

    fn offsets(&self, i: usize) -> (usize, usize) {
        let at = self.offsets_pos + 16 * i;
        (
            u64_at(&self.map, at) as usize,
            u64_at(&self.map, at + 8) as usize,
        )
    }

    /// The metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }

    /// Number of sentences.
    pub fn len(&self) -> usize {
        self.n_sentences
    }

    /// Whether there is no sentence.
    pub fn is_empty(&self) -> bool {
        self.n_sentences == 0
    }

    /// `[start, end)` of sentence `i` in the token array (`</s>` at `end`).
    pub fn position(&self, i: usize) -> Option<(usize, usize)> {
        (i < self.n_sentences).then(|| self.offsets(i))
    }

    /// Length of the token array (word tokens plus one `</s>` per sentence).
    pub fn n_array_tokens(&self) -> usize {
        self.n_array
    }

    /// Token `j` of the array.
    pub fn token(&self, j: usize) -> Option<u32> {
        if j >= self.n_array {
            return None;
        }
        let at = HEADER_LEN as usize + j * self.width;
        let b = &self.map[at..at + self.width];
        Some(if self.width == 2 {
            u32::from(u16::from_le_bytes([b[0], b[1]]))
        } else {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        })
    }

    /// Ids of sentence `i` (without the trailing `</s>`).
    pub fn sentence(&self, i: usize) -> Option<Vec<u32>> {
        let (s, e) = self.position(i)?;
        let at = HEADER_LEN as usize;
        let bytes = &self.map[at + s * self.width..at + e * self.width];
        Some(if self.width == 2 {
            bytes
                .chunks_exact(2)
                .map(|c| u32::from(u16::from_le_bytes([c[0], c[1]])))
                .collect()
        } else {
            bytes
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
    }

    /// Iterates over the sentences in order.
    pub fn iter(&self) -> impl Iterator<Item = Vec<u32>> + '_ {
        (0..self.n_sentences).filter_map(|i| self.sentence(i))
    }

    /// Checks that the dataset was built with `dico` (size and fingerprint).
    pub fn check_dictionary(&self, dico: &Dictionary) -> Result<(), BinarizedError> {
        let fp = hex(dico.fingerprint());
        if self.meta.dictionary_size != dico.len() as u64 || self.meta.dictionary_fingerprint != fp
        {
            return Err(BinarizedError::DictionaryMismatch {
                path: self.path.clone(),
                data_size: self.meta.dictionary_size,
                data_fp: self.meta.dictionary_fingerprint.clone(),
                dict_size: dico.len() as u64,
                dict_fp: fp,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::bpe::Vocab;

    fn dico(n_extra: usize) -> Dictionary {
        let mut entries = vec![
            ("the".to_owned(), 1_000_000u64),
            ("cat@@".to_owned(), 999_999),
            ("s".to_owned(), 999_998),
        ];
        entries.extend((0..n_extra).map(|i| (format!("w{i}"), 10)));
        Dictionary::from_vocab(&Vocab { entries }).unwrap()
    }

    #[test]
    fn round_trip_u16_with_drops() {
        let d = dico(0);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("train.bin");
        let text =
            "the cat@@ s\n\n<s> </s> <special1> <unk> dog\n  \r\nthe the the the\nthe <pad>\n";
        std::fs::write(dir.path().join("in.txt"), text).unwrap();
        let meta = binarize_file(
            &dir.path().join("in.txt"),
            &d,
            &BinarizeParams { max_len: 3 },
            &p,
            &|_, _| {},
        )
        .unwrap();
        assert_eq!(meta.n_input_lines, 6);
        assert_eq!(meta.n_sentences, 3);
        assert_eq!(meta.n_dropped_empty, 2);
        assert_eq!(meta.n_dropped_too_long, 1);
        assert_eq!(meta.n_special_tokens_dropped, 4);
        assert_eq!(meta.n_unk, 2);
        assert_eq!(meta.n_tokens, 6);
        assert_eq!(meta.token_width, 2);
        let ds = BinarizedDataset::open(&p).unwrap();
        assert_eq!(ds.metadata(), &meta);
        assert_eq!(ds.len(), 3);
        assert_eq!(ds.sentence(0), Some(vec![14, 15, 16]));
        assert_eq!(ds.sentence(1), Some(vec![3, 3]));
        assert_eq!(ds.sentence(2), Some(vec![14]));
        assert_eq!(ds.sentence(3), None);
        assert_eq!(ds.position(1), Some((4, 6)));
        assert_eq!(ds.token(3), Some(EOS_INDEX));
        assert_eq!(ds.token(6), Some(EOS_INDEX));
        assert_eq!(ds.n_array_tokens(), 9);
        assert_eq!(ds.iter().count(), 3);
        assert_eq!(
            std::fs::metadata(&p).unwrap().len(),
            64 + 9 * 2 + 3 * 16 + { serde_json::to_vec_pretty(&meta).unwrap().len() as u64 }
        );
        ds.check_dictionary(&d).unwrap();
        assert!(matches!(
            ds.check_dictionary(&dico(1)),
            Err(BinarizedError::DictionaryMismatch { .. })
        ));
    }

    #[test]
    fn switches_to_u32_at_65536_entries() {
        let dir = tempfile::tempdir().unwrap();
        for (extra, width) in [(65536 - 14 - 3 - 1, 2u32), (65536 - 14 - 3, 4)] {
            let d = dico(extra);
            let p = dir.path().join(format!("{width}.bin"));
            let mut w = BinarizedWriter::create(&p, &d, &BinarizeParams::default()).unwrap();
            let last = d.word(d.len() as u32 - 1).unwrap().to_owned();
            w.push_line(&format!("the {last}")).unwrap();
            let meta = w.finish().unwrap();
            assert_eq!(meta.token_width, width, "dictionary of {}", d.len());
            let ds = BinarizedDataset::open(&p).unwrap();
            assert_eq!(ds.sentence(0), Some(vec![14, d.len() as u32 - 1]));
        }
    }

    #[test]
    fn rejects_corrupt_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.bin");
        std::fs::write(&p, b"short").unwrap();
        assert!(matches!(
            BinarizedDataset::open(&p),
            Err(BinarizedError::BadFormat { .. })
        ));
        let d = dico(0);
        let mut w = BinarizedWriter::create(&p, &d, &BinarizeParams::default()).unwrap();
        w.push_line("the s").unwrap();
        w.finish().unwrap();
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.truncate(bytes.len() - 1);
        std::fs::write(&p, &bytes).unwrap();
        assert!(matches!(
            BinarizedDataset::open(&p),
            Err(BinarizedError::BadFormat { .. })
        ));
        assert!(BinarizeParams { max_len: 0 }.validate().is_err());
    }

    #[test]
    fn bad_utf8_names_line() {
        let dir = tempfile::tempdir().unwrap();
        let i = dir.path().join("in");
        std::fs::write(&i, b"the\nthe \xff\n").unwrap();
        let r = binarize_file(
            &i,
            &dico(0),
            &BinarizeParams::default(),
            &dir.path().join("o"),
            &|_, _| {},
        );
        assert!(matches!(
            r,
            Err(BinarizedError::InvalidUtf8 { line: 2, .. })
        ));
    }
}
