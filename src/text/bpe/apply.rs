//! Applying BPE codes, a port of glample/fastBPE `fastBPE/fastBPE.hpp` `applybpe`
//! (`tokenize_str`, `process_bpe`, `limitVocab`, `decompose`, `output_or_count`), and XLM's
//! `restore_segmentation` (facebookresearch/XLM `xlm/utils.py`) as [`undo_bpe`].
//!
//! Per word (a maximal run of bytes other than `' '` and `'\n'`): start from its UTF-8
//! characters with `</w>` appended to the last, repeatedly take the adjacent pair with the
//! lowest merge rank (first occurrence on ties) and merge all left-to-right non-overlapping
//! occurrences of that pair, until no adjacent pair is a code. With a vocabulary, every
//! non-final piece `p` must be in it as `p@@` and the final piece `p</w>` as `p`; otherwise it is
//! split back along its merge, recursively (`limitVocab`/`decompose`). Output: pieces joined by
//! `@@ ` with the final `</w>` dropped; delimiters (including runs of spaces and empty lines) are
//! copied unchanged.
//!
//! Streaming: the input is read in ~1 MiB blocks cut at line ends; batches of blocks are
//! segmented in parallel with rayon and written in input order, so memory stays bounded by the
//! batch size plus the word cache (capped at [`CACHE_CAP`] entries). A word's segmentation is
//! computed once and cached, as fastBPE computes one per unique word.
//!
//! Differences from fastBPE: a last word not followed by `' '`/`'\n'` is segmented and written
//! (fastBPE silently drops it); input must be valid UTF-8 (error with file and line); a codes
//! file listing the same pair (or the same concatenation) twice keeps the first (fastBPE asserts).

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::codes::Codes;
use super::error::BpeError;
use super::fxhash::{FxHashMap, FxHashSet};
use super::vocab::Vocab;
use super::words::line_of;
use super::{END_WORD, TOKEN_DELIM, is_word_delim};

/// Maximum number of cached word segmentations; the cache is cleared when it grows past it.
pub const CACHE_CAP: usize = 2_000_000;
/// Target input block size for streaming (bytes).
const BLOCK: usize = 1 << 20;
const NONE: u32 = u32::MAX;

/// Word -> segmentation cache.
type Cache = FxHashMap<Box<[u8]>, Box<[u8]>>;

/// Vocabulary restriction state (fastBPE `vocab` + `reversed_codes`).
struct Restriction {
    vocab: FxHashSet<Box<[u8]>>,
    /// Concatenation -> (left id, right id) of the first code producing it.
    reversed: FxHashMap<Box<[u8]>, (u32, u32)>,
}

/// Codes compiled for fast application: strings are interned to ids and pairs of ids map to
/// `(rank, merged id)`.
pub struct BpeApplier {
    ids: FxHashMap<Box<[u8]>, u32>,
    strings: Vec<Box<[u8]>>,
    merges: FxHashMap<u64, (u32, u32)>,
    restriction: Option<Restriction>,
}

#[inline]
fn key(left: u32, right: u32) -> u64 {
    (u64::from(left) << 32) | u64::from(right)
}

/// One piece of a word being segmented: interned id (or `NONE`) and byte range in the word.
#[derive(Clone, Copy)]
struct Piece {
    id: u32,
    start: u32,
    end: u32,
}

/// What [`apply_stream`] processed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// Input bytes read.
    pub bytes_in: u64,
    /// Output bytes written.
    pub bytes_out: u64,
    /// `'\n'` count of the input.
    pub lines: u64,
    /// Words segmented.
    pub words: u64,
}

