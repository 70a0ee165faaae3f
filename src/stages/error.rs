//! Errors a stage run can end with.

use std::path::{Path, PathBuf};

/// Why a stage failed. The executor records it with the node's log; it never aborts
/// unrelated nodes.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// Reading or writing a file failed.
    #[error("failed to {action} `{path}`: {source}")]
    Io {
        /// What was being done ("read", "create", ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The input is unusable (the message names the file and line).
    #[error("{0}")]
    BadInput(String),
    /// An external program failed.
    #[error("{0}")]
    Command(String),
    /// A library error from one of the stage implementations.
    #[error(transparent)]
    Library(Box<dyn std::error::Error + Send + Sync>),
}

impl StageError {
    /// Wraps an I/O error with its action and path.
    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// Wraps any library error.
    pub fn library(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Library(Box::new(e))
    }
}

/// Attaches an action and a path to `io::Result`s.
pub trait IoContext<T> {
    /// Maps the error to [`StageError::Io`].
    fn ctx(self, action: &'static str, path: &Path) -> Result<T, StageError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, action: &'static str, path: &Path) -> Result<T, StageError> {
        self.map_err(|e| StageError::io(action, path, e))
    }
}
