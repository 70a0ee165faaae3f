//! `corpus`: clean a raw text file and split it into train / valid / test.
//!
//! Two streaming passes keep memory constant in the corpus size (only 16 bytes per kept line
//! for deduplication and the held-out index set): the first counts and filters, the second
//! routes lines. Output order is input order.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::StageCtx;
use super::error::{IoContext, StageError};
use super::params::{InvalidParam, Validate};
use super::signature::{Arity, Signature};
use super::stage::Stage;
use super::text_io::{self, Line};

/// Parameters of `corpus`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorpusParams {
    /// Drop exact duplicate lines, keeping the first. Default: `false`.
    pub dedup: bool,
    /// Drop lines with fewer whitespace-separated words. Default: `1` (empty lines are always
    /// dropped).
    pub min_words: u32,
    /// Drop lines with more words; `0` means no limit. Default: `0`.
    pub max_words: u32,
    /// Lines held out for `valid`. Default: `0`.
    pub valid: u64,
    /// Lines held out for `test`. Default: `0`.
    pub test: u64,
    /// Seed of the held-out sample. Default: `0`.
    pub seed: u64,
}

impl Default for CorpusParams {
    fn default() -> Self {
        Self {
            dedup: false,
            min_words: 1,
            max_words: 0,
            valid: 0,
            test: 0,
            seed: 0,
        }
    }
}

impl Validate for CorpusParams {
    fn validate(&self) -> Result<(), InvalidParam> {
        if self.min_words == 0 {
            return Err(InvalidParam::new(
                "min_words",
                "must be at least 1 (empty lines are never kept)",
            ));
        }
        if self.max_words != 0 && self.max_words < self.min_words {
            return Err(InvalidParam::new(
                "max_words",
                format!(
                    "must be 0 (no limit) or at least min_words = {}",
                    self.min_words
                ),
            ));
        }
        // `valid + test` is the held-out count: in a release build an overflow would wrap
        // silently to a small number.
        if self.valid.checked_add(self.test).is_none() {
            return Err(InvalidParam::new(
                "test",
                format!(
                    "valid + test overflows ({} + {}): hold out fewer lines",
                    self.valid, self.test
                ),
            ));
        }
        Ok(())
    }
}

/// The `corpus` stage.
pub struct CorpusStage;

impl Stage for CorpusStage {
    const KIND: &'static str = "corpus";
    const CODE_VERSION: u32 = 1;
    const SUMMARY: &'static str =
        "clean a UTF-8 text file (plain, .gz or .xz) and split it into train/valid/test";
    type Params = CorpusParams;

    fn signature(_: &CorpusParams) -> Signature {
        Signature::default()
            .input("text", Arity::One)
            .file("train")
            .file("valid")
            .file("test")
    }

