//! Nonbreaking prefixes: words that, followed by a period, do not end a sentence.
//!
//! Port of `sacremoses.corpus.NonbreakingPrefixes.words` and the prefix handling in
//! `MosesTokenizer.__init__` (hplt-project/sacremoses, `sacremoses/corpus.py`,
//! `sacremoses/tokenize.py`). The lists themselves are the files sacremoses ships
//! (`sacremoses/data/nonbreaking_prefixes/`, originally Moses'
//! `scripts/share/nonbreaking_prefixes/`), embedded byte for byte; see
//! `nonbreaking_prefixes/PROVENANCE.md` for origin and licences.
//!
//! Language lookup follows sacremoses exactly: a known code (`en`) or English language
//! name (`english`) selects that list; **any other language, including `mk` and `sq` (for
//! which neither Moses nor sacremoses has a list), falls back to the English list**
//! (`words()`'s `else: filenames = ["nonbreaking_prefix.en"]`; tokenizer.perl also falls
//! back to English).

use std::collections::HashSet;

use super::chars::{is_py_space, py_strip};

/// `(code, file contents)` for every prefix list sacremoses ships, sorted by code.
static PREFIX_FILES: [(&str, &str); 38] = [
    (
        "as",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.as.txt"),
    ),
    (
        "bn",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.bn.txt"),
    ),
    (
        "ca",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.ca.txt"),
    ),
    (
        "cs",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.cs.txt"),
    ),
    (
        "de",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.de.txt"),
    ),
    (
        "el",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.el.txt"),
    ),
    (
        "en",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.en.txt"),
    ),
    (
        "es",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.es.txt"),
    ),
    (
        "et",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.et.txt"),
    ),
    (
        "fi",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.fi.txt"),
    ),
    (
        "fr",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.fr.txt"),
    ),
    (
        "ga",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.ga.txt"),
    ),
    (
        "gu",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.gu.txt"),
    ),
    (
        "hi",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.hi.txt"),
    ),
    (
        "hu",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.hu.txt"),
    ),
    (
        "is",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.is.txt"),
    ),
    (
        "it",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.it.txt"),
    ),
    (
        "kn",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.kn.txt"),
    ),
    (
        "lt",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.lt.txt"),
    ),
    (
        "lv",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.lv.txt"),
    ),
    (
        "ml",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.ml.txt"),
    ),
    (
        "mni",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.mni.txt"),
    ),
    (
        "mr",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.mr.txt"),
    ),
    (
        "nl",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.nl.txt"),
    ),
    (
        "or",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.or.txt"),
    ),
    (
        "pa",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.pa.txt"),
    ),
    (
        "pl",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.pl.txt"),
    ),
    (
        "pt",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.pt.txt"),
    ),
    (
        "ro",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.ro.txt"),
    ),
    (
        "ru",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.ru.txt"),
    ),
    (
        "sk",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.sk.txt"),
    ),
    (
        "sl",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.sl.txt"),
    ),
    (
        "sv",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.sv.txt"),
    ),
    (
        "ta",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.ta.txt"),
    ),
    (
        "tdt",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.tdt.txt"),
    ),
    (
        "te",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.te.txt"),
    ),
    (
        "yue",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.yue.txt"),
    ),
    (
        "zh",
        include_str!("nonbreaking_prefixes/nonbreaking_prefix.zh.txt"),
    ),
];

/// `NonbreakingPrefixes.available_langs`' English names, mapped to their codes.
static LANGUAGE_NAMES: [(&str, &str); 38] = [
    ("assamese", "as"),
    ("bengali", "bn"),
    ("cantonese", "yue"),
    ("catalan", "ca"),
    ("chinese", "zh"),
    ("czech", "cs"),
    ("dutch", "nl"),
    ("english", "en"),
    ("estonian", "et"),
    ("finnish", "fi"),
    ("french", "fr"),
    ("german", "de"),
    ("greek", "el"),
    ("gujarati", "gu"),
    ("hindi", "hi"),
    ("hungarian", "hu"),
    ("icelandic", "is"),
    ("irish", "ga"),
    ("italian", "it"),
    ("kannada", "kn"),
    ("latvian", "lv"),
    ("lithuanian", "lt"),
    ("malayalam", "ml"),
    ("manipuri", "mni"),
    ("marathi", "mr"),
    ("oriya", "or"),
    ("polish", "pl"),
    ("portuguese", "pt"),
    ("punjabi", "pa"),
    ("romanian", "ro"),
    ("russian", "ru"),
    ("slovak", "sk"),
    ("slovenian", "sl"),
    ("spanish", "es"),
    ("swedish", "sv"),
    ("tamil", "ta"),
    ("telugu", "te"),
    ("tetum", "tdt"),
];

/// The code of the prefix list sacremoses uses for `lang` (`"en"` for unknown languages).
pub fn prefix_list_language(lang: &str) -> &'static str {
    if let Some((code, _)) = PREFIX_FILES.iter().find(|(code, _)| *code == lang) {
        return code;
    }
    if let Some((_, code)) = LANGUAGE_NAMES.iter().find(|(name, _)| *name == lang) {
        return code;
    }
    "en"
}

