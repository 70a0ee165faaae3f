//! Character n-gram subwords and their hash buckets, as fastText computes them.
//!
//! Port of facebookresearch/fastText `src/dictionary.cc`: `Dictionary::hash` (FNV-1a 32-bit
//! over **signed** bytes, kept by fastText for compatibility with its released models) and
//! `Dictionary::computeSubwords` (UTF-8 aware n-grams of `<word>`).

/// fastText's word hash: FNV-1a 32-bit where each byte is sign-extended before the xor
/// (`h ^ uint32_t(int8_t(c))`), so bytes >= 0x80 flip the upper 24 bits too.
#[inline]
pub fn fasttext_hash(bytes: &[u8]) -> u32 {
    let mut h: u32 = 2_166_136_261;
    for &b in bytes {
        h ^= b as i8 as i32 as u32;
        h = h.wrapping_mul(16_777_619);
    }
    h
}

/// Calls `f(ngram_bytes)` for every character n-gram of `bracketed` (the word wrapped in
/// `<` and `>`) with `minn <= n <= maxn` characters, in fastText's order (by start
/// character, then length). Characters are UTF-8 sequences: continuation bytes
/// (`10xxxxxx`) never start an n-gram and are kept with their lead byte. A 1-character
/// n-gram touching either end (`<` or `>`) is skipped, as in `computeSubwords`.
pub fn for_each_ngram(bracketed: &[u8], minn: usize, maxn: usize, mut f: impl FnMut(&[u8])) {
    let len = bracketed.len();
    for i in 0..len {
        if bracketed[i] & 0xC0 == 0x80 {
            continue;
        }
        let mut j = i;
        let mut n = 1;
        while j < len && n <= maxn {
            j += 1;
            while j < len && bracketed[j] & 0xC0 == 0x80 {
                j += 1;
            }
            if n >= minn && !(n == 1 && (i == 0 || j == len)) {
                f(&bracketed[i..j]);
            }
            n += 1;
        }
    }
}

/// Input-matrix rows of `word`'s character n-grams: `nwords + hash(ngram) % bucket`,
/// appended to `out` (duplicates kept, as fastText does). `</s>` gets none; `maxn == 0`
/// disables subwords.
pub fn ngram_rows(
    word: &str,
    minn: usize,
    maxn: usize,
    bucket: u32,
    nwords: u32,
    out: &mut Vec<u32>,
) {
    if maxn == 0 || bucket == 0 || word == super::vocab::EOS {
        return;
    }
    let mut bracketed = Vec::with_capacity(word.len() + 2);
    bracketed.push(b'<');
    bracketed.extend_from_slice(word.as_bytes());
    bracketed.push(b'>');
    for_each_ngram(&bracketed, minn, maxn, |g| {
        out.push(nwords + fasttext_hash(g) % bucket)
    });
}

/// The n-gram strings of `word` (for debugging and the parity script), in row order.
pub fn ngram_strings(word: &str, minn: usize, maxn: usize) -> Vec<String> {
    let mut v = Vec::new();
    if maxn == 0 || word == super::vocab::EOS {
        return v;
    }
    let bracketed = format!("<{word}>");
    for_each_ngram(bracketed.as_bytes(), minn, maxn, |g| {
        v.push(String::from_utf8_lossy(g).into_owned())
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_of_ascii_matches_reference_values() {
        // Standard FNV-1a 32 test vectors (ASCII bytes are the same signed or unsigned).
        assert_eq!(fasttext_hash(b""), 0x811c_9dc5);
        assert_eq!(fasttext_hash(b"a"), 0xe40c_292c);
        assert_eq!(fasttext_hash(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn fnv1a_sign_extends_high_bytes() {
        // One byte 0xC3: (0x811c9dc5 ^ 0xffffffc3) * 16777619 mod 2^32, by hand.
        let expected = (0x811c_9dc5u32 ^ 0xffff_ffc3).wrapping_mul(16_777_619);
        assert_eq!(fasttext_hash(&[0xC3]), expected);
        // The unsigned variant would differ.
        let unsigned = (0x811c_9dc5u32 ^ 0xc3).wrapping_mul(16_777_619);
        assert_ne!(expected, unsigned);
    }

    #[test]
    fn ascii_ngrams_of_where() {
        let g = ngram_strings("where", 3, 6);
        let expected = [
            "<wh", "<whe", "<wher", "<where", "whe", "wher", "where", "where>", "her", "here",
            "here>", "ere", "ere>", "re>",
        ];
        assert_eq!(g, expected);
    }

    #[test]
    fn multibyte_ngrams_keep_characters_whole() {
        // Cyrillic: each letter is 2 bytes; n counts characters, not bytes.
        let g = ngram_strings("мак", 3, 4);
        assert_eq!(g, ["<ма", "<мак", "мак", "мак>", "ак>"]);
        // minn 1 excludes single boundary characters only.
        let g1 = ngram_strings("ё", 1, 2);
        assert_eq!(g1, ["<ё", "ё", "ё>"]);
    }

    #[test]
    fn eos_and_maxn_zero_have_no_ngrams() {
        let mut out = Vec::new();
        ngram_rows("</s>", 3, 6, 100, 10, &mut out);
        ngram_rows("word", 3, 0, 100, 10, &mut out);
        assert!(out.is_empty());
        ngram_rows("ab", 3, 6, 100, 10, &mut out);
        // "<ab", "<ab>", "ab>"
        assert_eq!(out.len(), 3);
        assert_eq!(out[0], 10 + fasttext_hash(b"<ab") % 100);
    }

    /// Bucket ids printed by fastText 0.9.2's Python `get_subwords` (minn 3, maxn 6,
    /// bucket 2,000,000); regenerate with `python3 tests/parity/gen_subword_fixture.py`.
    const FIXTURE: &str = include_str!("../../../examples/data/skipgram_subword_ids.tsv");

    #[test]
    fn bucket_ids_match_fasttext_reference() {
        let mut n = 0;
        for line in FIXTURE.lines() {
            let (word, ids) = line.split_once('\t').unwrap();
            let expected: Vec<u32> = ids.split(' ').map(|x| x.parse().unwrap()).collect();
            let mut got = Vec::new();
            ngram_rows(word, 3, 6, 2_000_000, 0, &mut got);
            assert_eq!(got, expected, "{word}");
            n += 1;
        }
        assert_eq!(n, 18);
    }
}
