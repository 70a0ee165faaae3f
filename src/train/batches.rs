//! Which sentences go into which batch: XLM's token-count batches for AE/BT training and its
//! sequential, length-sorted batches for validation and test.
//!
//! Follows facebookresearch/XLM `xlm/data/dataset.py`: `Dataset.get_iterator(shuffle=True,
//! group_by_size=True, n_sentences=-1)` with `--tokens_per_batch` (what `Trainer.get_iterator`
//! asks for the monolingual AE/BT batches), and `ParallelDataset.get_iterator(shuffle=False,
//! group_by_size=True)` with `tokens_per_batch = -1`, which `xlm/data/loader.py` sets for
//! every valid/test set (what `Evaluator.get_iterator` asks for BLEU). Only the sentence
//! indices are computed here; `get_batches_iterator`/`batch_sentences` (building the padded
//! tensors) stay with the caller.
//!
//! Why token batches: with `--tokens_per_batch 1000` a batch holds roughly 1000 tokens
//! whatever the sentence lengths, and sorting by length first keeps padding small. XLM's cut
//! bounds the running *sum* of lengths (not `max_len * n`); see [`token_batches`] for exactly
//! what it guarantees.
//!
//! Lengths everywhere are in tokens *including both `</s>`* (XLM's `self.lengths + 2`, i.e.
//! `sentence.len()` of a sentence in the `[</s>, w1..wn, </s>]` layout of `super::noise`).

use rand::Rng;
use rand::seq::SliceRandom;

/// Why batches could not be formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// No sentences to batch (XLM asserts `0 < n_sentences`).
    #[error("failed to batch sentences: no sentences")]
    Empty,
    /// A length below the two `</s>` every sentence has (probably a word count).
    #[error(
        "failed to batch sentences: sentence {sentence} has {tokens} tokens, fewer than its two `</s>`"
    )]
    TooShort {
        /// Index of the sentence.
        sentence: usize,
        /// Its length as given.
        tokens: usize,
    },
    /// `tokens_per_batch` is below the longest sentence. XLM would still batch (the long
    /// sentence alone, its batch over the budget); we refuse.
    #[error(
        "failed to batch sentences: tokens_per_batch {tokens_per_batch} is below the longest sentence ({longest} tokens)"
    )]
    TokensPerBatchTooSmall {
        /// The budget given.
        tokens_per_batch: usize,
        /// The longest sentence, in tokens including both `</s>`.
        longest: usize,
    },
    /// `batch_size` is 0.
    #[error("invalid parameter `batch_size`: must be at least 1")]
    ZeroBatchSize,
}

fn check_lengths(lengths: &[usize]) -> Result<usize, BatchError> {
    if let Some((sentence, &tokens)) = lengths.iter().enumerate().find(|&(_, &l)| l < 2) {
        return Err(BatchError::TooShort { sentence, tokens });
    }
    lengths.iter().copied().max().ok_or(BatchError::Empty)
}

/// Stable sort of `indices` by `lengths` (XLM's `np.argsort(..., kind='mergesort')`): ties
/// keep their order in `indices`.
fn group_by_size(indices: &mut [usize], lengths: &[usize]) {
    indices.sort_by_key(|&i| lengths[i]);
}

/// XLM's cut: `batch_ids = np.cumsum(lengths[order]) // tokens_per_batch`, then a new batch
/// starts at the first sentence of each distinct id (`np.unique(..., return_index=True)`;
/// the ids never decrease, so each id is one run).
fn cut(order: &[usize], lengths: &[usize], tokens_per_batch: usize) -> Vec<Vec<usize>> {
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut cumsum = 0;
    let mut current_id = None;
    for &i in order {
        cumsum += lengths[i];
        let id = cumsum / tokens_per_batch;
        if current_id != Some(id) {
            current_id = Some(id);
            batches.push(Vec::new());
        }
        if let Some(batch) = batches.last_mut() {
            batch.push(i);
        }
    }
    batches
}

