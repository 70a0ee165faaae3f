//! Errors of the Moses preprocessing stage.

/// Everything that can go wrong while tokenizing or detokenizing.
///
/// Messages follow the crate convention (ARCHITECTURE.md, "Errors").
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum MosesError {
    /// A line is not valid UTF-8.
    #[error("failed to decode `{path}` line {line}: invalid UTF-8")]
    #[diagnostic(help("the corpus stage filters such lines; re-encode the file as UTF-8"))]
    InvalidUtf8 {
        /// Input file (`-` for standard input).
        path: String,
        /// 1-based line number.
        line: u64,
    },
    /// Reading the input failed.
    #[error("failed to read `{path}`")]
    Read {
        /// Input file (`-` for standard input).
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing the output failed.
    #[error("failed to write `{path}`")]
    Write {
        /// Output file (`-` for standard output).
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The language needs CJK character classes that this port does not carry.
    #[error(
        "failed to tokenize language `{lang}`: sacremoses adds CJK letter classes for zh/ja/ko/cjk, which this port does not implement"
    )]
    UnsupportedLanguage {
        /// The requested language.
        lang: String,
    },
    /// A parameter is out of range.
    #[error(transparent)]
    InvalidParam(#[from] crate::validate::InvalidParam),
    /// The worker thread pool could not be built.
    #[error("failed to build a pool of {threads} worker threads")]
    ThreadPool {
        /// Requested thread count.
        threads: usize,
        /// The rayon error.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
}
