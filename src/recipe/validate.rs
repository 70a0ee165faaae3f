//! Second pass: [`RawFile`] -> [`Recipe`], checking everything that can be checked before
//! anything runs: stage kinds, parameters, references, input slots, cycles, files, sweeps.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{RecipeError, did_you_mean};
use super::raw::{ParamEntry, RawFile, RawNode, Value};
use super::source::{Sources, Span};
use crate::stages::{self, Arity, DynStage, ParamsError, ResolvedParams, Signature};

/// The name that refers to external files in references (`files.NAME`).
pub const FILES: &str = "files";

/// A validated recipe.
#[derive(Debug)]
pub struct Recipe {
    /// The root recipe file.
    pub path: PathBuf,
    /// All files it was read from (for later diagnostics).
    pub sources: Sources,
    /// External input files by name.
    pub files: BTreeMap<String, FileInput>,
    /// Nodes, sorted by name.
    pub nodes: Vec<NodeSpec>,
    /// Sweep axes.
    pub axes: Vec<Axis>,
    /// Named plans: the axes (indices into `axes`) to cross.
    pub plans: BTreeMap<String, Vec<usize>>,
    /// `[vars]` after `extends` and `--set`, each resolved value spanned where it is defined.
    pub vars: Vec<(Spanned<String>, Value)>,
    /// `vars.NAME` axes of `[sweep]`: each alternative is the whole recipe expanded again
    /// ([`Recipe::with_vars`]).
    pub var_axes: Vec<super::var_sweep::VarAxis>,
    /// The variable axes each named plan crosses (indices into `var_axes`).
    pub var_plans: BTreeMap<String, Vec<usize>>,
    /// What alternatives are expanded from (only when there are variable axes).
    pub template: Option<super::var_sweep::Template>,
    /// `[report.*]` tables, in the order written.
    pub report: Vec<super::report::ReportTable>,
}

/// An external input file.
#[derive(Debug, Clone)]
pub struct FileInput {
    /// Path (relative paths are resolved against the recipe that declares them).
    pub path: PathBuf,
    /// Where it is declared.
    pub span: Span,
}

/// What a reference points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `files.NAME`.
    File(String),
    /// `NODE.OUTPUT`.
    Node {
        /// Producing node.
        node: String,
        /// Its output.
        output: String,
    },
}

/// A reference as written in `inputs`.
#[derive(Debug, Clone)]
pub struct Ref {
    /// What it points at.
    pub target: Target,
    /// Where it is written.
    pub span: Span,
}

impl Ref {
    /// `node.output` or `files.name`, as written.
    pub fn text(&self) -> String {
        match &self.target {
            Target::File(name) => format!("{FILES}.{name}"),
            Target::Node { node, output } => format!("{node}.{output}"),
        }
    }
}

/// A validated node of the recipe (before sweep expansion).
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// Node name.
    pub name: String,
    /// Span of the name.
    pub span: Span,
    /// Its stage kind.
    pub stage: &'static dyn DynStage,
    /// Input slots and their references.
    pub inputs: BTreeMap<String, Vec<Ref>>,
    /// Parameters as written (for sweep overrides).
    pub raw_params: Vec<ParamEntry>,
    /// Span of the `params` table.
    pub params_span: Span,
    /// Validated parameters.
    pub params: ResolvedParams,
    /// Inputs and outputs for these parameters.
    pub signature: Signature,
}

impl std::fmt::Debug for dyn DynStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.kind())
    }
}

/// One sweep axis: alternative values of one node parameter.
#[derive(Debug, Clone)]
pub struct Axis {
    /// `node.param`.
    pub path: String,
    /// The node.
    pub node: String,
    /// The parameter.
    pub param: String,
    /// Span of the axis key.
    pub span: Span,
    /// The alternatives, each with the node's parameters under that value.
    pub values: Vec<AxisValue>,
}

/// One alternative of an axis.
#[derive(Debug, Clone)]
pub struct AxisValue {
    /// The value as a short label (`true`, `16000`, `aligned`).
    pub label: String,
    /// The value as written.
    pub value: Value,
    /// The node's parameters with this value.
    pub params: ResolvedParams,
}

