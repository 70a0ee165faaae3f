//! Field-level differences between a stored node record and a node's current key material:
//! the answer to "why does this rerun?".

use std::collections::BTreeSet;
use std::fmt;

use crate::cache::{InputOrigin, KeyMaterial, NodeRecord};

/// One difference.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The key format changed (new unmt with a different cache layout).
    EngineFormat {
        /// Stored.
        old: u32,
        /// Current.
        new: u32,
    },
    /// The node now runs a different stage kind.
    Stage {
        /// Stored.
        old: String,
        /// Current.
        new: String,
    },
    /// The stage's code version was bumped.
    CodeVersion {
        /// Stage kind.
        stage: String,
        /// Stored.
        old: u32,
        /// Current.
        new: u32,
    },
    /// A parameter changed (values shown with defaults filled in).
    Param {
        /// `node.param`.
        path: String,
        /// Stored value.
        old: String,
        /// Current value.
        new: String,
    },
    /// An input's content changed.
    Input {
        /// Slot.
        slot: String,
        /// Where it comes from now.
        source: String,
        /// Where it came from (if different).
        old_source: Option<String>,
        /// Why the producer's output differs, if known.
        because: Option<String>,
    },
    /// An input slot gained or lost references.
    InputCount {
        /// Slot.
        slot: String,
        /// Stored count.
        old: usize,
        /// Current count.
        new: usize,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::EngineFormat { old, new } => write!(f, "cache format: {old} -> {new}"),
            Change::Stage { old, new } => write!(f, "stage: {old} -> {new}"),
            Change::CodeVersion { stage, old, new } => {
                write!(f, "code version of `{stage}`: {old} -> {new}")
            }
            Change::Param { path, old, new } => write!(f, "{path}: {old} -> {new}"),
            Change::Input {
                slot,
                source,
                old_source,
                because,
            } => {
                write!(f, "input `{slot}` ({source}): output changed")?;
                if let Some(old) = old_source {
                    write!(f, ", was {old}")?;
                }
                if let Some(b) = because {
                    write!(f, " ({b})")?;
                }
                Ok(())
            }
            Change::InputCount { slot, old, new } => {
                write!(f, "input `{slot}`: {old} -> {new} references")
            }
        }
    }
}

/// The current state of a node, as `diff` needs it.
pub struct Current<'a> {
    /// Node name (prefix of parameter paths).
    pub node: &'a str,
    /// Current key material.
    pub material: &'a KeyMaterial,
    /// Current full parameters.
    pub params: &'a serde_json::Map<String, serde_json::Value>,
    /// Current input origins.
    pub origins: &'a std::collections::BTreeMap<String, Vec<InputOrigin>>,
    /// Why each changed input's producer changed (`node.output` -> explanation).
    pub because: &'a dyn Fn(&str) -> Option<String>,
}

/// Lists what differs between `old` and `cur`, most fundamental first.
pub fn diff(old: &NodeRecord, cur: &Current<'_>) -> Vec<Change> {
    let (om, nm) = (&old.material, cur.material);
    let mut out = Vec::new();
    if om.engine_format != nm.engine_format {
        out.push(Change::EngineFormat {
            old: om.engine_format,
            new: nm.engine_format,
        });
    }
    if om.stage != nm.stage {
        out.push(Change::Stage {
            old: om.stage.clone(),
            new: nm.stage.clone(),
        });
        return out;
    }
    if om.code_version != nm.code_version {
        out.push(Change::CodeVersion {
            stage: nm.stage.clone(),
            old: om.code_version,
            new: nm.code_version,
        });
    }
    let names: BTreeSet<&String> = om.params.keys().chain(nm.params.keys()).collect();
    for name in names {
        if om.params.get(name) != nm.params.get(name) {
            out.push(Change::Param {
                path: format!("{}.{name}", cur.node),
                old: show(old.params.get(name).or(om.params.get(name))),
                new: show(cur.params.get(name).or(nm.params.get(name))),
            });
        }
    }
    let slots: BTreeSet<&String> = om.inputs.keys().chain(nm.inputs.keys()).collect();
    for slot in slots {
        let (a, b) = (om.inputs.get(slot), nm.inputs.get(slot));
        let (la, lb) = (a.map_or(0, Vec::len), b.map_or(0, Vec::len));
        if la != lb {
            out.push(Change::InputCount {
                slot: slot.clone(),
                old: la,
                new: lb,
            });
            continue;
        }
        for (i, (ha, hb)) in a
            .into_iter()
            .flatten()
            .zip(b.into_iter().flatten())
            .enumerate()
        {
            if ha == hb {
                continue;
            }
            let source = cur
                .origins
                .get(slot)
                .and_then(|o| o.get(i))
                .map_or_else(|| "?".to_owned(), |o| o.source.clone());
            let old_source = old
                .origins
                .get(slot)
                .and_then(|o| o.get(i))
                .map(|o| o.source.clone())
                .filter(|s| *s != source);
            out.push(Change::Input {
                slot: slot.clone(),
                because: (cur.because)(&source),
                source,
                old_source,
            });
        }
    }
    out
}

fn show(v: Option<&serde_json::Value>) -> String {
    match v {
        None => "(default)".to_owned(),
        Some(serde_json::Value::String(s)) => format!("{s:?}"),
        Some(v) => v.to_string(),
    }
}
