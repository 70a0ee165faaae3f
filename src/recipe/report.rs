//! `[report.NAME]`: results tables a recipe declares for `unmt report` (the paper's tables).
//!
//! ```toml
//! [report.table1]
//! title = "Table 1: BLEU and chrF, beam 5"
//! rows = ["xlm", "lex"]          # optional; without it the rows are the plan's variants
//! baseline = "xlm"               # the row every p-value compares against (default: first)
//! columns = [
//!   { label = "mk-en BLEU", node = "test_{row}_lmr_en", metric = "bleu" },
//! ]
//! ```
//!
//! `{row}` in a column's node is replaced by the row's name. Without `rows`, a column names
//! one node and each variant of the plan is a row (`baseline` is the recipe as written, or
//! a variant's label such as `mlm.init=random`). Which nodes exist is checked here; whether a
//! node records the metric is only known once it has run (the report says so per cell).

use std::collections::BTreeSet;

use toml::de::DeValue;

use super::error::{RecipeError, did_you_mean};
use super::raw::{RawReport, Value, type_error};
use super::source::Span;

/// The placeholder a column's node name holds for the row.
pub const ROW: &str = "{row}";

/// The row label of the recipe as written, when rows are the plan's variants.
pub const BASELINE: &str = "baseline";

const TABLE_KEYS: &[&str] = &["title", "rows", "baseline", "columns"];
const COLUMN_KEYS: &[&str] = &["label", "node", "metric"];

/// One declared table.
#[derive(Debug, Clone)]
pub struct ReportTable {
    /// `NAME` of `[report.NAME]`.
    pub name: String,
    /// Heading; the name when not given.
    pub title: String,
    /// Row names substituted for `{row}`; `None`: the plan's variants.
    pub rows: Option<Vec<String>>,
    /// The row p-values compare against.
    pub baseline: String,
    /// Columns in order.
    pub columns: Vec<ReportColumn>,
    /// Where the table is declared.
    pub span: Span,
}

/// One column: a metric of one node per row.
#[derive(Debug, Clone)]
pub struct ReportColumn {
    /// Header; `node metric` when not given.
    pub label: String,
    /// Node name, with `{row}` for the row.
    pub node: String,
    /// Metric name as the node records it (`bleu`, `csls_p5`, `valid_mk_mlm_ppl`).
    pub metric: String,
}

impl ReportTable {
    /// The node a cell reads, for a row name.
    pub fn node_for(column: &ReportColumn, row: &str) -> String {
        column.node.replace(ROW, row)
    }
}

/// Validates the `[report.*]` tables against the recipe's node names.
pub fn validate(
    raw: &[RawReport],
    nodes: &BTreeSet<&str>,
    errors: &mut Vec<RecipeError>,
) -> Vec<ReportTable> {
    raw.iter().filter_map(|t| table(t, nodes, errors)).collect()
}