/// Validates a merged raw recipe.
pub fn validate(
    path: PathBuf,
    raw: RawFile,
    sources: Sources,
) -> Result<Recipe, (Vec<RecipeError>, Sources)> {
    let mut errors = Vec::new();
    let mut files = BTreeMap::new();
    for f in &raw.files {
        let resolved = f.resolved();
        let p = &resolved;
        if !p.is_file() {
            errors.push(
                RecipeError::at(
                    f.path.span(),
                    format!("input file `{}` does not exist", p.display()),
                    if p.exists() {
                        "not a regular file"
                    } else {
                        "no such file"
                    },
                )
                .help("paths are relative to the recipe file that declares them"),
            );
        }
        files.insert(
            f.name.get_ref().clone(),
            FileInput {
                path: p.clone(),
                span: f.path.span(),
            },
        );
    }
    let mut nodes: Vec<NodeSpec> = Vec::new();
    for node in &raw.nodes {
        if node.name.get_ref() == FILES {
            errors.push(RecipeError::at(
                node.name.span(),
                "`files` is reserved for external inputs",
                "rename this node",
            ));
            continue;
        }
        if let Some(spec) = node_spec(node, &mut errors) {
            nodes.push(spec);
        }
    }
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    check_references(&raw.nodes, &nodes, &files, &mut errors);
    check_cycles(&nodes, &mut errors);
    let axes = check_axes(&raw, &nodes, &mut errors);
    let mut plans = BTreeMap::new();
    for plan in &raw.plans {
        let mut idx = Vec::new();
        for a in &plan.cross {
            match axes.iter().position(|x: &Axis| &x.path == a.get_ref()) {
                Some(i) => idx.push(i),
                None => errors.push(
                    RecipeError::at(
                        a.span(),
                        format!(
                            "plan `{}` crosses unknown axis `{}`",
                            plan.name.get_ref(),
                            a.get_ref()
                        ),
                        "not a `[sweep]` axis",
                    )
                    .maybe_help(did_you_mean(
                        a.get_ref(),
                        axes.iter().map(|x| x.path.as_str()),
                    )),
                ),
            }
        }
        if ["default", "baseline"].contains(&plan.name.get_ref().as_str()) {
            errors.push(RecipeError::at(
                plan.name.span(),
                format!("plan name `{}` is built in", plan.name.get_ref()),
                "choose another name",
            ));
        }
        plans.insert(plan.name.get_ref().clone(), idx);
    }
    // Every node the recipe defines, also one whose own errors kept it out of `nodes`: a
    // table that reads it is not wrong, and a second error for it would mislead.
    let names: std::collections::BTreeSet<&str> = raw
        .nodes
        .iter()
        .map(|n| n.name.get_ref().as_str())
        .collect();
    let report = super::report::validate(&raw.report, &names, &mut errors);
    if errors.is_empty() {
        Ok(Recipe {
            path,
            sources,
            files,
            nodes,
            axes,
            plans,
            vars: raw
                .vars
                .iter()
                .map(|v| (v.name.clone(), v.value.clone()))
                .collect(),
            var_axes: Vec::new(),
            var_plans: BTreeMap::new(),
            template: None,
            report,
        })
    } else {
        Err((errors, sources))
    }
}

