//! The Moses word tokenizer, as sacremoses implements it.
//!
//! Port of `sacremoses.tokenize.MosesTokenizer.tokenize` (hplt-project/sacremoses 0.2.0,
//! `sacremoses/tokenize.py`), itself a port of Moses' `scripts/tokenizer/tokenizer.perl`.
//! Steps, in sacremoses' order (each a hand-written scan, skipped when its trigger
//! character is absent):
//!
//! 1. `DEDUPLICATE_SPACE` (`\s+` -> ` `), `ASCII_JUNK` (`[\000-\037]` -> ``), `strip()`;
//! 2. `PAD_NOT_ISALNUM`: space-pad every character outside IsAlnum, whitespace and `.'`,-`;
//! 3. `AGGRESSIVE_HYPHEN_SPLIT` (only with `aggressive_dash_splits`);
//! 4. `replace_multidots`: a run of k >= 2 dots becomes ` DOT..DOTMULTI` (k times `DOT`),
//!    plus a space when text follows;
//! 5. `COMMA_SEPARATE_1..3`: split commas except inside numbers;
//! 6. apostrophes: `ENGLISH_SPECIFIC_APOSTROPHE` for `en`, `FR_IT_SPECIFIC_APOSTROPHE` for
//!    `fr`/`it`, otherwise `NON_SPECIFIC_APOSTROPHE` (every `'` padded);
//! 7. `handles_nonbreaking_prefixes`: split a final `.` off a token unless it is a known
//!    prefix, contains an inner dot and a letter, precedes a lowercase token, or is a
//!    numeric-only prefix before a digit;
//! 8. `DEDUPLICATE_SPACE` + `strip()`, then `TRAILING_DOT_APOSTROPHE` (`\.' ?$` ->
//!    ` . ' `, which leaves a trailing space in the output, as sacremoses does);
//! 9. `restore_multidots` (`(?:DOT)+MULTI` -> that many dots, also for such literals in
//!    the input), then optional XML escaping.
//!
//! `protected_patterns` is not supported (the XLM chain does not use it).

use super::chars::{IS_LOWER, IS_N, PAD_NOT_ISALNUM, TOK_ALNUM, TOK_ALPHA, py_split, py_strip};
use super::prefixes::NonbreakingPrefixes;
use super::rewrite::{AnchorRule, Rewrite, collapse_py_whitespace, map_chars, rewrite_around};

/// Which apostrophe rule set `tokenize` applies (`if self.lang == "en" ... elif ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApostropheRules {
    /// `ENGLISH_SPECIFIC_APOSTROPHE` (`lang == "en"`): `it's` -> `it 's`.
    English,
    /// `FR_IT_SPECIFIC_APOSTROPHE` (`lang in ["fr", "it"]`): `l'homme` -> `l' homme`.
    FrenchItalian,
    /// `NON_SPECIFIC_APOSTROPHE` (every other language): `'` -> ` ' `.
    Other,
}

/// Languages for which sacremoses extends IsAlpha/IsAlnum with CJK scripts; their
/// character tables are not ported, so they are rejected (see [`MosesTokenizer::new`]).
pub const CJK_TOKENIZER_LANGUAGES: [&str; 4] = ["zh", "ja", "ko", "cjk"];

/// The Moses tokenizer for one language.
#[derive(Debug, Clone)]
pub struct MosesTokenizer {
    apostrophes: ApostropheRules,
    prefixes: NonbreakingPrefixes,
    escape: bool,
    aggressive_dash_splits: bool,
}

impl MosesTokenizer {
    /// `MosesTokenizer(lang)` with `tokenize(..., escape, aggressive_dash_splits)`.
    ///
    /// Returns `None` for `zh`, `ja`, `ko` and `cjk`, whose extra CJK letter classes are
    /// not ported. Every other string is accepted, exactly as sacremoses accepts it
    /// (unknown languages use the English prefix list and the generic apostrophe rule).
    pub fn new(lang: &str, escape: bool, aggressive_dash_splits: bool) -> Option<Self> {
        if CJK_TOKENIZER_LANGUAGES.contains(&lang) {
            return None;
        }
        let apostrophes = match lang {
            "en" => ApostropheRules::English,
            "fr" | "it" => ApostropheRules::FrenchItalian,
            _ => ApostropheRules::Other,
        };
        Some(MosesTokenizer {
            apostrophes,
            prefixes: NonbreakingPrefixes::for_language(lang),
            escape,
            aggressive_dash_splits,
        })
    }

