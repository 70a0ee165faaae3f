//! The top-level error: everything a command can fail with, rendered once by `main`.

use crate::cache::CacheError;
use crate::recipe::RecipeDiagnostics;

/// Errors of `unmt` commands. Stage failures are not errors of the command: they are
/// reported as events and in the summary, and give exit code 1.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    /// The recipe is invalid.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Recipe(#[from] RecipeDiagnostics),
    /// The cache failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Cache(#[from] CacheError),
    /// A node name that is not in the plan.
    #[error("no node named `{node}` in this plan")]
    #[diagnostic(code(unmt::node))]
    UnknownNode {
        /// The name given.
        node: String,
        /// "did you mean" or the list of nodes.
        #[help]
        help: Option<String>,
    },
    /// `show` found nothing.
    #[error("nothing in the cache matches `{what}`")]
    #[diagnostic(
        code(unmt::show),
        help("give a node name from a recipe that has run, or a key prefix (see `unmt plan`)")
    )]
    NotInCache {
        /// The name or key prefix.
        what: String,
    },
    /// A key prefix matches several objects.
    #[error("key prefix `{prefix}` is ambiguous: {matches} objects match")]
    #[diagnostic(code(unmt::show), help("give more hex digits"))]
    Ambiguous {
        /// The prefix.
        prefix: String,
        /// How many matched.
        matches: usize,
    },
    /// A file could not be read or written.
    #[error("failed to {action} `{path}`: {source}")]
    #[diagnostic(code(unmt::io))]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: std::path::PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// A library command (`tokenize`, `bpe`, `score`...) failed.
    #[error(transparent)]
    #[diagnostic(code(unmt::tool))]
    Tool(Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// Wraps the error of a library subcommand.
    pub fn tool(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Tool(Box::new(e))
    }
}
