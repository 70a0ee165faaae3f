//! The dry run: for every node of a graph, reuse / run (with the reason) / blocked.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::explain::{self, Current};
use crate::cache::{
    self, Cache, CacheError, ContentHash, ENGINE_FORMAT, InputOrigin, KeyMaterial, NodeKey,
    NodeRecord,
};
use crate::graph::{Graph, Source};

/// What will happen to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Its key is in the cache.
    Reuse,
    /// It must execute (or may: children of running nodes find out after their parents).
    Run,
    /// It cannot run (an upstream node cannot, or it needs a device that is not there).
    Blocked,
}

impl Action {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Reuse => "reuse",
            Action::Run => "run",
            Action::Blocked => "blocked",
        }
    }
}

/// One line of the plan (`unmt plan --json` prints an array of these).
#[derive(Debug, Clone, Serialize)]
pub struct PlannedNode {
    /// Node name.
    pub node: String,
    /// Stage kind.
    pub stage: String,
    /// What will happen.
    pub action: Action,
    /// Why, in words.
    pub reason: String,
    /// The key, when all inputs are known already.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<NodeKey>,
}

/// The plan of a whole graph, in graph order.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Plan {
    /// One entry per graph node.
    pub nodes: Vec<PlannedNode>,
}

/// What is known about a node's outputs while planning or executing.
#[derive(Debug, Clone)]
pub enum Known {
    /// Published (reused or just run): outputs and their hashes.
    Done(Box<NodeRecord>),
    /// Will run, outputs not known yet.
    Pending,
    /// Cannot run, or failed.
    Unavailable,
}

/// A node's inputs once every producer is done.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Key material (and so the key).
    pub material: KeyMaterial,
    /// Provenance for the record.
    pub origins: BTreeMap<String, Vec<InputOrigin>>,
    /// Paths to hand to the stage.
    pub paths: BTreeMap<String, Vec<PathBuf>>,
}

/// The state of a node's inputs.
pub enum InputState {
    /// All known.
    Ready(Inputs),
    /// Some producers have not run yet (their `node.output` labels).
    Waiting(Vec<String>),
    /// A producer is unavailable (its name).
    Unavailable(String),
}

/// Resolves node `i`'s inputs from what is known of its producers.
pub fn resolve_inputs(
    graph: &Graph,
    i: usize,
    cache: &Cache,
    known: &[Known],
) -> Result<InputState, CacheError> {
    let node = &graph.nodes[i];
    let mut hashes: BTreeMap<String, Vec<ContentHash>> = BTreeMap::new();
    let mut origins: BTreeMap<String, Vec<InputOrigin>> = BTreeMap::new();
    let mut paths: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let mut waiting = Vec::new();
    for (slot, sources) in &node.inputs {
        for src in sources {
            let label = graph.source_label(src);
            let (hash, path, producer) = match src {
                Source::File { path, .. } => {
                    (cache::external_hash(cache, path)?, path.clone(), None)
                }
                Source::Node { index, output } => match &known[*index] {
                    Known::Done(rec) => match rec.outputs.get(output) {
                        Some(o) => (
                            o.hash.clone(),
                            cache.output_path(&rec.key, output),
                            Some(rec.key.clone()),
                        ),
                        None => {
                            return Ok(InputState::Unavailable(graph.nodes[*index].name.clone()));
                        }
                    },
                    Known::Pending => {
                        waiting.push(label);
                        continue;
                    }
                    Known::Unavailable => {
                        return Ok(InputState::Unavailable(graph.nodes[*index].name.clone()));
                    }
                },
            };
            hashes.entry(slot.clone()).or_default().push(hash);
            let file = producer.is_none().then(|| path.clone());
            paths.entry(slot.clone()).or_default().push(path);
            origins.entry(slot.clone()).or_default().push(InputOrigin {
                source: label,
                producer,
                path: file,
            });
        }
    }
    if !waiting.is_empty() {
        return Ok(InputState::Waiting(waiting));
    }
    Ok(InputState::Ready(Inputs {
        material: KeyMaterial {
            engine_format: ENGINE_FORMAT,
            stage: node.stage.kind().to_owned(),
            code_version: node.stage.code_version(),
            params: node.params.canonical.clone(),
            inputs: hashes,
        },
        origins,
        paths,
    }))
}

