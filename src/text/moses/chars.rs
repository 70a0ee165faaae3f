//! Character-class lookups and the Python string primitives the port relies on.
//!
//! sacremoses runs on Python `str`, so "whitespace" means `str.isspace()` (which also
//! covers U+001C..U+001F, unlike Rust's `char::is_whitespace`) and `\d` means any Unicode
//! decimal digit. The tables in [`super::char_tables`] were probed from sacremoses itself;
//! this module wraps them with an ASCII bitmap fast path.

use std::cmp::Ordering;

use super::char_tables as t;

/// A set of code points: a bitmap for the Basic Multilingual Plane (built at compile time,
/// so a lookup there is one load) plus the sorted inclusive ranges for the rest.
pub(crate) struct CharClass {
    bmp: [u64; 1024],
    ranges: &'static [(u32, u32)],
}

impl CharClass {
    const fn new(ranges: &'static [(u32, u32)]) -> Self {
        let mut bmp = [0u64; 1024];
        let mut i = 0;
        while i < ranges.len() {
            let (a, b) = ranges[i];
            let mut cp = a;
            while cp <= b && cp < 0x10000 {
                let word = (cp >> 6) as usize;
                let bit = cp & 63;
                if bit == 0 && b >= cp + 63 {
                    bmp[word] = u64::MAX;
                    cp += 64;
                } else {
                    bmp[word] |= 1u64 << bit;
                    cp += 1;
                }
            }
            i += 1;
        }
        CharClass { bmp, ranges }
    }

    /// Whether `c` belongs to the class.
    #[inline]
    pub(crate) fn contains(&self, c: char) -> bool {
        let cp = c as u32;
        if cp < 0x10000 {
            return (self.bmp[(cp >> 6) as usize] >> (cp & 63)) & 1 == 1;
        }
        self.ranges
            .binary_search_by(|&(a, b)| {
                if b < cp {
                    Ordering::Less
                } else if a > cp {
                    Ordering::Greater
                } else {
                    Ordering::Equal
                }
            })
            .is_ok()
    }
}

/// Python whitespace (`str.isspace`, `re` `\s`, `str.split()`, `str.strip()`).
pub(crate) static SPACE: CharClass = CharClass::new(t::PY_SPACE);
/// Python `re` `\d` (Unicode decimal digits).
pub(crate) static DIGIT: CharClass = CharClass::new(t::PY_DIGIT);
/// `regex` `\p{C}`: control, format, surrogate, private-use and unassigned code points.
pub(crate) static CONTROL: CharClass = CharClass::new(t::CONTROL);
/// Characters `MosesTokenizer.PAD_NOT_ISALNUM` surrounds with spaces.
pub(crate) static PAD_NOT_ISALNUM: CharClass = CharClass::new(t::PAD_NOT_ISALNUM);
/// `MosesTokenizer.IsAlnum` (with Indic viramas and nuktas).
pub(crate) static TOK_ALNUM: CharClass = CharClass::new(t::TOK_ALNUM);
/// `MosesTokenizer.IsAlpha` (with Indic viramas and nuktas).
pub(crate) static TOK_ALPHA: CharClass = CharClass::new(t::TOK_ALPHA);
/// Perl `IsN` (numbers).
pub(crate) static IS_N: CharClass = CharClass::new(t::IS_N);
/// Perl `IsLower`.
pub(crate) static IS_LOWER: CharClass = CharClass::new(t::IS_LOWER);
/// `MosesDetokenizer.IsAlpha` (plain Perl IsAlpha).
pub(crate) static DETOK_ALPHA: CharClass = CharClass::new(t::DETOK_ALPHA);
/// Characters of a "currency" token for the detokenizer (IsSc and `( [ { ¿ ¡`).
pub(crate) static DETOK_CURRENCY: CharClass = CharClass::new(t::DETOK_CURRENCY);

/// Python whitespace test.
#[inline]
pub(crate) fn is_py_space(c: char) -> bool {
    SPACE.contains(c)
}

/// Whether `s` may hold Python whitespace other than U+0020: a byte of `\t..\r` or
/// `\x1c..\x1f`, or a UTF-8 lead byte (C2, E1, E2, E3) of a non-ASCII space. A cheap,
/// vectorisable byte test used to pick the fast paths below.
#[inline]
pub(crate) fn may_have_special_space(s: &str) -> bool {
    s.bytes()
        .any(|b| matches!(b, 0x09..=0x0D | 0x1C..=0x1F | 0xC2 | 0xE1 | 0xE2 | 0xE3))
}

/// Python `str.split()` without arguments: split on whitespace runs, drop empty pieces.
pub(crate) fn py_split(s: &str) -> Box<dyn Iterator<Item = &str> + '_> {
    if may_have_special_space(s) {
        Box::new(s.split(is_py_space).filter(|t| !t.is_empty()))
    } else {
        Box::new(s.split(' ').filter(|t| !t.is_empty()))
    }
}

/// Python `str.strip()` without arguments.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// `sacremoses.util.is_cjk`: the closed code point ranges of `CJKChars.ranges`.
pub(crate) fn is_cjk(c: char) -> bool {
    const RANGES: [(u32, u32); 11] = [
        (4352, 4607),
        (11904, 42191),
        (43072, 43135),
        (44032, 55215),
        (63744, 64255),
        (65072, 65103),
        (65381, 65500),
        (94208, 101119),
        (110592, 110895),
        (110960, 111359),
        (131072, 196607),
    ];
    let cp = c as u32;
    RANGES.iter().any(|&(a, b)| a <= cp && cp <= b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_whitespace_includes_information_separators() {
        // '\x1c'.isspace() is True in Python, False for Rust's char::is_whitespace.
        assert!(is_py_space('\u{1c}'));
        assert!(is_py_space('\u{a0}'));
        assert!(is_py_space('\u{3000}'));
        assert!(!is_py_space('\u{200b}'));
        assert_eq!(
            py_split(" a\u{1c}b\u{a0} c ").collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(py_strip("\u{2003} x \u{85}"), "x");
    }

    #[test]
    fn classes_match_hand_checked_code_points() {
        assert!(DIGIT.contains('7') && DIGIT.contains('\u{663}') && !DIGIT.contains('²'));
        assert!(
            CONTROL.contains('\u{7}')
                && CONTROL.contains('\u{200e}')
                && CONTROL.contains('\u{feff}')
        );
        assert!(!CONTROL.contains('a') && !CONTROL.contains('\u{a0}'));
        assert!(PAD_NOT_ISALNUM.contains('?') && PAD_NOT_ISALNUM.contains('"'));
        for c in ['.', '\'', '`', ',', '-', ' ', 'a', 'ж', '5'] {
            assert!(!PAD_NOT_ISALNUM.contains(c), "{c:?}");
        }
        assert!(TOK_ALPHA.contains('ѓ') && TOK_ALPHA.contains('ë') && !TOK_ALPHA.contains('1'));
        assert!(TOK_ALNUM.contains('1') && TOK_ALNUM.contains('ќ'));
        assert!(IS_N.contains('3') && !IS_N.contains('a'));
        assert!(IS_LOWER.contains('џ') && !IS_LOWER.contains('Џ'));
        assert!(
            DETOK_CURRENCY.contains('$')
                && DETOK_CURRENCY.contains('€')
                && DETOK_CURRENCY.contains('(')
        );
        assert!(!DETOK_CURRENCY.contains(')'));
        assert!(is_cjk('\u{ac00}') && is_cjk('\u{33fe}') && !is_cjk('\u{fe5f}'));
    }
}
