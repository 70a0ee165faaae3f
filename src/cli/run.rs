//! `unmt run RECIPE`: execute what the plan says, reuse the rest.

use std::path::Path;

use crate::cache::Cache;
use crate::error::Error;
use crate::exec::{self, RunOptions};
use crate::report;

/// Runs the plan with a progress display (or JSON lines); exit code 1 if a node failed.
pub fn run(
    cache_dir: &Path,
    path: &Path,
    plan: Option<&str>,
    opts: &RunOptions,
    json: bool,
) -> Result<i32, Error> {
    let (_, graph) = super::load(path, plan)?;
    let cache = Cache::open(cache_dir)?;
    let summary = if json {
        let r = report::JsonLines::new();
        let s = exec::execute(&graph, &cache, opts, &|e| r.event(&e))?;
        r.summary(&s);
        s
    } else {
        let r = report::Human::new();
        let s = exec::execute(&graph, &cache, opts, &|e| r.event(&e))?;
        r.summary(&s);
        s
    };
    Ok(if summary.ok() { 0 } else { 1 })
}
