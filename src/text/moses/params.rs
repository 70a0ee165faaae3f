//! Parameters of the Moses tokenization stage.

use serde::{Deserialize, Serialize};

use super::tokenize::CJK_TOKENIZER_LANGUAGES;
use crate::validate::{InvalidParam, Validate};

/// Options of the Moses normalisation + tokenization chain.
///
/// The defaults are XLM's chain (XLM `get-data-nmt.sh`; relm_unmt
/// `get_data_and_preprocess.sh`): replace-unicode-punctuation -> normalize-punctuation ->
/// remove-non-printing-char -> tokenizer `-no-escape`, as sacremoses'
/// `MosesPunctNormalizer(lang, pre_replace_unicode_punct=True,
/// post_remove_control_chars=True)` + `MosesTokenizer(lang).tokenize(escape=False,
/// aggressive_dash_splits=False)`. (sacremoses' *own* defaults differ: its tokenizer
/// escapes by default and its normaliser skips the first and last stages.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MosesParams {
    /// Language code, e.g. `en`, `mk`, `sq` (default `en`). Selects the nonbreaking prefix
    /// list (unknown languages, including `mk` and `sq`, use the English one, as in
    /// sacremoses and tokenizer.perl) and the language-specific rules (`en`: English
    /// apostrophes and `"` before `,`/`.`; `fr`/`it`: elisions; de/es/fr/cs/cz: numbers).
    pub lang: String,
    /// Run replace-unicode-punctuation first (default `true`).
    pub replace_unicode_punct: bool,
    /// Run the normalize-punctuation rules (default `true`).
    pub normalize_punct: bool,
    /// Remove non-printing characters (`\p{C}`) after normalisation (default `true`).
    pub remove_non_printing: bool,
    /// Escape `& | < > ' " [ ]` as XML entities (default `false`, i.e. `-no-escape`).
    pub escape: bool,
    /// Split hyphens between letters/digits as ` @-@ ` (tokenizer.perl `-a`; default
    /// `false`).
    pub aggressive_dash_splits: bool,
}

impl Default for MosesParams {
    fn default() -> Self {
        MosesParams {
            lang: "en".to_string(),
            replace_unicode_punct: true,
            normalize_punct: true,
            remove_non_printing: true,
            escape: false,
            aggressive_dash_splits: false,
        }
    }
}

impl MosesParams {
    /// XLM's chain for `lang`.
    pub fn for_language(lang: &str) -> Self {
        MosesParams {
            lang: lang.to_string(),
            ..MosesParams::default()
        }
    }
}

impl Validate for MosesParams {
    /// Checks the language code: 1-32 ASCII letters, digits, `-` or `_`, and not one of
    /// the CJK languages whose letter classes are not ported.
    fn validate(&self) -> Result<(), InvalidParam> {
        validate_lang(&self.lang)?;
        if CJK_TOKENIZER_LANGUAGES.contains(&self.lang.as_str()) {
            return Err(InvalidParam::new(
                "lang",
                format!(
                    "`{}`: sacremoses adds CJK letter classes for zh/ja/ko/cjk, which this port does not implement",
                    self.lang
                ),
            ));
        }
        Ok(())
    }
}

/// Shape check shared by tokenization and detokenization.
pub fn validate_lang(lang: &str) -> Result<(), InvalidParam> {
    if lang.is_empty() || lang.len() > 32 {
        return Err(InvalidParam::new(
            "lang",
            format!("expected 1 to 32 characters, got {lang:?}"),
        ));
    }
    if !lang
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(InvalidParam::new(
            "lang",
            format!("expected ASCII letters, digits, '-' or '_', got {lang:?}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_xlm_chain() {
        let p = MosesParams::default();
        assert_eq!(p.lang, "en");
        assert!(p.replace_unicode_punct && p.normalize_punct && p.remove_non_printing);
        assert!(!p.escape && !p.aggressive_dash_splits);
        assert!(p.validate().is_ok());
    }

    #[test]
    fn serde_fills_defaults_and_rejects_unknown_fields() {
        let p: MosesParams = serde_json::from_str(r#"{"lang": "mk"}"#).unwrap();
        assert_eq!(p, MosesParams::for_language("mk"));
        assert!(
            serde_json::from_str::<MosesParams>(r#"{"lang": "mk", "lowercase": true}"#).is_err()
        );
        let round: Result<MosesParams, _> =
            serde_json::to_string(&p).and_then(|s| serde_json::from_str(&s));
        assert_eq!(round.ok(), Some(p));
    }

    #[test]
    fn validate_rejects_bad_languages() {
        for bad in ["", "e n", "en/../x", &"x".repeat(33)] {
            assert!(matches!(
                MosesParams::for_language(bad).validate(),
                Err(InvalidParam { ref field, .. }) if field == "lang"
            ));
        }
        assert!(matches!(
            MosesParams::for_language("zh").validate(),
            Err(InvalidParam { ref field, .. }) if field == "lang"
        ));
        assert!(MosesParams::for_language("sq").validate().is_ok());
        assert!(MosesParams::for_language("xx").validate().is_ok());
    }
}
