//! `unmt gc [RECIPES..] [--dry-run]`: delete cached results no current plan reaches.

use std::path::{Path, PathBuf};

use crate::cache::{self, Cache};
use crate::error::Error;
use crate::plan;

/// Keeps what [`plan::reachable`] finds for every plan of the recipes, deletes the rest.
pub fn run(cache_dir: &Path, recipes: Vec<PathBuf>, dry_run: bool) -> Result<i32, Error> {
    let recipes = if recipes.is_empty() {
        super::default_recipes()?
    } else {
        recipes
    };
    let cache = Cache::open(cache_dir)?;
    let mut graphs = Vec::new();
    for path in &recipes {
        let recipe = crate::recipe::load(path)?;
        graphs.extend(crate::graph::build_all_plans(&recipe)?);
    }
    let keep = plan::reachable(&graphs, &cache)?;
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
    let f = b as f64;
    match b {
        0..1024 => format!("{b} B"),
        1024..1_048_576 => format!("{:.1} KiB", f / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", f / 1_048_576.0),
        _ => format!("{:.2} GiB", f / 1_073_741_824.0),
    }
}
