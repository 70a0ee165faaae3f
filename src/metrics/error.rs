//! Errors of the metrics module.
use std::path::PathBuf;

/// Everything that can go wrong while scoring; messages follow the crate convention (ARCHITECTURE.md, "Errors").
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum MetricsError {
    /// A file could not be opened or read.
    #[error("failed to read `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not valid UTF-8.
    #[error("failed to decode `{path}` line {line}: invalid UTF-8")]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// A file (or stdin) has no lines at all.
    #[error("failed to score `{path}`: the file is empty")]
    EmptyFile {
        /// The file (`-` for stdin).
        path: PathBuf,
    },
    /// Hypothesis and reference files have different numbers of lines.
    #[error(
        "failed to score `{hyp}` ({hyp_lines} lines) against `{reference}` ({ref_lines} lines): line counts differ"
    )]
    LineCountMismatch {
        /// The hypothesis file.
        hyp: PathBuf,
        /// Its line count.
        hyp_lines: usize,
        /// The reference file.
        reference: PathBuf,
        /// Its line count.
        ref_lines: usize,
    },
    /// No reference was given.
    #[error("failed to score: at least one reference is required")]
    NoReferences,
    /// A parameter is out of range.
    #[error(transparent)]
    InvalidParam(#[from] crate::validate::InvalidParam),
    /// An option combination is unsupported.
    #[error("failed to use option {option}: {reason}")]
    InvalidOption {
        /// The option(s) concerned, e.g. `--sentence-level`.
        option: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Standard input had tab-separated systems with varying field counts.
    #[error(
        "failed to read stdin line {line}: expected {expected} tab-separated systems, found {found}"
    )]
    StdinFields {
        /// 1-based line number.
        line: usize,
        /// Fields on the first line.
        expected: usize,
        /// Fields on this line.
        found: usize,
    },
    /// Writing the output failed.
    #[error("failed to write the output")]
    Output(#[source] std::io::Error),
}
