//! Recipe + plan choice -> [`Graph`] in topological order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use crate::recipe::{self, Recipe, RecipeDiagnostics, RecipeError, Target, did_you_mean};
use crate::stages::{Arity, DynStage, ResolvedParams, Signature};

/// Which variants of a swept recipe to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanChoice {
    /// Baseline plus one axis value at a time (the default).
    Default,
    /// Only the recipe as written.
    Baseline,
    /// A `[plans.NAME]` cross product.
    Named(String),
}

impl PlanChoice {
    /// Parses `--plan NAME`.
    pub fn from_arg(name: Option<&str>) -> Self {
        match name {
            None | Some("default") => Self::Default,
            Some("baseline") => Self::Baseline,
            Some(other) => Self::Named(other.to_owned()),
        }
    }
}

/// Where an input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An external file.
    File {
        /// Its `[files]` name.
        name: String,
        /// Its path.
        path: PathBuf,
    },
    /// Another node's output.
    Node {
        /// Index of the producer in [`Graph::nodes`] (always smaller than the consumer's).
        index: usize,
        /// The output name.
        output: String,
    },
}

/// One node to execute.
#[derive(Debug, Clone)]
pub struct GraphNode {
    /// Unique name: the recipe node's, plus `[axis=value,...]` for variants.
    pub name: String,
    /// The recipe node it comes from.
    pub base: String,
    /// Stage kind.
    pub stage: &'static dyn DynStage,
    /// Parameters (with the variant's overrides).
    pub params: ResolvedParams,
    /// Inputs and outputs.
    pub signature: Signature,
    /// Inputs by slot.
    pub inputs: BTreeMap<String, Vec<Source>>,
    /// Slots the recipe wires that the stage does not read with these parameters
    /// ([`Arity::Unused`]): left out of `inputs`, so they neither enter the key nor make
    /// the node wait for their producers.
    pub unused_inputs: Vec<String>,
    /// The sweep overrides in effect, as `(axis path, value label)` (`("mlm.init",
    /// "random")`, `("vars.lmr", "sq")`); empty for the recipe as written. The name's
    /// `[...]` suffix is these labels, for people; reports read them from here.
    pub variant: Vec<(String, String)>,
}

/// The nodes of one plan, topologically ordered (producers before consumers).
#[derive(Debug, Clone)]
pub struct Graph {
    /// Nodes in topological order.
    pub nodes: Vec<GraphNode>,
    /// The recipe's identity (its absolute path), scoping node names in the cache's refs.
    pub scope: String,
}

impl Graph {
    /// One line per wired input a node does not read with its parameters.
    pub fn unused_input_notes(&self) -> Vec<String> {
        self.nodes
            .iter()
            .flat_map(|n| {
                n.unused_inputs.iter().map(move |slot| {
                    format!(
                        "`{}` does not read its input `{slot}` with these parameters: it is left out of the node's key",
                        n.name
                    )
                })
            })
            .collect()
    }

    /// The index of the node called `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// `producer.output` for display.
    pub fn source_label(&self, s: &Source) -> String {
        match s {
            Source::File { name, .. } => format!("{}.{name}", recipe::FILES),
            Source::Node { index, output } => format!("{}.{output}", self.nodes[*index].name),
        }
    }

    /// Indices of the nodes `i` reads from.
    pub fn parents(&self, i: usize) -> BTreeSet<usize> {
        self.nodes[i]
            .inputs
            .values()
            .flatten()
            .filter_map(|s| match s {
                Source::Node { index, .. } => Some(*index),
                Source::File { .. } => None,
            })
            .collect()
    }
}

/// The graphs of every plan a recipe defines: the default one, then each `[plans]` entry
/// (what `gc` keeps results for).
pub fn build_all_plans(recipe: &Recipe) -> Result<Vec<Graph>, RecipeDiagnostics> {
    let mut choices = vec![PlanChoice::Default];
    choices.extend(recipe.plans.keys().map(|n| PlanChoice::Named(n.clone())));
    choices.iter().map(|c| build(recipe, c)).collect()
}