impl BpeApplier {
    /// Compiles `codes`; with `vocab` (non-empty) the output is restricted to it as fastBPE
    /// `applybpe ... vocab` does (an empty vocabulary means no restriction, as in fastBPE).
    pub fn new(codes: &Codes, vocab: Option<&Vocab>) -> Self {
        let mut ids: FxHashMap<Box<[u8]>, u32> = FxHashMap::default();
        let mut strings: Vec<Box<[u8]>> = Vec::new();
        let mut intern = |s: &[u8]| -> u32 {
            if let Some(&id) = ids.get(s) {
                return id;
            }
            let id = strings.len() as u32;
            strings.push(s.into());
            ids.insert(s.into(), id);
            id
        };
        let mut merges: FxHashMap<u64, (u32, u32)> = FxHashMap::default();
        let mut reversed: FxHashMap<Box<[u8]>, (u32, u32)> = FxHashMap::default();
        let mut rank = 0u32;
        for m in &codes.merges {
            let l = intern(m.left.as_bytes());
            let r = intern(m.right.as_bytes());
            let concat = [m.left.as_bytes(), m.right.as_bytes()].concat();
            let c = intern(&concat);
            if let std::collections::hash_map::Entry::Vacant(e) = merges.entry(key(l, r)) {
                e.insert((rank, c));
                rank += 1;
            }
            reversed.entry(concat.into_boxed_slice()).or_insert((l, r));
        }
        let restriction = vocab.filter(|v| !v.is_empty()).map(|v| Restriction {
            vocab: v.entries.iter().map(|(t, _)| t.as_bytes().into()).collect(),
            reversed,
        });
        Self {
            ids,
            strings,
            merges,
            restriction,
        }
    }

    /// Appends the segmentation of one word (non-empty, without delimiters) to `out`.
    pub fn apply_word(&self, word: &[u8], out: &mut Vec<u8>) {
        let mut pieces = self.merge_word(word);
        if let Some(r) = &self.restriction {
            let strs: Vec<Vec<u8>> = pieces
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let mut s = word[p.start as usize..p.end as usize].to_vec();
                    if i + 1 == pieces.len() {
                        s.extend_from_slice(END_WORD.as_bytes());
                    }
                    s
                })
                .collect();
            let mut limited = Vec::with_capacity(strs.len());
            self.limit_vocab(r, &strs, &mut limited);
            // fastBPE: join with "@@ " and cut the trailing "</w>@@ ".
            let start = out.len();
            for s in &limited {
                out.extend_from_slice(s);
                out.extend_from_slice(b"@@ ");
            }
            let cut = END_WORD.len() + TOKEN_DELIM.len() + 1;
            let len = out.len();
            out.truncate(start.max(len.saturating_sub(cut)));
            return;
        }
        let n = pieces.len();
        for (i, p) in pieces.drain(..).enumerate() {
            out.extend_from_slice(&word[p.start as usize..p.end as usize]);
            if i + 1 < n {
                out.extend_from_slice(b"@@ ");
            }
        }
    }

    /// Segments a line (words split on `' '` only, everything else kept), without caching.
    pub fn apply_line(&self, line: &str) -> String {
        let mut out = Vec::with_capacity(line.len() * 2);
        segment_block(line.as_bytes(), &mut out, |w, o| self.apply_word(w, o));
        // Only whole UTF-8 characters are ever split off or joined, so this cannot fail.
        String::from_utf8(out).unwrap_or_default()
    }

    /// fastBPE `process_bpe` merge loop; returns the final pieces.
    fn merge_word(&self, word: &[u8]) -> Vec<Piece> {
        let mut pieces: Vec<Piece> = Vec::with_capacity(word.len());
        let mut start = 0usize;
        for pos in 1..=word.len() {
            if pos == word.len() || (word[pos] & 0xc0) != 0x80 {
                pieces.push(Piece {
                    id: NONE,
                    start: start as u32,
                    end: pos as u32,
                });
                start = pos;
            }
        }
        let n = pieces.len();
        let mut last = Vec::with_capacity(8 + END_WORD.len());
        for (i, p) in pieces.iter_mut().enumerate() {
            let s = &word[p.start as usize..p.end as usize];
            p.id = if i + 1 == n {
                last.clear();
                last.extend_from_slice(s);
                last.extend_from_slice(END_WORD.as_bytes());
                self.ids.get(last.as_slice()).copied().unwrap_or(NONE)
            } else {
                self.ids.get(s).copied().unwrap_or(NONE)
            };
        }
        while pieces.len() > 1 {
            let mut best: Option<(u32, usize, u32)> = None;
            for i in 0..pieces.len() - 1 {
                let (l, r) = (pieces[i].id, pieces[i + 1].id);
                if l == NONE || r == NONE {
                    continue;
                }
                if let Some(&(rank, merged)) = self.merges.get(&key(l, r))
                    && best.is_none_or(|(br, _, _)| rank < br)
                {
                    best = Some((rank, i, merged));
                }
            }
            let Some((_, first, merged)) = best else {
                break;
            };
            let (l, r) = (pieces[first].id, pieces[first + 1].id);
            let n = pieces.len();
            let (mut i, mut j) = (first, first);
            while i < n {
                if i + 1 < n && pieces[i].id == l && pieces[i + 1].id == r {
                    pieces[j] = Piece {
                        id: merged,
                        start: pieces[i].start,
                        end: pieces[i + 1].end,
                    };
                    i += 2;
                } else {
                    pieces[j] = pieces[i];
                    i += 1;
                }
                j += 1;
            }
            pieces.truncate(j);
        }
        pieces
    }

    /// fastBPE `limitVocab`.
    fn limit_vocab(&self, r: &Restriction, subwords: &[Vec<u8>], out: &mut Vec<Vec<u8>>) {
        for (i, s) in subwords.iter().enumerate() {
            let is_final = i + 1 == subwords.len();
            if r.vocab.contains(query(s, is_final).as_slice()) {
                out.push(s.clone());
            } else {
                self.decompose(r, s, is_final, out);
            }
        }
    }

    /// fastBPE `decompose`: split `s` back along the code that produced it, keeping each half
    /// that is in the vocabulary and recursing into the others. A string no code produced
    /// (a single character) is kept as is.
    fn decompose(&self, r: &Restriction, s: &[u8], is_final: bool, out: &mut Vec<Vec<u8>>) {
        let Some(&(left, right)) = r.reversed.get(s) else {
            out.push(s.to_vec());
            return;
        };
        let t1 = &self.strings[left as usize];
        if r.vocab.contains(query(t1, false).as_slice()) {
            out.push(t1.to_vec());
        } else {
            self.decompose(r, t1, false, out);
        }
        let t2 = &self.strings[right as usize];
        if r.vocab.contains(query(t2, is_final).as_slice()) {
            out.push(t2.to_vec());
        } else {
            self.decompose(r, t2, is_final, out);
        }
    }
}