fn node_spec(node: &RawNode, errors: &mut Vec<RecipeError>) -> Option<NodeSpec> {
    let name = node.name.get_ref();
    let Some(kind) = &node.stage else {
        errors.push(
            RecipeError::at(
                node.name.span(),
                format!("node `{name}` has no `stage`"),
                "add `stage = \"...\"`",
            )
            .help(format!("stage kinds: {}", kinds().join(", "))),
        );
        return None;
    };
    let Some(stage) = stages::find(kind.get_ref()) else {
        errors.push(
            RecipeError::at(
                kind.span(),
                format!("unknown stage kind `{}`", kind.get_ref()),
                "no such stage",
            )
            .help(
                did_you_mean(kind.get_ref(), kinds())
                    .unwrap_or_else(|| format!("stage kinds: {}", kinds().join(", "))),
            ),
        );
        return None;
    };
    let mut non_finite = false;
    for p in &node.params {
        if let Some(span) = non_finite_float(&p.value) {
            non_finite = true;
            errors.push(
                RecipeError::at(
                    span,
                    format!("parameter `{}` is not a finite number", p.key.get_ref()),
                    "nan or inf",
                )
                .help("every float parameter takes a finite value"),
            );
        }
    }
    if non_finite {
        return None;
    }
    let params = match resolve(stage, &node.params, node.params_span.clone(), &[]) {
        Ok(p) => p,
        Err(e) => {
            errors.extend(every_params_error(
                e,
                stage,
                &node.params,
                node.params_span.clone(),
            ));
            return None;
        }
    };
    let signature = stage.signature(&params);
    let mut inputs = BTreeMap::new();
    for input in &node.inputs {
        if input.refs.is_empty() && input.list {
            // `text = []` would run the stage on nothing (an all-`<unk>` pipeline downstream).
            errors.push(
                RecipeError::at(
                    input.slot.span(),
                    format!(
                        "input `{}` of node `{name}` is an empty list",
                        input.slot.get_ref()
                    ),
                    "no references",
                )
                .help("give at least one `node.output` or `files.NAME`, or remove the slot"),
            );
        }
        let refs = input
            .refs
            .iter()
            .filter_map(|r| parse_ref(r, errors))
            .collect::<Vec<_>>();
        inputs.insert(input.slot.get_ref().clone(), refs);
    }
    let wired: Vec<&str> = node
        .inputs
        .iter()
        .map(|i| i.slot.get_ref().as_str())
        .collect();
    if let Err(inv) = stage.check_wiring(&params, &wired) {
        errors.push(params_error(
            ParamsError::Invalid(inv),
            stage,
            &node.params,
            node.params_span.clone(),
        ));
    }
    Some(NodeSpec {
        name: name.clone(),
        span: node.name.span(),
        stage,
        inputs,
        raw_params: node.params.clone(),
        params_span: node.params_span.clone(),
        params,
        signature,
    })
}

/// The span of a `nan` or `inf` float in `value` (TOML allows both; no parameter means them).
fn non_finite_float(value: &Value) -> Option<Span> {
    match value.get_ref() {
        DeValue::Float(f) => {
            let text = f.as_str().trim_start_matches(['+', '-']);
            matches!(text, "nan" | "inf").then(|| value.span())
        }
        DeValue::Array(items) => items.iter().find_map(non_finite_float),
        DeValue::Table(t) => t.iter().find_map(|(_, v)| non_finite_float(v)),
        _ => None,
    }
}

fn kinds() -> Vec<&'static str> {
    stages::registry().iter().map(|s| s.kind()).collect()
}

fn parse_ref(r: &Spanned<String>, errors: &mut Vec<RecipeError>) -> Option<Ref> {
    match r.get_ref().split_once('.') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Some(Ref {
            target: if a == FILES {
                Target::File(b.to_owned())
            } else {
                Target::Node {
                    node: a.to_owned(),
                    output: b.to_owned(),
                }
            },
            span: r.span(),
        }),
        _ => {
            errors.push(RecipeError::at(
                r.span(),
                format!("malformed reference `{}`", r.get_ref()),
                "expected `node.output` or `files.NAME`",
            ));
            None
        }
    }
}

/// Resolves a node's parameters with some keys overridden (for sweeps).
pub fn resolve(
    stage: &dyn DynStage,
    entries: &[ParamEntry],
    span: Span,
    overriding: &[(&str, &Value)],
) -> Result<ResolvedParams, ParamsError> {
    let mut table = DeTable::new();
    for e in entries {
        if overriding.iter().any(|(k, _)| *k == e.key.get_ref()) {
            continue;
        }
        table.insert(
            Spanned::new(e.key.span(), Cow::Owned(e.key.get_ref().clone())),
            e.value.clone(),
        );
    }
    for (k, v) in overriding {
        let path: Vec<&str> = k.split('.').collect();
        set_path(&mut table, &path, v);
    }
    stage.resolve(Spanned::new(span, DeValue::Table(table)))
}

