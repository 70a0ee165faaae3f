//! Punctuation normalisation: replace-unicode-punctuation, normalize-punctuation and
//! remove-non-printing-char, as sacremoses implements them.
//!
//! Port of `sacremoses.normalize.MosesPunctNormalizer` (hplt-project/sacremoses 0.2.0,
//! `sacremoses/normalize.py`: `REPLACE_UNICODE_PUNCTUATION`, `EXTRA_WHITESPACE`,
//! `NORMALIZE_UNICODE_IF_NOT_PENN`, `NORMALIZE_UNICODE`, `FRENCH_QUOTES`,
//! `HANDLE_PSEUDO_SPACES`, the quote/comma and number rules, `remove_control_chars` and
//! the final `strip()`), itself a port of Moses' `replace-unicode-punctuation.perl`,
//! `normalize-punctuation.perl` and (for `\p{C}` removal) `remove-non-printing-char.perl`.
//!
//! Fixed sacremoses options (its defaults, and what XLM's perl chain does): `penn=True`
//! (which, despite the name, *adds* the `` ` ``→`'` and `''`→` " ` rules),
//! `norm_quote_commas=True`, `norm_numbers=True`, `perl_parity=False`.
//!
//! The sacremoses rules are ~70 sequential `re.sub` passes. Here each pass is a hand-written
//! scan that is skipped when its trigger character is absent (most rules need a non-ASCII
//! character, so plain ASCII lines only pay for ~12 byte scans). Passes whose rules cannot
//! interact are fused into one character map; the comments say why that is exact.

use super::chars::{CONTROL, DIGIT, is_py_space, py_strip};
use super::rewrite::{
    AnchorRule, Rewrite, map_chars, replace_literal, rewrite_around, squeeze_spaces,
};

/// Which `norm_quote_commas` rule set applies (`normalize.py` `__init__`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuoteCommaRules {
    /// `EN_QUOTATION_FOLLOWED_BY_COMMA` (`lang == "en"`).
    English,
    /// `DE_ES_FR_QUOTATION_FOLLOWED_BY_COMMA` (`lang in ["de", "es", "fr"]`).
    GermanSpanishFrench,
    /// Every other language: no quote/comma rule.
    None,
}

/// The Moses punctuation normaliser for one language.
#[derive(Debug, Clone)]
pub struct MosesPunctNormalizer {
    quote_commas: QuoteCommaRules,
    /// `norm_numbers`: `(\d)\u00A0(\d)` becomes `\1,\2` for de/es/cz/cs/fr, `\1.\2` otherwise.
    number_separator: &'static str,
    replace_unicode_punct: bool,
    normalize_punct: bool,
    remove_control_chars: bool,
}

impl MosesPunctNormalizer {
    /// `MosesPunctNormalizer(lang, pre_replace_unicode_punct=True,
    /// post_remove_control_chars=True)`: all three stages on.
    pub fn new(lang: &str) -> Self {
        Self::with_stages(lang, true, true, true)
    }

    /// Chooses the stages: `replace_unicode_punct` (sacremoses
    /// `pre_replace_unicode_punct`), `normalize_punct` (the normalize-punctuation rules
    /// proper) and `remove_control_chars` (`post_remove_control_chars`). When any stage is
    /// on, the result is `strip()`ped as `normalize()` does.
    pub fn with_stages(
        lang: &str,
        replace_unicode_punct: bool,
        normalize_punct: bool,
        remove_control_chars: bool,
    ) -> Self {
        let quote_commas = match lang {
            "en" => QuoteCommaRules::English,
            "de" | "es" | "fr" => QuoteCommaRules::GermanSpanishFrench,
            _ => QuoteCommaRules::None,
        };
        let number_separator = match lang {
            "de" | "es" | "cz" | "cs" | "fr" => ",",
            _ => ".",
        };
        MosesPunctNormalizer {
            quote_commas,
            number_separator,
            replace_unicode_punct,
            normalize_punct,
            remove_control_chars,
        }
    }

    /// Whether any stage is enabled.
    pub fn is_enabled(&self) -> bool {
        self.replace_unicode_punct || self.normalize_punct || self.remove_control_chars
    }