/// XLM's training batches for `--tokens_per_batch`: sentence indices, each exactly once.
///
/// 1. a random permutation of `0..n` (`rng.permutation`),
/// 2. stably sorted by length (`group_by_size`, XLM's default, ties in permutation order),
/// 3. cut where `cumsum(lengths) // tokens_per_batch` changes: sentence `k` (in sorted order)
///    starts a new batch iff the running total up to and including it reaches a new multiple
///    of `tokens_per_batch` (the first sentence always starts one),
/// 4. the batches shuffled (`rng.shuffle(batches)`).
///
/// What the cut bounds: all cumulative totals of one batch lie in one window `[q T, (q + 1)
/// T)`, so the sum of a batch's lengths *after its first sentence* is below `T`, and the whole
/// batch sums to less than `T` plus its first (shortest) sentence, i.e. below `2 T`; the
/// first batch in sorted order sums to less than `T`. The padded size `max_len * n` is not
/// bounded (it is close to the sum after sorting). A batch can be a single sentence, and
/// batches can hold far fewer than `T` tokens (the cut is not greedy). XLM's
/// `--max_batch_size` (0, off, by default) is not applied.
///
/// `lengths[i]` is sentence `i`'s length in tokens including both `</s>`. Errors when there
/// are no sentences, a length is below 2, or `tokens_per_batch` is below the longest
/// sentence (XLM would go on; see [`BatchError::TokensPerBatchTooSmall`]).
pub fn token_batches<R: Rng + ?Sized>(
    lengths: &[usize],
    tokens_per_batch: usize,
    rng: &mut R,
) -> Result<Vec<Vec<usize>>, BatchError> {
    let longest = check_lengths(lengths)?;
    if tokens_per_batch < longest {
        return Err(BatchError::TokensPerBatchTooSmall {
            tokens_per_batch,
            longest,
        });
    }
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.shuffle(rng);
    group_by_size(&mut order, lengths);
    let mut batches = cut(&order, lengths, tokens_per_batch);
    batches.shuffle(rng);
    Ok(batches)
}