/// Sets `path` (a dotted parameter, `bleu.max_ngram_order`) to `value`, creating or
/// replacing nested tables on the way; sibling keys of a nested table are kept.
fn set_path(table: &mut DeTable<'static>, path: &[&str], value: &Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        table.remove(*first);
        table.insert(
            Spanned::new(value.span(), Cow::Owned((*first).to_owned())),
            value.clone(),
        );
        return;
    }
    let slot = match table.get_mut(*first) {
        Some(v) if matches!(v.get_ref(), DeValue::Table(_)) => v,
        _ => {
            table.remove(*first);
            table.insert(
                Spanned::new(value.span(), Cow::Owned((*first).to_owned())),
                Spanned::new(value.span(), DeValue::Table(DeTable::new())),
            );
            table.get_mut(*first).expect("just inserted")
        }
    };
    if let DeValue::Table(inner) = slot.get_mut() {
        set_path(inner, rest, value);
    }
}

/// The span of the value of a (possibly dotted) parameter among `entries`.
/// The span of parameter `field` (a dotted path) in a node's `params`, if written there.
pub fn param_span(entries: &[ParamEntry], field: &str) -> Option<Span> {
    let mut parts = field.split('.');
    let first = parts.next()?;
    let entry = entries.iter().find(|e| e.key.get_ref() == first)?;
    let mut value = &entry.value;
    for part in parts {
        match value.get_ref() {
            DeValue::Table(t) => match t.get(part) {
                Some(v) => value = v,
                None => break,
            },
            _ => break,
        }
    }
    Some(value.span())
}

/// Every bad parameter of a node, not only the first: parsing and `Validate` stop at the
/// first problem, so the parameter at fault is set aside (its default then applies) and the
/// rest resolved again, until they resolve or the problem is not in a written parameter (a
/// default clashing with what was written would be an artifact of setting one aside).
fn every_params_error(
    first: ParamsError,
    stage: &dyn DynStage,
    entries: &[ParamEntry],
    table: Span,
) -> Vec<RecipeError> {
    let mut remaining = entries.to_vec();
    let mut out = Vec::new();
    let mut err = first;
    loop {
        let culprit = culprit(&err, &remaining);
        if culprit.is_none() && !out.is_empty() {
            break;
        }
        out.push(params_error(err, stage, &remaining, table.clone()));
        let Some(i) = culprit else { break };
        remaining.remove(i);
        match resolve(stage, &remaining, table.clone(), &[]) {
            Err(e) if out.len() < 16 => err = e,
            _ => break,
        }
    }
    out
}

/// The written parameter a parameter error is about.
fn culprit(e: &ParamsError, entries: &[ParamEntry]) -> Option<usize> {
    match e {
        ParamsError::UnknownKey { key, .. } => entries.iter().position(|p| p.key.get_ref() == key),
        ParamsError::Type {
            span: Some(span), ..
        } => entries.iter().position(|p| {
            let (k, v) = (p.key.span(), p.value.span());
            (k.start <= span.start && span.start < k.end.max(k.start + 1))
                || (v.start <= span.start && span.start < v.end.max(v.start + 1))
        }),
        ParamsError::Type { span: None, .. } => None,
        ParamsError::Invalid(inv) => entries
            .iter()
            .position(|p| p.key.get_ref() == inv.top_level()),
    }
}

/// Turns a parameter error into a located recipe error.
pub fn params_error(
    e: ParamsError,
    stage: &dyn DynStage,
    entries: &[ParamEntry],
    table: Span,
) -> RecipeError {
    match e {
        ParamsError::UnknownKey { key, span, known } => RecipeError::at(
            span,
            format!("unknown parameter `{key}` for stage `{}`", stage.kind()),
            "not a parameter of this stage",
        )
        .help(
            did_you_mean(&key, known.iter().copied())
                .unwrap_or_else(|| format!("parameters: {}", known.join(", "))),
        ),
        ParamsError::Type { message, span } => RecipeError::at(
            span.unwrap_or(table),
            format!("invalid parameter for stage `{}`: {message}", stage.kind()),
            "here",
        ),
        ParamsError::Invalid(inv) => {
            let span = param_span(entries, &inv.field).unwrap_or(table);
            RecipeError::at(
                span,
                format!("parameter `{}` {}", inv.field, inv.message),
                "invalid value",
            )
        }
    }
}

