//! Memory estimate and the up-front check that the model fits.
//!
//! The input matrix is (nwords + bucket) x dim f32: with the paper's dim 1024 and fastText's
//! default 2,000,000 buckets that alone is ~8.2 GB per language. Training allocates it
//! only after comparing the estimate with `MemAvailable` from `/proc/meminfo`, so a run that
//! cannot fit fails at once with a message naming the knobs (`bucket`, `dim`) instead of
//! being killed by the OOM killer hours later.

use super::error::SkipgramError;
use super::negatives::NEGATIVE_TABLE_SIZE;
use super::params::SkipgramParams;

/// Bytes training needs for `n_words` vocabulary words, excluding the encoded corpus
/// (4 bytes per in-vocabulary token, added by [`crate::embed::skipgram::train`]):
/// input matrix (nwords + bucket) x dim f32, output matrix nwords x dim f32, the exported
/// word vectors nwords x dim f32, the negative table (10M u32), and per-word subword lists
/// and strings (an upper-bound guess of 32 rows and 64 bytes per word).
pub fn estimate_memory_bytes(params: &SkipgramParams, n_words: usize) -> u64 {
    let n = n_words as u64;
    let dim = params.dim as u64;
    let bucket = params.effective_bucket() as u64;
    let input = (n + bucket) * dim * 4;
    let output = n * dim * 4;
    let exported = n * dim * 4;
    let negatives = (NEGATIVE_TABLE_SIZE as u64 + n) * 4;
    let per_word = n * (32 * 4 + 64);
    input + output + exported + negatives + per_word
}

pub use crate::io::available_memory_bytes;

/// Fails with [`SkipgramError::InsufficientMemory`] when `needed` exceeds `available`
/// (no check when the available amount is unknown).
pub fn check_memory(
    params: &SkipgramParams,
    needed: u64,
    available: Option<u64>,
) -> Result<(), SkipgramError> {
    match available {
        Some(avail) if needed > avail => Err(SkipgramError::InsufficientMemory {
            dim: params.dim,
            bucket: thousands(params.effective_bucket() as u64),
            needed_gb: needed as f64 / 1e9,
            available_gb: avail as f64 / 1e9,
        }),
        _ => Ok(()),
    }
}

/// 2000000 -> "2,000,000".
fn thousands(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_counts_both_matrices_and_table() {
        let p = SkipgramParams {
            dim: 10,
            bucket: 100,
            ..Default::default()
        };
        let e = estimate_memory_bytes(&p, 50);
        assert_eq!(
            e,
            (150 * 10 + 50 * 10 + 50 * 10) * 4 + (10_000_000 + 50) * 4 + 50 * 192
        );
    }

    #[test]
    fn paper_setting_reports_a_clear_error() {
        let p = SkipgramParams {
            dim: 1024,
            ..Default::default()
        };
        let need = estimate_memory_bytes(&p, 1000);
        let err = check_memory(&p, need, Some(5_100_000_000)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to allocate the model: 1024-d with 2,000,000 buckets needs 8.2 GB, 5.1 GB available; lower `bucket` or `dim`"
        );
        check_memory(&p, need, Some(need)).unwrap();
        check_memory(&p, need, None).unwrap();
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(2_000_000), "2,000,000");
        assert_eq!(thousands(999), "999");
    }
}