fn table(
    raw: &RawReport,
    nodes: &BTreeSet<&str>,
    errors: &mut Vec<RecipeError>,
) -> Option<ReportTable> {
    let name = raw.name.get_ref().clone();
    let DeValue::Table(entries) = raw.value.get_ref() else {
        errors.push(type_error(
            &raw.value,
            "a table for a report",
            raw.value.get_ref(),
        ));
        return None;
    };
    let before = errors.len();
    let mut title = None;
    let mut rows = None;
    let mut baseline: Option<(String, Span)> = None;
    let mut columns = Vec::new();
    let mut columns_span = raw.name.span();
    for (key, value) in entries.iter() {
        match key.get_ref().as_ref() {
            "title" => title = string(value, "a title", errors),
            "baseline" => {
                baseline = string(value, "a row name", errors).map(|s| (s, value.span()));
            }
            "rows" => rows = row_names(value, errors),
            "columns" => {
                columns_span = value.span();
                match value.get_ref() {
                    DeValue::Array(items) => {
                        columns = items.iter().filter_map(|c| column(c, errors)).collect();
                    }
                    other => errors.push(type_error(value, "a list of column tables", other)),
                }
            }
            other => errors.push(
                RecipeError::at(
                    key.span(),
                    format!("unknown key `{other}` in report table `{name}`"),
                    "not a report table key",
                )
                .help(
                    did_you_mean(other, TABLE_KEYS.iter().copied())
                        .unwrap_or_else(|| format!("expected one of: {}", TABLE_KEYS.join(", "))),
                ),
            ),
        }
    }
    if columns.is_empty() && errors.len() == before {
        errors.push(
            RecipeError::at(
                columns_span.clone(),
                format!("report table `{name}` has no columns"),
                "a table needs at least one column",
            )
            .help(
                "add `columns = [{ node = \"test_{row}\", metric = \"bleu\" }]` (`{row}` is the row)",
            ),
        );
    }
    for (c, span) in &columns {
        let names: Vec<String> = match &rows {
            Some(rows) => rows
                .iter()
                .map(|r| ReportTable::node_for(c, &r.0))
                .collect(),
            None if c.node.contains(ROW) => {
                errors.push(
                    RecipeError::at(
                        span.clone(),
                        format!(
                            "report table `{name}` uses `{ROW}` in column node `{}` but has no `rows`",
                            c.node
                        ),
                        "no rows to substitute",
                    )
                    .help("list the rows (`rows = [\"xlm\", \"lex\"]`), or name one node: its variants are the rows"),
                );
                continue;
            }
            None => vec![c.node.clone()],
        };
        // One error per column: the first row whose node is missing.
        if let Some(missing) = names.iter().find(|n| !nodes.contains(n.as_str())) {
            errors.push(
                RecipeError::at(
                    span.clone(),
                    format!("report table `{name}` reads node `{missing}`, which the recipe does not define"),
                    "no such node",
                )
                .maybe_help(did_you_mean(missing, nodes.iter().copied())),
            );
        }
    }
    let baseline = match (&rows, baseline) {
        (Some(rows), Some((b, span))) => {
            if !rows.iter().any(|r| r.0 == b) {
                errors.push(
                    RecipeError::at(
                        span,
                        format!("baseline `{b}` of report table `{name}` is not one of its rows"),
                        "not a row",
                    )
                    .maybe_help(did_you_mean(&b, rows.iter().map(|r| r.0.as_str()))),
                );
            }
            b
        }
        (Some(rows), None) => rows.first().map(|r| r.0.clone()).unwrap_or_default(),
        (None, Some((b, _))) => b,
        (None, None) => BASELINE.to_owned(),
    };
    if let Some(rows) = &rows {
        let mut seen = BTreeSet::new();
        for (r, span) in rows {
            if !seen.insert(r.as_str()) {
                errors.push(RecipeError::at(
                    span.clone(),
                    format!("report table `{name}` lists row `{r}` twice"),
                    "a second time here",
                ));
            }
        }
    }
    if errors.len() > before {
        return None;
    }
    Some(ReportTable {
        title: title.unwrap_or_else(|| name.clone()),
        name,
        rows: rows.map(|r| r.into_iter().map(|(s, _)| s).collect()),
        baseline,
        columns: columns.into_iter().map(|(c, _)| c).collect(),
        span: raw.name.span(),
    })
}

/// `rows = ["a", "b"]`, or a table (`rows = "${models}"`): its keys in order.
fn row_names(value: &Value, errors: &mut Vec<RecipeError>) -> Option<Vec<(String, Span)>> {
    match value.get_ref() {
        DeValue::Array(items) => Some(
            items
                .iter()
                .filter_map(|i| string(i, "a row name", errors).map(|s| (s, i.span())))
                .collect(),
        ),
        DeValue::Table(t) => Some(
            t.iter()
                .map(|(k, _)| (k.get_ref().to_string(), k.span()))
                .collect(),
        ),
        other => {
            errors.push(type_error(value, "a list of row names", other));
            None
        }
    }
}

fn column(value: &Value, errors: &mut Vec<RecipeError>) -> Option<(ReportColumn, Span)> {
    let DeValue::Table(entries) = value.get_ref() else {
        errors.push(type_error(
            value,
            "a column table `{ node = \"...\", metric = \"...\" }`",
            value.get_ref(),
        ));
        return None;
    };
    let (mut label, mut node, mut metric) = (None, None, None);
    for (key, v) in entries.iter() {
        match key.get_ref().as_ref() {
            "label" => label = string(v, "a column label", errors),
            "node" => node = string(v, "a node name", errors),
            "metric" => metric = string(v, "a metric name", errors),
            other => errors.push(
                RecipeError::at(
                    key.span(),
                    format!("unknown key `{other}` in a report column"),
                    "not a column key",
                )
                .help(
                    did_you_mean(other, COLUMN_KEYS.iter().copied())
                        .unwrap_or_else(|| format!("expected one of: {}", COLUMN_KEYS.join(", "))),
                ),
            ),
        }
    }
    let (Some(node), Some(metric)) = (node, metric) else {
        errors.push(RecipeError::at(
            value.span(),
            "report column needs `node` and `metric`",
            "incomplete column",
        ));
        return None;
    };
    let label = label.unwrap_or_else(|| format!("{node} {metric}"));
    Some((
        ReportColumn {
            label,
            node,
            metric,
        },
        value.span(),
    ))
}

fn string(value: &Value, what: &str, errors: &mut Vec<RecipeError>) -> Option<String> {
    match value.get_ref() {
        DeValue::String(s) => Some(s.to_string()),
        other => {
            errors.push(type_error(value, what, other));
            None
        }
    }
}
