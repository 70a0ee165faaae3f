//! SacreBLEU 2.x BLEU tokenizers (`13a`, `intl`, `char`, `none`).
//!
//! Port of sacrebleu/tokenizers/ (sacrebleu 2.6.0). Each tokenizer maps one (already
//! rstripped) line to a space-separated token string; BLEU then splits it with Python's
//! `str.split()`.
use serde::{Deserialize, Serialize};

pub mod tok_13a;
pub mod tok_char;
pub mod tok_intl;
pub mod tok_none;

/// Which tokenizer BLEU applies (sacrebleu `--tokenize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Tokenizer {
    /// mteval-v13a (sacrebleu's default).
    #[default]
    #[serde(rename = "13a")]
    Tok13a,
    /// mteval-v14 international (Unicode punctuation and symbols).
    #[serde(rename = "intl")]
    Intl,
    /// Every code point is a token.
    #[serde(rename = "char")]
    Char,
    /// No tokenization.
    #[serde(rename = "none")]
    None,
}

impl Tokenizer {
    /// Tokenize one line exactly as the sacrebleu tokenizer's `__call__`.
    pub fn tokenize(self, line: &str) -> String {
        match self {
            Tokenizer::Tok13a => tok_13a::tokenize_13a(line),
            Tokenizer::Intl => tok_intl::tokenize_intl(line),
            Tokenizer::Char => tok_char::tokenize_char(line),
            Tokenizer::None => tok_none::tokenize_none(line),
        }
    }

    /// The tokenizer's `signature()` string (used in `tok:...`).
    pub fn signature(self) -> &'static str {
        match self {
            Tokenizer::Tok13a => "13a",
            Tokenizer::Intl => "intl",
            Tokenizer::Char => "char",
            Tokenizer::None => "none",
        }
    }
}

#[cfg(test)]
mod proptests;