/// Why node `i` must run although its inputs are known: a field-level diff against the
/// last result recorded under its name, or "never run".
pub fn why_run(
    graph: &Graph,
    i: usize,
    cache: &Cache,
    inputs: &Inputs,
    because: &dyn Fn(&str) -> Option<String>,
) -> String {
    let node = &graph.nodes[i];
    let Some(old_key) = cache.get_ref(Some(&graph.scope), &node.name) else {
        return "never run".to_owned();
    };
    let Ok(Some(old)) = cache.lookup(&old_key) else {
        return format!(
            "the last result ({}) is no longer in the cache",
            old_key.short()
        );
    };
    let changes = explain::diff(
        &old,
        &Current {
            node: &node.name,
            material: &inputs.material,
            params: &node.params.full,
            origins: &inputs.origins,
            because,
        },
    );
    if changes.is_empty() {
        format!("no cached result for key {}", inputs.material.key().short())
    } else {
        changes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// "`a`: never run; `b`: `params.merges` 2000 -> 4000", the first few root causes of a rerun.
fn describe_causes(roots: &BTreeMap<String, String>) -> String {
    const SHOWN: usize = 3;
    let mut parts: Vec<String> = roots
        .iter()
        .take(SHOWN)
        .map(|(node, why)| format!("`{node}`: {why}"))
        .collect();
    if roots.len() > SHOWN {
        parts.push(format!("{} more", roots.len() - SHOWN));
    }
    format!("because {}", parts.join("; "))
}

/// Plans every node of `graph` against `cache`. `gpus` is the number of GPU slots.
pub fn make(graph: &Graph, cache: &Cache, gpus: usize) -> Result<(Plan, Vec<Known>), CacheError> {
    let mut known: Vec<Known> = Vec::with_capacity(graph.nodes.len());
    let mut nodes: Vec<PlannedNode> = Vec::with_capacity(graph.nodes.len());
    // For each node that runs, the nodes whose own change makes it run (itself when it
    // runs for a reason of its own) with that reason. Explanations name these root causes
    // instead of nesting every producer's explanation (which grew exponentially with depth).
    let mut causes: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        let because = |label: &str| {
            let producer = label.rsplit_once('.').map_or(label, |(n, _)| n);
            causes.get(producer).map(describe_causes)
        };
        let (action, reason, key, k) = if node.stage.needs_gpu(&node.params) && gpus == 0 {
            (Action::Blocked, "needs a GPU slot and none is available (build with `--features cuda`, pass `--gpus N`)".to_owned(), None, Known::Unavailable)
        } else {
            match resolve_inputs(graph, i, cache, &known)? {
                InputState::Unavailable(up) => (
                    Action::Blocked,
                    format!("upstream node `{up}` is blocked"),
                    None,
                    Known::Unavailable,
                ),
                InputState::Waiting(labels) => {
                    let mut roots = BTreeMap::new();
                    for l in &labels {
                        let producer = l.rsplit_once('.').map_or(l.as_str(), |(n, _)| n);
                        if let Some(c) = causes.get(producer) {
                            roots.extend(c.iter().map(|(k, v)| (k.clone(), v.clone())));
                        }
                    }
                    let list: Vec<String> = labels.iter().map(|l| format!("`{l}`")).collect();
                    let mut reason = format!("input {} will be recomputed", list.join(", "));
                    if !roots.is_empty() {
                        reason = format!("{reason} ({})", describe_causes(&roots));
                    }
                    causes.insert(node.name.clone(), roots);
                    (Action::Run, reason, None, Known::Pending)
                }
                InputState::Ready(inputs) => {
                    let key = inputs.material.key();
                    match cache.lookup(&key)? {
                        Some(rec) => (
                            Action::Reuse,
                            format!("cached {}", key.short()),
                            Some(key),
                            Known::Done(Box::new(rec)),
                        ),
                        None => (
                            Action::Run,
                            why_run(graph, i, cache, &inputs, &because),
                            Some(key),
                            Known::Pending,
                        ),
                    }
                }
            }
        };
        if action == Action::Run && !causes.contains_key(&node.name) {
            causes.insert(
                node.name.clone(),
                BTreeMap::from([(node.name.clone(), reason.clone())]),
            );
        }
        known.push(k);
        nodes.push(PlannedNode {
            node: node.name.clone(),
            stage: node.stage.kind().to_owned(),
            action,
            reason,
            key,
        });
    }
    Ok((Plan { nodes }, known))
}
