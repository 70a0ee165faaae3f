//! fastBPE-compatible byte-pair encoding: learning merges, reading/writing codes files,
//! applying codes (with optional vocabulary restriction) and extracting vocabularies.
//!
//! Port of glample/fastBPE (`fastBPE/fastBPE.hpp`, functions `readText`, `tokenize`,
//! `count_in_word`, `learnbpe`, `readCodes`, `readVocab`, `process_bpe`, `limitVocab`,
//! `decompose`, `applybpe`, `getvocab`). Outputs use fastBPE's formats so that files can be
//! exchanged with the reference tool; the one deliberate difference is the tie-break among pairs
//! with equal counts during learning (see [`learn`]), which fastBPE leaves to hash-map order.

pub mod apply;
pub mod codes;
pub mod error;
mod fxhash;
pub mod learn;
pub mod vocab;
pub mod words;

pub use apply::{ApplyStats, BpeApplier, apply_file, apply_stream, undo_bpe};
pub use codes::{Codes, Merge};
pub use error::BpeError;
pub use learn::{LearnParams, learn_bpe, learn_from_counts};
pub use vocab::{Vocab, get_vocab};
pub use words::{WordCounts, count_words};

/// Suffix fastBPE appends to the last character of every word (`kEndWord`).
pub const END_WORD: &str = "</w>";
/// Continuation marker fastBPE appends to every non-final subword (`kTokenDelim`).
pub const TOKEN_DELIM: &str = "@@";

/// The only two bytes that separate words in fastBPE (`readText`): tabs, `\r` and other
/// whitespace are part of words.
#[inline]
pub(crate) fn is_word_delim(b: u8) -> bool {
    b == b' ' || b == b'\n'
}
