//! Errors of the Moses preprocessing stage.

/// Everything that can go wrong while tokenizing or detokenizing.
///
/// Messages are lowercase and read after "failed to".
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum MosesError {
    /// A line is not valid UTF-8.
    #[error("decode line {line} of {path}: not valid UTF-8")]
    #[diagnostic(help("the corpus stage filters such lines; re-encode the file as UTF-8"))]
    InvalidUtf8 {
        /// Input file (`-` for standard input).
        path: String,
        /// 1-based line number.
        line: u64,
    },
    /// Reading the input failed.
    #[error("read {path}")]
    Read {
        /// Input file (`-` for standard input).
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing the output failed.
    #[error("write {path}")]
    Write {
        /// Output file (`-` for standard output).
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The language needs CJK character classes that this port does not carry.
    #[error(
        "tokenize language `{lang}`: sacremoses adds CJK letter classes for zh/ja/ko/cjk, which this port does not implement"
    )]
    UnsupportedLanguage {
        /// The requested language.
        lang: String,
    },
    /// A parameter is out of range.
    #[error("validate moses parameter `{field}`: {reason}")]
    InvalidParam {
        /// Parameter name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The worker thread pool could not be built.
    #[error("build a pool of {threads} worker threads")]
    ThreadPool {
        /// Requested thread count.
        threads: usize,
        /// The rayon error.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
}
