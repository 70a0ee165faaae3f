//! `unmt run RECIPE`: execute what the plan says, reuse the rest.

use std::path::Path;

use crate::cache::Cache;
use crate::error::Error;
use crate::exec::{self, RunOptions};
use crate::report;

/// Which nodes of the plan to run (`unmt run R NODE... --force NODE`).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only these and their ancestors (all when empty).
    pub targets: Vec<String>,
    /// Rerun these even if cached.
    pub force: Vec<String>,
}

/// The runner `--executor` names; subprocesses and Slurm jobs run this very binary.
pub fn executor(
    kind: super::args::ExecutorKind,
    partition: Option<String>,
    account: Option<String>,
) -> Result<exec::Executor, Error> {
    use super::args::ExecutorKind;
    let program = || {
        std::env::current_exe().map_err(|source| Error::Io {
            action: "find",
            path: "the running unmt binary".into(),
            source,
        })
    };
    if kind != ExecutorKind::Slurm && (partition.is_some() || account.is_some()) {
        return Err(Error::SlurmOnly);
    }
    Ok(match kind {
        ExecutorKind::Threads => exec::Executor::Threads,
        ExecutorKind::Subprocess => exec::Executor::Subprocess {
            program: program()?,
        },
        ExecutorKind::Slurm => exec::Executor::Slurm(exec::runner::SlurmOptions {
            program: program()?,
            partition,
            account,
        }),
    })
}

/// Runs the plan with a progress display (or JSON lines); exit code 1 if a node failed.
pub fn run(
    cache_dir: &Path,
    recipe: &super::RecipeArg,
    selection: &Selection,
    plan: Option<&str>,
    mut opts: RunOptions,
    json: bool,
) -> Result<i32, Error> {
    let (_, mut graph) = super::load(recipe, plan)?;
    if !selection.targets.is_empty() {
        graph = graph
            .restrict(&selection.targets)
            .map_err(|e| super::no_match(&graph, &e.pattern))?;
    }
    for pattern in &selection.force {
        let names: Vec<String> = graph
            .nodes
            .iter()
            .filter(|n| crate::graph::glob(pattern, &n.name))
            .map(|n| n.name.clone())
            .collect();
        if names.is_empty() {
            return Err(super::no_match(&graph, pattern));
        }
        opts.force.extend(names);
    }
    let opts = &opts;
    let cache = Cache::open(cache_dir)?;
    // Held until the run ends: `gc` cannot delete what this run is about to reuse.
    let _in_use =
        cache.use_shared(|| eprintln!("waiting for `unmt gc` to finish with the cache"))?;
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
    super::cache_warnings(&cache);
    Ok(if summary.ok() { 0 } else { 1 })
}
