//! First pass: one TOML file -> [`RawFile`], keeping every span.
//!
//! The recipe's structure is walked by hand over toml's spanned document tree rather than
//! derived with serde, so that every key and value keeps its span, unknown keys get a
//! "did you mean" with the key's own span, and stage parameters stay as spanned TOML until
//! the stage kind (and so the parameter type) is known.

use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{RecipeError, did_you_mean};
use super::source::Span;
pub use super::vars::RawVar;

/// A spanned TOML value that owns its text.
pub type Value = Spanned<DeValue<'static>>;

/// One parameter as written: `key = value`.
#[derive(Debug, Clone)]
pub struct ParamEntry {
    /// The key and its span.
    pub key: Spanned<String>,
    /// The value and its span.
    pub value: Value,
}

/// An input slot as written: `slot = "node.output"` or `slot = ["a.x", "b.x"]`.
#[derive(Debug, Clone)]
pub struct RawInput {
    /// The slot name.
    pub slot: Spanned<String>,
    /// The references, in order.
    pub refs: Vec<Spanned<String>>,
    /// Whether it was written as a list.
    pub list: bool,
}

/// A node table as written.
#[derive(Debug, Clone)]
pub struct RawNode {
    /// The node's name (its key under `[nodes]`).
    pub name: Spanned<String>,
    /// `stage = "..."`.
    pub stage: Option<Spanned<String>>,
    /// `inputs = { ... }`.
    pub inputs: Vec<RawInput>,
    /// `params = { ... }`.
    pub params: Vec<ParamEntry>,
    /// Span of the `params` table (or of the node when absent).
    pub params_span: Span,
    /// `foreach = [...]` / `{...}` / `"${var}"`: a template, one node per element.
    pub foreach: Option<Value>,
}

/// A sweep axis: `"node.param" = [values...]`.
#[derive(Debug, Clone)]
pub struct RawAxis {
    /// The parameter path and its span.
    pub path: Spanned<String>,
    /// The alternative values.
    pub values: Vec<Value>,
}

/// A named plan: `[plans.NAME] cross = ["axis", ...]`.
#[derive(Debug, Clone)]
pub struct RawPlan {
    /// Plan name.
    pub name: Spanned<String>,
    /// Axes whose full cross product the plan runs.
    pub cross: Vec<Spanned<String>>,
}

/// A results table: `[report.NAME]`, kept as spanned TOML until variables are expanded
/// (`recipe::report` validates it).
#[derive(Debug, Clone)]
pub struct RawReport {
    /// Table name.
    pub name: Spanned<String>,
    /// The table as written.
    pub value: Value,
}

/// An external file: `name = "path"`, path resolved against the declaring file.
#[derive(Debug, Clone)]
pub struct RawFileInput {
    /// The name used in references (`files.NAME`).
    pub name: Spanned<String>,
    /// The path as written (variables expanded later); the span is that of the string.
    pub path: Spanned<PathBuf>,
    /// The directory of the file that declares it, which a relative path is relative to
    /// (joined after variables are expanded, so `${data}` may hold an absolute path).
    pub dir: PathBuf,
}

impl RawFileInput {
    /// The path to read: relative paths against the declaring file's directory.
    pub fn resolved(&self) -> PathBuf {
        self.dir.join(self.path.get_ref())
    }
}

/// One recipe file after the first pass (or several, merged along `extends`).
#[derive(Debug, Clone, Default)]
pub struct RawFile {
    /// `extends = "base.toml"`, resolved against this file's directory.
    pub extends: Option<Spanned<PathBuf>>,
    /// `[files]`.
    pub files: Vec<RawFileInput>,
    /// `[nodes.*]`.
    pub nodes: Vec<RawNode>,
    /// `[sweep]`.
    pub sweep: Vec<RawAxis>,
    /// `[plans.*]`.
    pub plans: Vec<RawPlan>,
    /// `[vars]`.
    pub vars: Vec<RawVar>,
    /// `[report.*]`.
    pub report: Vec<RawReport>,
}

