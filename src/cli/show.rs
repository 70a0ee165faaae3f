//! `unmt show NODE|KEY`: a cached result's paths, record and metrics.

use std::io::Write;
use std::path::Path;

use crate::cache::Cache;
use crate::error::Error;

/// Prints the record found by [`Cache::resolve`] (or the one recipe `recipe` last used
/// under the name `what`), as text or JSON, with the recipes and names it was used under.
pub fn run(cache_dir: &Path, what: &str, recipe: Option<&Path>, json: bool) -> Result<i32, Error> {
    let cache = Cache::open(cache_dir)?;
    let (key, record) = match recipe {
        Some(r) => {
            let scope = crate::graph::recipe_scope(r);
            let key = cache.get_ref(Some(&scope), what).ok_or_else(|| {
                crate::cache::CacheError::NotFound {
                    what: format!("{what} (in {})", r.display()),
                }
            })?;
            let record = cache
                .lookup(&key)?
                .ok_or_else(|| crate::cache::CacheError::NotFound {
                    what: what.to_owned(),
                })?;
            (key, record)
        }
        None => cache.resolve(what)?,
    };
    let dir = cache.object_dir(&key);
    let refs = cache.recipe_refs()?;
    let used: Vec<(&str, &str)> = refs
        .iter()
        .filter(|r| r.key == key)
        .map(|r| (r.scope.as_deref().unwrap_or(""), r.node.as_str()))
        .collect();
    let others: Vec<&crate::cache::NameRef> = refs
        .iter()
        .filter(|r| r.node == what && r.key != key)
        .collect();
    let mut out = std::io::stdout().lock();
    if json {
        let mut v = serde_json::to_value(&record)?;
        v["path"] = serde_json::json!(dir);
        v["used_by"] = used
            .iter()
            .map(|(recipe, node)| serde_json::json!({"recipe": recipe, "node": node}))
            .collect();
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
    if !used.is_empty() {
        let _ = writeln!(out, "used by:");
        for (recipe, node) in &used {
            let _ = writeln!(out, "  {recipe} as `{node}`");
        }
    }
    let _ = writeln!(out, "inputs:");
    for (slot, origins) in &record.origins {
        let hashes = record.material.inputs.get(slot);
        for (i, o) in origins.iter().enumerate() {
            let hash = hashes.and_then(|h| h.get(i)).map(|h| h.short().to_owned());
            match (&o.path, &o.producer) {
                (Some(path), _) => {
                    let _ = writeln!(
                        out,
                        "  {slot}: {} = {} ({})",
                        o.source,
                        path.display(),
                        hash.unwrap_or_default()
                    );
                }
                (None, Some(k)) => {
                    let _ = writeln!(out, "  {slot}: {} (key {})", o.source, k.short());
                }
                (None, None) => {
                    let _ = writeln!(out, "  {slot}: {}", o.source);
                }
            }
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
    if recipe.is_none() && !others.is_empty() {
        let _ = writeln!(
            out,
            "note: other recipes hold other results named `{what}` (pick one with `--recipe R`):"
        );
        for r in &others {
            let _ = writeln!(
                out,
                "  {} ({})",
                r.scope.as_deref().unwrap_or(""),
                r.key.short()
            );
        }
    }
    Ok(0)
}
