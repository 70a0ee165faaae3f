//! Every node of a plan with what the cache holds for it: the records of published nodes,
//! and for the others why they have no result and the command that would run them.
//!
//! Nothing runs and nothing is re-hashed beyond planning: `plan::make` computes each key
//! from its producers' records and the external files' memoised hashes (stat unchanged:
//! no read), and looks the key up.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::cache::{Cache, CacheError, NodeKey, NodeRecord};
use crate::graph::Graph;
use crate::plan::{self, Action, Known};

/// The result of one graph node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeResult {
    /// The node's name in this plan (`mlm[mlm.init=random]`).
    pub node: String,
    /// The recipe node it comes from (`mlm`).
    pub base: String,
    /// Stage kind.
    pub stage: String,
    /// The sweep overrides of its variant, `(axis, value)`; empty for the recipe as written.
    pub variant: Vec<(String, String)>,
    /// What the cache holds.
    #[serde(flatten)]
    pub state: NodeState,
}

/// A node's result, or why there is none.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum NodeState {
    /// Published.
    Done(Box<Done>),
    /// Not in the cache: it would run, or cannot yet.
    Missing {
        /// `run` or `blocked`, as `unmt plan` says.
        action: String,
        /// The planner's reason.
        reason: String,
        /// The command that runs it (and whatever it needs first).
        command: String,
    },
}

/// What a published node recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Done {
    /// Its key.
    pub key: NodeKey,
    /// Metrics the stage recorded.
    pub metrics: BTreeMap<String, f64>,
    /// Output paths by name.
    pub outputs: BTreeMap<String, PathBuf>,
    /// Wall time of the run, seconds.
    pub seconds: f64,
    /// When the run started (Unix seconds).
    pub started_unix: u64,
    /// The record (params, origins, input hashes), for readers that need more.
    #[serde(skip)]
    pub record: NodeRecord,
}

impl NodeResult {
    /// The published result, if any.
    pub fn done(&self) -> Option<&Done> {
        match &self.state {
            NodeState::Done(d) => Some(d),
            NodeState::Missing { .. } => None,
        }
    }

    /// `mlm.init=random,mlm.freeze_embeddings=true`, or `baseline` for the recipe as written.
    pub fn variant_label(&self) -> String {
        variant_label(&self.variant)
    }
}

/// How reports name a variant.
pub fn variant_label(variant: &[(String, String)]) -> String {
    if variant.is_empty() {
        return crate::recipe::report::BASELINE.to_owned();
    }
    variant
        .iter()
        .map(|(a, v)| format!("{a}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Plans `graph` against `cache` and returns one result per node, in graph order.
/// `run_command` is the `unmt run ...` prefix that reproduces this plan (recipe, `--plan`,
/// `--set`); a missing node's command is it followed by the node's name.
pub fn collect(
    graph: &Graph,
    cache: &Cache,
    run_command: &str,
) -> Result<Vec<NodeResult>, CacheError> {
    // Reports read what exists: a GPU node that ran elsewhere is found like any other,
    // so planning here never blocks a node for want of a device.
    let (plan, known) = plan::make(graph, cache, usize::MAX)?;
    let mut out = Vec::with_capacity(graph.nodes.len());
    for ((node, planned), known) in graph.nodes.iter().zip(&plan.nodes).zip(known) {
        let state = match (planned.action, known) {
            (Action::Reuse, Known::Done(record)) => {
                let outputs = record
                    .outputs
                    .keys()
                    .map(|o| (o.clone(), cache.output_path(&record.key, o)))
                    .collect();
                NodeState::Done(Box::new(Done {
                    key: record.key.clone(),
                    metrics: record.metrics.clone(),
                    outputs,
                    seconds: record.seconds,
                    started_unix: record.started_unix,
                    record: *record,
                }))
            }
            (action, _) => NodeState::Missing {
                action: action.as_str().to_owned(),
                reason: planned.reason.clone(),
                command: format!("{run_command} {}", shell_word(&node.name)),
            },
        };
        out.push(NodeResult {
            node: node.name.clone(),
            base: node.base.clone(),
            stage: node.stage.kind().to_owned(),
            variant: node.variant.clone(),
            state,
        });
    }
    Ok(out)
}

/// `word`, quoted for a POSIX shell when it holds anything but safe characters.
pub fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_names_are_quoted_for_the_shell() {
        assert_eq!(shell_word("mlm"), "mlm");
        assert_eq!(shell_word("mlm[mlm.init=random]"), "'mlm[mlm.init=random]'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(variant_label(&[]), "baseline");
        assert_eq!(
            variant_label(&[("a.b".into(), "1".into()), ("vars.x".into(), "y".into())]),
            "a.b=1,vars.x=y"
        );
    }
}
