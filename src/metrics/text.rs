//! Python `str` whitespace semantics (`str.split()`, `str.rstrip()`, `str.isspace()`).
//!
//! SacreBLEU relies on Python's notion of whitespace everywhere (`' '.join(line.split())`,
//! `line.rstrip()`), which differs from Rust's `char::is_whitespace` by the four ASCII
//! separator controls U+001C..U+001F. Using Rust's definition would silently change
//! tokenization of such lines, so all metric code goes through these helpers.

/// Python's `str.isspace()` for one code point (bidi class WS/B/S or category Zs).
pub fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.split()` with no arguments: split on runs of whitespace, no empty pieces.
pub fn py_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(py_isspace).filter(|t| !t.is_empty())
}

/// Python's `str.rstrip()` with no arguments.
pub fn py_rstrip(s: &str) -> &str {
    s.trim_end_matches(py_isspace)
}

/// `' '.join(s.split())`: collapse whitespace runs to one space, trim both ends.
pub fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for tok in py_split(s) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(tok);
    }
    out
}

/// Python's `str.lower()`. Rust's `str::to_lowercase` implements the same full case
/// mapping including the final-sigma rule; only Unicode version differences remain.
pub fn py_lower(s: &str) -> String {
    s.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_whitespace_includes_separator_controls() {
        assert!(py_isspace('\u{1c}'));
        assert!(py_isspace('\u{85}'));
        assert!(py_isspace('\u{3000}'));
        assert!(!py_isspace('\u{200b}'));
        assert_eq!(
            py_split("a\u{1f}b  c\u{a0}").collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(py_rstrip("ab \u{1e}\r"), "ab");
        assert_eq!(collapse_whitespace("  a \t b  "), "a b");
    }

    #[test]
    fn lower_uses_final_sigma() {
        // Python: "ΟΔΟΣ Α".lower() == "οδος α" with a final sigma (U+03C2).
        assert_eq!(py_lower("ΟΔΟΣ Α"), "\u{3bf}\u{3b4}\u{3bf}\u{3c2} \u{3b1}");
        assert_eq!(py_lower("ΣΑ"), "\u{3c3}\u{3b1}");
    }
}