/// A recipe's identity in the cache's refs: its absolute path.
pub fn recipe_scope(path: &std::path::Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// Builds the graph of `choice` over a validated recipe.
///
/// With `vars.*` sweep axes, the plan is built again for each alternative of the variables
/// (each one alone for the default plan, their cross product for a named plan that crosses
/// them) and merged: a node identical to one already in the graph (same stage, parameters
/// and sources) is that node; one that differs joins under its own name, or, where that
/// name is taken, as `name[vars.lmr=sq]`.
pub fn build(recipe: &Recipe, choice: &PlanChoice) -> Result<Graph, RecipeDiagnostics> {
    let mut graph = build_params(recipe, choice)?;
    for set in var_alternatives(recipe, choice) {
        let alternative = recipe.with_vars(&set)?;
        let other = build_params(&alternative, choice)?;
        merge(&mut graph, other, &recipe.var_labels(&set));
    }
    Ok(graph)
}

/// The variable settings a plan runs besides the recipe as written.
fn var_alternatives(recipe: &Recipe, choice: &PlanChoice) -> Vec<Vec<(usize, usize)>> {
    let axes: Vec<usize> = match choice {
        PlanChoice::Baseline => return Vec::new(),
        PlanChoice::Default => {
            return recipe
                .var_axes
                .iter()
                .enumerate()
                .flat_map(|(a, axis)| (0..axis.values.len()).map(move |v| vec![(a, v)]))
                .collect();
        }
        PlanChoice::Named(name) => recipe.var_plans.get(name).cloned().unwrap_or_default(),
    };
    let mut out: Vec<Vec<(usize, usize)>> = vec![Vec::new()];
    for a in axes {
        let mut next = Vec::new();
        for prefix in &out {
            next.push(prefix.clone());
            for v in 0..recipe.var_axes[a].values.len() {
                let mut combo = prefix.clone();
                combo.push((a, v));
                next.push(combo);
            }
        }
        out = next;
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Adds `other`'s nodes to `graph`, reusing the identical ones.
fn merge(graph: &mut Graph, other: Graph, vars: &[(String, String)]) {
    let label = vars
        .iter()
        .map(|(a, v)| format!("{a}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut index = Vec::with_capacity(other.nodes.len());
    for mut node in other.nodes {
        for s in node.inputs.values_mut().flatten() {
            if let Source::Node { index: i, .. } = s {
                *i = index[*i];
            }
        }
        if let Some(same) = graph.nodes.iter().position(|n| same_node(n, &node)) {
            index.push(same);
            continue;
        }
        if graph.find(&node.name).is_some() {
            node.variant.splice(0..0, vars.iter().cloned());
            node.name = match node.name.strip_suffix(']').and_then(|n| n.split_once('[')) {
                Some((base, axes)) => format!("{base}[{label},{axes}]"),
                None => format!("{}[{label}]", node.name),
            };
        }
        index.push(graph.nodes.len());
        graph.nodes.push(node);
    }
}

/// Whether two nodes compute the same thing (their keys will be equal).
fn same_node(a: &GraphNode, b: &GraphNode) -> bool {
    a.base == b.base
        && a.stage.kind() == b.stage.kind()
        && a.params.canonical == b.params.canonical
        && a.inputs == b.inputs
        && a.unused_inputs == b.unused_inputs
}

/// The graph of `choice` over the parameter axes of one recipe.
fn build_params(recipe: &Recipe, choice: &PlanChoice) -> Result<Graph, RecipeDiagnostics> {
    let order = topo_order(recipe);
    let variants = variants(recipe, choice)?;
    let scope = recipe_scope(&recipe.path);
    let mut graph = Graph {
        nodes: Vec::new(),
        scope,
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut errors = Vec::new();
    for variant in &variants {
        // Which recipe nodes are touched (overridden or downstream), and by which overrides.
        let mut touched: HashMap<&str, BTreeSet<(usize, usize)>> = HashMap::new();
        for &i in &order {
            let spec = &recipe.nodes[i];
            let mut own: BTreeSet<(usize, usize)> = variant
                .iter()
                .filter(|(a, _)| recipe.axes[*a].node == spec.name)
                .copied()
                .collect();
            for r in spec.inputs.values().flatten() {
                if let Target::Node { node, .. } = &r.target
                    && let Some(up) = touched.get(node.as_str())
                {
                    own.extend(up.iter().copied());
                }
            }
            if !own.is_empty() || variant.is_empty() {
                touched.insert(spec.name.as_str(), own);
            }
        }
        for &i in &order {
            let spec = &recipe.nodes[i];
            let Some(overrides) = touched.get(spec.name.as_str()) else {
                continue;
            };
            let name = variant_name(recipe, &spec.name, overrides);
            let labels: Vec<(String, String)> = overrides
                .iter()
                .map(|&(a, v)| {
                    (
                        recipe.axes[a].path.clone(),
                        recipe.axes[a].values[v].label.clone(),
                    )
                })
                .collect();
            if index.contains_key(&name) {
                continue;
            }
            let own: Vec<(&str, &recipe::raw::Value)> = overrides
                .iter()
                .filter(|(a, _)| recipe.axes[*a].node == spec.name)
                .map(|&(a, v)| {
                    (
                        recipe.axes[a].param.as_str(),
                        &recipe.axes[a].values[v].value,
                    )
                })
                .collect();
            let params = if own.is_empty() {
                spec.params.clone()
            } else {
                match recipe::resolve(spec.stage, &spec.raw_params, spec.params_span.clone(), &own)
                {
                    Ok(p) => p,
                    Err(e) => {
                        errors.push(recipe::params_error(
                            e,
                            spec.stage,
                            &spec.raw_params,
                            spec.params_span.clone(),
                        ));
                        continue;
                    }
                }
            };
            let signature = spec.stage.signature(&params);
            let mut inputs = BTreeMap::new();
            let mut unused_inputs = Vec::new();
            for (slot, refs) in &spec.inputs {
                // Wired but not read with these parameters: no dependency, not in the key.
                if signature
                    .slot(slot)
                    .is_some_and(|s| s.arity == Arity::Unused)
                {
                    unused_inputs.push(slot.clone());
                    continue;
                }
                let sources = refs
                    .iter()
                    .filter_map(|r| match &r.target {
                        Target::File(f) => Some(Source::File {
                            name: f.clone(),
                            path: recipe.files[f].path.clone(),
                        }),
                        Target::Node { node, output } => {
                            let parent = match touched.get(node.as_str()) {
                                Some(ov) if !variant.is_empty() => variant_name(recipe, node, ov),
                                _ => node.clone(),
                            };
                            index.get(&parent).map(|&index| Source::Node {
                                index,
                                output: output.clone(),
                            })
                        }
                    })
                    .collect();
                inputs.insert(slot.clone(), sources);
            }
            index.insert(name.clone(), graph.nodes.len());
            graph.nodes.push(GraphNode {
                name,
                base: spec.name.clone(),
                stage: spec.stage,
                params,
                signature,
                inputs,
                unused_inputs,
                variant: labels,
            });
        }
    }
    if errors.is_empty() {
        errors = super::facts::check(&graph, recipe);
    }
    if errors.is_empty() {
        Ok(graph)
    } else {
        Err(RecipeDiagnostics::new(
            &recipe.path.display().to_string(),
            &errors,
            &recipe.sources,
        ))
    }
}

fn variant_name(recipe: &Recipe, base: &str, overrides: &BTreeSet<(usize, usize)>) -> String {
    if overrides.is_empty() {
        return base.to_owned();
    }
    let labels: Vec<String> = overrides
        .iter()
        .map(|&(a, v)| format!("{}={}", recipe.axes[a].path, recipe.axes[a].values[v].label))
        .collect();
    format!("{base}[{}]", labels.join(","))
}

/// Recipe node indices in topological order (ties by name). Validation rejected cycles.
fn topo_order(recipe: &Recipe) -> Vec<usize> {
    let pos: HashMap<&str, usize> = recipe
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let mut indegree = vec![0usize; recipe.nodes.len()];
    let mut children = vec![Vec::new(); recipe.nodes.len()];
    for (i, n) in recipe.nodes.iter().enumerate() {
        let parents: BTreeSet<usize> = n
            .inputs
            .values()
            .flatten()
            .filter_map(|r| match &r.target {
                Target::Node { node, .. } => pos.get(node.as_str()).copied(),
                Target::File(_) => None,
            })
            .collect();
        indegree[i] = parents.len();
        for p in parents {
            children[p].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..recipe.nodes.len())
        .filter(|&i| indegree[i] == 0)
        .collect();
    let mut order = Vec::new();
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &c in &children[i] {
            indegree[c] -= 1;
            if indegree[c] == 0 {
                ready.insert(c);
            }
        }
    }
    order
}

/// The variants of a plan, each a list of (axis, value) overrides.
fn variants(
    recipe: &Recipe,
    choice: &PlanChoice,
) -> Result<Vec<Vec<(usize, usize)>>, RecipeDiagnostics> {
    let mut out = vec![Vec::new()];
    match choice {
        PlanChoice::Baseline => {}
        PlanChoice::Default => {
            for (a, axis) in recipe.axes.iter().enumerate() {
                for v in 0..axis.values.len() {
                    out.push(vec![(a, v)]);
                }
            }
        }
        PlanChoice::Named(name) => {
            let Some(axes) = recipe.plans.get(name) else {
                let known: Vec<&str> = recipe
                    .plans
                    .keys()
                    .map(String::as_str)
                    .chain(["default", "baseline"])
                    .collect();
                let err = RecipeError::global(format!("recipe has no plan `{name}`")).help(
                    did_you_mean(name, known.iter().copied())
                        .unwrap_or_else(|| format!("plans: {}", known.join(", "))),
                );
                return Err(RecipeDiagnostics::new(
                    &recipe.path.display().to_string(),
                    &[err],
                    &recipe.sources,
                ));
            };
            for &a in axes {
                let mut next = Vec::new();
                for prefix in &out {
                    next.push(prefix.clone());
                    for v in 0..recipe.axes[a].values.len() {
                        let mut combo = prefix.clone();
                        combo.push((a, v));
                        next.push(combo);
                    }
                }
                out = next;
            }
        }
    }
    Ok(out)
}
