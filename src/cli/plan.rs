//! `unmt plan RECIPE`: every node as reuse / run (with the reason) / blocked.

use std::io::Write;
use std::path::Path;

use crate::cache::Cache;
use crate::error::Error;
use crate::plan::{self, Action};

/// Prints the plan as a table, or as JSON with `json`.
pub fn run(
    cache_dir: &Path,
    recipe: &super::RecipeArg,
    plan: Option<&str>,
    json: bool,
    gpus: usize,
) -> Result<i32, Error> {
    let (_, graph) = super::load(recipe, plan)?;
    let cache = Cache::open(cache_dir)?;
    let (plan, _) = plan::make(&graph, &cache, gpus)?;
    super::cache_warnings(&cache);
    let _ = cache.hasher().save();
    let mut out = std::io::stdout().lock();
    if json {
        let text = serde_json::to_string_pretty(&plan)?;
        let _ = writeln!(out, "{text}");
        return Ok(0);
    }
    let count = |a: Action| plan.nodes.iter().filter(|n| n.action == a).count();
    let _ = writeln!(
        out,
        "{} run, {} reuse, {} blocked",
        count(Action::Run),
        count(Action::Reuse),
        count(Action::Blocked)
    );
    let width = plan.nodes.iter().map(|n| n.node.len()).max().unwrap_or(0);
    let swidth = plan.nodes.iter().map(|n| n.stage.len()).max().unwrap_or(0);
    for n in &plan.nodes {
        let _ = writeln!(
            out,
            "  {:<7} {:<width$}  {:<swidth$}  {}",
            n.action.as_str(),
            n.node,
            n.stage,
            n.reason
        );
    }
    Ok(0)
}
