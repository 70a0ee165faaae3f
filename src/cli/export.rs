//! `unmt export NODE DIR`: a cached `unmt` node's model as a directory that carries what
//! translating raw text needs (`unmt translate --model DIR` on any machine).

use std::path::Path;

use crate::cache::Cache;
use crate::error::Error;

/// Exports the model of the `unmt` result `node` names into `dir`.
pub fn run(cache_dir: &Path, node: &str, dir: &Path) -> Result<i32, Error> {
    let cache = Cache::open(cache_dir)?;
    let found = crate::plan::find_model(&cache, node)?;
    super::translate::warn_defaulted(&found.defaulted);
    let r = &found.record;
    let provenance = serde_json::json!({
        "node": r.node,
        "key": found.key,
        "stage": r.material.stage,
        "code_version": r.material.code_version,
        "unmt_version": r.unmt_version,
        "params": r.params,
        "metrics": r.metrics,
    });
    found.files.export(dir, provenance)?;
    println!(
        "exported `{}` ({}) to {}: translate with `unmt translate --model {} --src L1 --tgt L2`",
        r.node,
        found.key.short(),
        dir.display(),
        dir.display()
    );
    Ok(0)
}
