//! `unmt graph RECIPE --format dot|mermaid`: the DAG, coloured by planned action.

use std::path::Path;

use crate::cache::Cache;
use crate::error::Error;
use crate::graph::{self, Format};
use crate::plan;

/// Prints the rendered graph.
pub fn run(
    cache_dir: &Path,
    recipe: &super::RecipeArg,
    format: Format,
    plan: Option<&str>,
) -> Result<i32, Error> {
    let (_, graph) = super::load(recipe, plan)?;
    let cache = Cache::open(cache_dir)?;
    let (p, _) = plan::make(&graph, &cache, usize::MAX)?;
    print!(
        "{}",
        graph::render(&graph, format, &|i| p.nodes[i].action.as_str())
    );
    Ok(0)
}
