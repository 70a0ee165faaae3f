//! One `unmt exec-node JOB.json` process per node, on this machine.
//!
//! The child runs in its own process group tied to this process (`stages::children`), so
//! a killed scheduler ends it too; on Ctrl-C it gets SIGTERM and its own handler stops as
//! `unmt run` would (a training stage finishes its step and writes a checkpoint), and the
//! scheduler waits for it before leaving. Its stdout carries [`JobMessage`]s as JSON lines;
//! its stderr and any other stdout line go to the node's log, so a crash beyond the stage's
//! own error handling (an abort, a signal) still leaves its trace where failed logs are kept.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::Runner;
use crate::exec::job::{JobMessage, NodeJob};
use crate::graph::GraphNode;
use crate::stages::children;

/// Runs each job as `program exec-node JOB.json`.
pub struct SubprocessRunner {
    program: PathBuf,
}

impl SubprocessRunner {
    /// A runner starting `program` (an `unmt` binary).
    pub fn new(program: PathBuf) -> Self {
        Self { program }
    }
}

impl Runner for SubprocessRunner {
    fn run(
        &self,
        _node: &GraphNode,
        job: &NodeJob,
        job_file: &Path,
        sink: &(dyn Fn(JobMessage) + Sync),
    ) -> Result<BTreeMap<String, f64>, String> {
        let open_log = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&job.log)
                .map_err(|e| format!("failed to open `{}`: {e}", job.log.display()))
        };
        let mut log = open_log()?;
        let mut cmd = Command::new(&self.program);
        cmd.arg("exec-node")
            .arg(job_file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(open_log()?));
        let mut child = children::spawn_graceful(&mut cmd)
            .map_err(|e| format!("failed to start `{}`: {e}", self.program.display()))?;
        let Some(stdout) = child.take_stdout() else {
            return Err("failed to read the output of `unmt exec-node`".to_owned());
        };
        let mut outcome = None;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            match serde_json::from_str::<JobMessage>(&line) {
                Ok(JobMessage::Finished { metrics }) => outcome = Some(Ok(metrics)),
                Ok(JobMessage::Failed { error }) => outcome = Some(Err(error)),
                Ok(message) => sink(message),
                // Something in the stage printed to stdout: keep it, in order, in the log.
                Err(_) => {
                    let _ = writeln!(log, "{line}");
                }
            }
        }
        let status = child
            .wait()
            .map_err(|e| format!("failed to wait for `unmt exec-node`: {e}"))?;
        match outcome {
            Some(result) if status.success() => result,
            Some(Err(error)) => Err(error),
            _ => Err(format!(
                "`unmt exec-node` ended ({status}) before reporting a result; see its log"
            )),
        }
    }
}
