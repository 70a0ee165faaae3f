//! Learning BPE merges, a port of glample/fastBPE `fastBPE/fastBPE.hpp` `learnbpe` (with
//! `tokenize`, `count_in_word` and `find_maxp`).
//!
//! Algorithm (as fastBPE): every distinct word becomes a sequence of UTF-8 characters, the last
//! one suffixed with `</w>`; pair counts are weighted by word counts; each step merges all
//! left-to-right non-overlapping occurrences of the most frequent pair and updates the counts of
//! the neighbouring pairs incrementally (only in the words that contain the pair). Every merge
//! creates a new token id, even when its string equals an existing token (as fastBPE).
//!
//! Differences from fastBPE, all deliberate:
//! - **Priority queue.** fastBPE scans all pairs for the maximum after each merge
//!   (`find_maxp`, O(pairs) per merge); we keep a max-heap with lazy invalidation (an entry is
//!   valid when its count equals the pair's current count), which gives the same choice.
//! - **Deterministic tie-break.** Among pairs with the same count fastBPE picks the smallest
//!   `(left id, right id)`, with character ids assigned in hash-map iteration order, so its codes
//!   depend on the hash table. We use the same rule with a deterministic numbering: words are
//!   visited by count descending then bytes ascending, characters are numbered in order of first
//!   appearance in that visit, and merged tokens are numbered in merge order.
//! - **Stopping.** When no pair is left we stop early; fastBPE would keep printing the last
//!   pair with count 0.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::END_WORD;
use super::codes::{Codes, Merge};
use super::error::BpeError;
use super::fxhash::FxHashMap;
use super::words::{WordCounts, count_words};
use crate::validate::{InvalidParam, Validate};

/// Parameters of BPE learning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LearnParams {
    /// Number of merge operations (fastBPE `learnbpe nCodes`). Default 32000, the RE-LM /
    /// lexical-XLM `CODES` value (XLM's get-data-nmt.sh uses 60000).
    pub merges: usize,
}

impl Default for LearnParams {
    fn default() -> Self {
        Self { merges: 32000 }
    }
}

impl Validate for LearnParams {
    /// Checks that `merges` is in `1..=100_000_000`.
    fn validate(&self) -> Result<(), InvalidParam> {
        if self.merges == 0 || self.merges > 100_000_000 {
            return Err(InvalidParam::new(
                "merges",
                format!("must be in 1..=100000000, got {}", self.merges),
            ));
        }
        Ok(())
    }
}

