//! `unmt gc [RECIPES..] [--keep-last N] [--dry-run]`: delete cached results no current plan
//! reaches, and corrupt objects.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::cache::{self, Cache, NodeKey};
use crate::error::Error;
use crate::plan;

/// Keeps what [`plan::reachable`] finds for every plan of the recipes (with `keep_last`, also
/// each node name's most recent earlier results), deletes the rest and every corrupt object.
///
/// Without recipe arguments the recipes are every `recipes/**/*.toml`. One of them that does
/// not load (its data not there yet, as for `recipes/paper/`, or a file moved since it ran)
/// cannot say which keys it needs: `gc` warns and keeps every result that recipe's own runs
/// last used (its refs), so nothing it ran is lost. A recipe named on the command line must
/// load.
pub fn run(
    cache_dir: &Path,
    recipes: Vec<PathBuf>,
    keep_last: usize,
    dry_run: bool,
) -> Result<i32, Error> {
    let default_set = recipes.is_empty();
    let recipes = if default_set {
        super::default_recipes()?
    } else {
        recipes
    };
    let mut graphs = Vec::new();
    let mut unloadable = BTreeSet::new();
    for path in &recipes {
        let built = crate::recipe::load(path).and_then(|r| crate::graph::build_all_plans(&r));
        match built {
            Ok(g) => graphs.extend(g),
            Err(e) if default_set => {
                eprintln!(
                    "warning: `{}` does not load (`unmt check` says why): gc keeps every result \
                     its last runs used",
                    path.display()
                );
                drop(e);
                unloadable.insert(crate::graph::recipe_scope(path));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut cache = Cache::open(cache_dir)?;
    let report = cache::gc(&mut cache, keep_last, dry_run, |c| {
        let mut keep = plan::reachable(&graphs, c)?;
        keep.extend(
            c.recipe_refs()?
                .into_iter()
                .filter(|r| r.scope.as_ref().is_some_and(|s| unloadable.contains(s)))
                .map(|r| r.key),
        );
        Ok(keep)
    })?;
    let _ = cache.hasher().save();
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
    if keep_last > 0 {
        println!(
            "kept {} earlier results, up to {keep_last} per node name (--keep-last)",
            report.kept_recent.len()
        );
    }
    if !report.corrupt.is_empty() {
        let verb = if dry_run { "would remove" } else { "removed" };
        let keys: Vec<&NodeKey> = report.corrupt.iter().map(|(k, _)| k).collect();
        println!(
            "{verb} {} corrupt objects: {}",
            report.corrupt.len(),
            prefixes(&keys)
        );
    }
    if !report.newer.is_empty() {
        println!(
            "kept {} objects recorded by a newer unmt: {}",
            report.newer.len(),
            prefixes(&report.newer.iter().collect::<Vec<_>>())
        );
    }
    if !report.busy.is_empty() {
        println!(
            "skipped {} objects in use by another process",
            report.busy.len()
        );
    }
    Ok(0)
}

/// "1a2b3c4d5e6f, 0f9e8d7c6b5a": short keys, in order.
fn prefixes(keys: &[&NodeKey]) -> String {
    keys.iter()
        .map(|k| k.short())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn human_bytes(b: u64) -> String {
    let f = b as f64;
    match b {
        0..1024 => format!("{b} B"),
        1024..1_048_576 => format!("{:.1} KiB", f / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", f / 1_048_576.0),
        _ => format!("{:.2} GiB", f / 1_073_741_824.0),
    }
}
