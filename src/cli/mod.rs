//! The `unmt` command line: clap argument types, and one module per command that calls the
//! layer below and renders what it returns. No business logic lives here: plans, explanations,
//! the gc keep set and cache lookups are functions of `plan` and `cache` that return data.
//! Every command returns its exit code; errors are rendered once, by `main`.

mod args;
mod binarize;
mod bli;
mod bpe;
mod check;
mod config;
mod explain;
mod export;
mod gc;
mod graph;
mod plan;
mod report;
mod run;
mod score;
mod show;
mod skipgram;
mod stages;
mod tokenize;
mod train_mlm;
mod train_unmt;
mod translate;
mod values;
mod vecmap;
mod verify;

use std::path::{Path, PathBuf};

pub use args::{CacheArg, Cli, Command, RecipeArg};

use crate::error::Error;
use crate::graph::{Graph, PlanChoice};
use crate::recipe::Recipe;

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        Command::Check { recipe } => check::run(&recipe),
        Command::Config { recipe } => config::run(&recipe),
        Command::Plan {
            recipe,
            cache,
            plan,
            json,
            gpus,
        } => plan::run(&cache.cache, &recipe, plan.as_deref(), json, gpus),
        Command::Run {
            recipe,
            cache,
            targets,
            force,
            plan,
            jobs,
            gpus,
            keep_going,
            executor,
            partition,
            account,
            json,
        } => run::run(
            &cache.cache,
            &recipe,
            &run::Selection { targets, force },
            plan.as_deref(),
            crate::exec::RunOptions {
                jobs,
                gpus,
                keep_going,
                executor: run::executor(executor, partition, account)?,
                ..crate::exec::RunOptions::default()
            },
            json,
        ),
        Command::Explain {
            recipe,
            cache,
            node,
            plan,
        } => explain::run(&cache.cache, &recipe, &node, plan.as_deref()),
        Command::Graph {
            recipe,
            cache,
            format,
            plan,
        } => graph::run(&cache.cache, &recipe, format, plan.as_deref()),
        Command::Report {
            recipe,
            cache,
            plan,
            format,
            out,
        } => report::run(
            &cache.cache,
            &recipe,
            plan.as_deref(),
            format,
            out.as_deref(),
        ),
        Command::Show {
            cache,
            node,
            recipe,
            json,
        } => show::run(&cache.cache, &node, recipe.as_deref(), json),
        Command::Gc {
            cache,
            recipes,
            keep_last,
            keep_days,
            dry_run,
            yes,
            wait,
        } => gc::run(
            &cache.cache,
            recipes,
            gc::GcOptions {
                keep_last,
                keep_days,
                dry_run,
                yes,
                wait,
            },
        ),
        Command::Verify {
            cache,
            repair,
            quick,
            json,
        } => verify::run(&cache.cache, repair, quick, json),
        Command::ExecNode { job } => {
            crate::exec::exec_node(&job, &mut std::io::stdout())?;
            Ok(0)
        }
        Command::Stages { kind, json } => stages::run(kind.as_deref(), json),
        Command::Tokenize(args) => Ok(tokenize::run(&args).map(|()| 0)?),
        Command::Bpe(args) => Ok(bpe::run(&args).map(|()| 0)?),
        Command::Skipgram(args) => Ok(skipgram::run(&args).map(|()| 0)?),
        Command::Score(args) => Ok(score::run(&args).map(|()| 0)?),
        Command::Vecmap(args) => Ok(vecmap::run(&args).map(|()| 0)?),
        Command::Binarize(args) => binarize::run(&args).map(|()| 0),
        Command::Bli(args) => bli::run(&args).map(|()| 0),
        Command::TrainMlm(args) => train_mlm::run(&args).map(|()| 0),
        Command::TrainUnmt(args) => train_unmt::run(&args).map(|()| 0),
        Command::Translate(args) => translate::run(&args).map(|()| 0),
        Command::Export { cache, node, dir } => export::run(&cache.cache, &node, &dir),
    }
}

/// Loads a recipe and builds the graph of one of its plans.
fn load(arg: &RecipeArg, plan: Option<&str>) -> Result<(Recipe, Graph), Error> {
    let recipe = crate::recipe::load_with(&arg.recipe, &arg.set)?;
    let graph = crate::graph::build(&recipe, &PlanChoice::from_arg(plan))?;
    for note in graph.unused_input_notes() {
        eprintln!("note: {note}");
    }
    if graph.nodes.is_empty() {
        eprintln!(
            "warning: `{}` defines no nodes: there is nothing to run or report",
            arg.recipe.display()
        );
    }
    Ok((recipe, graph))
}

/// Prints what the cache did on its own while the command ran (objects quarantined).
fn cache_warnings(cache: &crate::cache::Cache) {
    for w in cache.take_warnings() {
        eprintln!("warning: {w}");
    }
}

/// Resolves a node name of `graph` (with "did you mean" when it is not there).
fn find_node(graph: &Graph, node: &str) -> Result<usize, Error> {
    graph.find(node).ok_or_else(|| Error::UnknownNode {
        node: node.to_owned(),
        help: crate::recipe::did_you_mean(node, graph.nodes.iter().map(|n| n.name.as_str()))
            .or_else(|| {
                let names: Vec<&str> = graph.nodes.iter().map(|n| n.name.as_str()).collect();
                Some(format!("nodes: {}", names.join(", ")))
            }),
    })
}

/// The error for a target or `--force` pattern that names no node of `graph`.
fn no_match(graph: &Graph, pattern: &str) -> Error {
    find_node(graph, pattern)
        .err()
        .unwrap_or(Error::UnknownNode {
            node: pattern.to_owned(),
            help: None,
        })
}

/// `recipes/**/*.toml`, sorted by path: the recipes `gc` keeps results for by default.
/// Like the shell glob, it skips names starting with `.` (editor lock and swap files) and
/// does not follow symbolic links to directories (a link to a file counts).
fn default_recipes() -> Result<Vec<PathBuf>, Error> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), Error> {
        let list = |source| Error::Io {
            action: "list",
            path: dir.to_path_buf(),
            source,
        };
        for entry in std::fs::read_dir(dir).map_err(list)? {
            let entry = entry.map_err(list)?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if entry.file_type().map_err(list)?.is_dir() {
                walk(&path, found)?;
            } else if path.extension().is_some_and(|x| x == "toml") && path.is_file() {
                found.push(path);
            }
        }
        Ok(())
    }
    let mut found = Vec::new();
    walk(Path::new("recipes"), &mut found)?;
    found.sort();
    Ok(found)
}
