//! The per-line chain: normalise punctuation, then tokenize.

use super::error::MosesError;
use super::normalize::MosesPunctNormalizer;
use super::params::MosesParams;
use super::tokenize::MosesTokenizer;
use crate::validate::Validate;

/// XLM's Moses chain for one language: replace-unicode-punctuation ->
/// normalize-punctuation -> remove-non-printing-char -> tokenizer (see [`MosesParams`]).
///
/// Equivalent to sacremoses'
/// `MosesTokenizer(lang).tokenize(MosesPunctNormalizer(lang, pre_replace_unicode_punct=True,
/// post_remove_control_chars=True).normalize(line), escape=False, return_str=True,
/// aggressive_dash_splits=False)` with the default parameters.
#[derive(Debug, Clone)]
pub struct MosesPipeline {
    normalizer: MosesPunctNormalizer,
    tokenizer: MosesTokenizer,
}

impl MosesPipeline {
    /// XLM's chain (default [`MosesParams`]) for `lang`.
    pub fn new(lang: &str) -> Result<Self, MosesError> {
        Self::from_params(&MosesParams::for_language(lang))
    }

    /// The chain described by `params` (validated first).
    pub fn from_params(params: &MosesParams) -> Result<Self, MosesError> {
        params.validate()?;
        let tokenizer =
            MosesTokenizer::new(&params.lang, params.escape, params.aggressive_dash_splits)
                .ok_or_else(|| MosesError::UnsupportedLanguage {
                    lang: params.lang.clone(),
                })?;
        let normalizer = MosesPunctNormalizer::with_stages(
            &params.lang,
            params.replace_unicode_punct,
            params.normalize_punct,
            params.remove_non_printing,
        );
        Ok(MosesPipeline {
            normalizer,
            tokenizer,
        })
    }

