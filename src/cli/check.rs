//! `unmt check RECIPE`: validate a recipe without running anything.

use crate::error::Error;
use crate::graph::{self, PlanChoice};

/// Prints `PATH: ok (...)` or returns the recipe's diagnostics.
pub fn run(arg: &super::RecipeArg) -> Result<i32, Error> {
    let path = arg.recipe.as_path();
    let recipe = crate::recipe::load_with(path, &arg.set)?;
    let graph = graph::build(&recipe, &PlanChoice::Default)?;
    for note in graph.unused_input_notes() {
        eprintln!("note: {note}");
    }
    let mut extra = String::new();
    if !recipe.var_axes.is_empty() {
        extra = format!(", {} variable axes", recipe.var_axes.len());
    }
    if !recipe.axes.is_empty() || !recipe.var_axes.is_empty() {
        extra = format!(
            ", {} sweep axes{extra}, {} nodes in the default plan",
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
