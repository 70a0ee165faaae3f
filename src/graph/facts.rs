//! Checks between connected nodes before anything runs: each node's [`Facts`] (language,
//! dimension, model languages) flow along the edges in topological order, and each stage
//! compares what reaches it with its parameters ([`DynStage::check_facts`]); external files
//! a stage wants read early (dictionaries) are read here ([`DynStage::check_file`]).
//!
//! [`DynStage::check_facts`]: crate::stages::DynStage::check_facts
//! [`DynStage::check_file`]: crate::stages::DynStage::check_file

use std::collections::BTreeMap;

use super::build::{Graph, Source};
use crate::recipe::{self, Recipe, RecipeError};
use crate::stages::facts::{Facts, InputFact, InputFacts};

/// The errors of every node of `graph` (built from `recipe`, whose spans they point at).
pub fn check(graph: &Graph, recipe: &Recipe) -> Vec<RecipeError> {
    let mut errors = Vec::new();
    let mut outputs: Vec<BTreeMap<String, Facts>> = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let spec = recipe.nodes.iter().find(|s| s.name == node.base);
        let ref_span = |slot: &str, index: usize| {
            spec.and_then(|s| s.inputs.get(slot))
                .and_then(|refs| refs.get(index))
                .map(|r| r.span.clone())
                .or_else(|| spec.map(|s| s.span.clone()))
                .unwrap_or(0..0)
        };
        let mut inputs = InputFacts::new();
        for (slot, sources) in &node.inputs {
            let mut facts = Vec::with_capacity(sources.len());
            for (index, s) in sources.iter().enumerate() {
                let known = match s {
                    Source::File { path, .. } => {
                        if let Err(e) = node.stage.check_file(&node.params, slot, path) {
                            errors.push(
                                RecipeError::at(
                                    ref_span(slot, index),
                                    format!(
                                        "input `{slot}` of node `{}` is unusable: {}",
                                        node.name,
                                        crate::stages::error_chain(&e)
                                    ),
                                    "read before running",
                                )
                                .help("fix the file; nothing has run"),
                            );
                        }
                        Facts::default()
                    }
                    Source::Node { index, output } => {
                        outputs[*index].get(output).cloned().unwrap_or_default()
                    }
                };
                facts.push(InputFact {
                    source: graph.source_label(s),
                    facts: known,
                });
            }
            inputs.insert(slot.clone(), facts);
        }
        for m in node.stage.check_facts(&node.params, &inputs) {
            let mut err = RecipeError::at(
                ref_span(&m.slot, m.index),
                format!(
                    "node `{}` disagrees with its input: {}",
                    node.name, m.message
                ),
                "this input",
            );
            if let Some(span) = m
                .param
                .as_deref()
                .and_then(|p| spec.and_then(|s| recipe::param_span(&s.raw_params, p)))
            {
                err = err.also(span, "set here");
            }
            errors.push(err);
        }
        outputs.push(
            node.signature
                .outputs
                .iter()
                .map(|o| {
                    (
                        o.name.clone(),
                        node.stage.output_facts(&node.params, &inputs, &o.name),
                    )
                })
                .collect(),
        );
    }
    errors
}
