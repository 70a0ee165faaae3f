//! Each node as a Slurm batch job running `unmt exec-node JOB.json` against the cache on
//! shared storage (sisyphus' and Snakemake's Slurm executors work the same way).
//!
//! Decisions, and why:
//! - **Submit when ready, no `--dependency=afterok`.** A node's key hashes its parents'
//!   outputs (early cutoff: a parent that reproduces its bytes does not invalidate its
//!   children), so a child's job cannot be written before its parents are published.
//!   `afterok` would only save a queue wait, at the price of jobs for keys that may turn out
//!   cached.
//! - **The submitter holds the key's lock** for as long as the job runs, as the threads
//!   runner does, and publishes after the job reports success; the job only writes its
//!   attempt directory. So two submitters never run one key, on one host or on several sharing
//!   the cache, as long as the cache's filesystem honours `flock` across hosts (local disks,
//!   NFSv4, Lustre mounted with `flock`); the second submitter waits and then reuses.
//! - **The job's own report is the outcome.** The job's stdout (`slurm.out` in the key's
//!   partial directory) carries the [`JobMessage`] lines, read as it grows; `squeue` says when
//!   the job left the queue, and `scontrol show job` why, when it ended without an outcome
//!   (cancelled, timed out, out of memory, node failure). No accounting database is needed.
//! - **Placement:** a GPU node asks for `--gres=gpu:1` and runs on `cuda:0` of its
//!   allocation (Slurm sets `CUDA_VISIBLE_DEVICES`); its thread count is its
//!   `--cpus-per-task`.
//! - **Ctrl-C** cancels every job this process submitted ([`cancel_all`], from `main`'s
//!   handler) before leaving; the attempts stay partial, as with the other runners.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use super::Runner;
use crate::exec::job::{JobMessage, NodeJob};
use crate::graph::GraphNode;
use crate::stages::Placement;

/// Slurm jobs this process submitted and has not seen end.
static SUBMITTED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// How often the queue and the job's output are read: at first often (short jobs end in
/// about a second), then less, so a long sweep does not flood `slurmctld` with `squeue`s.
const POLL_FIRST: Duration = Duration::from_millis(100);
const POLL_MAX: Duration = Duration::from_secs(5);

