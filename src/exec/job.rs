//! The unit of work: one node's stage run, as data that can cross a process boundary.
//!
//! The scheduler owns the cache: it takes the key's lock, makes the attempt directory,
//! writes a [`NodeJob`] and publishes the outputs once a runner reports success. A runner
//! only executes the job, in this process ([`run_job`]) or in another one (`unmt exec-node
//! JOB.json`, which calls [`exec_node`]), and reports what happens as [`JobMessage`]s. So a
//! stage behaves the same under every runner: it sees a `StageCtx` built from the job alone.
//! This is nextest's shape: the dispatcher is the source of truth, units of work are packets.

use std::collections::BTreeMap;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::stages::{DynStage, Placement, ResolvedParams, Resources, StageCtx};

/// The job file format; `exec-node` refuses other versions.
pub const JOB_FORMAT: u32 = 1;

/// Everything a stage run needs, with absolute paths on storage the runner shares with the
/// scheduler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeJob {
    /// [`JOB_FORMAT`].
    pub format: u32,
    /// Node name (messages, logs).
    pub node: String,
    /// The node key being computed (logs, Slurm job names).
    pub key: String,
    /// Stage kind.
    pub stage: String,
    /// The stage's code version when the job was written: a runner whose binary has another
    /// refuses the job, as its result would not be the key's.
    pub code_version: u32,
    /// Every parameter, defaults included.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Input paths by slot.
    pub inputs: BTreeMap<String, Vec<PathBuf>>,
    /// Where the outputs go.
    pub out_dir: PathBuf,
    /// The key's crash-surviving checkpoint directory.
    pub checkpoint_dir: PathBuf,
    /// The attempt's log (appended to).
    pub log: PathBuf,
    /// What the stage declared it needs.
    pub resources: Resources,
    /// Threads and GPU the scheduler assigned.
    pub placement: Placement,
}

/// What a running job reports; `exec-node` writes one per line on its stdout, the last one
/// [`JobMessage::Finished`] or [`JobMessage::Failed`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum JobMessage {
    /// Progress of the stage.
    Progress {
        /// Units done.
        done: u64,
        /// Units in total (0 when unknown).
        total: u64,
    },
    /// A one-line status.
    Status {
        /// The line.
        message: String,
    },
    /// The result may be meaningless.
    Warning {
        /// The warning.
        message: String,
    },
    /// The stage succeeded; its outputs are in `out_dir`.
    Finished {
        /// The metrics it recorded.
        metrics: BTreeMap<String, f64>,
    },
    /// The stage failed; the log says more.
    Failed {
        /// The error chain.
        error: String,
    },
}

/// Runs `job` in this process with already resolved parameters; messages other than the
/// outcome go to `sink`. Panics are caught and reported as failures.
pub fn run_job(
    stage: &dyn DynStage,
    params: &ResolvedParams,
    job: &NodeJob,
    sink: &(dyn Fn(JobMessage) + Sync),
) -> Result<BTreeMap<String, f64>, String> {
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&job.log)
        .map_err(|e| format!("failed to open `{}`: {e}", job.log.display()))?;
    let progress = |done: u64, total: u64| sink(JobMessage::Progress { done, total });
    let status = |message: &str| {
        sink(JobMessage::Status {
            message: message.to_owned(),
        });
    };
    let warn = |message: &str| {
        sink(JobMessage::Warning {
            message: message.to_owned(),
        });
    };
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut ctx = StageCtx::new(
            &job.node,
            &job.inputs,
            &job.out_dir,
            &job.checkpoint_dir,
            &mut log,
            &progress,
            job.placement,
        )
        .with_status(&status)
        .with_warnings(&warn);
        stage.run(params, &mut ctx).map(|()| ctx.into_metrics())
    }));
    match result {
        Ok(Ok(metrics)) => Ok(metrics),
        Ok(Err(e)) => {
            let msg = crate::stages::error_chain(&e);
            let _ = writeln!(log, "error: {msg}");
            Err(msg)
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(format!("stage `{}` panicked: {what}", stage.kind()))
        }
    }
}

