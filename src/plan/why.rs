//! `explain` and `gc` as data: why one node (re)runs, and which results current plans
//! still reach. The CLI only renders these.

use std::collections::BTreeSet;

use super::explain::{Change, Current, diff};
use super::planner::{Action, InputState, Known, make, resolve_inputs};
use crate::cache::{Cache, CacheError, NodeKey};
use crate::graph::Graph;

/// Why node `i` of a graph will or will not run.
#[derive(Debug, Clone, PartialEq)]
pub enum Explanation {
    /// Its result is in the cache.
    UpToDate {
        /// The key (absent only if the planner could not compute one).
        key: Option<NodeKey>,
    },
    /// It cannot run.
    Blocked {
        /// Why.
        reason: String,
    },
    /// Its inputs are known and its key is not in the cache.
    Runs {
        /// The new key.
        key: NodeKey,
        /// The last run under this node's name, if any, and what changed since.
        last: Option<LastRun>,
    },
    /// It runs once upstream nodes have run.
    Waits {
        /// The planner's reason.
        reason: String,
        /// Upstream nodes that will run first: (node, reason).
        upstream: Vec<(String, String)>,
    },
}

/// The previous result of a node and how the current key material differs from it.
#[derive(Debug, Clone, PartialEq)]
pub struct LastRun {
    /// Its key.
    pub key: NodeKey,
    /// Field-level differences; empty when the material is the same (the result was
    /// removed from the cache).
    pub changes: Vec<Change>,
    /// The recipe it ran under, when not this one: a node this recipe never ran is compared
    /// with the same name's last result in any recipe (a child recipe against its base).
    pub recipe: Option<String>,
}

/// The last result under `node`'s name in recipe `scope`, or else in any recipe (with that
/// recipe's scope).
fn last_result(
    cache: &Cache,
    scope: &str,
    node: &str,
) -> Result<(Option<NodeKey>, Option<String>), CacheError> {
    if let Some(k) = cache.get_ref(Some(scope), node) {
        return Ok((Some(k), None));
    }
    let Some(k) = cache.get_ref(None, node) else {
        return Ok((None, None));
    };
    let recipe = cache
        .recipe_refs()?
        .into_iter()
        .find(|r| r.node == node && r.key == k)
        .and_then(|r| r.scope);
    Ok((Some(k), recipe))
}

/// Explains node `i` of `graph` against `cache`.
pub fn explain(graph: &Graph, i: usize, cache: &Cache) -> Result<Explanation, CacheError> {
    let (plan, known) = make(graph, cache, usize::MAX)?;
    let entry = &plan.nodes[i];
    Ok(match entry.action {
        Action::Reuse => Explanation::UpToDate {
            key: entry.key.clone(),
        },
        Action::Blocked => Explanation::Blocked {
            reason: entry.reason.clone(),
        },
        Action::Run => match resolve_inputs(graph, i, cache, &known)? {
            InputState::Ready(inputs) => {
                let key = inputs.material.key();
                let node = &graph.nodes[i];
                let (last_key, other_recipe) = last_result(cache, &graph.scope, &node.name)?;
                let last = last_key
                    .and_then(|k| cache.lookup(&k).ok().flatten())
                    .map(|old| {
                        let because = |label: &str| {
                            let producer = label.rsplit_once('.').map_or(label, |(n, _)| n);
                            plan.nodes
                                .iter()
                                .find(|x| x.node == producer && x.action == Action::Run)
                                .map(|x| format!("{producer}: {}", x.reason))
                        };
                        let changes = diff(
                            &old,
                            &Current {
                                node: &node.name,
                                material: &inputs.material,
                                params: &node.params.full,
                                origins: &inputs.origins,
                                because: &because,
                            },
                        );
                        LastRun {
                            key: old.key,
                            changes,
                            recipe: other_recipe.clone(),
                        }
                    });
                Explanation::Runs { key, last }
            }
            _ => Explanation::Waits {
                reason: entry.reason.clone(),
                upstream: graph
                    .parents(i)
                    .into_iter()
                    .filter(|&p| matches!(known[p], Known::Pending))
                    .map(|p| (plan.nodes[p].node.clone(), plan.nodes[p].reason.clone()))
                    .collect(),
            },
        },
    })
}

/// What the current plans of some graphs need from the cache: what `gc` keeps.
#[derive(Debug, Default)]
pub struct Reach {
    /// Keys of results a plan reuses.
    pub reuse: BTreeSet<NodeKey>,
    /// Keys of nodes a plan would run: their checkpoints in `partial/` are a resume.
    pub pending: BTreeSet<NodeKey>,
    /// (recipe scope, node name) of nodes whose key a plan cannot compute yet, because a
    /// producer must run first (a missing tokenizer output above a trained model): the
    /// result the recipe last used under that name is likely still its own.
    pub unkeyed: BTreeSet<(String, String)>,
}

/// Plans each of `graphs` against the cache and collects what [`Reach`] says.
pub fn reachable(graphs: &[Graph], cache: &Cache) -> Result<Reach, CacheError> {
    let mut reach = Reach::default();
    for graph in graphs {
        let (plan, _) = make(graph, cache, usize::MAX)?;
        for n in plan.nodes {
            match (n.action, n.key) {
                (Action::Reuse, Some(k)) => {
                    reach.reuse.insert(k);
                }
                (_, Some(k)) => {
                    reach.pending.insert(k);
                }
                (_, None) => {
                    reach.unkeyed.insert((graph.scope.clone(), n.node));
                }
            }
        }
    }
    Ok(reach)
}