/// The vocabulary entry a piece must have: `p@@` for a non-final piece, `p` without its
/// `</w>` for the final one (fastBPE `substr(0, size - 4)`, the whole string when shorter).
fn query(s: &[u8], is_final: bool) -> Vec<u8> {
    if is_final {
        let n = s.len();
        if n >= END_WORD.len() {
            s[..n - END_WORD.len()].to_vec()
        } else {
            s.to_vec()
        }
    } else {
        [s, TOKEN_DELIM.as_bytes()].concat()
    }
}

/// Copies `block` to `out`, replacing every word by `seg(word, out)`'s output; delimiters are
/// copied as they are (fastBPE `output_or_count`).
fn segment_block(block: &[u8], out: &mut Vec<u8>, mut seg: impl FnMut(&[u8], &mut Vec<u8>)) {
    let mut pos = 0usize;
    for w in block.split(|&b| is_word_delim(b)) {
        if !w.is_empty() {
            seg(w, out);
        }
        pos += w.len();
        if pos < block.len() {
            out.push(block[pos]);
            pos += 1;
        }
    }
}

/// Result of segmenting one block in parallel.
struct BlockOut<'a> {
    out: Vec<u8>,
    new_words: FxHashMap<&'a [u8], Box<[u8]>>,
    lines: u64,
    words: u64,
    bad_utf8: Option<usize>,
}

