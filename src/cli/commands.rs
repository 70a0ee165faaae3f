//! The engine commands: check, plan, run, explain, graph, show, gc, stages.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::args::{Cli, Command};
use crate::cache::{self, Cache};
use crate::error::Error;
use crate::exec::{self, RunOptions};
use crate::graph::{self, Graph, PlanChoice};
use crate::plan::{self, Action, InputState, Known, NodeKey};
use crate::recipe::{self, Recipe, did_you_mean};
use crate::report;

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        Command::Check { recipe } => check(&recipe),
        Command::Plan {
            recipe,
            plan,
            json,
            gpus,
        } => plan_cmd(&cli.cache, &recipe, plan.as_deref(), json, gpus),
        Command::Run {
            recipe,
            plan,
            jobs,
            gpus,
            keep_going,
            json,
        } => run_cmd(
            &cli.cache,
            &recipe,
            plan.as_deref(),
            &RunOptions {
                jobs,
                gpus,
                keep_going,
            },
            json,
        ),
        Command::Explain { recipe, node, plan } => {
            explain(&cli.cache, &recipe, &node, plan.as_deref())
        }
        Command::Graph {
            recipe,
            format,
            plan,
        } => graph_cmd(&cli.cache, &recipe, format, plan.as_deref()),
        Command::Show { node, json } => show(&cli.cache, &node, json),
        Command::Gc { recipes, dry_run } => gc(&cli.cache, recipes, dry_run),
        Command::Stages => stages(),
        Command::Tokenize(args) => crate::text::moses::run(&args)
            .map(|()| 0)
            .map_err(Error::tool),
        Command::Bpe(args) => crate::text::bpe::run(&args)
            .map(|()| 0)
            .map_err(Error::tool),
        Command::Skipgram(args) => crate::embed::skipgram::run(&args)
            .map(|()| 0)
            .map_err(Error::tool),
        Command::Score(args) => crate::metrics::run(&args).map(|()| 0).map_err(Error::tool),
        Command::Vecmap(args) => crate::embed::vecmap::run(&args)
            .map(|()| 0)
            .map_err(Error::tool),
        Command::Bli(args) => crate::embed::bli::run_bli(&args)
            .map(|()| 0)
            .map_err(Error::tool),
        Command::TrainMlm(args) => crate::train::cli::run(&args)
            .map(|()| 0)
            .map_err(Error::tool),
    }
}

fn load(path: &Path, plan: Option<&str>) -> Result<(Recipe, Graph), Error> {
    let recipe = recipe::load(path)?;
    let graph = graph::build(&recipe, &PlanChoice::from_arg(plan))?;
    Ok((recipe, graph))
}

