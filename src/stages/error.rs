//! Errors a stage run can end with.

use std::path::{Path, PathBuf};

/// Why a stage failed. The executor records it with the node's log; it never aborts
/// unrelated nodes. Library errors keep their type (and their diagnostics): each has a
/// transparent variant, so a stage writes `?` and the message is the library's own.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StageError {
    /// Reading or writing a file failed.
    #[error("failed to {action} `{path}`")]
    Io {
        /// What was being done ("read", "create", ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A slot that takes one file got another number of files.
    #[error("failed to bind input slot `{slot}` of node `{node}`: expected one file, got {found}")]
    InputArity {
        /// The node.
        node: String,
        /// The slot.
        slot: String,
        /// Files bound.
        found: usize,
    },
    /// A required input slot is not bound for these parameters.
    #[error("failed to start: {requirement} needs a `{slot}` input")]
    MissingInput {
        /// The slot.
        slot: &'static str,
        /// The parameter setting that needs it, e.g. `mode = "supervised"`.
        requirement: &'static str,
    },
    /// A text input has a line that is not valid UTF-8.
    #[error("failed to decode `{path}` line {line}: invalid UTF-8")]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// An input is too small for the parameters.
    #[error("failed to split `{path}`: {usable} usable lines, fewer than valid + test = {held}")]
    TooFewLines {
        /// The corpus.
        path: PathBuf,
        /// Lines that passed the filters.
        usable: u64,
        /// Lines requested for valid + test.
        held: u64,
    },
    /// Training finished without a single epoch (nothing to report).
    #[error("failed to report the training: it ran no epoch")]
    NoEpoch,
    /// The node's worker thread pool could not be built.
    #[error("failed to build a pool of {threads} worker threads")]
    ThreadPool {
        /// Requested threads.
        threads: usize,
        /// rayon's error.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    /// An external program could not be started.
    #[error("failed to start `{program}`")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An external program failed or broke its contract.
    #[error("failed to run `{program}`: {reason}")]
    Command {
        /// The program (empty when the command line is empty).
        program: String,
        /// What happened (exit status and last stderr line, or the missing output).
        reason: String,
    },
    /// A `command` argument has a bad placeholder.
    #[error("failed to expand argument `{arg}`: {reason}")]
    Placeholder {
        /// The argument as written.
        arg: String,
        /// What is wrong.
        reason: String,
    },
    /// Parameters out of range (normally caught when the recipe is checked).
    #[error(transparent)]
    Params(#[from] crate::validate::InvalidParam),
    /// Moses tokenization.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Moses(#[from] crate::text::moses::MosesError),
    /// BPE learning, application, codes and vocabularies.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Bpe(#[from] crate::text::bpe::BpeError),
    /// XLM dictionaries.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Dictionary(#[from] crate::text::dictionary::DictionaryError),
    /// Binarized datasets.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Binarized(#[from] crate::text::binarized::BinarizedError),
    /// Skip-gram training and export.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Skipgram(#[from] crate::embed::skipgram::SkipgramError),
    /// `.vec` files.
    #[error(transparent)]
    #[diagnostic(transparent)]
    VecFormat(#[from] crate::embed::vec_format::VecFormatError),
    /// VecMap.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Vecmap(#[from] crate::embed::vecmap::VecmapError),
    /// BLI and dictionaries of word pairs.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Bli(#[from] crate::embed::bli::BliError),
    /// Scoring.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
    /// Masked-LM training.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Mlm(#[from] crate::train::job::JobError),
    /// UNMT training.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Unmt(#[from] crate::train::unmt::UnmtJobError),
    /// Translating failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Translate(#[from] crate::train::unmt::TranslateError),
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

/// Writes `value` as pretty JSON to `path` (a stage's summary or report output).
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), StageError> {
    let json = serde_json::to_vec_pretty(value).map_err(std::io::Error::other);
    json.and_then(|j| std::fs::write(path, j))
        .ctx("write", path)
}

/// Renders an error and its causes as one line, `message: cause: cause`: how stage failures
/// appear in logs, run summaries and JSON events.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}
