//! Results: what a plan's nodes hold in the cache, as comparison tables and plots.
//!
//! `unmt report` is a reader. It plans the graph against the cache (keys from the records
//! and the memoised hashes of external files, no stage runs), takes each published node's
//! record, and builds:
//!
//! - the tables a recipe declares (`[report.NAME]`, the paper's tables), each cell one
//!   metric of one node, with SacreBLEU's paired bootstrap p-value against the table's
//!   baseline row where the cell is a `score` node's BLEU or chrF ([`significance`]);
//! - for every stage whose nodes differ by variant or that evaluates or trains, a
//!   variant x metric table in the manner of `dvc exp show`: only the swept parameters
//!   appear as columns ([`tables`]);
//! - learning curves and BLI figures from the training histories and BLI records
//!   ([`curves`]).
//!
//! A node without a result is a missing cell with the reason and the `unmt run` command
//! that would produce it; nothing is estimated or filled in. Rendering is [`render`].

mod collect;
pub mod curves;
mod error;
pub mod render;
pub mod significance;
pub mod tables;

use serde::Serialize;

pub use collect::{Done, NodeResult, NodeState, collect, shell_word, variant_label};
pub use curves::{Plot, Series};
pub use error::ResultsError;
pub use tables::{Cell, Row, Table};

use crate::cache::Cache;
use crate::graph::Graph;
use crate::recipe::Recipe;

/// Everything `unmt report` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The recipe file.
    pub recipe: String,
    /// The plan reported on (`default`, `baseline` or a `[plans]` name).
    pub plan: String,
    /// Nodes in the plan.
    pub nodes: usize,
    /// Nodes with a published result.
    pub done: usize,
    /// Declared tables first, then one per stage.
    pub tables: Vec<Table>,
    /// Learning curves and BLI figures.
    pub plots: Vec<Plot>,
    /// Nodes without a result, with the command that runs them.
    pub missing: Vec<Missing>,
    /// Things a reader should know: results that could not be read, tests not computed.
    pub warnings: Vec<String>,
}

/// A node of the plan that has no result.
#[derive(Debug, Clone, Serialize)]
pub struct Missing {
    /// Node name.
    pub node: String,
    /// `run` or `blocked`.
    pub action: String,
    /// Why, as `unmt plan` says it.
    pub reason: String,
    /// The command that produces it.
    pub command: String,
}

impl Missing {
    /// The reason, marked when the node cannot run yet.
    pub fn why(&self) -> String {
        if self.action == "blocked" {
            format!("blocked: {}", self.reason)
        } else {
            self.reason.clone()
        }
    }
}

/// What to report on.
pub struct ReportInput<'a> {
    /// The loaded recipe (its `[report.*]` tables and variables).
    pub recipe: &'a Recipe,
    /// The plan's graph.
    pub graph: &'a Graph,
    /// The cache.
    pub cache: &'a Cache,
    /// The plan's name, for the heading.
    pub plan: &'a str,
    /// `unmt run RECIPE [--plan P] [--set ...]`: missing nodes' commands start with it.
    pub run_command: &'a str,
}

/// Builds the report.
pub fn build(input: &ReportInput<'_>) -> Result<Report, ResultsError> {
    let results = collect(input.graph, input.cache, input.run_command)?;
    let mut warnings = Vec::new();
    let mut tables = Vec::new();
    for declared in &input.recipe.report {
        let mut t = tables::declared(declared, input.graph, &results);
        significance::annotate(&mut t, declared, input.cache, &results, &mut warnings);
        tables.push(t);
    }
    tables.extend(tables::per_stage(input.recipe, input.graph, &results));
    let plots = curves::plots(&results, &mut warnings);
    let missing = results
        .iter()
        .filter_map(|r| match &r.state {
            NodeState::Missing {
                action,
                reason,
                command,
            } => Some(Missing {
                node: r.node.clone(),
                action: action.clone(),
                reason: reason.clone(),
                command: command.clone(),
            }),
            NodeState::Done(_) => None,
        })
        .collect();
    Ok(Report {
        recipe: input.recipe.path.display().to_string(),
        plan: input.plan.to_owned(),
        nodes: results.len(),
        done: results.iter().filter(|r| r.done().is_some()).count(),
        tables,
        plots,
        missing,
        warnings,
    })
}