const TOP_KEYS: &[&str] = &[
    "extends", "vars", "files", "nodes", "sweep", "plans", "report",
];
const NODE_KEYS: &[&str] = &["foreach", "stage", "inputs", "params"];
const PLAN_KEYS: &[&str] = &["cross"];

/// Walks a parsed document. Problems are pushed to `errors`; the walk goes on past them so
/// one run reports as much as possible.
pub fn walk(
    root: &Spanned<DeTable<'static>>,
    dir: &Path,
    errors: &mut Vec<RecipeError>,
) -> RawFile {
    let mut raw = RawFile::default();
    for (key, value) in root.get_ref() {
        match key.get_ref().as_ref() {
            "extends" => {
                if let Some(s) = string(value, "`extends`", errors) {
                    raw.extends = Some(Spanned::new(s.span(), dir.join(s.get_ref())));
                }
            }
            "vars" => {
                for (name, v) in table(value, "`[vars]`", errors) {
                    raw.vars.push(RawVar {
                        name: owned_key(name),
                        value: v.clone(),
                    });
                }
            }
            "files" => {
                for (name, path) in table(value, "`[files]`", errors) {
                    if let Some(p) = string(path, "a file path", errors) {
                        raw.files.push(RawFileInput {
                            name: owned_key(name),
                            path: Spanned::new(p.span(), PathBuf::from(p.get_ref())),
                            dir: dir.to_path_buf(),
                        });
                    }
                }
            }
            "nodes" => {
                for (name, node) in table(value, "`[nodes]`", errors) {
                    raw.nodes.push(walk_node(name, node, errors));
                }
            }
            "sweep" => {
                for (path, values) in table(value, "`[sweep]`", errors) {
                    if let Some(axis) = walk_axis(path, values, errors) {
                        raw.sweep.push(axis);
                    }
                }
            }
            "plans" => {
                for (name, plan) in table(value, "`[plans]`", errors) {
                    raw.plans.push(walk_plan(name, plan, errors));
                }
            }
            "report" => {
                for (name, t) in table(value, "`[report]`", errors) {
                    raw.report.push(RawReport {
                        name: owned_key(name),
                        value: t.clone(),
                    });
                }
            }
            other => errors.push(unknown_key(key, other, TOP_KEYS, "at the top level")),
        }
    }
    raw
}

fn walk_node(
    name: &Spanned<std::borrow::Cow<'static, str>>,
    node: &Value,
    errors: &mut Vec<RecipeError>,
) -> RawNode {
    let mut raw = RawNode {
        name: owned_key(name),
        stage: None,
        inputs: Vec::new(),
        params: Vec::new(),
        params_span: node.span(),
        foreach: None,
    };
    let what = format!("node `{}`", name.get_ref());
    for (key, value) in table(node, &what, errors) {
        match key.get_ref().as_ref() {
            "foreach" => raw.foreach = Some(value.clone()),
            "stage" => raw.stage = string(value, "a stage kind", errors),
            "inputs" => {
                for (slot, refs) in table(value, "`inputs`", errors) {
                    if let Some(input) = walk_input(slot, refs, errors) {
                        raw.inputs.push(input);
                    }
                }
            }
            "params" => {
                raw.params_span = value.span();
                for (k, v) in table(value, "`params`", errors) {
                    raw.params.push(ParamEntry {
                        key: owned_key(k),
                        value: v.clone(),
                    });
                }
            }
            other => errors.push(unknown_key(key, other, NODE_KEYS, &format!("in {what}"))),
        }
    }
    raw
}