/// Learns `params.merges` merges from the pooled word counts of `paths` (`-` = stdin).
/// `on_progress(merges_done, merges_requested)` is called about 200 times.
pub fn learn_bpe(
    paths: &[PathBuf],
    params: &LearnParams,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Codes, BpeError> {
    params.validate()?;
    let counts = count_words(paths, &|_, _| {})?;
    Ok(learn_from_counts(&counts, params.merges, on_progress))
}

/// Per-pair state: current weighted count and the words that (may) contain the pair.
#[derive(Default)]
struct PairStat {
    count: i64,
    /// Word indices; may hold duplicates and stale entries (checked when used).
    words: Vec<u32>,
}

#[inline]
fn key(left: u32, right: u32) -> u64 {
    (u64::from(left) << 32) | u64::from(right)
}

#[inline]
fn unkey(k: u64) -> (u32, u32) {
    ((k >> 32) as u32, k as u32)
}

/// Learns up to `n_merges` merges from word counts (see the module doc for the tie-break).
pub fn learn_from_counts(
    counts: &WordCounts,
    n_merges: usize,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Codes {
    // Tokenize the words (fastBPE `tokenize`) in the deterministic order.
    let sorted = counts.sorted();
    let mut tokens: Vec<String> = Vec::new();
    let mut char_ids: FxHashMap<String, u32> = FxHashMap::default();
    let mut words: Vec<Vec<u32>> = Vec::new();
    let mut wcounts: Vec<i64> = Vec::new();
    let mut buf = String::new();
    for (w, c) in &sorted {
        let n_chars = w.chars().count();
        if n_chars < 2 {
            continue; // a one-token word has no pair and never changes
        }
        let mut seq = Vec::with_capacity(n_chars);
        for (i, ch) in w.chars().enumerate() {
            buf.clear();
            buf.push(ch);
            if i + 1 == n_chars {
                buf.push_str(END_WORD);
            }
            let id = match char_ids.get(buf.as_str()) {
                Some(&id) => id,
                None => {
                    let id = tokens.len() as u32;
                    tokens.push(buf.clone());
                    char_ids.insert(buf.clone(), id);
                    id
                }
            };
            seq.push(id);
        }
        words.push(seq);
        wcounts.push(i64::try_from(*c).unwrap_or(i64::MAX));
    }
    drop(char_ids);

    // Initial pair counts (fastBPE `count_in_word`).
    let mut pairs: FxHashMap<u64, PairStat> = FxHashMap::default();
    for (wi, seq) in words.iter().enumerate() {
        let c = wcounts[wi];
        for p in seq.windows(2) {
            let e = pairs.entry(key(p[0], p[1])).or_default();
            e.count += c;
            if e.words.last() != Some(&(wi as u32)) {
                e.words.push(wi as u32);
            }
        }
    }
    let mut heap: BinaryHeap<(i64, Reverse<u64>)> = pairs
        .iter()
        .filter(|(_, s)| s.count > 0)
        .map(|(&k, s)| (s.count, Reverse(k)))
        .collect();

    let mut merges = Vec::with_capacity(n_merges);
    let report_every = (n_merges / 200).max(1);
    let mut touched: Vec<u64> = Vec::new();
    while merges.len() < n_merges {
        // Pop the best valid entry (fastBPE `find_maxp`: highest count, then smallest ids).
        let Some((best, count)) = pop_best(&mut heap, &pairs) else {
            break;
        };
        let (a, b) = unkey(best);
        let Some(stat) = pairs.remove(&best) else {
            break;
        };
        let new_id = tokens.len() as u32;
        let merged = format!("{}{}", tokens[a as usize], tokens[b as usize]);
        merges.push(Merge {
            left: tokens[a as usize].clone(),
            right: tokens[b as usize].clone(),
            count: count as u64,
        });
        tokens.push(merged);

        let mut wlist = stat.words;
        wlist.sort_unstable();
        wlist.dedup();
        touched.clear();
        for &wi in &wlist {
            let c = wcounts[wi as usize];
            let w = &mut words[wi as usize];
            let n = w.len();
            let (mut i, mut j) = (0usize, 0usize);
            while i < n {
                if i + 1 < n && w[i] == a && w[i + 1] == b {
                    if j > 0 {
                        let prev = w[j - 1];
                        dec(&mut pairs, key(prev, a), c);
                        inc(&mut pairs, key(prev, new_id), c, wi, &mut touched);
                    }
                    if i + 2 < n {
                        let next = w[i + 2];
                        dec(&mut pairs, key(b, next), c);
                        inc(&mut pairs, key(new_id, next), c, wi, &mut touched);
                    }
                    w[j] = new_id;
                    i += 2;
                } else {
                    w[j] = w[i];
                    i += 1;
                }
                j += 1;
            }
            w.truncate(j);
        }
        touched.sort_unstable();
        touched.dedup();
        for &k in &touched {
            if let Some(s) = pairs.get(&k)
                && s.count > 0
            {
                heap.push((s.count, Reverse(k)));
            }
        }
        if merges.len() % report_every == 0 {
            on_progress(merges.len() as u64, n_merges as u64);
        }
    }
    on_progress(merges.len() as u64, n_merges as u64);
    Codes { merges }
}

/// Pops heap entries until one matches its pair's current count; stale entries whose pair
/// still has a positive, smaller count are re-queued with the current count.
fn pop_best(
    heap: &mut BinaryHeap<(i64, Reverse<u64>)>,
    pairs: &FxHashMap<u64, PairStat>,
) -> Option<(u64, i64)> {
    while let Some((c, Reverse(k))) = heap.pop() {
        let actual = pairs.get(&k).map_or(0, |s| s.count);
        if actual == c && c > 0 {
            return Some((k, c));
        }
        if actual > 0 && actual < c {
            heap.push((actual, Reverse(k)));
        }
    }
    None
}

#[inline]
fn dec(pairs: &mut FxHashMap<u64, PairStat>, k: u64, c: i64) {
    if let Some(s) = pairs.get_mut(&k) {
        s.count -= c;
    }
}

#[inline]
fn inc(pairs: &mut FxHashMap<u64, PairStat>, k: u64, c: i64, wi: u32, touched: &mut Vec<u64>) {
    let s = pairs.entry(k).or_default();
    s.count += c;
    if s.words.last() != Some(&wi) {
        s.words.push(wi);
    }
    touched.push(k);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn learn(text: &str, n: usize) -> Vec<(String, String, u64)> {
        let mut c = WordCounts::new();
        c.add_text(text);
        learn_from_counts(&c, n, &|_, _| {})
            .merges
            .into_iter()
            .map(|m| (m.left, m.right, m.count))
            .collect()
    }

    fn t(l: &str, r: &str, c: u64) -> (String, String, u64) {
        (l.into(), r.into(), c)
    }

    #[test]
    fn hand_worked_merges() {
        // Words: low x5, lower x2, newest x6, widest x3 (Sennrich et al.'s example).
        let text =
            "low ".repeat(5) + &"lower ".repeat(2) + &"newest ".repeat(6) + &"widest ".repeat(3);
        // Pair counts: (e,s)=9 (s,t</w>)=9 (l,o)=7 (o,w)=7 (w,e)=8 ...
        // Ids by visiting words count-desc: newest(n0 e1 w2 s3 t</w>4) low(l5 o6 w</w>7)
        // widest(w(2) i8 d9 e s t</w>) lower(l o w e r</w>10).
        // Max 9: (e1,s3) vs (s3,t</w>4): smallest ids -> (e,s).
        let m = learn(&text, 4);
        assert_eq!(m[0], t("e", "s", 9));
        // Now es(11) t</w>=9 -> merge.
        assert_eq!(m[1], t("es", "t</w>", 9));
        // (l,o)=7, (o,w)=2 (lower) + (o,w</w>)=5, (n,e)=6, (e,w)=6, (w,es)=6 ... -> (l,o)=7.
        assert_eq!(m[2], t("l", "o", 7));
        // Remaining max: (lo, w</w>)=5? no: (n,e)=6,(e,w)=6,(w,est</w>)=6 -> smallest ids:
        // (n0,e1) < (e1,w2) < (w2, est) -> (n,e).
        assert_eq!(m[3], t("n", "e", 6));
    }

    #[test]
    fn overlapping_pairs_merge_left_to_right() {
        // "aaaa" x1: chars a a a a</w>. (a,a)=2 (non-overlapping count is still the raw pair
        // count, as fastBPE counts every adjacent pair), (a,a</w>)=1.
        let m = learn("aaaa", 3);
        assert_eq!(m[0], t("a", "a", 2));
        // Merging left to right gives [aa, a, a</w>]: (aa,a)=1, (a,a</w>)=1; with ids a0,
        // a</w>1, aa2 the tie goes to (a0, a</w>1).
        assert_eq!(m[1], t("a", "a</w>", 1));
        assert_eq!(m[2], t("aa", "aa</w>", 1));
    }

    #[test]
    fn stops_when_no_pair_is_left() {
        let m = learn("ab ab c", 10);
        assert_eq!(m, vec![t("a", "b</w>", 2)]);
    }

    #[test]
    fn multibyte_characters_are_units() {
        let m = learn("тоа тоа то", 2);
        // тоа x2 = т о а</w>, то x1 = т о</w>: (т,о)=2, (о,а</w>)=2, (т,о</w>)=1; the tie
        // goes to the smaller ids (т0,о1).
        assert_eq!(m[0], t("т", "о", 2));
        assert_eq!(m[1], t("то", "а</w>", 2));
    }

    #[test]
    fn params_validate() {
        assert!(LearnParams::default().validate().is_ok());
        assert!(LearnParams { merges: 0 }.validate().is_err());
    }
}
