//! `unmt report RECIPE`: the results tables and figures of a plan, from the cache.

use std::io::Write;
use std::path::Path;

use crate::cache::Cache;
use crate::error::Error;
use crate::results::render::{self, Format};
use crate::results::{self, ReportInput, shell_word};

/// Prints the report as `format`, or writes every format into `out`.
pub fn run(
    cache_dir: &Path,
    recipe: &super::RecipeArg,
    plan: Option<&str>,
    format: Format,
    out: Option<&Path>,
) -> Result<i32, Error> {
    let (loaded, graph) = super::load(recipe, plan)?;
    let cache = Cache::open(cache_dir)?;
    let mut command = vec![
        "unmt".to_owned(),
        "run".to_owned(),
        shell_word(&recipe.recipe.to_string_lossy()),
    ];
    if let Some(p) = plan {
        command.extend(["--plan".to_owned(), shell_word(p)]);
    }
    for s in &recipe.set {
        command.extend(["--set".to_owned(), shell_word(s)]);
    }
    let report = results::build(&ReportInput {
        recipe: &loaded,
        graph: &graph,
        cache: &cache,
        plan: plan.unwrap_or("default"),
        run_command: &command.join(" "),
    })?;
    // Planning memoised the external files' hashes: the next command need not re-read them.
    let _ = cache.hasher().save();
    super::cache_warnings(&cache);
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if !report.missing.is_empty() {
        eprintln!(
            "note: {} of {} nodes have no result yet (listed under \"Not run\")",
            report.missing.len(),
            report.nodes
        );
    }
    let mut stdout = std::io::stdout().lock();
    match out {
        Some(dir) => {
            for path in render::write_all(&report, dir)? {
                let _ = writeln!(stdout, "{}", path.display());
            }
        }
        None => {
            let _ = stdout.write_all(render::render(&report, format)?.as_bytes());
        }
    }
    Ok(0)
}