/// Where and how jobs are submitted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlurmOptions {
    /// `unmt` binary the jobs run (on storage the compute nodes see).
    pub program: PathBuf,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--account`.
    pub account: Option<String>,
}

/// Runs each job with `sbatch`.
pub struct SlurmRunner {
    opts: SlurmOptions,
}

impl SlurmRunner {
    /// A runner submitting with `opts`.
    pub fn new(opts: SlurmOptions) -> Self {
        Self { opts }
    }

    fn sbatch(&self, job: &NodeJob, script: &Path, out: &Path) -> Result<String, String> {
        let mut cmd = Command::new("sbatch");
        cmd.arg("--parsable")
            .arg(format!("--job-name=unmt-{}", job.node))
            .arg(format!("--output={}", out.display()))
            .arg(format!("--error={}", job.log.display()))
            .arg("--open-mode=append")
            .arg(format!("--cpus-per-task={}", job.placement.threads.max(1)))
            .arg("--ntasks=1");
        if job.resources.gpus > 0 {
            cmd.arg(format!("--gres=gpu:{}", job.resources.gpus));
        }
        if let Some(p) = &self.opts.partition {
            cmd.arg(format!("--partition={p}"));
        }
        if let Some(a) = &self.opts.account {
            cmd.arg(format!("--account={a}"));
        }
        cmd.arg(script);
        let output = cmd
            .output()
            .map_err(|e| format!("failed to run `sbatch`: {e} (is Slurm installed here?)"))?;
        if !output.status.success() {
            return Err(format!(
                "`sbatch` refused the job of node `{}`: {}",
                job.node,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        // `--parsable`: `ID` or `ID;CLUSTER`.
        let text = String::from_utf8_lossy(&output.stdout);
        let id = text.trim().split(';').next().unwrap_or("").to_owned();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("failed to read a job id from `sbatch`: {text:?}"));
        }
        Ok(id)
    }
}

impl Runner for SlurmRunner {
    fn placement(&self, assigned: Placement) -> Placement {
        Placement {
            gpu: assigned.gpu.map(|_| 0),
            ..assigned
        }
    }

    fn run(
        &self,
        _node: &GraphNode,
        job: &NodeJob,
        job_file: &Path,
        sink: &(dyn Fn(JobMessage) + Sync),
    ) -> Result<BTreeMap<String, f64>, String> {
        let dir = job_file
            .parent()
            .ok_or_else(|| format!("job file `{}` has no directory", job_file.display()))?;
        let script = dir.join("job.sh");
        let out = dir.join("slurm.out");
        let _ = std::fs::remove_file(&out);
        let body = format!(
            "#!/bin/sh\n# unmt node `{}`, key {}\nexec {} exec-node {}\n",
            job.node,
            job.key,
            shell_quote(&self.opts.program.to_string_lossy()),
            shell_quote(&job_file.to_string_lossy()),
        );
        crate::io::write_atomic(&script, body.as_bytes())
            .map_err(|e| format!("failed to write `{}`: {e}", script.display()))?;
        let id = self.sbatch(job, &script, &out)?;
        if let Ok(mut s) = SUBMITTED.lock() {
            s.push(id.clone());
        }
        let result = follow(&id, &out, &job.log, sink);
        if let Ok(mut s) = SUBMITTED.lock() {
            s.retain(|j| j != &id);
        }
        result
    }
}

/// Reads the job's messages until it leaves the queue; its outcome, or why it has none.
fn follow(
    id: &str,
    out: &Path,
    log: &Path,
    sink: &(dyn Fn(JobMessage) + Sync),
) -> Result<BTreeMap<String, f64>, String> {
    let mut reader = LineTail::new(out);
    let mut outcome = None;
    let mut take = |lines: Vec<String>| {
        for line in lines {
            match serde_json::from_str::<JobMessage>(&line) {
                Ok(JobMessage::Finished { metrics }) => outcome = Some(Ok(metrics)),
                Ok(JobMessage::Failed { error }) => outcome = Some(Err(error)),
                Ok(message) => sink(message),
                Err(_) => append_line(log, &line),
            }
        }
        outcome.is_some()
    };
    let mut poll = POLL_FIRST;
    loop {
        let queued = in_queue(id);
        // The outcome is the job's last line: its outputs are complete once it is written
        // (the job may still be in `COMPLETING` for its epilog).
        if take(reader.read_lines()) || !queued {
            break;
        }
        std::thread::sleep(poll);
        poll = (poll * 3 / 2).min(POLL_MAX);
    }
    // The output file may land on shared storage after the job left the queue.
    for _ in 0..10 {
        if take(reader.read_lines()) {
            break;
        }
        std::thread::sleep(POLL_FIRST * 3);
    }
    match outcome {
        // A job that Slurm ended (scancel, time or memory limit) often reports its own failure
        // first (its program got SIGTERM); the failure then names Slurm's reason too.
        Some(Err(error)) => Err(match final_state(id) {
            state if ENDED_BY_SLURM.iter().any(|s| state.starts_with(s)) => {
                format!("{error} (slurm job {id}: {state})")
            }
            _ => error,
        }),
        Some(result) => result,
        None => Err(format!(
            "slurm job {id} ended ({}) before reporting a result; see its log",
            final_state(id)
        )),
    }
}

/// Job states in which Slurm, not the job's program, ended the job.
const ENDED_BY_SLURM: [&str; 7] = [
    "CANCELLED",
    "TIMEOUT",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "NODE_FAIL",
    "DEADLINE",
    "BOOT_FAIL",
];

/// Whether the job is still pending or running (`squeue` forgets it once it ended).
fn in_queue(id: &str) -> bool {
    Command::new("squeue")
        .args(["-h", "-o", "%T", "-j", id])
        .output()
        .is_ok_and(|o| o.status.success() && !String::from_utf8_lossy(&o.stdout).trim().is_empty())
}

/// `JobState` from `scontrol show job`, e.g. `CANCELLED`, `TIMEOUT`, `OUT_OF_MEMORY`.
fn final_state(id: &str) -> String {
    Command::new("scontrol")
        .args(["show", "job", id])
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .find_map(|f| f.strip_prefix("JobState=").map(str::to_owned))
        })
        .unwrap_or_else(|| "state unknown".to_owned())
}

/// Cancels every job this process submitted that has not ended; for the interrupt handler.
pub fn cancel_all() {
    let ids: Vec<String> = SUBMITTED.lock().map(|s| s.clone()).unwrap_or_default();
    if !ids.is_empty() {
        let _ = Command::new("scancel").args(&ids).status();
    }
}

fn append_line(path: &Path, line: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// Single-quotes `s` for `sh`.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Complete lines appended to a file since the last read.
struct LineTail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl LineTail {
    fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            offset: 0,
            partial: Vec::new(),
        }
    }

    fn read_lines(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return lines;
        };
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(self.offset)).is_err() || f.read_to_end(&mut buf).is_err() {
            return lines;
        }
        self.offset += buf.len() as u64;
        self.partial.extend_from_slice(&buf);
        while let Some(i) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            lines.push(String::from_utf8_lossy(&line[..i]).into_owned());
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_once_and_only_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let mut tail = LineTail::new(&path);
        assert!(tail.read_lines().is_empty()); // no file yet
        std::fs::write(&path, "one\ntw").unwrap();
        assert_eq!(tail.read_lines(), ["one"]);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"o\nthree\n").unwrap();
        assert_eq!(tail.read_lines(), ["two", "three"]);
        assert!(tail.read_lines().is_empty());
    }

    #[test]
    fn quoting_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}
