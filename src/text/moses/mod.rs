//! Moses text preprocessing as XLM runs it: punctuation normalisation, tokenization and
//! (for scoring) detokenization.
//!
//! A fast port of sacremoses 0.2.0 (hplt-project/sacremoses, MIT; `sacremoses/normalize.py`,
//! `sacremoses/tokenize.py`, `sacremoses/corpus.py`), which is itself a port of Moses'
//! perl scripts (moses-smt/mosesdecoder `scripts/tokenizer/`, LGPL-2.1). XLM
//! (`get-data-nmt.sh`) pipes every line through replace-unicode-punctuation ->
//! normalize-punctuation `-l L` -> remove-non-printing-char -> tokenizer `-l L -no-escape`;
//! [`MosesPipeline`] is that chain with sacremoses' semantics:
//!
//! ```text
//! MosesTokenizer(L).tokenize(
//!     MosesPunctNormalizer(L, pre_replace_unicode_punct=True,
//!                          post_remove_control_chars=True).normalize(line),
//!     escape=False, return_str=True, aggressive_dash_splits=False)
//! ```
//!
//! [`MosesDetokenizer`] is `MosesDetokenizer(L).detokenize(line.split(), return_str=True)`.
//!
//! Instead of sacremoses' ~100 sequential regex passes, each rule is a hand-written scan
//! that is skipped when its trigger character is absent; the character classes are probed
//! from sacremoses itself (`char_tables.rs`). Known differences from sacremoses:
//! `protected_patterns` and the zh/ja/ko/cjk tokenizer classes are not ported (rejected with
//! an error), and the Czech `-li` detokenizer rule, which raises `TypeError` in
//! sacremoses, glues the dash as detokenizer.perl does.

mod char_tables;
mod chars;
mod detokenize;
mod error;
mod normalize;
mod params;
mod pipeline;
mod prefixes;
mod rewrite;
mod stream;
mod tokenize;

pub use detokenize::MosesDetokenizer;
pub use error::MosesError;
pub use normalize::MosesPunctNormalizer;
pub use params::{MosesParams, validate_lang};
pub use pipeline::MosesPipeline;
pub use prefixes::prefix_list_language;
pub use stream::{
    CHUNK_BYTES, CHUNK_LINES, Stats, detokenize_file, detokenize_stream, tokenize_file,
    tokenize_stream,
};
pub use tokenize::{CJK_TOKENIZER_LANGUAGES, MosesTokenizer};
