//! N-gram counting on sorted vectors (port of sacrebleu/metrics/helpers.py).
//!
//! sacrebleu builds a `Counter` of n-gram tuples per segment. Segments are short, so a
//! sorted `Vec<(key, count)>` per order is cheaper than hashing and lets clipped matches be
//! computed by a merge join. Keys are slices (token or character windows), compared by
//! value, so counts are exactly those of the Python `Counter`s.

/// Counts of distinct keys, sorted by key.
pub type Counts<'a, T> = Vec<(&'a [T], u32)>;

/// Sorted `(key, count)` pairs for any key type.
pub type KeyCounts<K> = Vec<(K, u32)>;

/// Count character n-grams of order `n <= 6` packed into `u128` keys (21 bits per code
/// point, exact), which sorts much faster than slice keys. Returns `None` for `n > 6`.
pub fn count_char_ngrams_packed(chars: &[char], n: usize) -> Option<KeyCounts<u128>> {
    if n > 6 {
        return None;
    }
    if n == 0 || chars.len() < n {
        return Some(Vec::new());
    }
    let mut keys: Vec<u128> = chars
        .windows(n)
        .map(|w| {
            w.iter()
                .fold(0u128, |k, &c| (k << 21) | u128::from(u32::from(c)))
        })
        .collect();
    keys.sort_unstable();
    let mut out: KeyCounts<u128> = Vec::with_capacity(keys.len());
    for k in keys {
        match out.last_mut() {
            Some((p, c)) if *p == k => *c += 1,
            _ => out.push((k, 1)),
        }
    }
    Some(out)
}

/// Count the distinct `n`-length windows of `items` (sacrebleu `extract_word_ngrams` /
/// `extract_char_ngrams` for a single order).
pub fn count_ngrams<T: Ord>(items: &[T], n: usize) -> Counts<'_, T> {
    if n == 0 || items.len() < n {
        return Vec::new();
    }
    let mut windows: Vec<&[T]> = items.windows(n).collect();
    windows.sort_unstable();
    let mut out: Counts<'_, T> = Vec::with_capacity(windows.len());
    for w in windows {
        match out.last_mut() {
            Some((k, c)) if *k == w => *c += 1,
            _ => out.push((w, 1)),
        }
    }
    out
}

/// Total number of n-grams (sum of counts).
pub fn total<K>(counts: &[(K, u32)]) -> u64 {
    counts.iter().map(|&(_, c)| u64::from(c)).sum()
}

/// Sum over hypothesis n-grams of `min(hyp_count, ref_count)` (clipped matches).
pub fn clipped_matches<K: Ord>(hyp: &[(K, u32)], refs: &[(K, u32)]) -> u64 {
    let (mut i, mut j, mut m) = (0, 0, 0u64);
    while i < hyp.len() && j < refs.len() {
        match hyp[i].0.cmp(&refs[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                m += u64::from(hyp[i].1.min(refs[j].1));
                i += 1;
                j += 1;
            }
        }
    }
    m
}

/// Merge two count lists keeping the maximum count per key (sacrebleu's multi-reference
/// BLEU `ngrams[ngram] = max(ngrams[ngram], count)`).
pub fn merge_max<K: Ord + Copy>(a: &[(K, u32)], b: &[(K, u32)]) -> KeyCounts<K> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let ord = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.0.cmp(&y.0),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match ord {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push((a[i].0, a[i].1.max(b[j].1)));
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_clips() {
        let h = ["the", "the", "the", "cat"];
        let r = ["the", "cat", "the"];
        let hc = count_ngrams(&h, 1);
        let rc = count_ngrams(&r, 1);
        assert_eq!(total(&hc), 4);
        // the: min(3,2)=2, cat: 1
        assert_eq!(clipped_matches(&hc, &rc), 3);
        let h2 = count_ngrams(&h, 2);
        let r2 = count_ngrams(&r, 2);
        assert_eq!(total(&h2), 3);
        // hyp bigrams: the the x2, the cat; ref: the cat, cat the
        assert_eq!(clipped_matches(&h2, &r2), 1);
        assert!(count_ngrams(&h, 5).is_empty());
    }

    #[test]
    fn merge_takes_max() {
        let a = ["x", "x", "y"];
        let b = ["x", "z", "z"];
        let m = merge_max(&count_ngrams(&a, 1), &count_ngrams(&b, 1));
        let got: Vec<(&str, u32)> = m.iter().map(|(k, c)| (k[0], *c)).collect();
        assert_eq!(got, [("x", 2), ("y", 1), ("z", 2)]);
    }

    #[test]
    fn packed_char_ngrams_match_slice_counts() {
        let chars: Vec<char> = "abracadabra шшш".chars().collect();
        for n in 1..=6 {
            let packed = count_char_ngrams_packed(&chars, n).unwrap();
            let slices = count_ngrams(&chars, n);
            let a: Vec<u32> = packed.iter().map(|p| p.1).collect();
            let b: Vec<u32> = slices.iter().map(|p| p.1).collect();
            assert_eq!(a, b, "order {n}");
        }
        assert!(count_char_ngrams_packed(&chars, 7).is_none());
    }
}
