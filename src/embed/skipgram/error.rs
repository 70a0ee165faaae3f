//! Errors of the skip-gram trainer (one enum for the whole module).

use std::path::PathBuf;

/// Why training, export or reload of skip-gram vectors failed.
///
/// Messages follow the crate convention (ARCHITECTURE.md, "Errors").
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SkipgramError {
    /// A hyperparameter is out of range.
    #[error(transparent)]
    #[diagnostic(code(unmt::skipgram::invalid_param))]
    InvalidParam(#[from] crate::validate::InvalidParam),
    /// No input file was given.
    #[error("failed to train skip-gram: no input file given")]
    #[diagnostic(code(unmt::skipgram::no_input))]
    NoInput,
    /// Reading an input or model file failed.
    #[error("failed to read `{path}`")]
    #[diagnostic(code(unmt::skipgram::read))]
    Read {
        /// File that could not be read.
        path: PathBuf,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line of an input file is not valid UTF-8.
    #[error("failed to decode `{path}` line {line}: invalid UTF-8")]
    #[diagnostic(code(unmt::skipgram::invalid_utf8))]
    InvalidUtf8 {
        /// Offending file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
    },
    /// No word reached `min_count` (fastText: "Empty vocabulary").
    #[error(
        "failed to build the vocabulary: no word occurs at least {min_count} times; try a smaller `min_count`"
    )]
    #[diagnostic(code(unmt::skipgram::empty_vocabulary))]
    EmptyVocabulary {
        /// The `min_count` in force.
        min_count: u64,
    },
    /// The vocabulary has more words than the 32-bit ids fastText uses.
    #[error("failed to build the vocabulary: {words} words exceed the 32-bit word-id range")]
    #[diagnostic(code(unmt::skipgram::vocabulary_too_large))]
    VocabularyTooLarge {
        /// Number of distinct words kept.
        words: u64,
    },
    /// The model would not fit into the available memory.
    #[error(
        "failed to allocate the model: {dim}-d with {bucket} buckets needs {needed_gb:.1} GB, {available_gb:.1} GB available; lower `bucket` or `dim`"
    )]
    #[diagnostic(code(unmt::skipgram::out_of_memory))]
    InsufficientMemory {
        /// Embedding dimension.
        dim: usize,
        /// Number of hash buckets (formatted with thousands separators).
        bucket: String,
        /// Estimated need in GB (1e9 bytes).
        needed_gb: f64,
        /// `MemAvailable` in GB (1e9 bytes).
        available_gb: f64,
    },
    /// Writing an output file failed.
    #[error("failed to write `{path}`")]
    #[diagnostic(code(unmt::skipgram::write))]
    Write {
        /// File that could not be written.
        path: PathBuf,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A safetensors file could not be written or parsed.
    #[error("failed to process safetensors file `{path}`: {reason}")]
    #[diagnostic(code(unmt::skipgram::safetensors))]
    Safetensors {
        /// File concerned.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Training diverged (fastText: "Encountered NaN").
    #[error("failed to train skip-gram: encountered NaN; lower `lr`")]
    #[diagnostic(code(unmt::skipgram::nan))]
    NanEncountered,
    /// Vectors and word list disagree in size.
    #[error(
        "failed to build word vectors: {words} words x {dim} dims do not match {values} values"
    )]
    #[diagnostic(code(unmt::skipgram::shape))]
    ShapeMismatch {
        /// Number of words.
        words: usize,
        /// Dimension.
        dim: usize,
        /// Number of f32 values given.
        values: usize,
    },
    /// A training thread panicked (a bug, never user input).
    #[error("failed to train skip-gram: a training thread panicked")]
    #[diagnostic(code(unmt::skipgram::thread_panic))]
    ThreadPanic,
}