    /// `MosesPunctNormalizer.normalize(text)` for one line (no line break inside).
    pub fn normalize(&self, text: &str) -> String {
        if !self.is_enabled() {
            return text.to_string();
        }
        let present = Present::scan(text);
        let mut s = text.to_string();
        if self.replace_unicode_punct && present.unicode_punct {
            s.rewrite(replace_unicode_punct(&s));
        }
        if self.normalize_punct {
            self.normalize_punctuation(&mut s, present);
        }
        if self.remove_control_chars
            && (present.control || s.bytes().any(|b| b < 0x20 || b == 0x7f))
        {
            s.rewrite(remove_control_chars(&s));
        }
        let stripped = py_strip(&s);
        if stripped.len() == s.len() {
            s
        } else {
            stripped.to_string()
        }
    }

    /// The `self.substitutions` loop of `normalize()`, in sacremoses' order.
    fn normalize_punctuation(&self, s: &mut String, present: Present) {
        // EXTRA_WHITESPACE (normalize-punctuation.perl lines 21-30).
        if s.contains('\r') {
            *s = s.replace('\r', "");
        }
        // `\(` -> " (" then `\)` -> ") ": the second rule only matches ')', which the
        // first neither adds nor removes, so one character map is exact.
        if s.bytes().any(|b| b == b'(' || b == b')') {
            s.rewrite(map_chars(s, |c| match c {
                '(' => Some(" ("),
                ')' => Some(") "),
                _ => None,
            }));
        }
        s.rewrite(squeeze_spaces(s));
        // `\) ([.!:?;,])` -> `)\1`
        s.rewrite(rewrite_around(
            s,
            &AnchorRule {
                anchor: ' ',
                prev: Some(|c| c == ')'),
                next: Some(|c| matches!(c, '.' | '!' | ':' | '?' | ';' | ',')),
                consume_next: true,
            },
            |o, _, n| {
                o.push(')');
                o.extend(n);
            },
        ));
        s.rewrite(replace_literal(s, "( ", "("));
        s.rewrite(replace_literal(s, " )", ")"));
        // `(\d) %` -> `\1%`
        s.rewrite(rewrite_around(
            s,
            &AnchorRule {
                anchor: ' ',
                prev: Some(|c| DIGIT.contains(c)),
                next: Some(|c| c == '%'),
                consume_next: true,
            },
            |o, p, _| {
                o.extend(p);
                o.push('%');
            },
        ));
        s.rewrite(replace_literal(s, " :", ":"));
        s.rewrite(replace_literal(s, " ;", ";"));

        // NORMALIZE_UNICODE_IF_NOT_PENN (added when penn=True).
        if s.contains('`') {
            *s = s.replace('`', "'");
        }
        s.rewrite(replace_literal(s, "''", " \" "));

        // NORMALIZE_UNICODE (lines 37-50).
        if present.quotes_dashes {
            // „ “ ” -> ", – -> -, — -> " - ": single characters mapped to ASCII that no
            // later rule of this group matches, so one map is exact.
            s.rewrite(map_chars(s, |c| match c {
                '„' | '“' | '”' => Some("\""),
                '–' => Some("-"),
                '—' => Some(" - "),
                _ => None,
            }));
        }
        s.rewrite(squeeze_spaces(s));
        if present.apostrophes {
            // ´ -> ', then `([a-zA-Z])‘([a-zA-Z])` / `([a-zA-Z])’([a-zA-Z])` -> `\1'\2`,
            // then ‘ ‚ ’ -> ' unconditionally: every ´ ‘ ‚ ’ ends up as ', whichever rule
            // replaced it, so one map is exact.
            s.rewrite(map_chars(s, |c| match c {
                '´' | '‘' | '‚' | '’' => Some("'"),
                _ => None,
            }));
        }
        s.rewrite(replace_literal(s, "''", "\""));
        // ("´´", '"') can never match: every ´ was replaced just above.
        s.rewrite(replace_literal(s, "…", "..."));

        if present.guillemets_or_nbsp {
            // FRENCH_QUOTES (lines 52-57), in order.
            if s.contains('«') {
                s.rewrite(replace_literal(s, "\u{a0}«\u{a0}", "\""));
                s.rewrite(replace_literal(s, "«\u{a0}", "\""));
                s.rewrite(replace_literal(s, "«", "\""));
            }
            if s.contains('»') {
                s.rewrite(replace_literal(s, "\u{a0}»\u{a0}", "\""));
                s.rewrite(replace_literal(s, "\u{a0}»", "\""));
                s.rewrite(replace_literal(s, "»", "\""));
            }
            // HANDLE_PSEUDO_SPACES (lines 59-67); all but the last need a NBSP.
            if s.contains('\u{a0}') {
                s.rewrite(replace_literal(s, "\u{a0}%", "%"));
                s.rewrite(replace_literal(s, "nº\u{a0}", "nº "));
                s.rewrite(replace_literal(s, "\u{a0}:", ":"));
                s.rewrite(replace_literal(s, "\u{a0}ºC", " ºC"));
                s.rewrite(replace_literal(s, "\u{a0}cm", " cm"));
                s.rewrite(replace_literal(s, "\u{a0}?", "?"));
                s.rewrite(replace_literal(s, "\u{a0}!", "!"));
                s.rewrite(replace_literal(s, "\u{a0};", ";"));
                s.rewrite(replace_literal(s, ",\u{a0}", ", "));
            }
        }
        s.rewrite(squeeze_spaces(s));

        match self.quote_commas {
            QuoteCommaRules::English => s.rewrite(quote_before_commas(s)),
            QuoteCommaRules::GermanSpanishFrench => {
                s.rewrite(replace_literal(s, ",\"", "\","));
                s.rewrite(quote_before_dots(s));
            }
            QuoteCommaRules::None => {}
        }

        // norm_numbers: `(\d)\u00A0(\d)` -> `\1.\2` (or `\1,\2`).
        if present.guillemets_or_nbsp && s.contains('\u{a0}') {
            let sep = self.number_separator;
            s.rewrite(rewrite_around(
                s,
                &AnchorRule {
                    anchor: '\u{a0}',
                    prev: Some(|c| DIGIT.contains(c)),
                    next: Some(|c| DIGIT.contains(c)),
                    consume_next: true,
                },
                |o, p, n| {
                    o.extend(p);
                    o.push_str(sep);
                    o.extend(n);
                },
            ));
        }
    }
}