    /// `tokenize(text, return_str=True, ...)` for one line.
    pub fn tokenize(&self, text: &str) -> String {
        let mut s = text.to_string();
        // DEDUPLICATE_SPACE, ASCII_JUNK, strip().
        s.rewrite(collapse_py_whitespace(&s));
        if s.bytes().any(|b| b < 0x20) {
            s.retain(|c| c >= '\u{20}');
        }
        let trimmed = py_strip(&s);
        if trimmed.len() != s.len() {
            s = trimmed.to_string();
        }
        // PAD_NOT_ISALNUM
        s.rewrite(map_chars_padded(&s, |c| PAD_NOT_ISALNUM.contains(c)));
        if self.aggressive_dash_splits && s.contains('-') {
            s.rewrite(rewrite_around(
                &s,
                &AnchorRule {
                    anchor: '-',
                    prev: Some(|c| TOK_ALNUM.contains(c)),
                    next: Some(|c| TOK_ALNUM.contains(c)),
                    consume_next: false,
                },
                |o, p, _| {
                    o.extend(p);
                    o.push_str(" @-@ ");
                },
            ));
        }
        if s.contains("..") {
            s = replace_multidots(&s);
        }
        if s.contains(',') {
            separate_commas(&mut s);
        }
        if s.contains('\'') {
            self.split_apostrophes(&mut s);
        }
        // handles_nonbreaking_prefixes, then DEDUPLICATE_SPACE + strip(): the prefix step
        // already re-joins the whitespace-split tokens with single spaces.
        s = self.join_with_prefixes(&s);
        // TRAILING_DOT_APOSTROPHE: `\.' ?$` -> " . ' " (no trailing space is left after
        // the strip, and the text holds no newline for `$` to stop before).
        if s.ends_with(".'") {
            s.truncate(s.len() - 2);
            s.push_str(" . ' ");
        }
        if s.contains("DOTMULTI") {
            s = restore_multidots(&s);
        }
        if self.escape {
            s.rewrite(escape_xml(&s));
        }
        s
    }

    /// Step 6 of [`MosesTokenizer::tokenize`].
    fn split_apostrophes(&self, s: &mut String) {
        let alpha = |c: char| TOK_ALPHA.contains(c);
        let not_alpha = |c: char| !TOK_ALPHA.contains(c);
        let spaced = |o: &mut String, p: Option<char>, n: Option<char>| {
            o.extend(p);
            o.push_str(" ' ");
            o.extend(n);
        };
        match self.apostrophes {
            ApostropheRules::English => {
                // EN_SPECIFIC_1: ([^alpha])[']([^alpha]) -> "\1 ' \2"
                s.rewrite(rewrite_around(
                    s,
                    &apostrophe_rule(not_alpha, not_alpha),
                    spaced,
                ));
                // EN_SPECIFIC_2: ([^alpha IsN])[']([alpha]) -> "\1 ' \2"
                let neither = |c: char| !TOK_ALPHA.contains(c) && !IS_N.contains(c);
                s.rewrite(rewrite_around(s, &apostrophe_rule(neither, alpha), spaced));
                // EN_SPECIFIC_3: ([alpha])[']([^alpha]) -> "\1 ' \2"
                s.rewrite(rewrite_around(
                    s,
                    &apostrophe_rule(alpha, not_alpha),
                    spaced,
                ));
                // EN_SPECIFIC_4: ([alpha])[']([alpha]) -> "\1 '\2"
                s.rewrite(rewrite_around(
                    s,
                    &apostrophe_rule(alpha, alpha),
                    |o, p, n| {
                        o.extend(p);
                        o.push_str(" '");
                        o.extend(n);
                    },
                ));
                // EN_SPECIFIC_5: ([IsN])[']([s]) -> "\1 '\2"
                s.rewrite(rewrite_around(
                    s,
                    &apostrophe_rule(|c| IS_N.contains(c), |c| c == 's'),
                    |o, p, n| {
                        o.extend(p);
                        o.push_str(" '");
                        o.extend(n);
                    },
                ));
            }
            ApostropheRules::FrenchItalian => {
                // FR_IT_SPECIFIC_1..3: pad, FR_IT_SPECIFIC_4: ([alpha])[']([alpha]) -> "\1' \2"
                s.rewrite(rewrite_around(
                    s,
                    &apostrophe_rule(not_alpha, not_alpha),
                    spaced,
                ));
                s.rewrite(rewrite_around(
                    s,
                    &apostrophe_rule(not_alpha, alpha),
                    spaced,
                ));
                s.rewrite(rewrite_around(
                    s,
                    &apostrophe_rule(alpha, not_alpha),
                    spaced,
                ));
                s.rewrite(rewrite_around(
                    s,
                    &apostrophe_rule(alpha, alpha),
                    |o, p, n| {
                        o.extend(p);
                        o.push_str("' ");
                        o.extend(n);
                    },
                ));
            }
            ApostropheRules::Other => {
                *s = s.replace('\'', " ' ");
            }
        }
    }