fn process_block<'a>(applier: &BpeApplier, cache: &Cache, block: &'a [u8]) -> BlockOut<'a> {
    let lines = block.iter().filter(|&&b| b == b'\n').count() as u64;
    if let Err(e) = std::str::from_utf8(block) {
        return BlockOut {
            out: Vec::new(),
            new_words: FxHashMap::default(),
            lines,
            words: 0,
            bad_utf8: Some(line_of(block, e.valid_up_to())),
        };
    }
    let mut out = Vec::with_capacity(block.len() + block.len() / 2);
    let mut new_words: FxHashMap<&'a [u8], Box<[u8]>> = FxHashMap::default();
    let mut words = 0u64;
    let mut tmp = Vec::with_capacity(64);
    let mut pos = 0usize;
    for w in block.split(|&b| is_word_delim(b)) {
        if !w.is_empty() {
            words += 1;
            if let Some(s) = cache.get(w) {
                out.extend_from_slice(s);
            } else if let Some(s) = new_words.get(w) {
                out.extend_from_slice(s);
            } else {
                tmp.clear();
                applier.apply_word(w, &mut tmp);
                out.extend_from_slice(&tmp);
                new_words.insert(w, tmp.as_slice().into());
            }
        }
        pos += w.len();
        if pos < block.len() {
            out.push(block[pos]);
            pos += 1;
        }
    }
    BlockOut {
        out,
        new_words,
        lines,
        words,
        bad_utf8: None,
    }
}

/// Reads `reader` in blocks of about `BLOCK` bytes ending at a `'\n'` (the last block may not).
struct BlockReader<'r> {
    reader: &'r mut dyn Read,
    carry: Vec<u8>,
    eof: bool,
}

impl BlockReader<'_> {
    fn next_block(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut buf = std::mem::take(&mut self.carry);
        let mut target = BLOCK;
        loop {
            while buf.len() < target && !self.eof {
                let want = (target - buf.len()) as u64;
                if (&mut *self.reader).take(want).read_to_end(&mut buf)? == 0 {
                    self.eof = true;
                }
            }
            if buf.is_empty() {
                return Ok(None);
            }
            if self.eof {
                return Ok(Some(buf));
            }
            if let Some(p) = buf.iter().rposition(|&b| b == b'\n') {
                self.carry = buf[p + 1..].to_vec();
                buf.truncate(p + 1);
                return Ok(Some(buf));
            }
            target = buf.len() * 2; // a line longer than the block: read more
        }
    }
}

