//! Errors of the BPE module (learning, codes/vocab files, application, CLI).

use std::path::PathBuf;

/// Everything that can go wrong in [`crate::text::bpe`]. Messages follow the crate convention (ARCHITECTURE.md, "Errors").
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BpeError {
    /// A file could not be opened, mapped or read.
    #[error("failed to read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be created or written.
    #[error("failed to write `{path}`")]
    Write {
        /// The file (`-` for stdout).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A line of an input file is not valid UTF-8.
    #[error("failed to decode `{path}` line {line}: invalid UTF-8")]
    InvalidUtf8 {
        /// The file (`-` for stdin).
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// A line of a codes or vocabulary file does not have the expected format.
    #[error("failed to parse `{path}` line {line}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },
    /// A parameter is out of range.
    #[error(transparent)]
    InvalidParam(#[from] crate::validate::InvalidParam),
}

impl BpeError {
    pub(crate) fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Read {
            path: path.into(),
            source,
        }
    }
    pub(crate) fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Write {
            path: path.into(),
            source,
        }
    }
    pub(crate) fn malformed(
        path: impl Into<PathBuf>,
        line: usize,
        message: impl Into<String>,
    ) -> Self {
        Self::Malformed {
            path: path.into(),
            line,
            message: message.into(),
        }
    }
}
