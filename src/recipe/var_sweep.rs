//! Variables as sweep axes: `[sweep] "vars.lmr" = ["sq", "sr"]` runs the whole plan again
//! with `lmr` set to each value (several language pairs in one plan, as DVC's `matrix` or
//! ducttape's branch points over a config value).
//!
//! A variable can change anything (file paths, node names made by `foreach`, parameters), so
//! an alternative is not a parameter override: the recipe is expanded again from its merged,
//! unexpanded form with the variable set, and validated on its own. The graph layer then
//! merges the alternatives' graphs, sharing every node that comes out identical.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::error::{RecipeDiagnostics, RecipeError, did_you_mean};
use super::raw::{RawFile, Value};
use super::source::{Sources, Span};
use super::validate::{Recipe, label};
use super::vars::RawVar;

/// One `vars.NAME` axis of `[sweep]`.
#[derive(Debug, Clone)]
pub struct VarAxis {
    /// `vars.NAME`, as written.
    pub path: String,
    /// The variable.
    pub name: String,
    /// Span of the axis key.
    pub span: Span,
    /// The alternatives: a short label (`sq`) and the value as written.
    pub values: Vec<(String, Value)>,
}

/// A recipe after `extends` and `--set`, before variables are expanded: what an alternative
/// of a variable axis is expanded from.
#[derive(Debug, Clone)]
pub struct Template {
    pub(super) path: PathBuf,
    pub(super) raw: RawFile,
    pub(super) sources: Sources,
}

/// Moves the `vars.*` axes out of `[sweep]` (and out of each plan's `cross`, returned by plan
/// name as indices into the axes), so that validation sees only parameter axes.
pub fn take_var_axes(
    raw: &mut RawFile,
    errors: &mut Vec<RecipeError>,
) -> (Vec<VarAxis>, BTreeMap<String, Vec<usize>>) {
    let mut axes = Vec::new();
    let mut kept = Vec::new();
    for a in std::mem::take(&mut raw.sweep) {
        let Some(name) = a.path.get_ref().strip_prefix("vars.") else {
            kept.push(a);
            continue;
        };
        let span = a.path.span();
        if !raw.vars.iter().any(|v| v.name.get_ref() == name) {
            let defined: Vec<&str> = raw.vars.iter().map(|v| v.name.get_ref().as_str()).collect();
            errors.push(
                RecipeError::at(
                    span,
                    format!("sweep axis `{}` names no variable", a.path.get_ref()),
                    "not in `[vars]`",
                )
                .help(
                    did_you_mean(name, defined.iter().copied())
                        .unwrap_or_else(|| format!("variables: {}", defined.join(", "))),
                ),
            );
            continue;
        }
        if a.values.is_empty() {
            errors.push(RecipeError::at(
                span,
                format!("sweep axis `{}` has no values", a.path.get_ref()),
                "add at least one alternative",
            ));
            continue;
        }
        axes.push(VarAxis {
            path: a.path.get_ref().clone(),
            name: name.to_owned(),
            span,
            values: a
                .values
                .iter()
                .map(|v| (label(v.get_ref()), v.clone()))
                .collect(),
        });
    }
    raw.sweep = kept;
    let mut plans = BTreeMap::new();
    for plan in &mut raw.plans {
        let mut idx = Vec::new();
        plan.cross.retain(|c| {
            if !c.get_ref().starts_with("vars.") {
                return true;
            }
            match axes.iter().position(|x: &VarAxis| &x.path == c.get_ref()) {
                Some(i) => idx.push(i),
                None => errors.push(RecipeError::at(
                    c.span(),
                    format!(
                        "plan `{}` crosses unknown axis `{}`",
                        plan.name.get_ref(),
                        c.get_ref()
                    ),
                    "not a `[sweep]` axis",
                )),
            }
            false
        });
        plans.insert(plan.name.get_ref().clone(), idx);
    }
    (axes, plans)
}

impl Template {
    pub(super) fn new(path: &Path, raw: &RawFile, sources: &Sources) -> Self {
        Self {
            path: path.to_path_buf(),
            raw: raw.clone(),
            sources: sources.clone(),
        }
    }
}

impl Recipe {
    /// The recipe with variable axes set to the given values (`(axis, value)` indices into
    /// [`Recipe::var_axes`]), expanded and validated again. Its diagnostics name the
    /// alternative (`recipe.toml [vars.lmr=sq]`).
    pub fn with_vars(&self, set: &[(usize, usize)]) -> Result<Recipe, RecipeDiagnostics> {
        let label = self
            .var_labels(set)
            .iter()
            .map(|(a, v)| format!("{a}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let Some(t) = &self.template else {
            return Err(RecipeDiagnostics::new(
                &self.path.display().to_string(),
                &[RecipeError::global(format!(
                    "recipe has no variable axes to set ({label})"
                ))],
                &self.sources,
            ));
        };
        let mut raw = t.raw.clone();
        for &(a, v) in set {
            let axis = &self.var_axes[a];
            let (_, value) = &axis.values[v];
            raw.vars.retain(|x| x.name.get_ref() != &axis.name);
            raw.vars.push(RawVar {
                name: Spanned::new(axis.span.clone(), axis.name.clone()),
                value: value.clone(),
            });
        }
        let name = format!("{} [{label}]", t.path.display());
        super::finish(&t.path, &name, raw, t.sources.clone(), Some(&label))
    }

    /// `[("vars.lmr", "sq"), ("vars.hmr", "de")]`: an alternative's settings, which node
    /// names and messages write `vars.lmr=sq,vars.hmr=de`.
    pub fn var_labels(&self, set: &[(usize, usize)]) -> Vec<(String, String)> {
        set.iter()
            .map(|&(a, v)| {
                (
                    self.var_axes[a].path.clone(),
                    self.var_axes[a].values[v].0.clone(),
                )
            })
            .collect()
    }

    /// The value of `[vars] name` as variant labels write it (`mk`, `[en,mk]`): what a
    /// report shows for a `vars.*` axis in the rows that keep the recipe's own value.
    pub fn var_value_label(&self, name: &str) -> Option<String> {
        self.vars
            .iter()
            .find(|(n, _)| n.get_ref() == name)
            .map(|(_, v)| label(v.get_ref()))
    }
}
