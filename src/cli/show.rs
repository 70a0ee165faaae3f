//! `unmt show NODE|KEY`: a cached result's paths, record and metrics.

use std::io::Write;
use std::path::Path;

use crate::cache::Cache;
use crate::error::Error;

/// Prints the record found by [`Cache::resolve`], as text or JSON.
pub fn run(cache_dir: &Path, what: &str, json: bool) -> Result<i32, Error> {
    let cache = Cache::open(cache_dir)?;
    let (key, record) = cache.resolve(what)?;
    let dir = cache.object_dir(&key);
    let mut out = std::io::stdout().lock();
    if json {
        let mut v = serde_json::to_value(&record)?;
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
