//! What the executor reports while it runs. It never prints; reporters render these.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

/// One thing that happened during a run.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run starts with this many nodes.
    Begin {
        /// Total nodes in the graph.
        total: usize,
    },
    /// A node's result was found in the cache.
    Reused {
        /// Node name.
        node: String,
        /// Its key.
        key: String,
    },
    /// Another process holds the node's lock; waiting for it.
    Waiting {
        /// Node name.
        node: String,
        /// Its key.
        key: String,
    },
    /// A node started executing.
    Started {
        /// Node name.
        node: String,
        /// Stage kind.
        stage: String,
        /// Its key.
        key: String,
    },
    /// Progress of a running node.
    Progress {
        /// Node name.
        node: String,
        /// Units done.
        done: u64,
        /// Units in total (0 when unknown).
        total: u64,
    },
    /// A running node's one-line status (e.g. training loss and throughput).
    Status {
        /// Node name.
        node: String,
        /// The status line.
        message: String,
    },
    /// A running node warns that its result may be meaningless.
    Warning {
        /// Node name.
        node: String,
        /// The warning.
        message: String,
    },
    /// A node executed and its result was published.
    Finished {
        /// Node name.
        node: String,
        /// Its key.
        key: String,
        /// Stage wall time.
        seconds: f64,
        /// Metrics it recorded.
        metrics: BTreeMap<String, f64>,
    },
    /// A node failed; nothing was published for it.
    Failed {
        /// Node name.
        node: String,
        /// The error.
        error: String,
        /// Where its log was kept.
        log: Option<PathBuf>,
    },
    /// A node was not run.
    Blocked {
        /// Node name.
        node: String,
        /// Why.
        reason: String,
    },
}

/// The end-of-run summary (`run --json` ends with `{"summary": ...}`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    /// Nodes that executed, in completion order.
    pub executed: Vec<String>,
    /// Nodes reused from the cache.
    pub reused: Vec<String>,
    /// Nodes that failed.
    pub failed: Vec<String>,
    /// Nodes not run (upstream failed or blocked, or stopped after a failure).
    pub blocked: Vec<String>,
    /// Metrics of every executed or reused node that has any.
    pub metrics: BTreeMap<String, BTreeMap<String, f64>>,
}

impl RunSummary {
    /// Whether every node is done.
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.blocked.is_empty()
    }
}