    /// `handles_nonbreaking_prefixes` followed by `" ".join` (steps 7-8).
    fn join_with_prefixes(&self, s: &str) -> String {
        let tokens: Vec<&str> = py_split(s).collect();
        let mut out = String::with_capacity(s.len() + 8);
        for (i, token) in tokens.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            // re.search(r"^(\S+)\.$", token): at least one character before the final dot.
            let split_dot = token.len() >= 2
                && token.ends_with('.')
                && self.splits_final_dot(&token[..token.len() - 1], tokens.get(i + 1).copied());
            if split_dot {
                out.push_str(&token[..token.len() - 1]);
                out.push_str(" .");
            } else {
                out.push_str(token);
            }
        }
        out
    }

    /// Whether `prefix` + `.` must become `prefix .` (`handles_nonbreaking_prefixes`).
    fn splits_final_dot(&self, prefix: &str, next: Option<&str>) -> bool {
        let keeps = (prefix.contains('.') && prefix.chars().any(|c| TOK_ALPHA.contains(c)))
            || self.prefixes.is_plain(prefix)
            || next
                .and_then(|n| n.chars().next())
                .is_some_and(|c| IS_LOWER.contains(c));
        if keeps {
            return false;
        }
        let numeric_exception = self.prefixes.is_numeric_only(prefix)
            && next.is_some_and(|n| n.as_bytes().first().is_some_and(u8::is_ascii_digit));
        !numeric_exception
    }
}

/// An apostrophe-centred three-character rule `(prev)[']( next)`.
fn apostrophe_rule<P, N>(prev: P, next: N) -> AnchorRule<P, N>
where
    P: Fn(char) -> bool,
    N: Fn(char) -> bool,
{
    AnchorRule {
        anchor: '\'',
        prev: Some(prev),
        next: Some(next),
        consume_next: true,
    }
}

/// `re.sub(r"([<class>])", r" \1 ", s)` for a single-character class.
fn map_chars_padded<F: Fn(char) -> bool>(s: &str, pad: F) -> Option<String> {
    let mut out: Option<String> = None;
    let mut copied = 0usize;
    for (i, c) in s.char_indices() {
        if pad(c) {
            let o = out.get_or_insert_with(|| String::with_capacity(s.len() + 32));
            o.push_str(&s[copied..i]);
            o.push(' ');
            o.push(c);
            o.push(' ');
            copied = i + c.len_utf8();
        }
    }
    let mut o = out?;
    o.push_str(&s[copied..]);
    Some(o)
}

