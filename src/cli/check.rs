//! `unmt check RECIPE`: validate a recipe without running anything.

use std::path::Path;

use crate::error::Error;
use crate::graph::{self, PlanChoice};

/// Prints `PATH: ok (...)` or returns the recipe's diagnostics.
pub fn run(path: &Path) -> Result<i32, Error> {
    let recipe = crate::recipe::load(path)?;
    let graph = graph::build(&recipe, &PlanChoice::Default)?;
    let mut extra = String::new();
    if !recipe.axes.is_empty() {
        extra = format!(
            ", {} sweep axes, {} nodes in the default plan",
            recipe.axes.len(),
            graph.nodes.len()
        );
    }
    println!(
        "{}: ok ({} nodes, {} files{extra})",
        path.display(),
        recipe.nodes.len(),
        recipe.files.len()
    );
    Ok(0)
}
