//! Hand-written equivalents of the `re.sub` shapes the Moses scripts use.
//!
//! Every Moses rule is a leftmost, non-overlapping substitution. Most are either a literal
//! replacement or a fixed-length pattern of single-character classes around one literal
//! "anchor" character (`([^IsN])[,]`, `([alpha])[']([^alpha])`, ...). For those,
//! scanning the anchor's occurrences left to right and accepting a candidate only when it
//! starts at or after the end of the previous match reproduces Python's scan exactly, with
//! no regex engine and no allocation when nothing matches (`None` = unchanged).

/// Literal replacement, skipped (no allocation) when `from` does not occur.
pub(crate) fn replace_literal(s: &str, from: &str, to: &str) -> Option<String> {
    if s.contains(from) {
        Some(s.replace(from, to))
    } else {
        None
    }
}

/// What a fixed-shape rule looks at around its anchor character.
pub(crate) struct AnchorRule<P, N> {
    /// The literal middle character of the pattern.
    pub anchor: char,
    /// Class of the character just before the anchor (consumed), or `None` when the
    /// pattern starts at the anchor.
    pub prev: Option<P>,
    /// Class of the character just after the anchor, or `None` when the pattern ends at
    /// the anchor.
    pub next: Option<N>,
    /// `false` for a lookahead `(?=...)`: the next character is tested but not consumed.
    pub consume_next: bool,
}

/// Applies an [`AnchorRule`]; `emit(out, prev, next)` writes the replacement of one match
/// (`prev`/`next` are the matched neighbours, `None` where the rule has none).
pub(crate) fn rewrite_around<P, N, E>(s: &str, rule: &AnchorRule<P, N>, emit: E) -> Option<String>
where
    P: Fn(char) -> bool,
    N: Fn(char) -> bool,
    E: Fn(&mut String, Option<char>, Option<char>),
{
    let mut out: Option<String> = None;
    let mut copied = 0usize; // bytes of `s` already copied into `out`
    let mut cursor = 0usize; // a match may not start before this byte
    let anchor_len = rule.anchor.len_utf8();
    for (m, _) in s.match_indices(rule.anchor) {
        let (start, prev_c) = match &rule.prev {
            Some(pred) => {
                let Some(c) = s[..m].chars().next_back() else {
                    continue;
                };
                let start = m - c.len_utf8();
                if start < cursor || !pred(c) {
                    continue;
                }
                (start, Some(c))
            }
            None => {
                if m < cursor {
                    continue;
                }
                (m, None)
            }
        };
        let mut end = m + anchor_len;
        let next_c = match &rule.next {
            Some(pred) => match s[end..].chars().next() {
                Some(c) if pred(c) => {
                    if rule.consume_next {
                        end += c.len_utf8();
                    }
                    Some(c)
                }
                _ => continue,
            },
            None => None,
        };
        let o = out.get_or_insert_with(|| String::with_capacity(s.len() + 16));
        o.push_str(&s[copied..start]);
        emit(o, prev_c, next_c);
        copied = end;
        cursor = end;
    }
    let mut o = out?;
    o.push_str(&s[copied..]);
    Some(o)
}

/// Maps every character through `f` (which returns `None` to keep it unchanged), only
/// allocating once a character actually changes.
pub(crate) fn map_chars<F>(s: &str, f: F) -> Option<String>
where
    F: Fn(char) -> Option<&'static str>,
{
    let mut out: Option<String> = None;
    let mut copied = 0usize;
    for (i, c) in s.char_indices() {
        if let Some(rep) = f(c) {
            let o = out.get_or_insert_with(|| String::with_capacity(s.len() + 16));
            o.push_str(&s[copied..i]);
            o.push_str(rep);
            copied = i + c.len_utf8();
        }
    }
    let mut o = out?;
    o.push_str(&s[copied..]);
    Some(o)
}