/// Which groups of non-ASCII characters a line holds, found in one pass so that the rules
/// needing them can be skipped. Valid for the whole normalisation: the rules only replace
/// non-ASCII characters by ASCII text or delete characters, never add non-ASCII ones
/// (`nº\u{a0}` -> `nº ` and `\u{a0}ºC` -> ` ºC` keep an `º`, which no rule looks for alone).
#[derive(Debug, Clone, Copy, Default)]
struct Present {
    /// A character of `REPLACE_UNICODE_PUNCTUATION`.
    unicode_punct: bool,
    /// „ “ ” – — (the first group of `NORMALIZE_UNICODE`).
    quotes_dashes: bool,
    /// ´ ‘ ‚ ’.
    apostrophes: bool,
    /// « », or NO-BREAK SPACE (`FRENCH_QUOTES`, `HANDLE_PSEUDO_SPACES`, numbers).
    guillemets_or_nbsp: bool,
    /// A non-ASCII `\p{C}` character (ASCII controls are checked separately).
    control: bool,
}

impl Present {
    fn scan(s: &str) -> Present {
        let mut p = Present::default();
        if s.is_ascii() {
            return p;
        }
        for c in s.chars().filter(|c| !c.is_ascii()) {
            match c {
                '，'
                | '、'
                | '。'
                | '．'
                | '《'
                | '》'
                | '」'
                | '「'
                | '∶'
                | '：'
                | '？'
                | '）'
                | '！'
                | '（'
                | '；'
                | '０'..='９'
                | '～'
                | '…'
                | '━'
                | '〈'
                | '〉'
                | '【'
                | '】'
                | '％' => p.unicode_punct = true,
                '”' | '“' => {
                    p.unicode_punct = true;
                    p.quotes_dashes = true;
                }
                '’' => {
                    p.unicode_punct = true;
                    p.apostrophes = true;
                }
                '„' | '–' | '—' => p.quotes_dashes = true,
                '´' | '‘' | '‚' => p.apostrophes = true,
                '«' | '»' | '\u{a0}' => p.guillemets_or_nbsp = true,
                _ => p.control |= CONTROL.contains(c),
            }
        }
        p
    }
}

