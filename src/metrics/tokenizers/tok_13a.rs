//! Port of sacrebleu/tokenizers/tokenizer_13a.py `Tokenizer13a.__call__` and
//! sacrebleu/tokenizers/tokenizer_re.py `TokenizerRegexp` (mteval-v13a tokenization).
use crate::metrics::text::collapse_whitespace;

/// Pass 1, Python `r'([\{-\~\[-\` -\&\(-\+\:-\@\/])'` -> `r' \1 '`: the ASCII ranges
/// `{`-`~`, `[`-`` ` ``, space-`&`, `(`-`+`, `:`-`@` and `/`.
fn is_pass1(b: u8) -> bool {
    matches!(b, 0x7B..=0x7E | 0x5B..=0x60 | 0x20..=0x26 | 0x28..=0x2B | 0x3A..=0x40 | b'/')
}

/// Run a two-character regex pass `(A)(B)` with leftmost, non-overlapping matching, as
/// `re.sub` does. Working on bytes is exact: every class involved is ASCII or the
/// complement of ASCII digits, and a UTF-8 continuation byte is never `.`, `,`, `-` or a
/// digit, so matches start and end on the same character boundaries as in Python.
fn pair_pass(
    s: &[u8],
    first: impl Fn(u8) -> bool,
    second: impl Fn(u8) -> bool,
    emit: impl Fn(&mut Vec<u8>, u8, u8),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + s.len() / 4);
    let mut i = 0;
    while i < s.len() {
        if i + 1 < s.len() && first(s[i]) && second(s[i + 1]) {
            emit(&mut out, s[i], s[i + 1]);
            i += 2;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// Tokenize one line like mteval-v13a as sacrebleu does.
pub fn tokenize_13a(line: &str) -> String {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    // Pad with spaces, then pass 1: surround the punctuation set with spaces.
    let mut s: Vec<u8> = Vec::with_capacity(line.len() * 2 + 2);
    s.push(b' ');
    for &b in line.as_bytes() {
        if is_pass1(b) {
            s.extend_from_slice(&[b' ', b, b' ']);
        } else {
            s.push(b);
        }
    }
    s.push(b' ');
    let digit = |b: u8| b.is_ascii_digit();
    let dot = |b: u8| b == b'.' || b == b',';
    // Pass 2: r'([^0-9])([\.,])' -> r'\1 \2 '
    let s = pair_pass(
        &s,
        |b| !digit(b),
        dot,
        |o, a, b| o.extend_from_slice(&[a, b' ', b, b' ']),
    );
    // Pass 3: r'([\.,])([^0-9])' -> r' \1 \2'
    let s = pair_pass(
        &s,
        dot,
        |b| !digit(b),
        |o, a, b| o.extend_from_slice(&[b' ', a, b' ', b]),
    );
    // Pass 4: r'([0-9])(-)' -> r'\1 \2 '
    let s = pair_pass(
        &s,
        digit,
        |b| b == b'-',
        |o, a, b| o.extend_from_slice(&[a, b' ', b, b' ']),
    );
    // Only ASCII bytes were inserted at character boundaries, so this cannot fail.
    let s =
        String::from_utf8(s).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    collapse_whitespace(&s)
}

#[cfg(test)]
mod tests {
    use super::tokenize_13a as t;

    // Expected values derived by hand from the regex passes (and checked against
    // sacrebleu 2.6.0 `Tokenizer13a()(line)`).
    #[test]
    fn splits_punctuation_but_not_apostrophe_or_inner_dash() {
        assert_eq!(t("Hello, world!"), "Hello , world !");
        assert_eq!(t("don't re-do"), "don't re-do");
        assert_eq!(t("(a)[b]{c}"), "( a ) [ b ] { c }");
    }

    #[test]
    fn numbers_keep_separators() {
        assert_eq!(t("3.14 and 1,000."), "3.14 and 1,000 .");
        assert_eq!(t("1990-2000"), "1990 - 2000");
        assert_eq!(t("a..."), "a . . .");
    }

    #[test]
    fn unescapes_entities_sequentially_and_drops_skipped() {
        assert_eq!(t("&amp;lt; x<skipped>y"), "< xy");
        assert_eq!(t("&quot;q&quot;"), "\" q \"");
    }
}