/// XLM's validation/test batches: sentences `0..n` stably sorted by length (ties in corpus
/// order), then `np.array_split` into `ceil(n / batch_size)` consecutive batches, in order.
///
/// `array_split` balances the sizes: with `k = ceil(n / batch_size)` batches, the first
/// `n % k` hold `n / k + 1` sentences and the rest `n / k` (so 100 sentences at batch size 32
/// give four batches of 25, not 32 + 32 + 32 + 4). For a parallel set XLM sorts by the pair's
/// total, `len1 + len2 + 4`: pass `lengths[i]` = the two sides' token counts (each including
/// both `</s>`) added. Errors when there are no sentences, a length is below 2, or
/// `batch_size` is 0.
pub fn eval_batches(lengths: &[usize], batch_size: usize) -> Result<Vec<Vec<usize>>, BatchError> {
    check_lengths(lengths)?;
    if batch_size == 0 {
        return Err(BatchError::ZeroBatchSize);
    }
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    group_by_size(&mut order, lengths);
    let n = order.len();
    let k = n.div_ceil(batch_size);
    let (size, extra) = (n / k, n % k);
    let mut rest = order.as_slice();
    let mut batches = Vec::with_capacity(k);
    for b in 0..k {
        let (batch, tail) = rest.split_at(size + usize::from(b < extra));
        batches.push(batch.to_vec());
        rest = tail;
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    /// `cut` after XLM's stable sort of the given order, as `dataset.py` does it.
    fn xlm_cut(lengths: &[usize], order: &[usize], tpb: usize) -> Vec<Vec<usize>> {
        let mut order = order.to_vec();
        group_by_size(&mut order, lengths);
        cut(&order, lengths, tpb)
    }

    fn sum(batch: &[usize], lengths: &[usize]) -> usize {
        batch.iter().map(|&i| lengths[i]).sum()
    }

    fn random_lengths(seed: u64, n: usize) -> Vec<usize> {
        let mut r = rng(seed);
        (0..n).map(|_| r.random_range(3..=102)).collect()
    }

    #[test]
    fn cut_matches_numpy_hand_cases() {
        // outputs of XLM's cut in NumPy (/tmp/unmt_py/dump_batches.py)
        let id: Vec<usize> = (0..10).collect();
        assert_eq!(
            xlm_cut(&[6, 7, 6, 7], &id[..4], 10),
            vec![vec![0], vec![2, 1], vec![3]]
        );
        assert_eq!(
            xlm_cut(&[5, 5, 5, 5, 5], &id[..5], 10),
            vec![vec![0], vec![1, 2], vec![3, 4]]
        );
        assert_eq!(
            xlm_cut(&[9, 2, 9], &id[..3], 10),
            vec![vec![1], vec![0], vec![2]]
        );
        let lengths = [3, 8, 4, 2, 10, 5, 5, 3, 7, 2];
        assert_eq!(
            xlm_cut(&lengths, &id, 10),
            vec![vec![3, 9, 0], vec![7, 2, 5], vec![6], vec![8, 1], vec![4]]
        );
        // ties (lengths 2, 3 and 5) keep the permutation's order
        assert_eq!(
            xlm_cut(&lengths, &[9, 0, 7, 3, 1, 2, 8, 6, 5, 4], 10),
            vec![vec![9, 3, 0], vec![7, 2, 6], vec![5], vec![8, 1], vec![4]]
        );
    }

    #[test]
    fn every_index_exactly_once() {
        let lengths = random_lengths(1, 2000);
        let batches = token_batches(&lengths, 1000, &mut rng(2)).unwrap();
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..2000).collect::<Vec<_>>());
        assert!(batches.iter().all(|b| !b.is_empty()));
    }

    #[test]
    fn batches_respect_what_xlms_cut_bounds() {
        let tpb = 1000;
        for seed in 0..20 {
            let lengths = random_lengths(seed, 1500);
            let batches = token_batches(&lengths, tpb, &mut rng(seed + 100)).unwrap();
            let mut over_budget = 0;
            for b in &batches {
                // lengths within a batch: one sorted run (ascending up to ties)
                let lens: Vec<usize> = b.iter().map(|&i| lengths[i]).collect();
                assert!(lens.is_sorted(), "{lens:?}");
                // everything after the first sentence fits in one window of T tokens
                assert!(sum(&b[1..], &lengths) < tpb);
                let total = sum(b, &lengths);
                assert!(total < tpb + lengths[b[0]]);
                over_budget += usize::from(total > tpb);
            }
            // the bound is not `sum <= T`: XLM's batches do go over the budget
            assert!(over_budget > 0);
        }
    }

    #[test]
    fn cut_starts_a_batch_exactly_where_the_running_total_reaches_a_multiple() {
        let lengths = random_lengths(7, 500);
        let tpb = 300;
        let order: Vec<usize> = (0..500).collect();
        let batches = xlm_cut(&lengths, &order, tpb);
        let mut running = 0;
        for b in &batches {
            let before = running / tpb;
            running += lengths[b[0]];
            assert!(running / tpb > before || running == lengths[b[0]]);
            for &i in &b[1..] {
                let id = running / tpb;
                running += lengths[i];
                assert_eq!(running / tpb, id);
            }
        }
    }

    #[test]
    fn deterministic_per_seed() {
        let lengths = random_lengths(3, 400);
        let a = token_batches(&lengths, 500, &mut rng(9)).unwrap();
        assert_eq!(a, token_batches(&lengths, 500, &mut rng(9)).unwrap());
        assert_ne!(a, token_batches(&lengths, 500, &mut rng(10)).unwrap());
    }

    #[test]
    fn batch_order_is_shuffled() {
        // with sorted batches the first would hold the shortest sentences
        let lengths = random_lengths(4, 1000);
        let batches = token_batches(&lengths, 500, &mut rng(5)).unwrap();
        let firsts: Vec<usize> = batches.iter().map(|b| lengths[b[0]]).collect();
        assert!(!firsts.is_sorted());
    }

    #[test]
    fn tokens_per_batch_at_least_the_longest_sentence() {
        let lengths = [12, 3, 12, 5];
        let e = token_batches(&lengths, 11, &mut rng(0)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to batch sentences: tokens_per_batch 11 is below the longest sentence (12 tokens)"
        );
        let ok = token_batches(&lengths, 12, &mut rng(0)).unwrap();
        assert_eq!(ok.iter().map(Vec::len).sum::<usize>(), 4);
    }

    #[test]
    fn input_errors() {
        assert_eq!(token_batches(&[], 10, &mut rng(0)), Err(BatchError::Empty));
        assert_eq!(
            token_batches(&[3, 1], 10, &mut rng(0))
                .unwrap_err()
                .to_string(),
            "failed to batch sentences: sentence 1 has 1 tokens, fewer than its two `</s>`"
        );
        assert_eq!(eval_batches(&[], 32), Err(BatchError::Empty));
        assert_eq!(
            eval_batches(&[3], 0).unwrap_err().to_string(),
            "invalid parameter `batch_size`: must be at least 1"
        );
    }

    #[test]
    fn eval_batches_are_sorted_sequential_and_array_split() {
        // NumPy: sorted (stable) then array_split into ceil(7 / 3) = 3 batches
        assert_eq!(
            eval_batches(&[5, 3, 4, 3, 9, 2, 4], 3).unwrap(),
            vec![vec![5, 1, 3], vec![2, 6], vec![0, 4]]
        );
        let sizes = |n: usize| -> Vec<usize> {
            eval_batches(&vec![3; n], 32)
                .unwrap()
                .iter()
                .map(Vec::len)
                .collect()
        };
        assert_eq!(sizes(100), vec![25; 4]);
        assert_eq!(sizes(33), vec![17, 16]);
        assert_eq!(sizes(64), vec![32, 32]);
        assert_eq!(sizes(65), vec![22, 22, 21]);
        assert_eq!(sizes(5), vec![5]);
        // equal lengths keep corpus order
        let flat: Vec<usize> = eval_batches(&vec![4; 70], 32)
            .unwrap()
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(flat, (0..70).collect::<Vec<_>>());
        // and longer sentences come later
        let lengths = random_lengths(8, 300);
        let flat: Vec<usize> = eval_batches(&lengths, 32)
            .unwrap()
            .into_iter()
            .flatten()
            .collect();
        let lens: Vec<usize> = flat.iter().map(|&i| lengths[i]).collect();
        assert!(lens.is_sorted());
        assert_eq!(flat.len(), 300);
    }
}