/// `MosesPunctNormalizer.replace_unicode_punct` (replace-unicode-punctuation.perl).
///
/// The 36 rules each replace one distinct non-ASCII character by ASCII text that no other
/// rule matches, so one left-to-right pass is exact; `。\s*` and `．\s*` also swallow the
/// whitespace that follows.
pub(crate) fn replace_unicode_punct(s: &str) -> Option<String> {
    if s.is_ascii() {
        return None;
    }
    let mut out: Option<String> = None;
    let mut copied = 0usize;
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let rep = match c {
            '，' | '、' => ",",
            '。' | '．' => ". ",
            '”' | '“' | '《' | '》' | '」' | '「' => "\"",
            '∶' | '：' => ":",
            '？' => "?",
            '）' => ")",
            '！' => "!",
            '（' => "(",
            '；' => ";",
            '０' => "0",
            '１' => "1",
            '２' => "2",
            '３' => "3",
            '４' => "4",
            '５' => "5",
            '６' => "6",
            '７' => "7",
            '８' => "8",
            '９' => "9",
            '～' => "~",
            '’' => "'",
            '…' => "...",
            '━' => "-",
            '〈' => "<",
            '〉' => ">",
            '【' => "[",
            '】' => "]",
            '％' => "%",
            _ => continue,
        };
        let mut end = i + c.len_utf8();
        if c == '。' || c == '．' {
            while let Some(&(j, w)) = iter.peek() {
                if !is_py_space(w) {
                    break;
                }
                end = j + w.len_utf8();
                iter.next();
            }
        }
        let o = out.get_or_insert_with(|| String::with_capacity(s.len() + 16));
        o.push_str(&s[copied..i]);
        o.push_str(rep);
        copied = end;
    }
    let mut o = out?;
    o.push_str(&s[copied..]);
    Some(o)
}

/// `MosesPunctNormalizer.remove_control_chars`: `regex.sub(r"\p{C}", "", text)`.
pub(crate) fn remove_control_chars(s: &str) -> Option<String> {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return None;
    }
    if !s.chars().any(|c| CONTROL.contains(c)) {
        return None;
    }
    Some(s.chars().filter(|&c| !CONTROL.contains(c)).collect())
}

/// `EN_QUOTATION_FOLLOWED_BY_COMMA`: `"([,.]+)` -> `\1"`.
fn quote_before_commas(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0usize;
    let mut cursor = 0usize;
    for (q, _) in s.match_indices('"') {
        if q < cursor {
            continue;
        }
        let run = bytes[q + 1..]
            .iter()
            .take_while(|&&b| b == b',' || b == b'.')
            .count();
        if run == 0 {
            continue;
        }
        let o = out.get_or_insert_with(|| String::with_capacity(s.len() + 4));
        o.push_str(&s[copied..q]);
        o.push_str(&s[q + 1..q + 1 + run]);
        o.push('"');
        copied = q + 1 + run;
        cursor = copied;
    }
    let mut o = out?;
    o.push_str(&s[copied..]);
    Some(o)
}