fn check_references(
    raw: &[RawNode],
    nodes: &[NodeSpec],
    files: &BTreeMap<String, FileInput>,
    errors: &mut Vec<RecipeError>,
) {
    let by_name: BTreeMap<&str, &NodeSpec> = nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    let all_names: Vec<&str> = raw.iter().map(|n| n.name.get_ref().as_str()).collect();
    for node in nodes {
        let raw_node = raw.iter().find(|r| r.name.get_ref() == &node.name);
        for (slot, refs) in &node.inputs {
            let slot_span = raw_node
                .and_then(|r| r.inputs.iter().find(|i| i.slot.get_ref() == slot))
                .map_or(node.span.clone(), |i| i.slot.span());
            let Some(decl) = node.signature.slot(slot) else {
                let names: Vec<&str> = node
                    .signature
                    .inputs
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect();
                errors.push(
                    RecipeError::at(
                        slot_span,
                        format!("stage `{}` has no input slot `{slot}`", node.stage.kind()),
                        "unknown slot",
                    )
                    .help(
                        did_you_mean(slot, names.iter().copied())
                            .unwrap_or_else(|| format!("input slots: {}", names.join(", "))),
                    ),
                );
                continue;
            };
            if matches!(decl.arity, Arity::One | Arity::Optional) && refs.len() > 1 {
                errors.push(RecipeError::at(
                    slot_span.clone(),
                    format!(
                        "input slot `{slot}` takes one reference, got {}",
                        refs.len()
                    ),
                    "give a single `node.output`",
                ));
            }
            for r in refs {
                match &r.target {
                    Target::File(name) => {
                        if !files.contains_key(name) {
                            errors.push(
                                RecipeError::at(
                                    r.span.clone(),
                                    format!("no file named `{name}` in `[files]`"),
                                    "dangling reference",
                                )
                                .maybe_help(did_you_mean(name, files.keys().map(String::as_str))),
                            );
                        }
                    }
                    Target::Node {
                        node: target,
                        output,
                    } => match by_name.get(target.as_str()) {
                        None if all_names.contains(&target.as_str()) => {} // reported at its definition
                        None => errors.push(
                            RecipeError::at(
                                r.span.clone(),
                                format!("no node named `{target}`"),
                                "dangling reference",
                            )
                            .maybe_help(did_you_mean(
                                target,
                                all_names.iter().copied().chain([FILES]),
                            )),
                        ),
                        Some(t) if t.signature.output(output).is_none() => {
                            let outs: Vec<&str> = t
                                .signature
                                .outputs
                                .iter()
                                .map(|o| o.name.as_str())
                                .collect();
                            errors.push(
                                RecipeError::at(
                                    r.span.clone(),
                                    format!(
                                        "node `{target}` ({}) has no output `{output}`",
                                        t.stage.kind()
                                    ),
                                    "dangling reference",
                                )
                                .help(
                                    did_you_mean(output, outs.iter().copied())
                                        .unwrap_or_else(|| format!("outputs: {}", outs.join(", "))),
                                ),
                            );
                        }
                        Some(_) => {}
                    },
                }
            }
        }
        for slot in &node.signature.inputs {
            if matches!(slot.arity, Arity::One | Arity::Many)
                && !node.inputs.contains_key(&slot.name)
            {
                errors.push(RecipeError::at(
                    node.span.clone(),
                    format!("node `{}` is missing input `{}`", node.name, slot.name),
                    format!("add `inputs = {{ {} = \"node.output\" }}`", slot.name),
                ));
            }
        }
    }
}

