//! Where a unit of work runs: the seam between the scheduler and execution.
//!
//! The scheduler decides what runs, when and where (slots, GPUs, keep-going, the cache); a
//! [`Runner`] only carries a [`NodeJob`] out and reports back. Every runner ends in
//! [`super::job::run_job`], so a stage's outputs do not depend on the runner (tested:
//! subprocess results are byte-identical to threads results).

pub mod slurm;
mod subprocess;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use slurm::{SlurmOptions, SlurmRunner};
pub use subprocess::SubprocessRunner;

use super::job::{JobMessage, NodeJob, run_job};
use crate::graph::GraphNode;
use crate::stages::Placement;

/// Which runner executes nodes (`unmt run --executor`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Executor {
    /// Threads of this process (the default).
    #[default]
    Threads,
    /// One `PROGRAM exec-node JOB.json` process per node.
    Subprocess {
        /// The `unmt` binary to run.
        program: PathBuf,
    },
    /// One Slurm batch job per node.
    Slurm(SlurmOptions),
}

impl Executor {
    /// The runner for this choice.
    pub fn runner(&self) -> Box<dyn Runner> {
        match self {
            Executor::Threads => Box::new(ThreadRunner),
            Executor::Subprocess { program } => Box::new(SubprocessRunner::new(program.clone())),
            Executor::Slurm(opts) => Box::new(SlurmRunner::new(opts.clone())),
        }
    }
}

/// Executes one job to its outcome, blocking; messages other than the outcome go to `sink`.
/// The job's attempt directory exists and the scheduler holds the key's lock.
pub trait Runner: Sync {
    /// The placement the job sees, from the one the scheduler assigned on this machine
    /// (a cluster job sees its own allocation).
    fn placement(&self, assigned: Placement) -> Placement {
        assigned
    }

    /// Runs `job` (`node` is the graph node it was made from, for in-process runners).
    fn run(
        &self,
        node: &GraphNode,
        job: &NodeJob,
        job_file: &std::path::Path,
        sink: &(dyn Fn(JobMessage) + Sync),
    ) -> Result<BTreeMap<String, f64>, String>;
}

/// Runs jobs on the calling thread (the scheduler gives each running node a thread).
pub struct ThreadRunner;

impl Runner for ThreadRunner {
    fn run(
        &self,
        node: &GraphNode,
        job: &NodeJob,
        _job_file: &std::path::Path,
        sink: &(dyn Fn(JobMessage) + Sync),
    ) -> Result<BTreeMap<String, f64>, String> {
        run_job(node.stage, &node.params, job, sink)
    }
}