/// `DE_ES_FR_QUOTATION_FOLLOWED_BY_COMMA`'s second rule: `(\.+)"(\s*[^<])` -> `"\1\2`.
///
/// A dot run can only match when a `"` directly follows its last dot (backtracking the
/// `\.+` leaves a dot, not a quote, after it). `\s*[^<]` then fails only when no
/// whitespace follows the quote and the next character is `<` or the end; with `k >= 1`
/// whitespace characters it takes them all plus one more non-`<` character when there is
/// one, and otherwise backtracks to exactly the `k` whitespace characters.
fn quote_before_dots(s: &str) -> Option<String> {
    let mut out: Option<String> = None;
    let mut copied = 0usize;
    let mut pos = 0usize;
    let bytes = s.as_bytes();
    while pos < bytes.len() {
        if bytes[pos] != b'.' {
            pos += 1;
            continue;
        }
        let run = bytes[pos..].iter().take_while(|&&b| b == b'.').count();
        let quote = pos + run;
        if bytes.get(quote) != Some(&b'"') {
            pos = quote;
            continue;
        }
        let tail_start = quote + 1;
        let mut tail_end = tail_start;
        let mut spaces = 0usize;
        let mut rest = s[tail_start..].chars();
        let mut next_non_space = None;
        for c in rest.by_ref() {
            if is_py_space(c) {
                spaces += 1;
                tail_end += c.len_utf8();
            } else {
                next_non_space = Some(c);
                break;
            }
        }
        match next_non_space {
            Some(c) if c != '<' => tail_end += c.len_utf8(),
            _ if spaces >= 1 => {}
            _ => {
                pos = quote;
                continue;
            }
        }
        let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
        o.push_str(&s[copied..pos]);
        o.push('"');
        o.push_str(&s[pos..quote]);
        o.push_str(&s[tail_start..tail_end]);
        copied = tail_end;
        pos = tail_end;
    }
    let mut o = out?;
    o.push_str(&s[copied..]);
    Some(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(lang: &str, s: &str) -> String {
        MosesPunctNormalizer::new(lang).normalize(s)
    }

    // Expected values below were produced with sacremoses 0.2.0:
    // MosesPunctNormalizer(lang, pre_replace_unicode_punct=True,
    //                      post_remove_control_chars=True).normalize(s)

    #[test]
    fn sacremoses_documented_cases() {
        // sacremoses/test/test_normalizer.py (test_moses_normalize_documents,
        // test_moses_normalize_quote_comma): same inputs, our chain's options.
        assert_eq!(
            norm(
                "en",
                "The United States in 1805 (color map)                 _Facing_     193"
            ),
            "The United States in 1805 (color map) _Facing_ 193"
        );
        assert_eq!(
            norm(
                "en",
                "=Formation of the Constitution.=--(1) The plans before the convention,"
            ),
            "=Formation of the Constitution.=-- (1) The plans before the convention,"
        );
        assert_eq!(
            norm("en", "THE GRAND JURY.\u{201d}\u{2014}"),
            "THE GRAND JURY.\" -"
        );
        assert_eq!(
            norm("en", "this is a \"quote\", right?"),
            "this is a \"quote,\" right?"
        );
        assert_eq!(
            norm("fr", "this is a \"quote\", right?"),
            "this is a \"quote\", right?"
        );
    }

    #[test]
    fn whitespace_and_brackets() {
        assert_eq!(norm("en", "a(b)c"), "a (b) c");
        assert_eq!(norm("en", "f ( x ) ."), "f (x).");
        assert_eq!(norm("en", "50 % off : yes ; no"), "50% off: yes; no");
        assert_eq!(norm("en", "a\r\nb"), "ab");
    }

    #[test]
    fn quotes_and_unicode() {
        assert_eq!(norm("en", "``hi''"), "\" hi \"");
        assert_eq!(norm("en", "„Zdravo“ – rече"), "\"Zdravo\" - rече");
        assert_eq!(norm("mk", "it’s don‘t ‚x´"), "it's don't 'x'");
        assert_eq!(norm("en", "wait…"), "wait...");
        assert_eq!(norm("en", "«\u{a0}oui\u{a0}»"), "\"oui\"");
        assert_eq!(norm("en", "said \"no\"."), "said \"no.\"");
        assert_eq!(norm("de", "sagte \"nein.\" Dann"), "sagte \"nein\". Dann");
        assert_eq!(norm("de", "sagte nein.\" Dann"), "sagte nein\". Dann");
        assert_eq!(norm("de", "a,\" b"), "a\", b");
    }

    #[test]
    fn numbers_and_pseudo_spaces() {
        assert_eq!(norm("en", "1\u{a0}000\u{a0}000"), "1.000.000");
        assert_eq!(norm("fr", "1\u{a0}000"), "1,000");
        assert_eq!(norm("en", "5\u{a0}%"), "5%");
        assert_eq!(norm("en", "x\u{a0}?"), "x?");
    }

    #[test]
    fn replace_unicode_and_controls() {
        assert_eq!(norm("en", "你好，世界。 再见！"), "你好,世界. 再见!");
        assert_eq!(norm("en", "（１２）【a】"), "(12) [a]");
        assert_eq!(norm("en", "a\u{200b}b\u{7}c\u{feff}"), "abc");
        assert_eq!(norm("en", "\u{a0} a \u{2003}"), "a");
    }

    #[test]
    fn disabled_stages_leave_text_alone() {
        let n = MosesPunctNormalizer::with_stages("en", false, false, false);
        assert_eq!(n.normalize(" a  (b) "), " a  (b) ");
        let only_controls = MosesPunctNormalizer::with_stages("en", false, false, true);
        assert_eq!(only_controls.normalize(" a\u{7}(b) "), "a(b)");
    }
}