fn check_cycles(nodes: &[NodeSpec], errors: &mut Vec<RecipeError>) {
    let mut g = petgraph::graph::DiGraph::<usize, Span>::new();
    let idx: BTreeMap<&str, _> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), g.add_node(i)))
        .collect();
    for n in nodes {
        for r in n.inputs.values().flatten() {
            if let Target::Node { node, .. } = &r.target
                && let Some(&from) = idx.get(node.as_str())
            {
                g.add_edge(from, idx[n.name.as_str()], r.span.clone());
            }
        }
    }
    for scc in petgraph::algo::tarjan_scc(&g) {
        let cyclic = scc.len() > 1 || g.contains_edge(scc[0], scc[0]);
        if !cyclic {
            continue;
        }
        let mut names: Vec<&str> = scc.iter().map(|&ix| nodes[g[ix]].name.as_str()).collect();
        names.sort_unstable();
        let mut edges = g
            .edge_indices()
            .filter(|&e| {
                let (a, b) = g.edge_endpoints(e).unwrap_or((scc[0], scc[0]));
                scc.contains(&a) && scc.contains(&b)
            })
            .map(|e| g[e].clone())
            .collect::<Vec<_>>();
        edges.sort_by_key(|s| s.start);
        let mut err = RecipeError::at(
            edges[0].clone(),
            format!(
                "dependency cycle between nodes {}",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "this reference closes a cycle",
        );
        for e in &edges[1..] {
            err = err.also(e.clone(), "part of the cycle");
        }
        errors.push(err);
    }
}

fn check_axes(raw: &RawFile, nodes: &[NodeSpec], errors: &mut Vec<RecipeError>) -> Vec<Axis> {
    let mut axes = Vec::new();
    for a in &raw.sweep {
        let path = a.path.get_ref();
        let Some((node_name, param)) = path.split_once('.') else {
            errors.push(RecipeError::at(
                a.path.span(),
                format!("sweep axis `{path}` is not a `node.param` path"),
                "expected `node.param`",
            ));
            continue;
        };
        let Some(node) = nodes.iter().find(|n| n.name == node_name) else {
            if raw.nodes.iter().any(|n| n.name.get_ref() == node_name) {
                continue; // the node itself is invalid and has its own error
            }
            errors.push(
                RecipeError::at(
                    a.path.span(),
                    format!("sweep axis `{path}` matches no parameter: no node `{node_name}`"),
                    "unknown node",
                )
                .maybe_help(did_you_mean(
                    node_name,
                    nodes.iter().map(|n| n.name.as_str()),
                )),
            );
            continue;
        };
        let fields = node.stage.param_fields();
        let top = param.split('.').next().unwrap_or(param);
        if !fields.contains(&top) {
            errors.push(
                RecipeError::at(
                    a.path.span(),
                    format!(
                        "sweep axis `{path}` matches no parameter of stage `{}`",
                        node.stage.kind()
                    ),
                    "unknown parameter",
                )
                .help(
                    did_you_mean(top, fields.iter().copied())
                        .unwrap_or_else(|| format!("parameters: {}", fields.join(", "))),
                ),
            );
            continue;
        }
        if a.values.is_empty() {
            errors.push(RecipeError::at(
                a.path.span(),
                format!("sweep axis `{path}` has no values"),
                "add at least one alternative",
            ));
            continue;
        }
        let mut values = Vec::new();
        for v in &a.values {
            match resolve(
                node.stage,
                &node.raw_params,
                node.params_span.clone(),
                &[(param, v)],
            ) {
                Ok(params) => values.push(AxisValue {
                    label: label(v.get_ref()),
                    value: v.clone(),
                    params,
                }),
                Err(e) => errors.push(params_error(
                    e,
                    node.stage,
                    &[ParamEntry {
                        key: Spanned::new(v.span(), param.to_owned()),
                        value: v.clone(),
                    }],
                    v.span(),
                )),
            }
        }
        axes.push(Axis {
            path: path.clone(),
            node: node_name.to_owned(),
            param: param.to_owned(),
            span: a.path.span(),
            values,
        });
    }
    axes
}

/// A short label for a TOML value, used in variant node names.
pub(super) fn label(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => s.to_string(),
        DeValue::Integer(i) => i.to_string(),
        DeValue::Float(f) => f.to_string(),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        DeValue::Array(a) => format!(
            "[{}]",
            a.iter()
                .map(|x| label(x.get_ref()))
                .collect::<Vec<_>>()
                .join(",")
        ),
        DeValue::Table(_) => "{..}".to_owned(),
    }
}