fn walk_input(
    slot: &Spanned<std::borrow::Cow<'static, str>>,
    value: &Value,
    errors: &mut Vec<RecipeError>,
) -> Option<RawInput> {
    let slot = owned_key(slot);
    match value.get_ref() {
        DeValue::String(s) => Some(RawInput {
            slot,
            refs: vec![Spanned::new(value.span(), s.to_string())],
            list: false,
        }),
        DeValue::Array(items) => {
            let refs = items
                .iter()
                .filter_map(|item| string(item, "a reference like `node.output`", errors))
                .collect();
            Some(RawInput {
                slot,
                refs,
                list: true,
            })
        }
        other => {
            errors.push(type_error(
                value,
                "a reference like `node.output` or a list of them",
                other,
            ));
            None
        }
    }
}

fn walk_axis(
    path: &Spanned<std::borrow::Cow<'static, str>>,
    values: &Value,
    errors: &mut Vec<RecipeError>,
) -> Option<RawAxis> {
    match values.get_ref() {
        DeValue::Array(items) => Some(RawAxis {
            path: owned_key(path),
            values: items.iter().cloned().collect(),
        }),
        DeValue::Table(_) => {
            errors.push(
                RecipeError::at(
                    path.span(),
                    format!(
                        "sweep axis `{}` is a table, not a list of values",
                        path.get_ref()
                    ),
                    "expected `\"node.param\" = [value, ...]`",
                )
                .help("quote dotted parameter paths: `\"mlm.freeze_embeddings\" = [false, true]`"),
            );
            None
        }
        other => {
            errors.push(type_error(values, "a list of alternative values", other));
            None
        }
    }
}

fn walk_plan(
    name: &Spanned<std::borrow::Cow<'static, str>>,
    plan: &Value,
    errors: &mut Vec<RecipeError>,
) -> RawPlan {
    let mut raw = RawPlan {
        name: owned_key(name),
        cross: Vec::new(),
    };
    let what = format!("plan `{}`", name.get_ref());
    for (key, value) in table(plan, &what, errors) {
        match key.get_ref().as_ref() {
            "cross" => match value.get_ref() {
                DeValue::Array(items) => {
                    raw.cross = items
                        .iter()
                        .filter_map(|i| string(i, "a sweep axis path", errors))
                        .collect();
                }
                other => errors.push(type_error(value, "a list of sweep axis paths", other)),
            },
            other => errors.push(unknown_key(key, other, PLAN_KEYS, &format!("in {what}"))),
        }
    }
    raw
}

fn owned_key(key: &Spanned<std::borrow::Cow<'static, str>>) -> Spanned<String> {
    Spanned::new(key.span(), key.get_ref().to_string())
}

type Entries<'a> =
    Box<dyn Iterator<Item = (&'a Spanned<std::borrow::Cow<'static, str>>, &'a Value)> + 'a>;

fn table<'a>(value: &'a Value, what: &str, errors: &mut Vec<RecipeError>) -> Entries<'a> {
    match value.get_ref() {
        DeValue::Table(t) => Box::new(t.iter()),
        other => {
            errors.push(type_error(value, &format!("a table for {what}"), other));
            Box::new(std::iter::empty())
        }
    }
}

fn string(value: &Value, what: &str, errors: &mut Vec<RecipeError>) -> Option<Spanned<String>> {
    match value.get_ref() {
        DeValue::String(s) => Some(Spanned::new(value.span(), s.to_string())),
        other => {
            errors.push(type_error(value, what, other));
            None
        }
    }
}

/// "expected a string, found an integer".
pub fn type_error(value: &Value, expected: &str, found: &DeValue<'_>) -> RecipeError {
    RecipeError::at(
        value.span(),
        format!("expected {expected}, found {}", found.type_str()),
        format!("this is {}", article(found.type_str())),
    )
}

fn article(kind: &str) -> String {
    match kind.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

fn unknown_key(
    key: &Spanned<std::borrow::Cow<'static, str>>,
    name: &str,
    known: &[&str],
    place: &str,
) -> RecipeError {
    RecipeError::at(
        key.span(),
        format!("unknown key `{name}` {place}"),
        "not a recipe key",
    )
    .help(
        did_you_mean(name, known.iter().copied())
            .unwrap_or_else(|| format!("expected one of: {}", known.join(", "))),
    )
}