/// `MosesTokenizer.replace_multidots`: each maximal run of k >= 2 dots becomes
/// `" " + "DOT" * k + "MULTI"`, plus `" "` unless the run ends the text.
fn replace_multidots(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len() + 32);
    let mut copied = 0usize;
    let mut pos = 0usize;
    while pos < bytes.len() {
        if bytes[pos] != b'.' {
            pos += 1;
            continue;
        }
        let run = bytes[pos..].iter().take_while(|&&b| b == b'.').count();
        if run >= 2 {
            out.push_str(&s[copied..pos]);
            out.push(' ');
            for _ in 0..run {
                out.push_str("DOT");
            }
            out.push_str("MULTI");
            if pos + run < bytes.len() {
                out.push(' ');
            }
            copied = pos + run;
        }
        pos += run;
    }
    out.push_str(&s[copied..]);
    out
}

/// `MosesTokenizer.restore_multidots`: `(?:DOT)+MULTI` -> one dot per `DOT`.
fn restore_multidots(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut copied = 0usize;
    let mut pos = 0usize;
    while let Some(off) = s[pos..].find("DOT") {
        let start = pos + off;
        let mut end = start;
        let mut dots = 0usize;
        while bytes[end..].starts_with(b"DOT") {
            end += 3;
            dots += 1;
        }
        if bytes[end..].starts_with(b"MULTI") {
            out.push_str(&s[copied..start]);
            for _ in 0..dots {
                out.push('.');
            }
            copied = end + 5;
            pos = copied;
        } else {
            // No match can start inside this run of DOTs either (the pattern is
            // greedy-anchored on the same MULTI), so resume after its first character.
            pos = start + 1;
        }
    }
    out.push_str(&s[copied..]);
    out
}

/// `COMMA_SEPARATE_1..3`: `([^IsN])[,]` -> `\1 , `, `[,]([^IsN])` -> ` , \1`,
/// `([IsN])[,]$` -> `\1 , `.
fn separate_commas(s: &mut String) {
    let not_number = |c: char| !IS_N.contains(c);
    s.rewrite(rewrite_around(
        s,
        &AnchorRule {
            anchor: ',',
            prev: Some(not_number),
            next: None::<fn(char) -> bool>,
            consume_next: true,
        },
        |o, p, _| {
            o.extend(p);
            o.push_str(" , ");
        },
    ));
    s.rewrite(rewrite_around(
        s,
        &AnchorRule {
            anchor: ',',
            prev: None::<fn(char) -> bool>,
            next: Some(not_number),
            consume_next: true,
        },
        |o, _, n| {
            o.push_str(" , ");
            o.extend(n);
        },
    ));
    if let Some(head) = s.strip_suffix(',')
        && head.chars().next_back().is_some_and(|c| IS_N.contains(c))
    {
        let len = head.len();
        s.truncate(len);
        s.push_str(" , ");
    }
}