/// Segments everything `reader` yields and writes it to `writer`, in order, in parallel.
/// `input`/`output` only name the streams in errors. `on_progress(bytes_done, 0)` is called
/// once per batch of blocks (the total is unknown for a stream).
pub fn apply_stream(
    applier: &BpeApplier,
    reader: &mut dyn Read,
    input: &Path,
    writer: &mut dyn Write,
    output: &Path,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<ApplyStats, BpeError> {
    let batch = rayon::current_num_threads().max(1) * 4;
    let mut blocks = BlockReader {
        reader,
        carry: Vec::new(),
        eof: false,
    };
    let mut cache = Cache::default();
    let mut stats = ApplyStats::default();
    loop {
        let mut batch_blocks = Vec::with_capacity(batch);
        while batch_blocks.len() < batch {
            match blocks.next_block() {
                Ok(Some(b)) => batch_blocks.push(b),
                Ok(None) => break,
                Err(e) => return Err(BpeError::read(input, e)),
            }
        }
        if batch_blocks.is_empty() {
            break;
        }
        let outs: Vec<BlockOut> = batch_blocks
            .par_iter()
            .map(|b| process_block(applier, &cache, b))
            .collect();
        let mut new_entries: Cache = Cache::default();
        for (o, b) in outs.into_iter().zip(&batch_blocks) {
            if let Some(l) = o.bad_utf8 {
                return Err(BpeError::InvalidUtf8 {
                    path: input.to_path_buf(),
                    line: stats.lines as usize + l,
                });
            }
            writer
                .write_all(&o.out)
                .map_err(|e| BpeError::write(output, e))?;
            stats.bytes_in += b.len() as u64;
            stats.bytes_out += o.out.len() as u64;
            stats.lines += o.lines;
            stats.words += o.words;
            new_entries.extend(o.new_words.into_iter().map(|(k, v)| (k.into(), v)));
        }
        if cache.len() + new_entries.len() > CACHE_CAP {
            cache.clear();
        }
        cache.extend(new_entries);
        on_progress(stats.bytes_in, 0);
    }
    writer.flush().map_err(|e| BpeError::write(output, e))?;
    Ok(stats)
}

/// Applies `codes` (restricted to `vocab` when given) to the file `input` (stdin when `None`
/// or `-`) and writes to `output` (stdout when `None` or `-`).
/// `on_progress(bytes_done, bytes_total)` is called once per batch (total 0 for stdin).
pub fn apply_file(
    applier: &BpeApplier,
    input: Option<&Path>,
    output: Option<&Path>,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<ApplyStats, BpeError> {
    let dash = Path::new("-");
    let input = input.filter(|p| *p != dash);
    let output = output.filter(|p| *p != dash);
    let in_name = input.map_or_else(|| PathBuf::from("-"), Path::to_path_buf);
    let out_name = output.map_or_else(|| PathBuf::from("-"), Path::to_path_buf);
    let (mut reader, total): (Box<dyn Read>, u64) = match input {
        Some(p) => {
            let f = std::fs::File::open(p).map_err(|e| BpeError::read(p, e))?;
            let len = f.metadata().map_err(|e| BpeError::read(p, e))?.len();
            (Box::new(f), len)
        }
        None => (Box::new(std::io::stdin().lock()), 0),
    };
    let mut writer: Box<dyn Write> = match output {
        Some(p) => Box::new(BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(p).map_err(|e| BpeError::write(p, e))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 20, std::io::stdout().lock())),
    };
    apply_stream(
        applier,
        &mut reader,
        &in_name,
        &mut writer,
        &out_name,
        &|d, _| on_progress(d, total),
    )
}

/// Undoes BPE on one line as XLM's `restore_segmentation` (`sed -r 's/(@@ )|(@@ ?$)//g'`):
/// removes every `@@ ` and a `@@` at the end of the line.
pub fn undo_bpe(line: &str) -> String {
    let s = line.replace("@@ ", "");
    match s.strip_suffix("@@") {
        Some(t) => t.to_owned(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::bpe::codes::Merge;

    fn codes(lines: &[(&str, &str)]) -> Codes {
        Codes {
            merges: lines
                .iter()
                .map(|(l, r)| Merge {
                    left: (*l).into(),
                    right: (*r).into(),
                    count: 1,
                })
                .collect(),
        }
    }

    fn vocab(tokens: &[&str]) -> Vocab {
        Vocab {
            entries: tokens.iter().map(|t| ((*t).to_owned(), 1)).collect(),
        }
    }

    #[test]
    fn lowest_rank_first_and_markers() {
        let c = codes(&[
            ("e", "s"),
            ("es", "t</w>"),
            ("l", "o"),
            ("lo", "w</w>"),
            ("n", "e"),
        ]);
        let a = BpeApplier::new(&c, None);
        // newest: n e w e s t</w> -> (e,s) rank0 -> n e w es t</w> -> (es,t</w>) rank1
        // -> n e w est</w> -> (n,e) rank4 -> ne w est</w>.
        assert_eq!(a.apply_line("newest"), "ne@@ w@@ est");
        assert_eq!(a.apply_line("low lower"), "low lo@@ w@@ e@@ r");
        // Delimiters are kept verbatim, tabs belong to words.
        assert_eq!(a.apply_line("  low\tx  low "), "  lo@@ w@@ \t@@ x  low ");
        assert_eq!(a.apply_line(""), "");
    }

    #[test]
    fn merges_are_non_overlapping_left_to_right() {
        let a = BpeApplier::new(&codes(&[("a", "a"), ("aa", "a</w>")]), None);
        // a a a a</w>: (a,a) merges positions 0-1 only (2-3 is (a, a</w>)).
        assert_eq!(a.apply_line("aaaa"), "aa@@ a@@ a");
        // a a a</w> -> aa a</w> -> aaa</w>
        assert_eq!(a.apply_line("aaa"), "aaa");
        // a a a a a</w> -> aa aa a</w> -> aa aaa</w>
        assert_eq!(a.apply_line("aaaaa"), "aa@@ aaa");
    }

    #[test]
    fn multibyte_words() {
        let a = BpeApplier::new(&codes(&[("т", "о"), ("то", "а</w>")]), None);
        assert_eq!(a.apply_line("тоа тоб"), "тоа то@@ б");
    }

    #[test]
    fn vocab_restriction_splits_back_along_merges() {
        let c = codes(&[
            ("l", "o"),
            ("lo", "w</w>"),
            ("lo", "w"),
            ("low", "er</w>"),
            ("e", "r</w>"),
        ]);
        // Without restriction: lower -> l o w e r</w> -> lo w e r</w> -> lo w e r</w>:
        // ranks: (l,o)0, (lo,w)2, (e,r</w>)4 -> lo, then low, then er</w>, then lower</w>.
        let a = BpeApplier::new(&c, None);
        assert_eq!(a.apply_line("lower low"), "lower low");
        // Vocab lacks "lower" and "low": "lower</w>" -> (low, er</w>): "low@@" is in the
        // vocab, "er" is not -> er</w> -> (e, r</w>): "e@@" yes, "r" yes.
        let v = vocab(&["low@@", "e@@", "r", "lo@@", "w"]);
        let a = BpeApplier::new(&c, Some(&v));
        assert_eq!(a.apply_line("lower"), "low@@ e@@ r");
        // "low</w>" -> (lo, w</w>): "lo@@" in vocab, "w" in vocab.
        assert_eq!(a.apply_line("low"), "lo@@ w");
        // Nothing in vocab: decomposed down to characters.
        let a = BpeApplier::new(&c, Some(&vocab(&["zzz"])));
        assert_eq!(a.apply_line("lower"), "l@@ o@@ w@@ e@@ r");
        // Empty vocabulary = no restriction (fastBPE checks vocab.size() > 0).
        let a = BpeApplier::new(&c, Some(&vocab(&[])));
        assert_eq!(a.apply_line("lower"), "lower");
    }

    #[test]
    fn stream_keeps_order_and_last_word() {
        let c = codes(&[("a", "b</w>"), ("c", "d")]);
        let a = BpeApplier::new(&c, None);
        let mut text = String::new();
        for i in 0..200_000 {
            text.push_str(&format!("ab cd{} x\n\n", i % 7));
        }
        text.push_str("ab");
        let mut out = Vec::new();
        let stats = apply_stream(
            &a,
            &mut text.as_bytes(),
            Path::new("-"),
            &mut out,
            Path::new("-"),
            &|_, _| {},
        )
        .unwrap();
        let expected: String = (0..200_000)
            .map(|i| format!("ab cd@@ {} x\n\n", i % 7))
            .collect::<String>()
            + "ab";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        assert_eq!(stats.lines, 400_000);
        assert_eq!(stats.words, 600_001);
    }

    #[test]
    fn stream_reports_bad_utf8_line() {
        let a = BpeApplier::new(&codes(&[]), None);
        let data = b"ok\nfine\n\xffbad\n".to_vec();
        let mut out = Vec::new();
        let r = apply_stream(
            &a,
            &mut data.as_slice(),
            Path::new("in.txt"),
            &mut out,
            Path::new("-"),
            &|_, _| {},
        );
        match r {
            Err(BpeError::InvalidUtf8 { line, .. }) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn undo_bpe_like_xlm() {
        assert_eq!(undo_bpe("lo@@ w@@ er is"), "lower is");
        assert_eq!(undo_bpe("a@@ b@@"), "ab");
        assert_eq!(undo_bpe("a@@ b@@ "), "ab");
        assert_eq!(undo_bpe("x@@@"), "x@");
        assert_eq!(undo_bpe("e@@mail"), "e@@mail");
    }
}
