//! The top-level error: everything a command can fail with, rendered once by `main`.
//!
//! Library errors keep their own type, and with it their diagnostics (codes, help): each has
//! a transparent variant here instead of being boxed as `dyn Error`. The message convention
//! (ARCHITECTURE.md, "Errors") holds for every enum in the crate; a test below checks the
//! one rule a compiler cannot: no message repeats its own cause.

use crate::cache::CacheError;
use crate::recipe::RecipeDiagnostics;

/// Exit code of a command that ran and whose nodes all succeeded.
pub const EXIT_OK: i32 = 0;
/// Exit code of `unmt run` when a node failed (the others ran or were skipped).
pub const EXIT_NODE_FAILED: i32 = 1;
/// Exit code of a command that could not do its work (bad recipe, bad input, I/O).
pub const EXIT_ERROR: i32 = 2;

/// Errors of `unmt` commands. Stage failures are not errors of the command: they are
/// reported as events and in the summary, and give [`EXIT_NODE_FAILED`].
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    /// The recipe is invalid.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Recipe(#[from] RecipeDiagnostics),
    /// The cache failed, or has nothing for `show`.
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
    /// `unmt stages KIND` with an unknown kind.
    #[error("no stage kind named `{kind}`")]
    #[diagnostic(code(unmt::stage))]
    UnknownStage {
        /// The name given.
        kind: String,
        /// "did you mean" or the list of kinds.
        #[help]
        help: Option<String>,
    },
    /// `gc` while runs use the cache.
    #[error("the cache `{cache}` is in use by a running `unmt run`")]
    #[diagnostic(
        code(unmt::gc::busy),
        help("rerun `gc` when it has finished, or with `--wait` to wait for it")
    )]
    CacheInUse {
        /// The cache directory.
        cache: std::path::PathBuf,
    },
    /// A file could not be read or written.
    #[error("failed to {action} `{path}`")]
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
    /// `unmt report`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Results(#[from] crate::results::ResultsError),
    /// JSON output could not be encoded.
    #[error("failed to encode JSON output")]
    Json(#[from] serde_json::Error),
    /// `--params` / `--set` of a command.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Params(#[from] crate::stages::ParamsArgError),
    /// `unmt tokenize`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Moses(#[from] crate::text::moses::MosesError),
    /// `unmt bpe`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Bpe(#[from] crate::text::bpe::BpeError),
    /// `unmt skipgram`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Skipgram(#[from] crate::embed::skipgram::SkipgramError),
    /// `unmt vecmap`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Vecmap(#[from] crate::embed::vecmap::VecmapError),
    /// `unmt binarize`: the dictionary built from its vocabulary.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Dictionary(#[from] crate::text::dictionary::DictionaryError),
    /// `unmt binarize`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Binarized(#[from] crate::text::binarized::BinarizedError),
    /// `unmt bli`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Bli(#[from] crate::embed::bli::BliError),
    /// `unmt score`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
    /// `unmt train-mlm`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Mlm(#[from] crate::train::job::JobError),
    /// `unmt train-unmt`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Unmt(#[from] crate::train::unmt::UnmtJobError),
    /// `unmt translate`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Translate(#[from] crate::train::unmt::TranslateError),
    /// `--partition` / `--account` without `--executor slurm`.
    #[error("`--partition` and `--account` are taken only with `--executor slurm`")]
    #[diagnostic(code(unmt::args))]
    SlurmOnly,
    /// `unmt exec-node`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Job(#[from] crate::exec::JobError),
    /// `unmt translate --model DIR` with `--vocab` or `--codes`.
    #[error("`--vocab` and `--codes` are not taken with model directory `{dir}`")]
    #[diagnostic(
        code(unmt::args),
        help("a model directory carries its own vocabulary and codes")
    )]
    ModelDirArgs {
        /// The directory.
        dir: std::path::PathBuf,
    },
    /// `unmt translate --model FILE` without `--vocab` and `--codes`.
    #[error(
        "`{model}` is a checkpoint file, not a model directory: `--vocab` and `--codes` are needed"
    )]
    #[diagnostic(
        code(unmt::args),
        help("or export the node as a model directory: `unmt export NODE DIR`")
    )]
    CheckpointNeedsFiles {
        /// The checkpoint.
        model: std::path::PathBuf,
    },
    /// `unmt export`, or `unmt translate --model DIR`.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Bundle(#[from] crate::train::unmt::bundle::BundleError),
    /// `unmt export` / `unmt translate --node`: the node's model files in the cache.
    #[error(transparent)]
    #[diagnostic(transparent)]
    ModelFiles(#[from] crate::plan::ModelFilesError),
}

impl Error {
    /// The process exit code for this error: the one place that decides it.
    pub fn exit_code(&self) -> i32 {
        EXIT_ERROR
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every error format string in the crate (the literal of each error attribute).
    fn error_messages() -> Vec<(String, String)> {
        fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
            for entry in std::fs::read_dir(dir).expect("list src") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&path).expect("read");
                    let mut rest = text.as_str();
                    while let Some(i) = rest.find("#[error(") {
                        rest = &rest[i + "#[error(".len()..];
                        let body = rest.trim_start();
                        if let Some(lit) = body.strip_prefix('"') {
                            let end = lit.find("\")").or_else(|| lit.find("\",")).unwrap_or(0);
                            out.push((path.display().to_string(), lit[..end].to_owned()));
                        }
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
        out
    }

    #[test]
    fn no_message_embeds_its_source() {
        let messages = error_messages();
        assert!(
            messages.len() > 50,
            "found only {} messages",
            messages.len()
        );
        let doubled: Vec<_> = messages
            .iter()
            .filter(|(_, m)| m.contains("{source}") || m.contains("{0}") && m.contains("failed to"))
            .collect();
        assert!(
            doubled.is_empty(),
            "messages that repeat their cause: {doubled:#?}"
        );
    }

    #[test]
    fn messages_are_lowercase_fragments() {
        let bad: Vec<_> = error_messages()
            .into_iter()
            .filter(|(_, m)| m.chars().next().is_some_and(char::is_uppercase) || m.ends_with('.'))
            .collect();
        assert!(bad.is_empty(), "messages not in the convention: {bad:#?}");
    }

    #[test]
    fn the_chain_shows_each_cause_once() {
        let e = crate::stages::StageError::Io {
            action: "read",
            path: "a.txt".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        };
        assert_eq!(
            crate::stages::error_chain(&e),
            "failed to read `a.txt`: no such file"
        );
    }
}
