//! `unmt gc [RECIPES..] [--keep-last N] [--keep-days D] [--dry-run] [--yes] [--wait]`: delete
//! cached results no current plan reaches, corrupt objects and debris.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::cache::{self, Cache, KeepSet, NodeKey};
use crate::error::Error;
use crate::plan;

/// `gc`'s options besides the recipes.
#[derive(Debug, Clone, Copy)]
pub struct GcOptions {
    /// `--keep-last N`.
    pub keep_last: usize,
    /// `--keep-days D`: results recipes outside the set used this recently, and
    /// checkpoints this fresh, stay.
    pub keep_days: u64,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--yes`: delete also when that is most of the cache.
    pub yes: bool,
    /// `--wait`: wait for running `unmt run`s instead of refusing.
    pub wait: bool,
}

/// Above this many objects *and* half of the cache, or above [`CONFIRM_BYTES`], `gc` only
/// reports unless given `--yes`: a recipe edited by mistake, or a recipe set that misses a
/// folder, should not cost days of training.
const CONFIRM_OBJECTS: usize = 10;
const CONFIRM_BYTES: u64 = 10 << 30;

/// Keeps what the recipes' current plans reuse or would resume ([`plan::reachable`]), and
/// what their last runs used where a plan cannot tell; deletes the rest, corrupt objects
/// and debris outside `objects/` (see [`cache::gc`]).
///
/// Without recipe arguments the recipes are every `recipes/**/*.toml`. One of them that does
/// not load (its data not there yet, as for `recipes/paper/`, or a file moved since it ran)
/// cannot say which keys it needs: `gc` warns and keeps every result that recipe's own runs
/// last used (its refs), so nothing it ran is lost. The same holds for a node whose key a
/// plan cannot compute because a producer must run first (a missing tokenizer output above
/// a trained model), and, with the default set, for results any other recipe used in the
/// last `keep_days` days. A recipe named on the command line must load.
pub fn run(cache_dir: &Path, recipes: Vec<PathBuf>, o: GcOptions) -> Result<i32, Error> {
    let default_set = recipes.is_empty();
    let recipes = if default_set {
        super::default_recipes()?
    } else {
        recipes
    };
    let mut graphs = Vec::new();
    let mut unloadable = BTreeSet::new();
    let scopes: BTreeSet<String> = recipes
        .iter()
        .map(|p| crate::graph::recipe_scope(p))
        .collect();
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
    let Some(_exclusive) = cache.use_exclusive(o.wait)? else {
        return Err(Error::CacheInUse {
            cache: cache_dir.to_path_buf(),
        });
    };
    let grace = Duration::from_secs(o.keep_days.saturating_mul(86_400));
    let by_recent_refs = std::cell::Cell::new(0usize);
    let keep_set = |c: &Cache| -> Result<KeepSet, cache::CacheError> {
        let reach = plan::reachable(&graphs, c)?;
        let recent = SystemTime::now()
            .checked_sub(grace)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut objects = reach.reuse;
        let mut recent_only = BTreeSet::new();
        for r in c.recipe_refs()? {
            let Some(scope) = r.scope.clone() else {
                continue;
            };
            let needed = unloadable.contains(&scope)
                || reach.unkeyed.contains(&(scope.clone(), r.node.clone()));
            if needed {
                objects.insert(r.key);
            } else if default_set
                && !scopes.contains(&scope)
                && r.written.is_some_and(|t| t >= recent)
            {
                recent_only.insert(r.key);
            }
        }
        let recent_only: BTreeSet<NodeKey> = recent_only.difference(&objects).cloned().collect();
        // Only those published count (a ref may outlive its object).
        by_recent_refs.set(
            recent_only
                .iter()
                .filter(|k| c.object_dir(k).is_dir())
                .count(),
        );
        objects.extend(recent_only);
        Ok(KeepSet {
            objects,
            resumable: reach.pending,
        })
    };
    let mut report = cache::gc(&mut cache, o.keep_last, true, grace, keep_set)?;
    let total = cache.objects()?.len();
    let bytes: u64 = report.bytes_by_stage.values().sum();
    let most = report.removed.len() > CONFIRM_OBJECTS.max(total / 2) || bytes > CONFIRM_BYTES;
    let dry_run = o.dry_run || (most && !o.yes);
    if !dry_run {
        report = cache::gc(&mut cache, o.keep_last, false, grace, keep_set)?;
    }
    let _ = cache.hasher().save();
    report.kept -= by_recent_refs.get().min(report.kept);
    print_report(&report, dry_run, o.keep_last, recipes.len());
    if by_recent_refs.get() > 0 {
        println!(
            "kept {} results that recipes outside the set used in the last {} days (--keep-days)",
            by_recent_refs.get(),
            o.keep_days
        );
    }
    if dry_run && !o.dry_run {
        eprintln!(
            "warning: nothing deleted: that is {} of the {total} cached objects ({}); rerun \
             with `--yes` to delete them",
            report.removed.len(),
            human_bytes(bytes)
        );
    }
    Ok(0)
}

fn print_report(report: &cache::GcReport, dry_run: bool, keep_last: usize, recipes: usize) {
    let verb = if dry_run { "would delete" } else { "deleted" };
    let total: u64 = report.bytes_by_stage.values().sum();
    println!(
        "{verb} {} objects ({}), kept {} reached by {recipes} recipes",
        report.removed.len(),
        human_bytes(total),
        report.kept,
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
    let r = &report.reclaimed;
    let debris = [
        ("stale attempts and checkpoints in partial/", r.partial),
        ("failure logs in failed/", r.failed),
        ("quarantined objects", r.quarantine),
        ("stale temporary files", r.temp),
    ];
    for (what, d) in debris {
        if d.entries > 0 {
            let verb = if dry_run {
                "would reclaim"
            } else {
                "reclaimed"
            };
            println!("{verb} {} {what} ({})", d.entries, human_bytes(d.bytes));
        }
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
