//! Why a report could not be built. A result that cannot be read inside a report (a
//! history file gone, references that differ between rows) is a warning in the report,
//! not an error: the rest of the report still stands.

/// Errors of `results`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ResultsError {
    /// Planning against the cache failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Cache(#[from] crate::cache::CacheError),
    /// A report file could not be written.
    #[error("failed to {action} `{path}`")]
    #[diagnostic(code(unmt::report::io))]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: std::path::PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// The JSON report could not be encoded.
    #[error("failed to encode the JSON report")]
    Json(#[from] serde_json::Error),
}