    /// Normalises and tokenizes one line (without its line break); tokens are separated
    /// by single spaces.
    pub fn tokenize_line(&self, line: &str) -> String {
        if self.normalizer.is_enabled() {
            self.tokenizer.tokenize(&self.normalizer.normalize(line))
        } else {
            self.tokenizer.tokenize(line)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::moses::MosesDetokenizer;
    use proptest::prelude::*;

    // Expected values from sacremoses 0.2.0 (normalizer + tokenizer as documented above).
    #[test]
    fn whole_chain_examples() {
        let en = MosesPipeline::new("en").unwrap();
        assert_eq!(
            en.tokenize_line("“It’s fine,” he said — really…"),
            "\" It 's fine , \" he said - really ..."
        );
        assert_eq!(
            en.tokenize_line("Cost: 5\u{a0}000 €(approx.)"),
            "Cost : 5.000 € ( approx . )"
        );
        let mk = MosesPipeline::new("mk").unwrap();
        assert_eq!(
            mk.tokenize_line("„Ова е тест“, рече д-р Петров."),
            "\" Ова е тест \" , рече д-р Петров ."
        );
        let sq = MosesPipeline::new("sq").unwrap();
        assert_eq!(
            sq.tokenize_line("Ai tha: \"Po, s'ka problem!\""),
            "Ai tha : \" Po , s ' ka problem ! \""
        );
    }

    /// Lines of a file under `examples/data` (split on `\n` only).
    fn data_lines(name: &str) -> Vec<String> {
        let path = format!("{}/examples/data/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        text.split_terminator('\n').map(str::to_string).collect()
    }

    /// examples/data/L.setimes.200.{tok,detok} are sacremoses 0.2.0's outputs for the first
    /// 200 lines of examples/data/L.setimes.txt (tests/parity/gen_moses_goldens.py).
    #[test]
    fn setimes_samples_match_sacremoses_goldens() {
        for lang in ["en", "mk", "sq"] {
            let pipeline = MosesPipeline::new(lang).unwrap();
            let detok = MosesDetokenizer::new(lang);
            let raw = data_lines(&format!("{lang}.setimes.txt"));
            let tok = data_lines(&format!("{lang}.setimes.200.tok"));
            let back = data_lines(&format!("{lang}.setimes.200.detok"));
            assert_eq!(tok.len(), 200);
            for ((line, want_tok), want_back) in raw.iter().zip(&tok).zip(&back) {
                let got = pipeline.tokenize_line(line);
                assert_eq!(&got, want_tok, "{lang} tokenize {line:?}");
                assert_eq!(
                    &detok.detokenize_line(&got),
                    want_back,
                    "{lang} detokenize {got:?}"
                );
            }
        }
    }

    /// sacremoses test_tokenizer.py test_detokenize_with_aggressive_split and
    /// test_moses_detokenize: the detokenizer undoes ` @-@ ` and XML escaping.
    #[test]
    fn detokenizer_undoes_dash_splits_and_escaping() {
        let params = MosesParams {
            escape: true,
            aggressive_dash_splits: true,
            ..MosesParams::for_language("en")
        };
        let escaping = MosesPipeline::from_params(&params).unwrap();
        let plain = MosesPipeline::new("en").unwrap();
        let detok = MosesDetokenizer::new("en");
        assert_eq!(escaping.tokenize_line("foo-bar"), "foo @-@ bar");
        assert_eq!(
            detok.detokenize_line(&escaping.tokenize_line("foo-bar")),
            "foo-bar"
        );
        let line = "This ain't funny. It's actually hillarious, yet double Ls. | [] < > [ ] & You're gonna shake it off? Don't?";
        let escaped = escaping.tokenize_line(line);
        assert!(
            escaped.contains("&apos;t") && escaped.contains("&#124;") && escaped.contains("&amp;")
        );
        assert_eq!(
            detok.detokenize_line(&escaped),
            detok.detokenize_line(&plain.tokenize_line(line))
        );
        // Expected value from test_moses_detokenize.
        assert_eq!(
            detok.detokenize_line(&escaped),
            "This ain't funny. It's actually hillarious, yet double Ls. | [] < > [] & You're gonna shake it off? Don't?"
        );
    }

    #[test]
    fn params_switch_stages() {
        let raw = MosesPipeline::from_params(&MosesParams {
            replace_unicode_punct: false,
            normalize_punct: false,
            remove_non_printing: false,
            ..MosesParams::for_language("en")
        })
        .unwrap();
        assert_eq!(raw.tokenize_line("“a”"), "“ a ”");
        assert!(matches!(
            MosesPipeline::new("ja"),
            Err(MosesError::InvalidParam(_))
        ));
    }

    /// A sentence Moses can restore exactly: words (Latin, Cyrillic, Albanian letters or
    /// numbers) joined by spaces or ", ", an optional parenthesised middle, and an optional
    /// final ".", "?", "!" or "...".
    fn restorable_sentence() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            "[a-zA-Z]{1,8}",
            "[а-шА-Шѓќџљњ]{1,8}",
            "[a-zëçA-ZËÇ]{1,8}",
            "[0-9]{1,4}",
        ];
        (
            prop::collection::vec((word, prop::bool::ANY), 1..12),
            prop::option::of((0usize..12, 1usize..4)),
            prop_oneof![Just(""), Just("."), Just("?"), Just("!"), Just("...")],
        )
            .prop_map(|(words, parens, end)| {
                let n = words.len();
                let (open, close) = match parens {
                    Some((start, len)) if start < n => (start, (start + len).min(n) - 1),
                    _ => (usize::MAX, usize::MAX),
                };
                let mut s = String::new();
                for (i, (w, comma)) in words.iter().enumerate() {
                    if i == open {
                        s.push('(');
                    }
                    s.push_str(w);
                    if i == close {
                        s.push(')');
                    }
                    if i + 1 < n {
                        s.push_str(if *comma { ", " } else { " " });
                    }
                }
                s.push_str(end);
                s
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Moses guarantees detokenize(tokenize(x)) == x for plain running text.
        #[test]
        fn detokenize_inverts_tokenize_on_plain_text(s in restorable_sentence(), lang in prop_oneof![Just("en"), Just("mk"), Just("sq")]) {
            let pipeline = MosesPipeline::new(lang).unwrap();
            let tok = pipeline.tokenize_line(&s);
            prop_assert_eq!(MosesDetokenizer::new(lang).detokenize_line(&tok), s);
        }

        /// Any input (controls, odd whitespace, any script) is handled without panicking and
        /// tokenizes to single-space-separated tokens (except after sacremoses' final-".'"
        /// quirk).
        #[test]
        fn arbitrary_text_never_panics(s in "\\PC*|[ \t\r\u{a0}\u{1c}\u{200b}.,'\"`()\\[\\]a-cA-Cа-в0-9…“”«»\u{7}-]{0,40}", lang in prop_oneof![Just("en"), Just("mk"), Just("sq"), Just("fr"), Just("xx")]) {
            let out = MosesPipeline::new(lang).unwrap().tokenize_line(&s);
            // sacremoses' final-".'" rule leaves a trailing space and, after an opening
            // bracket, a double one (`(.'` -> `(  . ' `); the port reproduces it on purpose.
            if !out.ends_with(". ' ") {
                prop_assert!(!out.contains("  ") && !out.starts_with(' ') && !out.ends_with(' '), "{:?}", out);
            }
            prop_assert!(!out.contains(['\t', '\r', '\n']));
            let back = MosesDetokenizer::new(lang).detokenize_line(&out);
            prop_assert!(!back.starts_with(' ') && !back.ends_with(' '));
        }
    }
}
