//! Tables of results: the ones a recipe declares (`[report.NAME]`) and one per stage.
//!
//! Every cell is read from one node's record, or says why it cannot be: a table never
//! holds a figure that no node recorded.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::collect::{NodeResult, NodeState, variant_label};
use crate::graph::Graph;
use crate::recipe::{Recipe, ReportTable};

/// One table.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// `table1`, or `stage.mlm` for a stage's table.
    pub name: String,
    /// Heading.
    pub title: String,
    /// Column headers (the row label's column is not among them).
    pub columns: Vec<String>,
    /// Rows in order.
    pub rows: Vec<Row>,
    /// The row p-values compare against, for tables that have one.
    pub baseline: Option<String>,
    /// Lines under the table: the test and the metric signatures.
    pub notes: Vec<String>,
}

/// One row: its label and one cell per column.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `lex`, `mlm.init=random`, or a node name.
    pub label: String,
    /// Cells, one per column.
    pub cells: Vec<Cell>,
}

/// One cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Cell {
    /// A metric a node recorded.
    Value {
        /// The figure.
        value: f64,
        /// Paired bootstrap p-value against the baseline row's cell, where computed.
        #[serde(skip_serializing_if = "Option::is_none")]
        p_value: Option<f64>,
        /// The node it comes from.
        node: String,
    },
    /// A label (a node name, a parameter's value).
    Text {
        /// The text.
        text: String,
    },
    /// No figure, and why.
    Missing {
        /// The node the figure would come from.
        node: String,
        /// Why there is none.
        why: String,
    },
}

impl Cell {
    fn text(s: impl Into<String>) -> Self {
        Cell::Text { text: s.into() }
    }
}

/// Stages whose tables appear even when no sweep changes them: they train or evaluate.
const RESULT_STAGES: &[&str] = &[
    "vecmap",
    "bli",
    "mlm",
    "unmt",
    "translate",
    "score",
    "command",
];

/// The run-time column of stage tables (wall seconds of the node's run, from its record).
pub const RUN_TIME: &str = "run s";

/// Results by node name.
fn by_name(results: &[NodeResult]) -> BTreeMap<&str, &NodeResult> {
    results.iter().map(|r| (r.node.as_str(), r)).collect()
}

/// The cell for `metric` of the node named `node`.
fn metric_cell(results: &BTreeMap<&str, &NodeResult>, node: &str, metric: &str) -> Cell {
    let missing = |why: String| Cell::Missing {
        node: node.to_owned(),
        why,
    };
    let Some(r) = results.get(node) else {
        return missing("not in this plan".to_owned());
    };
    match &r.state {
        NodeState::Done(d) => match d.metrics.get(metric) {
            Some(&value) => Cell::Value {
                value,
                p_value: None,
                node: node.to_owned(),
            },
            None => {
                let names: Vec<&str> = d.metrics.keys().map(String::as_str).collect();
                missing(format!(
                    "records no `{metric}` (it records: {})",
                    if names.is_empty() {
                        "nothing".to_owned()
                    } else {
                        names.join(", ")
                    }
                ))
            }
        },
        NodeState::Missing { reason, .. } => missing(format!("not run: {reason}")),
    }
}

/// The variants of the nodes named `bases`, recipe as written first, then in graph order.
fn variants_of(results: &[NodeResult], bases: &BTreeSet<&str>) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for r in results {
        if bases.contains(r.base.as_str()) && !out.contains(&r.variant) {
            out.push(r.variant.clone());
        }
    }
    out
}

/// A declared table. Without `rows`, each variant of the columns' nodes is a row, and a
/// node a variant does not change is read from the recipe as written (the same result).
pub fn declared(table: &ReportTable, graph: &Graph, results: &[NodeResult]) -> Table {
    let named = by_name(results);
    let rows = match &table.rows {
        Some(rows) => rows
            .iter()
            .map(|row| Row {
                label: row.clone(),
                cells: table
                    .columns
                    .iter()
                    .map(|c| metric_cell(&named, &ReportTable::node_for(c, row), &c.metric))
                    .collect(),
            })
            .collect(),
        None => {
            let bases: BTreeSet<&str> = table.columns.iter().map(|c| c.node.as_str()).collect();
            variants_of(results, &bases)
                .into_iter()
                .map(|variant| Row {
                    label: variant_label(&variant),
                    cells: table
                        .columns
                        .iter()
                        .map(|c| {
                            let node = results
                                .iter()
                                .find(|r| r.base == c.node && r.variant == variant)
                                .map_or_else(
                                    || {
                                        graph
                                            .find(&c.node)
                                            .map_or(c.node.clone(), |i| graph.nodes[i].name.clone())
                                    },
                                    |r| r.node.clone(),
                                );
                            metric_cell(&named, &node, &c.metric)
                        })
                        .collect(),
                })
                .collect()
        }
    };
    Table {
        name: table.name.clone(),
        title: table.title.clone(),
        columns: table.columns.iter().map(|c| c.label.clone()).collect(),
        rows,
        baseline: Some(table.baseline.clone()),
        notes: Vec::new(),
    }
}