fn check(path: &Path) -> Result<i32, Error> {
    let recipe = recipe::load(path)?;
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

fn plan_cmd(
    cache_dir: &Path,
    path: &Path,
    plan: Option<&str>,
    json: bool,
    gpus: usize,
) -> Result<i32, Error> {
    let (_, graph) = load(path, plan)?;
    let cache = Cache::open(cache_dir)?;
    let (plan, _) = plan::make(&graph, &cache, gpus)?;
    let _ = cache.hasher().save();
    let mut out = std::io::stdout().lock();
    if json {
        let text = serde_json::to_string_pretty(&plan).map_err(Error::tool)?;
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

fn run_cmd(
    cache_dir: &Path,
    path: &Path,
    plan: Option<&str>,
    opts: &RunOptions,
    json: bool,
) -> Result<i32, Error> {
    let (_, graph) = load(path, plan)?;
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

fn find_node(graph: &Graph, node: &str) -> Result<usize, Error> {
    graph.find(node).ok_or_else(|| Error::UnknownNode {
        node: node.to_owned(),
        help: did_you_mean(node, graph.nodes.iter().map(|n| n.name.as_str())).or_else(|| {
            Some(format!(
                "nodes: {}",
                graph
                    .nodes
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }),
    })
}

fn explain(cache_dir: &Path, path: &Path, node: &str, plan: Option<&str>) -> Result<i32, Error> {
    let (_, graph) = load(path, plan)?;
    let i = find_node(&graph, node)?;
    let cache = Cache::open(cache_dir)?;
    let (p, known) = plan::make(&graph, &cache, usize::MAX)?;
    let _ = cache.hasher().save();
    let entry = &p.nodes[i];
    let mut out = std::io::stdout().lock();
    match entry.action {
        Action::Reuse => {
            let _ = writeln!(
                out,
                "{node}: up to date (key {})",
                entry.key.as_ref().map_or("?", NodeKey::short)
            );
        }
        Action::Blocked => {
            let _ = writeln!(out, "{node}: blocked: {}", entry.reason);
        }
        Action::Run => match plan::resolve_inputs(&graph, i, &cache, &known)? {
            InputState::Ready(inputs) => {
                let key = inputs.material.key();
                let _ = writeln!(out, "{node}: will run");
                let _ = writeln!(out, "  key:      {} (not in the cache)", key.short());
                match cache
                    .get_ref(Some(&graph.scope), node)
                    .and_then(|k| cache.lookup(&k).ok().flatten())
                {
                    Some(old) => {
                        let _ = writeln!(out, "  last run: {}", old.key.short());
                        let because = |label: &str| {
                            let producer = label.rsplit_once('.').map_or(label, |(n, _)| n);
                            p.nodes
                                .iter()
                                .find(|x| x.node == producer && x.action == Action::Run)
                                .map(|x| format!("{producer}: {}", x.reason))
                        };
                        let changes = plan::diff(
                            &old,
                            &plan::Current {
                                node,
                                material: &inputs.material,
                                params: &graph.nodes[i].params.full,
                                origins: &inputs.origins,
                                because: &because,
                            },
                        );
                        if changes.is_empty() {
                            let _ = writeln!(
                                out,
                                "  no difference in key material: the result was removed from the cache"
                            );
                        } else {
                            let _ = writeln!(out, "  changes:");
                            for c in changes {
                                let _ = writeln!(out, "    {c}");
                            }
                        }
                    }
                    None => {
                        let _ = writeln!(out, "  never run under this name");
                    }
                }
            }
            _ => {
                let _ = writeln!(out, "{node}: will run: {}", entry.reason);
                for parent in graph.parents(i) {
                    if let Known::Pending = known[parent] {
                        let pe = &p.nodes[parent];
                        let _ = writeln!(out, "  upstream {}: {}", pe.node, pe.reason);
                    }
                }
            }
        },
    }
    Ok(0)
}

fn graph_cmd(
    cache_dir: &Path,
    path: &Path,
    format: graph::Format,
    plan: Option<&str>,
) -> Result<i32, Error> {
    let (_, graph) = load(path, plan)?;
    let cache = Cache::open(cache_dir)?;
    let (p, _) = plan::make(&graph, &cache, usize::MAX)?;
    print!(
        "{}",
        graph::render(&graph, format, &|i| p.nodes[i].action.as_str())
    );
    Ok(0)
}

fn show(cache_dir: &Path, what: &str, json: bool) -> Result<i32, Error> {
    let cache = Cache::open(cache_dir)?;
    let key = match cache.get_ref(None, what) {
        Some(k) => k,
        None if NodeKey::is_prefix_like(what) => {
            let found = cache.find_prefix(what)?;
            match found.len() {
                0 => {
                    return Err(Error::NotInCache {
                        what: what.to_owned(),
                    });
                }
                1 => found.into_iter().next().ok_or_else(|| Error::NotInCache {
                    what: what.to_owned(),
                })?,
                n => {
                    return Err(Error::Ambiguous {
                        prefix: what.to_owned(),
                        matches: n,
                    });
                }
            }
        }
        None => {
            return Err(Error::NotInCache {
                what: what.to_owned(),
            });
        }
    };
    let record = cache.lookup(&key)?.ok_or_else(|| Error::NotInCache {
        what: what.to_owned(),
    })?;
    let dir = cache.object_dir(&key);
    let mut out = std::io::stdout().lock();
    if json {
        let mut v = serde_json::to_value(&record).map_err(Error::tool)?;
        v["path"] = serde_json::json!(dir);
        let _ = writeln!(out, "{v:#}");
        return Ok(0);
    }
    let _ = writeln!(
        out,
        "node:     {} ({} v{})",
        record.node, record.material.stage, record.material.code_version
    );
    let _ = writeln!(out, "key:      {}", record.key);
    let _ = writeln!(out, "path:     {}", dir.display());
    let _ = writeln!(
        out,
        "ran:      {:.2}s (unmt {})",
        record.seconds, record.unmt_version
    );
    let _ = writeln!(out, "outputs:");
    for (name, o) in &record.outputs {
        let _ = writeln!(
            out,
            "  {name}: {} ({} bytes, {})",
            cache.output_path(&key, name).display(),
            o.bytes,
            o.hash.short()
        );
    }
    let _ = writeln!(out, "inputs:");
    for (slot, origins) in &record.origins {
        for o in origins {
            let _ = writeln!(out, "  {slot}: {}", o.source);
        }
    }
    let _ = writeln!(out, "params:");
    for (k, v) in &record.params {
        let _ = writeln!(out, "  {k} = {v}");
    }
    if !record.metrics.is_empty() {
        let _ = writeln!(out, "metrics:");
        for (k, v) in &record.metrics {
            let _ = writeln!(out, "  {k} = {v}");
        }
    }
    let _ = writeln!(out, "log:      {}", dir.join("log.txt").display());
    Ok(0)
}

fn gc(cache_dir: &Path, recipes: Vec<PathBuf>, dry_run: bool) -> Result<i32, Error> {
    let recipes = if recipes.is_empty() {
        let dir = Path::new("recipes");
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|source| Error::Io {
                action: "list",
                path: dir.to_path_buf(),
                source,
            })?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        found.sort();
        found
    } else {
        recipes
    };
    let cache = Cache::open(cache_dir)?;
    let mut keep = BTreeSet::new();
    for path in &recipes {
        let recipe = recipe::load(path)?;
        let mut choices = vec![PlanChoice::Default];
        choices.extend(recipe.plans.keys().map(|n| PlanChoice::Named(n.clone())));
        for choice in choices {
            let graph = graph::build(&recipe, &choice)?;
            let (p, _) = plan::make(&graph, &cache, usize::MAX)?;
            keep.extend(
                p.nodes
                    .into_iter()
                    .filter(|n| n.action == Action::Reuse)
                    .filter_map(|n| n.key),
            );
        }
    }
    let _ = cache.hasher().save();
    let report = cache::gc(&cache, &keep, dry_run)?;
    let verb = if dry_run { "would delete" } else { "deleted" };
    let total: u64 = report.bytes_by_stage.values().sum();
    println!(
        "{verb} {} objects ({}), kept {} reached by {} recipes",
        report.removed.len(),
        human_bytes(total),
        report.kept,
        recipes.len()
    );
    for (stage, bytes) in &report.bytes_by_stage {
        println!("  {stage}: {}", human_bytes(*bytes));
    }
    if !report.busy.is_empty() {
        println!(
            "skipped {} objects in use by another process",
            report.busy.len()
        );
    }
    Ok(0)
}

fn human_bytes(b: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let f = b as f64;
    match b {
        0..1024 => format!("{b} B"),
        1024..1_048_576 => format!("{:.1} KiB", f / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", f / 1_048_576.0),
        _ => format!("{:.2} GiB", f / 1_073_741_824.0),
    }
}

fn stages() -> Result<i32, Error> {
    for s in crate::stages::registry() {
        println!(
            "{} (code version {}): {}",
            s.kind(),
            s.code_version(),
            s.summary()
        );
        let empty = toml::Spanned::new(0..0, toml::de::DeValue::Table(toml::de::DeTable::new()));
        match s.resolve(empty) {
            Ok(p) => {
                for (k, v) in &p.full {
                    println!("    {k} = {v}");
                }
            }
            Err(_) => println!("    params: {}", s.param_fields().join(", ")),
        }
    }
    Ok(0)
}
