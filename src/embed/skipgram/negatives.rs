//! The unigram^0.5 table negatives are drawn from.
//!
//! Port of facebookresearch/fastText `src/loss.cc`: `NegativeSamplingLoss` constructor
//! (table filling, with fastText's float arithmetic) and `getNegative` (uniform index into
//! the table, redrawn while it equals the positive target). fastText 0.9.2 does not
//! shuffle the table; neither do we.
//!
//! Because the table is a sequence of runs (word 0 repeated, then word 1, ...), we do not
//! store its 10M entries (40 MB, a cache miss per negative): we keep where each word's run
//! starts plus a coarse index per block of 4096 positions, and answer "which word is at
//! position k" exactly as the table would, mostly from a few kilobytes in cache.

use super::rng::MinStd;

/// fastText `NegativeSamplingLoss::NEGATIVE_TABLE_SIZE`.
pub const NEGATIVE_TABLE_SIZE: usize = 10_000_000;

/// Table where word i appears about `NEGATIVE_TABLE_SIZE * sqrt(count_i) / sum_j sqrt(count_j)` times.
#[derive(Debug, Clone)]
pub struct NegativeTable {
    /// `starts[i]`: first table position of word i; `starts[nwords]` = table length.
    starts: Vec<u64>,
    /// `block_word[b]`: the word at position `b << BLOCK_BITS` (plus a final sentinel).
    block_word: Vec<u32>,
    /// True when the vocabulary has a single word: then no valid negative exists.
    degenerate: bool,
}

const BLOCK_BITS: u32 = 12;

impl NegativeTable {
    /// Fills the table from word counts (in vocabulary order).
    pub fn new(counts: &[u64]) -> Self {
        Self::with_size(counts, NEGATIVE_TABLE_SIZE)
    }

    /// Same with another nominal size (tests use small tables).
    pub fn with_size(counts: &[u64], size: usize) -> Self {
        // `real z` accumulates double `pow` results in float, like fastText.
        let mut z = 0.0f32;
        for &c in counts {
            z = (z as f64 + (c as f64).powf(0.5)) as f32;
        }
        let mut starts = Vec::with_capacity(counts.len() + 1);
        let mut len = 0u64;
        for &c in counts {
            starts.push(len);
            let c = (c as f64).powf(0.5) as f32;
            let limit = c * size as f32 / z;
            // Same loop condition as fastText: push while (float) j < limit.
            let mut j = 0u64;
            while (j as f32) < limit {
                j += 1;
            }
            len += j;
        }
        starts.push(len);
        let nblocks = len.div_ceil(1 << BLOCK_BITS) as usize;
        let mut block_word = Vec::with_capacity(nblocks + 1);
        let mut w = 0usize;
        for b in 0..nblocks {
            let pos = (b as u64) << BLOCK_BITS;
            while starts[w + 1] <= pos {
                w += 1;
            }
            block_word.push(w as u32);
        }
        block_word.push(counts.len().saturating_sub(1) as u32);
        Self {
            starts,
            block_word,
            degenerate: counts.len() < 2,
        }
    }

    /// The word at table position `k` (< len).
    #[inline]
    pub fn word_at(&self, k: u64) -> u32 {
        let b = (k >> BLOCK_BITS) as usize;
        let mut lo = self.block_word[b] as usize;
        let mut hi = self.block_word[b + 1] as usize;
        // Invariant: starts[lo] <= k, and the answer is <= hi.
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if self.starts[mid] <= k {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        lo as u32
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.starts.last().copied().unwrap_or(0) as usize
    }

    /// True when the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The table fastText would build, materialised (for tests and inspection).
    pub fn entries(&self) -> Vec<u32> {
        let mut t = Vec::with_capacity(self.len());
        for (i, w) in self.starts.windows(2).enumerate() {
            t.extend(std::iter::repeat_n(i as u32, (w[1] - w[0]) as usize));
        }
        t
    }

    /// A negative different from `target` (`getNegative`); `None` when the vocabulary has
    /// one word (fastText would loop forever there).
    #[inline]
    pub fn sample(&self, target: u32, rng: &mut MinStd) -> Option<u32> {
        if self.degenerate {
            return None;
        }
        let hi = self.len() as u64 - 1;
        loop {
            let n = self.word_at(rng.uniform_int(0, hi));
            if n != target {
                return Some(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportions_follow_sqrt_counts() {
        // sqrt: 10, 20, 30 of total 60 -> 1/6, 2/6, 3/6 of 6000 entries.
        let t = NegativeTable::with_size(&[100, 400, 900], 6000);
        let n: Vec<usize> = (0..3)
            .map(|w| t.entries().iter().filter(|&&x| x == w).count())
            .collect();
        assert_eq!(n, [1000, 2000, 3000]);
        // Entries are grouped by word, in vocabulary order (no shuffle, as fastText 0.9.2).
        assert!(t.entries().windows(2).all(|p| p[0] <= p[1]));
    }

    #[test]
    fn word_at_equals_the_materialised_table() {
        let counts = [900_000u64, 5000, 5000, 37, 5, 5, 5, 5, 1, 1, 1, 20_000];
        let t = NegativeTable::with_size(&counts, 100_003);
        let e = t.entries();
        assert_eq!(e.len(), t.len());
        for (k, &w) in e.iter().enumerate() {
            assert_eq!(t.word_at(k as u64), w, "position {k}");
        }
    }

    #[test]
    fn full_size_table_and_sampling_never_returns_target() {
        let t = NegativeTable::new(&[50, 5, 5]);
        assert!((t.len() as i64 - NEGATIVE_TABLE_SIZE as i64).abs() <= 3);
        let mut rng = MinStd::new(0);
        for _ in 0..1000 {
            assert_ne!(t.sample(0, &mut rng), Some(0));
        }
        assert_eq!(NegativeTable::with_size(&[7], 10).sample(0, &mut rng), None);
    }
}