/// `MosesTokenizer.escape_xml` (`MOSES_ESCAPE_XML_REGEXES`). The eight rules run in
/// sequence with `&` first, and no later rule matches an earlier rule's output, so one
/// character map is exact.
pub(crate) fn escape_xml(s: &str) -> Option<String> {
    map_chars(s, |c| match c {
        '&' => Some("&amp;"),
        '|' => Some("&#124;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '\'' => Some("&apos;"),
        '"' => Some("&quot;"),
        '[' => Some("&#91;"),
        ']' => Some("&#93;"),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(lang: &str, s: &str) -> String {
        MosesTokenizer::new(lang, false, false)
            .map(|t| t.tokenize(s))
            .unwrap_or_default()
    }

    // Expected values come from sacremoses 0.2.0,
    // MosesTokenizer(lang).tokenize(s, escape=False, return_str=True); the inputs marked
    // "test_tokenizer.py" are sacremoses' own cases (sacremoses/test/test_tokenizer.py).

    #[test]
    fn sacremoses_test_cases() {
        // test_tokenizer.py test_moses_tokenize
        assert_eq!(
            tok(
                "en",
                "This, is a sentence with weird\u{bb} symbols\u{2026} appearing everywhere\u{bf}"
            ),
            "This , is a sentence with weird \u{bb} symbols \u{2026} appearing everywhere \u{bf}"
        );
        assert_eq!(
            tok("en", "abc def. ghi jkl, mno pqr. stu vwx."),
            "abc def. ghi jkl , mno pqr. stu vwx ."
        );
        // test_tokenizer.py test_aggressive_split
        let aggressive = MosesTokenizer::new("en", false, true).map(|t| t.tokenize("foo-bar"));
        assert_eq!(aggressive.as_deref(), Some("foo @-@ bar"));
        // test_tokenizer.py test_opening_brackets
        assert_eq!(
            tok(
                "en",
                "By the mid 1990s a version of the game became a Latvian television series (with a parliamentary setting, and played by Latvian celebrities)."
            ),
            "By the mid 1990s a version of the game became a Latvian television series ( with a parliamentary setting , and played by Latvian celebrities ) ."
        );
        // test_tokenizer.py test_dot_splitting
        assert_eq!(
            tok("en", "The meeting will take place at 11:00 a.m. Tuesday."),
            "The meeting will take place at 11 : 00 a.m. Tuesday ."
        );
        // test_tokenizer.py test_trailing_dot_apostrophe
        assert_eq!(tok("en", "'Hello.'"), "'Hello . ' ");
        // test_tokenizer.py test_final_comma_split_after_number
        assert_eq!(
            tok(
                "en",
                "Sie sollten vor dem Upgrade eine Sicherung dieser Daten erstellen (wie unter Abschnitt 4.1.1, "
            ),
            "Sie sollten vor dem Upgrade eine Sicherung dieser Daten erstellen ( wie unter Abschnitt 4.1.1 ,"
        );
    }

    #[test]
    fn english_apostrophes() {
        assert_eq!(tok("en", "it's 1990's don't"), "it 's 1990 's don 't");
        assert_eq!(tok("en", "the students' books"), "the students ' books");
        assert_eq!(tok("en", "He said 'hello.'"), "He said ' hello . ' ");
        assert_eq!(tok("en", "rock 'n' roll"), "rock ' n ' roll");
    }

    #[test]
    fn other_language_apostrophes() {
        assert_eq!(tok("fr", "l'homme qu'il"), "l' homme qu' il");
        assert_eq!(tok("it", "dell'arte"), "dell' arte");
        assert_eq!(tok("mk", "it's"), "it ' s");
        assert_eq!(tok("sq", "Ka'bës"), "Ka ' bës");
    }

    #[test]
    fn nonbreaking_prefixes() {
        assert_eq!(
            tok("en", "Mr. Smith went to Washington."),
            "Mr. Smith went to Washington ."
        );
        assert_eq!(tok("en", "No. 5 and No. Way"), "No. 5 and No . Way");
        assert_eq!(
            tok("en", "e.g. this. And U.S. Army."),
            "e.g. this . And U.S. Army ."
        );
        // mk and sq fall back to the English list.
        assert_eq!(tok("mk", "Г-дин Mr. Петров."), "Г-дин Mr. Петров .");
        assert_eq!(tok("sq", "Z. Berisha tha."), "Z. Berisha tha .");
    }

    #[test]
    fn commas_dots_and_symbols() {
        assert_eq!(tok("en", "1,000,000 and A,B,C"), "1,000,000 and A , B , C");
        assert_eq!(tok("en", "Wait... what?!"), "Wait ... what ? !");
        assert_eq!(tok("en", "a..b....c"), "a .. b .... c");
        assert_eq!(tok("en", "x DOTMULTI y"), "x . y");
        assert_eq!(tok("en", "$5 @home #tag 50%"), "$ 5 @ home # tag 50 %");
        assert_eq!(tok("en", "\"quoted\" & <b>"), "\" quoted \" & < b >");
        assert_eq!(tok("en", "  a\t\u{a0}b\u{1}c  "), "a bc");
    }

    #[test]
    fn escaping_is_optional() {
        let t = MosesTokenizer::new("en", true, false).map(|t| t.tokenize("a & b | \"c\" [d]"));
        assert_eq!(
            t.as_deref(),
            Some("a &amp; b &#124; &quot; c &quot; &#91; d &#93;")
        );
    }

    #[test]
    fn cjk_languages_are_rejected() {
        assert!(MosesTokenizer::new("zh", false, false).is_none());
        assert!(MosesTokenizer::new("xx", false, false).is_some());
    }
}