/// The prefix sets of one language, as `MosesTokenizer` holds them.
#[derive(Debug, Clone)]
pub(crate) struct NonbreakingPrefixes {
    /// `NONBREAKING_PREFIXES`: every stripped non-comment line, including the
    /// `#NUMERIC_ONLY#` ones verbatim (so `"No"` itself is *not* in it for English).
    plain: HashSet<String>,
    /// `NUMERIC_ONLY_PREFIXES`: for lines with whitespace + `#NUMERIC_ONLY#`, the text
    /// before the last space (`w.rpartition(" ")[0]`).
    numeric_only: HashSet<String>,
}

impl NonbreakingPrefixes {
    /// Loads the list sacremoses would load for `lang`.
    pub(crate) fn for_language(lang: &str) -> Self {
        let code = prefix_list_language(lang);
        let contents = PREFIX_FILES
            .iter()
            .find(|(c, _)| *c == code)
            .map_or("", |(_, text)| text);
        Self::parse(contents)
    }

    /// Parses a prefix file the way `NonbreakingPrefixes.words` + `MosesTokenizer` do.
    pub(crate) fn parse(contents: &str) -> Self {
        let mut plain = HashSet::new();
        let mut numeric_only = HashSet::new();
        // Python's str.splitlines() also splits on \r, \x0b, \x0c, \x1c-\x1e, \x85,
        // \u2028 and \u2029; the shipped files only use \n, but follow it anyway.
        let line_breaks = |c: char| {
            matches!(
                c,
                '\n' | '\r'
                    | '\u{b}'
                    | '\u{c}'
                    | '\u{1c}'
                    | '\u{1d}'
                    | '\u{1e}'
                    | '\u{85}'
                    | '\u{2028}'
                    | '\u{2029}'
            )
        };
        for line in contents.split(line_breaks) {
            let word = py_strip(line);
            if word.is_empty() || word.starts_with('#') {
                continue;
            }
            if has_numeric_only_marker(word) {
                let before = word.rsplit_once(' ').map_or("", |(head, _)| head);
                numeric_only.insert(before.to_string());
            }
            plain.insert(word.to_string());
        }
        NonbreakingPrefixes {
            plain,
            numeric_only,
        }
    }

    /// `prefix in NONBREAKING_PREFIXES and prefix not in NUMERIC_ONLY_PREFIXES`.
    pub(crate) fn is_plain(&self, prefix: &str) -> bool {
        self.plain.contains(prefix) && !self.numeric_only.contains(prefix)
    }

    /// `prefix in NUMERIC_ONLY_PREFIXES`.
    pub(crate) fn is_numeric_only(&self, prefix: &str) -> bool {
        self.numeric_only.contains(prefix)
    }
}

/// `re.search(r"\s\#NUMERIC_ONLY\#", w)` (`MosesTokenizer.has_numeric_only`).
fn has_numeric_only_marker(word: &str) -> bool {
    word.match_indices("#NUMERIC_ONLY#")
        .any(|(i, _)| word[..i].chars().next_back().is_some_and(is_py_space))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_languages_fall_back_to_english() {
        // Checked against sacremoses 0.2.0: MosesTokenizer("mk"|"sq"|"xx").NONBREAKING_PREFIXES
        // == MosesTokenizer("en").NONBREAKING_PREFIXES.
        assert_eq!(prefix_list_language("mk"), "en");
        assert_eq!(prefix_list_language("sq"), "en");
        assert_eq!(prefix_list_language("xx"), "en");
        assert_eq!(prefix_list_language("fr"), "fr");
        assert_eq!(prefix_list_language("german"), "de");
        assert_eq!(prefix_list_language("EN"), "en");
    }

    #[test]
    fn english_list_matches_sacremoses_sets() {
        let en = NonbreakingPrefixes::for_language("en");
        // MosesTokenizer("en").NUMERIC_ONLY_PREFIXES == ['No', 'Art', 'pp']
        let mut numeric: Vec<_> = en.numeric_only.iter().cloned().collect();
        numeric.sort();
        assert_eq!(numeric, ["Art", "No", "pp"]);
        assert!(en.is_plain("Mr") && en.is_plain("A") && en.is_plain("e.g"));
        assert!(!en.is_plain("No") && en.is_numeric_only("No"));
        assert!(en.plain.contains("No #NUMERIC_ONLY#"));
        assert!(!en.is_plain("house"));
        assert_eq!(en.plain.len(), 105);
    }

    #[test]
    fn every_embedded_file_parses() {
        for (code, _) in PREFIX_FILES.iter() {
            let p = NonbreakingPrefixes::for_language(code);
            assert!(!p.plain.is_empty(), "{code}");
        }
        let pl = NonbreakingPrefixes::for_language("pl");
        assert!(pl.is_numeric_only("nr") && pl.is_numeric_only("pkt"));
    }
}