    fn run(p: &CorpusParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError> {
        let input = ctx.input("text")?.to_path_buf();
        let size = std::fs::metadata(&input).ctx("read", &input)?.len();
        let mut stats = Stats::default();
        let mut seen = HashSet::new();
        let mut kept = 0u64;
        let mut invalid_lines = Vec::new();
        // Pass 1: decide which lines are kept.
        let mut reader = text_io::open(&input)?;
        text_io::for_each_line(&mut *reader, &input, |n, line| {
            if n % 100_000 == 0 {
                ctx.progress(n, 0);
            }
            if keep(p, line, &mut seen, &mut stats, n, &mut invalid_lines) {
                kept += 1;
            }
            Ok(())
        })?;
        let held = p.valid + p.test;
        if held > kept {
            return Err(StageError::TooFewLines {
                path: input.to_path_buf(),
                usable: kept,
                held,
            });
        }
        let split = held_out(kept, p.valid, p.test, p.seed);
        // Pass 2: route kept lines, in input order.
        let mut outs = [
            writer(&ctx.output("train"))?,
            writer(&ctx.output("valid"))?,
            writer(&ctx.output("test"))?,
        ];
        let mut counts = [0u64; 3];
        let mut idx = 0u64;
        seen.clear();
        let mut scratch = Stats::default();
        let mut ignored = Vec::new();
        let mut reader = text_io::open(&input)?;
        text_io::for_each_line(&mut *reader, &input, |n, line| {
            if n % 100_000 == 0 {
                ctx.progress(n, stats.lines);
            }
            if !keep(p, line, &mut seen, &mut scratch, n, &mut ignored) {
                return Ok(());
            }
            let Line::Text(text) = line else {
                return Ok(());
            };
            let which = match split.get(&idx) {
                Some(Held::Valid) => 1,
                Some(Held::Test) => 2,
                None => 0,
            };
            idx += 1;
            counts[which] += 1;
            let (w, path) = &mut outs[which];
            w.write_all(text.as_bytes())
                .and_then(|()| w.write_all(b"\n"))
                .ctx("write", path)
        })?;
        for (w, path) in &mut outs {
            w.flush().ctx("write", path)?;
        }
        ctx.progress(stats.lines, stats.lines);
        for n in &invalid_lines {
            ctx.log(format!("line {n}: invalid UTF-8, dropped"));
        }
        if stats.invalid_utf8 > invalid_lines.len() as u64 {
            ctx.log(format!(
                "... and {} more invalid UTF-8 lines",
                stats.invalid_utf8 - invalid_lines.len() as u64
            ));
        }
        ctx.log(format!(
            "{}: {} bytes, {} lines, kept {kept} (train {}, valid {}, test {})",
            input.display(),
            size,
            stats.lines,
            counts[0],
            counts[1],
            counts[2]
        ));
        for (name, v) in [
            ("lines", stats.lines),
            ("kept", kept),
            ("invalid_utf8", stats.invalid_utf8),
            ("empty", stats.empty),
            ("duplicates", stats.duplicates),
            ("too_short", stats.too_short),
            ("too_long", stats.too_long),
            ("train", counts[0]),
            ("valid", counts[1]),
            ("test", counts[2]),
        ] {
            ctx.metric(name, v as f64);
        }
        Ok(())
    }
}

#[derive(Default)]
struct Stats {
    lines: u64,
    invalid_utf8: u64,
    empty: u64,
    duplicates: u64,
    too_short: u64,
    too_long: u64,
}

fn keep(
    p: &CorpusParams,
    line: Line<'_>,
    seen: &mut HashSet<[u8; 16]>,
    stats: &mut Stats,
    n: u64,
    invalid: &mut Vec<u64>,
) -> bool {
    stats.lines += 1;
    let text = match line {
        Line::Text(t) => t,
        Line::Invalid => {
            stats.invalid_utf8 += 1;
            if invalid.len() < 20 {
                invalid.push(n);
            }
            return false;
        }
    };
    let words = text.split_whitespace().count();
    if words == 0 {
        stats.empty += 1;
        return false;
    }
    if words < p.min_words as usize {
        stats.too_short += 1;
        return false;
    }
    if p.max_words != 0 && words > p.max_words as usize {
        stats.too_long += 1;
        return false;
    }
    if p.dedup {
        let mut h = [0u8; 16];
        h.copy_from_slice(&blake3::hash(text.as_bytes()).as_bytes()[..16]);
        if !seen.insert(h) {
            stats.duplicates += 1;
            return false;
        }
    }
    true
}

enum Held {
    Valid,
    Test,
}

/// Picks `valid + test` distinct indices in `0..kept` with a partial Fisher-Yates shuffle
/// over a sparse map, so memory is O(valid + test), not O(kept).
fn held_out(kept: u64, valid: u64, test: u64, seed: u64) -> std::collections::HashMap<u64, Held> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut swapped: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    let mut out = std::collections::HashMap::new();
    for i in 0..valid + test {
        let j = rng.random_range(i..kept);
        let vi = *swapped.get(&i).unwrap_or(&i);
        let vj = *swapped.get(&j).unwrap_or(&j);
        swapped.insert(j, vi);
        out.insert(vj, if i < valid { Held::Valid } else { Held::Test });
    }
    out
}

fn writer(path: &Path) -> Result<(BufWriter<File>, std::path::PathBuf), StageError> {
    let f = File::create(path).ctx("create", path)?;
    Ok((BufWriter::with_capacity(1 << 20, f), path.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(m: std::collections::HashMap<u64, Held>) -> Vec<u64> {
        let mut k: Vec<u64> = m.into_keys().collect();
        k.sort_unstable();
        k
    }

    #[test]
    fn held_out_indices_are_distinct_seeded_and_sized() {
        let a = held_out(100, 10, 5, 7);
        assert_eq!(a.len(), 15);
        assert!(a.keys().all(|k| *k < 100));
        assert_eq!(a.values().filter(|h| matches!(h, Held::Valid)).count(), 10);
        assert_eq!(keys(a), keys(held_out(100, 10, 5, 7)));
        assert_ne!(keys(held_out(100, 10, 5, 7)), keys(held_out(100, 10, 5, 8)));
        assert_eq!(keys(held_out(15, 10, 5, 1)), (0..15).collect::<Vec<_>>());
    }

    #[test]
    fn filters_count_what_they_drop() {
        let p = CorpusParams {
            dedup: true,
            max_words: 3,
            ..CorpusParams::default()
        };
        let mut seen = HashSet::new();
        let mut st = Stats::default();
        let mut inv = Vec::new();
        let lines = [
            Line::Text("a b"),
            Line::Text("a b"),
            Line::Text("  "),
            Line::Text("a b c d"),
            Line::Invalid,
            Line::Text("c"),
        ];
        let kept: Vec<bool> = lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| keep(&p, l, &mut seen, &mut st, i as u64 + 1, &mut inv))
            .collect();
        assert_eq!(kept, [true, false, false, false, false, true]);
        assert_eq!(
            (st.duplicates, st.empty, st.too_long, st.invalid_utf8),
            (1, 1, 1, 1)
        );
        assert_eq!(inv, [5]);
    }
}