/// `re.sub(r" +", " ", s)`: collapses runs of U+0020 (only that character).
pub(crate) fn squeeze_spaces(s: &str) -> Option<String> {
    if !s.contains("  ") {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut prev_space = false;
    for c in s.chars() {
        if c == ' ' {
            if !prev_space {
                out.push(' ');
            }
            prev_space = true;
        } else {
            out.push(c);
            prev_space = false;
        }
    }
    Some(out)
}

/// `re.sub(r"\s+", " ", s)` with Python's `\s`.
pub(crate) fn collapse_py_whitespace(s: &str) -> Option<String> {
    use super::chars::{is_py_space, may_have_special_space};
    if !may_have_special_space(s) && !s.contains("  ") {
        return None;
    }
    let mut changed = false;
    let mut prev_space = false;
    for c in s.chars() {
        let sp = is_py_space(c);
        if sp && (c != ' ' || prev_space) {
            changed = true;
            break;
        }
        prev_space = sp;
    }
    if !changed {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut prev_space = false;
    for c in s.chars() {
        if is_py_space(c) {
            if !prev_space {
                out.push(' ');
            }
            prev_space = true;
        } else {
            out.push(c);
            prev_space = false;
        }
    }
    Some(out)
}

/// Replaces a working string by a rewrite's result, if the rewrite changed anything.
///
/// A method (not a function) so that `s.rewrite(rule(&s))` borrows `s` mutably only after
/// the rule has read it (two-phase borrow).
pub(crate) trait Rewrite {
    /// Takes `rewritten` when it is `Some`.
    fn rewrite(&mut self, rewritten: Option<String>);
}

impl Rewrite for String {
    #[inline]
    fn rewrite(&mut self, rewritten: Option<String>) {
        if let Some(r) = rewritten {
            *self = r;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never(_: char) -> bool {
        false
    }

    #[test]
    fn anchor_rule_is_leftmost_non_overlapping() {
        // re.sub(r"([^0-9])[,]", r"\1 , ", "A,B,C,,1,2") == "A , B , C , ,1,2"
        let rule = AnchorRule {
            anchor: ',',
            prev: Some(|c: char| !c.is_ascii_digit()),
            next: None::<fn(char) -> bool>,
            consume_next: true,
        };
        let out = rewrite_around("A,B,C,,1,2", &rule, |o, p, _| {
            o.extend(p);
            o.push_str(" , ");
        });
        assert_eq!(out.as_deref(), Some("A , B , C , ,1,2"));
        // re.sub(r"([a-z])'([a-z])", r"\1 '\2", "a'b'c") == "a 'b'c" (the b is consumed).
        let rule = AnchorRule {
            anchor: '\'',
            prev: Some(|c: char| c.is_ascii_lowercase()),
            next: Some(|c: char| c.is_ascii_lowercase()),
            consume_next: true,
        };
        let out = rewrite_around("a'b'c", &rule, |o, p, n| {
            o.extend(p);
            o.push_str(" '");
            o.extend(n);
        });
        assert_eq!(out.as_deref(), Some("a 'b'c"));
        // Lookahead: re.sub(r"([a-z])\-(?=[a-z])", r"\1 @-@ ", "a-b-c") == "a @-@ b @-@ c"
        let rule = AnchorRule {
            anchor: '-',
            prev: Some(|c: char| c.is_ascii_lowercase()),
            next: Some(|c: char| c.is_ascii_lowercase()),
            consume_next: false,
        };
        let out = rewrite_around("a-b-c", &rule, |o, p, _| {
            o.extend(p);
            o.push_str(" @-@ ");
        });
        assert_eq!(out.as_deref(), Some("a @-@ b @-@ c"));
        let rule = AnchorRule {
            anchor: ',',
            prev: Some(never),
            next: None::<fn(char) -> bool>,
            consume_next: true,
        };
        assert_eq!(rewrite_around("a,b", &rule, |_, _, _| {}), None);
    }

    #[test]
    fn whitespace_helpers() {
        assert_eq!(squeeze_spaces("a  b   c").as_deref(), Some("a b c"));
        assert_eq!(squeeze_spaces("a b"), None);
        assert_eq!(
            collapse_py_whitespace("a\t\u{a0} b").as_deref(),
            Some("a b")
        );
        assert_eq!(collapse_py_whitespace(" a b "), None);
        assert_eq!(
            map_chars("a–b", |c| (c == '–').then_some("-")).as_deref(),
            Some("a-b")
        );
        assert_eq!(map_chars("ab", |_| None), None);
    }
}
