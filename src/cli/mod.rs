//! The `unmt` command line: clap argument types, and one module per command that calls the
//! layer below and renders what it returns. No business logic lives here: plans, explanations,
//! the gc keep set and cache lookups are functions of `plan` and `cache` that return data.
//! Every command returns its exit code; errors are rendered once, by `main`.

mod args;
mod bli;
mod bpe;
mod check;
mod config;
mod explain;
mod export;
mod gc;
mod graph;
mod plan;
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

use std::path::{Path, PathBuf};

pub use args::{Cli, Command, RecipeArg};

use crate::error::Error;
use crate::graph::{Graph, PlanChoice};
use crate::recipe::Recipe;

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> Result<i32, Error> {
    let cache = cli.cache.as_path();
    match cli.command {
        Command::Check { recipe } => check::run(&recipe),
        Command::Config { recipe } => config::run(&recipe),
        Command::Plan {
            recipe,
            plan,
            json,
            gpus,
        } => plan::run(cache, &recipe, plan.as_deref(), json, gpus),
        Command::Run {
            recipe,
            targets,
            force,
            plan,
            jobs,
            gpus,
            keep_going,
            json,
        } => run::run(
            cache,
            &recipe,
            &run::Selection { targets, force },
            plan.as_deref(),
            crate::exec::RunOptions {
                jobs,
                gpus,
                keep_going,
                ..crate::exec::RunOptions::default()
            },
            json,
        ),
        Command::Explain { recipe, node, plan } => {
            explain::run(cache, &recipe, &node, plan.as_deref())
        }
        Command::Graph {
            recipe,
            format,
            plan,
        } => graph::run(cache, &recipe, format, plan.as_deref()),
        Command::Show { node, recipe, json } => show::run(cache, &node, recipe.as_deref(), json),
        Command::Gc { recipes, dry_run } => gc::run(cache, recipes, dry_run),
        Command::Stages { kind, json } => stages::run(kind.as_deref(), json),
        Command::Tokenize(args) => Ok(tokenize::run(&args).map(|()| 0)?),
        Command::Bpe(args) => Ok(bpe::run(&args).map(|()| 0)?),
        Command::Skipgram(args) => Ok(skipgram::run(&args).map(|()| 0)?),
        Command::Score(args) => Ok(score::run(&args).map(|()| 0)?),
        Command::Vecmap(args) => Ok(vecmap::run(&args).map(|()| 0)?),
        Command::Bli(args) => Ok(bli::run(&args).map(|()| 0)?),
        Command::TrainMlm(args) => train_mlm::run(&args).map(|()| 0),
        Command::TrainUnmt(args) => train_unmt::run(&args).map(|()| 0),
        Command::Translate(args) => translate::run(cache, &args).map(|()| 0),
        Command::Export { node, dir } => export::run(cache, &node, &dir),
    }
}

/// Loads a recipe and builds the graph of one of its plans.
fn load(arg: &RecipeArg, plan: Option<&str>) -> Result<(Recipe, Graph), Error> {
    let recipe = crate::recipe::load_with(&arg.recipe, &arg.set)?;
    let graph = crate::graph::build(&recipe, &PlanChoice::from_arg(plan))?;
    for note in graph.unused_input_notes() {
        eprintln!("note: {note}");
    }
    Ok((recipe, graph))
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

/// `recipes/*.toml`, sorted: the recipes `gc` keeps results for by default.
fn default_recipes() -> Result<Vec<PathBuf>, Error> {
    let dir = Path::new("recipes");
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        action: "list",
        path: dir.to_path_buf(),
        source,
    })?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    found.sort();
    Ok(found)
}