/// One table per stage kind whose nodes differ by variant or that trains or evaluates
/// and has at least one result: a row per node, the swept parameters (only those), every
/// metric its nodes record, and the run time.
pub fn per_stage(recipe: &Recipe, graph: &Graph, results: &[NodeResult]) -> Vec<Table> {
    let mut kinds: Vec<&str> = Vec::new();
    for r in results {
        if !kinds.contains(&r.stage.as_str()) {
            kinds.push(&r.stage);
        }
    }
    let mut tables = Vec::new();
    for kind in kinds {
        let rows: Vec<&NodeResult> = results.iter().filter(|r| r.stage == kind).collect();
        let varied = rows.iter().any(|r| !r.variant.is_empty());
        if !rows.iter().any(|r| r.done().is_some()) || !(varied || RESULT_STAGES.contains(&kind)) {
            continue;
        }
        let mut axes: Vec<&str> = Vec::new();
        for r in &rows {
            for (axis, _) in &r.variant {
                if !axes.contains(&axis.as_str()) {
                    axes.push(axis);
                }
            }
        }
        let metrics: BTreeSet<&str> = rows
            .iter()
            .filter_map(|r| r.done())
            .flat_map(|d| d.metrics.keys().map(String::as_str))
            .collect();
        let named = by_name(results);
        let baseline_values: Vec<String> = axes
            .iter()
            .map(|a| baseline_value(recipe, graph, a).unwrap_or_default())
            .collect();
        // A node shows an axis's value when it or a variant of it is on that axis; a
        // node no sweep reaches (`bli_raw` beside `bli_mlm[mlm.init=random]`) shows none.
        let on_axis = |r: &NodeResult, axis: &str| {
            rows.iter()
                .any(|o| o.base == r.base && o.variant.iter().any(|(a, _)| a == axis))
        };
        let table_rows = rows
            .iter()
            .map(|r| {
                let mut cells: Vec<Cell> = axes
                    .iter()
                    .zip(&baseline_values)
                    .map(|(axis, base)| {
                        let own = r.variant.iter().find(|(a, _)| a == axis);
                        match own {
                            Some((_, v)) => Cell::text(v.clone()),
                            None if on_axis(r, axis) => Cell::text(base.clone()),
                            None => Cell::text(""),
                        }
                    })
                    .collect();
                cells.extend(metrics.iter().map(|m| metric_cell(&named, &r.node, m)));
                cells.push(match r.done() {
                    Some(d) => Cell::Value {
                        value: d.seconds,
                        p_value: None,
                        node: r.node.clone(),
                    },
                    None => metric_cell(&named, &r.node, RUN_TIME),
                });
                Row {
                    label: r.node.clone(),
                    cells,
                }
            })
            .collect();
        let mut columns: Vec<String> = axes.iter().map(|a| (*a).to_owned()).collect();
        columns.extend(metrics.iter().map(|m| (*m).to_owned()));
        columns.push(RUN_TIME.to_owned());
        tables.push(Table {
            name: format!("stage.{kind}"),
            title: format!("`{kind}` nodes"),
            columns,
            rows: table_rows,
            baseline: None,
            notes: Vec::new(),
        });
    }
    tables
}

/// The recipe's own value of a sweep axis: `[vars]` for `vars.NAME`, else the parameter
/// (`mlm.init` is parameter `init` of node `mlm`, dotted for nested tables).
fn baseline_value(recipe: &Recipe, graph: &Graph, axis: &str) -> Option<String> {
    let (node, path) = axis.split_once('.')?;
    if node == "vars" {
        return recipe.var_value_label(path);
    }
    let params = &graph.nodes[graph.find(node)?].params.full;
    let mut parts = path.split('.');
    let mut value = params.get(parts.next()?)?;
    for p in parts {
        value = value.get(p)?;
    }
    Some(json_label(value))
}

/// A JSON value as variant labels write TOML values.
fn json_label(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "none".to_owned(),
        serde_json::Value::Array(a) => {
            format!(
                "[{}]",
                a.iter().map(json_label).collect::<Vec<_>>().join(",")
            )
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_are_labelled_as_toml_values_are() {
        assert_eq!(json_label(&serde_json::json!("aligned")), "aligned");
        assert_eq!(json_label(&serde_json::json!(true)), "true");
        assert_eq!(json_label(&serde_json::json!(0.5)), "0.5");
        assert_eq!(json_label(&serde_json::json!(["en", "mk"])), "[en,mk]");
    }
}
