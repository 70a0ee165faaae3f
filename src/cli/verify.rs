//! `unmt verify [--repair] [--quick] [--json]`: every cached object against its record.

use std::path::Path;
use std::time::Instant;

use crate::cache::{Cache, Depth};
use crate::error::Error;

/// Prints each object that fails ([`Cache::verify`]) and a summary line; exit code 1 when
/// any failed and was not repaired, so scripts and CI can act on it.
pub fn run(cache_dir: &Path, repair: bool, quick: bool, json: bool) -> Result<i32, Error> {
    let cache = Cache::open(cache_dir)?;
    let started = Instant::now();
    let depth = if quick { Depth::Stat } else { Depth::Full };
    let report = cache.verify(depth, repair)?;
    let seconds = started.elapsed().as_secs_f64();
    // `verify` tells what it moved itself, below.
    drop(cache.take_warnings());
    let _ = cache.hasher().save();
    let unrepaired = report.findings.len() - report.repaired.len();
    if json {
        let mut v = serde_json::to_value(&report)?;
        v["seconds"] = serde_json::json!(seconds);
        println!("{v}");
        return Ok(i32::from(unrepaired > 0));
    }
    for f in &report.findings {
        let node = f
            .node
            .as_deref()
            .map_or(String::new(), |n| format!(" (node `{n}`)"));
        let fate = if report.repaired.contains(&f.key) {
            ": moved to quarantine/, its node runs again"
        } else if report.busy.contains(&f.key) {
            ": left alone, another process holds its lock"
        } else {
            ""
        };
        println!("object `{}`{node} {}{fate}", f.key.short(), f.problem);
    }
    let rate = report.bytes_hashed as f64 / seconds.max(1e-9) / 1e9;
    println!(
        "checked {} objects, hashed {} in {seconds:.2} s ({rate:.2} GB/s): {} failed",
        report.checked,
        super::gc::human_bytes(report.bytes_hashed),
        report.findings.len()
    );
    if !report.newer.is_empty() {
        println!(
            "skipped {} objects recorded by a newer unmt",
            report.newer.len()
        );
    }
    if unrepaired > 0 && !repair {
        eprintln!("rerun with `--repair` to move them aside so that their nodes run again");
    }
    Ok(i32::from(unrepaired > 0))
}
