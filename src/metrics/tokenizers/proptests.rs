//! Property tests on random Unicode text for the tokenizers.
use proptest::prelude::*;

use super::Tokenizer;
use crate::metrics::text::{py_isspace, py_split};

fn well_formed(s: &str) -> bool {
    !s.starts_with(' ')
        && !s.ends_with(' ')
        && !s.contains("  ")
        && !s.chars().any(|c| py_isspace(c) && c != ' ')
}

proptest! {
    #[test]
    fn regex_tokenizers_output_single_spaced(s in "\\PC{0,40}|[ a-z0-9.,\\-&;<>\"'()$€„“]{0,40}") {
        for t in [Tokenizer::Tok13a, Tokenizer::Intl] {
            let out = t.tokenize(&s);
            prop_assert!(well_formed(&out), "{t:?} {s:?} -> {out:?}");
        }
    }

    #[test]
    fn intl_only_inserts_spaces(s in "\\PC{0,40}") {
        // (Not idempotent: sacrebleu's regex passes consume character pairs, e.g.
        // `"@7` -> `" @7` -> `" @ 7`, so a second pass can split further.)
        let out = Tokenizer::Intl.tokenize(&s);
        let strip = |x: &str| x.chars().filter(|c| !py_isspace(*c)).collect::<String>();
        prop_assert_eq!(strip(&out), strip(&s));
    }

    #[test]
    fn tok13a_preserves_non_space_characters(s in "[ a-zA-Z0-9.,\\-()!?:;'/@#%+=*]{0,40}") {
        // Without entities or <skipped>, 13a only inserts/collapses spaces.
        let out = Tokenizer::Tok13a.tokenize(&s);
        let strip = |x: &str| x.chars().filter(|c| !py_isspace(*c)).collect::<String>();
        prop_assert_eq!(strip(&out), strip(&s));
    }

    #[test]
    fn char_tokens_are_the_code_points(s in "\\PC{0,40}") {
        let out = Tokenizer::Char.tokenize(&s);
        let expected: Vec<String> = s.chars().filter(|c| !py_isspace(*c)).map(String::from).collect();
        let got: Vec<&str> = py_split(&out).collect();
        prop_assert_eq!(got, expected);
        prop_assert_eq!(out.chars().count(), (2 * s.chars().count()).saturating_sub(1));
    }

    #[test]
    fn none_tokenizer_is_identity(s in "\\PC{0,40}") {
        prop_assert_eq!(Tokenizer::None.tokenize(&s), s);
    }
}
