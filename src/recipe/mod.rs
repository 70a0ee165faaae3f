//! Recipes: TOML files describing a pipeline as named nodes.
//!
//! ```toml
//! extends = "base.toml"                 # optional; this file overrides the base
//!
//! [files]                               # external inputs, relative to this file
//! en = "../examples/data/en.setimes.txt"
//!
//! [vars]                               # `${name}` anywhere below (see [`vars`])
//! hmr = "en"
//!
//! [nodes.corpus_en]
//! stage = "corpus"
//! inputs = { text = "files.${hmr}" }
//! params = { valid = 100, seed = 1 }
//!
//! [sweep]                               # axes: alternative values of one parameter
//! "corpus_en.dedup" = [true]
//! "vars.hmr" = ["de"]                   # a variable: the whole plan again per value
//!
//! [plans.full]                          # named plans cross axes fully
//! cross = ["corpus_en.dedup"]
//!
//! [report.scores]                       # a results table for `unmt report` (see [`report`])
//! columns = [{ node = "corpus_en", metric = "lines" }]
//! ```
//!
//! Loading is three passes: [`raw`] walks each file's spanned TOML (following `extends`),
//! [`vars`] expands variables and `foreach` templates in the merged result, [`validate`]
//! checks it and produces a [`Recipe`]. Errors from both passes
//! are collected and rendered together by [`RecipeDiagnostics`].

mod error;
mod load;
pub mod raw;
pub mod report;
mod source;
mod validate;
mod var_sweep;
mod vars;

use std::path::Path;

pub use error::{RecipeDiagnostics, RecipeError, did_you_mean};
pub use report::{ReportColumn, ReportTable};
pub use source::{SourceFile, Sources, Span};
pub use validate::{
    Axis, AxisValue, FILES, FileInput, NodeSpec, Recipe, Ref, Target, param_span, params_error,
    resolve,
};
pub use var_sweep::VarAxis;

/// Loads and validates the recipe at `path`.
pub fn load(path: &Path) -> Result<Recipe, RecipeDiagnostics> {
    load_with(path, &[])
}

/// Loads and validates the recipe at `path` with variables set from the command line
/// (`vars.NAME=VALUE`, as `--set` gives them). Every alternative of a `vars.*` sweep axis is
/// expanded and validated too, so that `check` finds their errors.
pub fn load_with(path: &Path, set: &[String]) -> Result<Recipe, RecipeDiagnostics> {
    let mut sources = Sources::default();
    let mut errors = Vec::new();
    let raw = load::load(path, &mut sources, &mut errors);
    let name = path.display().to_string();
    let Some(mut raw) = raw.filter(|_| errors.is_empty()) else {
        return Err(RecipeDiagnostics::new(&name, &errors, &sources));
    };
    vars::set_from_args(&mut raw, set, &mut sources, &mut errors);
    let (var_axes, var_plans) = var_sweep::take_var_axes(&mut raw, &mut errors);
    if !errors.is_empty() {
        return Err(RecipeDiagnostics::new(&name, &errors, &sources));
    }
    let template = (!var_axes.is_empty()).then(|| var_sweep::Template::new(path, &raw, &sources));
    let mut recipe = finish(path, &name, raw, sources, None)?;
    recipe.var_axes = var_axes;
    recipe.var_plans = var_plans;
    recipe.template = template;
    for (a, axis) in recipe.var_axes.iter().enumerate() {
        for v in 0..axis.values.len() {
            recipe.with_vars(&[(a, v)])?;
        }
    }
    Ok(recipe)
}

/// Expands variables and templates in a merged recipe, then validates it. `under` names the
/// sweep alternative being expanded, which every error then mentions.
fn finish(
    path: &Path,
    name: &str,
    mut raw: raw::RawFile,
    sources: Sources,
    under: Option<&str>,
) -> Result<Recipe, RecipeDiagnostics> {
    let tag = |mut errors: Vec<RecipeError>| {
        if let Some(under) = under {
            for e in &mut errors {
                e.message = format!("{} (under the sweep alternative `{under}`)", e.message);
            }
        }
        errors
    };
    let mut errors = Vec::new();
    let uses = vars::expand(&mut raw, &mut errors);
    load::merge_duplicate_nodes(&mut raw);
    if !errors.is_empty() {
        return Err(RecipeDiagnostics::new(name, &tag(errors), &sources));
    }
    validate::validate(path.to_path_buf(), raw, sources).map_err(|(errors, sources)| {
        let errors = vars::point_at_definitions(errors, &uses, &sources);
        RecipeDiagnostics::new(name, &tag(errors), &sources)
    })
}