/// Why a job file could not be run at all (as opposed to a stage that failed).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum JobError {
    /// Unreadable job file.
    #[error("failed to read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not a job file.
    #[error("failed to parse `{path}` as a node job")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// Written by another job format.
    #[error("`{path}` has job format {found}, this unmt reads format {JOB_FORMAT}")]
    #[diagnostic(help("run the same unmt binary on the submitting and the executing side"))]
    Format {
        /// The file.
        path: PathBuf,
        /// Its format.
        found: u32,
    },
    /// A stage kind this binary does not know.
    #[error("no stage kind `{kind}` in this unmt")]
    UnknownStage {
        /// The kind.
        kind: String,
    },
    /// The binary's stage code differs from the submitter's.
    #[error("stage `{kind}` has code version {here} in this unmt, the job was written for {job}")]
    #[diagnostic(help(
        "its result would not be the one the node key names: run the same unmt binary on the submitting and the executing side"
    ))]
    CodeVersion {
        /// The kind.
        kind: String,
        /// This binary's version.
        here: u32,
        /// The job's.
        job: u32,
    },
    /// The parameters do not deserialize or validate.
    #[error("failed to resolve the parameters of node `{node}`")]
    Params {
        /// The node.
        node: String,
        /// Why.
        #[source]
        source: crate::stages::ParamsError,
    },
}

/// Reads a job file and resolves its stage and parameters.
pub fn load_job(path: &Path) -> Result<(NodeJob, &'static dyn DynStage, ResolvedParams), JobError> {
    let bytes = std::fs::read(path).map_err(|source| JobError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let job: NodeJob = serde_json::from_slice(&bytes).map_err(|source| JobError::Parse {
        path: path.to_path_buf(),
        source,
    })?;
    if job.format != JOB_FORMAT {
        return Err(JobError::Format {
            path: path.to_path_buf(),
            found: job.format,
        });
    }
    let stage = crate::stages::find(&job.stage).ok_or_else(|| JobError::UnknownStage {
        kind: job.stage.clone(),
    })?;
    if stage.code_version() != job.code_version {
        return Err(JobError::CodeVersion {
            kind: job.stage.clone(),
            here: stage.code_version(),
            job: job.code_version,
        });
    }
    let params = stage
        .resolve_json(&job.params)
        .map_err(|source| JobError::Params {
            node: job.node.clone(),
            source,
        })?;
    Ok((job, stage, params))
}

/// `unmt exec-node JOB.json`: runs the job, writing [`JobMessage`]s as JSON lines to `out`
/// and ending with its outcome. A stage failure is a message, not an error: the error is
/// only for a job that could not be started.
pub fn exec_node(path: &Path, out: &mut (dyn Write + Send)) -> Result<(), JobError> {
    let (job, stage, params) = load_job(path)?;
    let out = std::sync::Mutex::new(out);
    let send = |m: &JobMessage| {
        if let Ok(line) = serde_json::to_string(m)
            && let Ok(mut o) = out.lock()
        {
            // The submitter reads line by line; a lost pipe means it is gone.
            let _ = writeln!(o, "{line}");
            let _ = o.flush();
        }
    };
    let outcome = run_job(stage, &params, &job, &|m| send(&m));
    send(&match outcome {
        Ok(metrics) => JobMessage::Finished { metrics },
        Err(error) => JobMessage::Failed { error },
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_resolves_its_default_parameters_from_json() {
        // The job carries `full` parameters as JSON: each kind must read back what it wrote.
        for stage in crate::stages::registry() {
            let resolved = stage.resolve(toml::Spanned::new(
                0..0,
                toml::de::DeValue::Table(Default::default()),
            ));
            let Ok(resolved) = resolved else {
                continue; // kinds with required parameters are covered by the CLI tests
            };
            let again = stage
                .resolve_json(&resolved.full)
                .unwrap_or_else(|e| panic!("{}: {e}", stage.kind()));
            assert_eq!(again.full, resolved.full, "{}", stage.kind());
            assert_eq!(again.canonical, resolved.canonical, "{}", stage.kind());
        }
    }

    #[test]
    fn messages_are_one_tagged_json_object_per_line() {
        let m = JobMessage::Progress { done: 3, total: 7 };
        let line = serde_json::to_string(&m).unwrap();
        assert_eq!(line, r#"{"msg":"progress","done":3,"total":7}"#);
        assert_eq!(serde_json::from_str::<JobMessage>(&line).unwrap(), m);
    }
}
