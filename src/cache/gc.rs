//! `unmt gc`: delete published objects that no current recipe reaches.

use std::collections::{BTreeMap, BTreeSet};

use super::key::NodeKey;
use super::store::{Cache, CacheError};

/// What `gc` removed (or would remove).
#[derive(Debug, Default, serde::Serialize)]
pub struct GcReport {
    /// Objects kept because a recipe reaches them.
    pub kept: usize,
    /// Objects removed (or to remove), with their stage kind and size.
    pub removed: Vec<(NodeKey, String, u64)>,
    /// Objects skipped because another process holds their lock.
    pub busy: Vec<NodeKey>,
    /// Bytes freed per stage kind.
    pub bytes_by_stage: BTreeMap<String, u64>,
}

/// Removes every object not in `keep`; with `dry_run` only reports.
pub fn gc(cache: &Cache, keep: &BTreeSet<NodeKey>, dry_run: bool) -> Result<GcReport, CacheError> {
    let mut report = GcReport::default();
    for key in cache.objects()? {
        if keep.contains(&key) {
            report.kept += 1;
            continue;
        }
        let stage = cache
            .lookup(&key)
            .ok()
            .flatten()
            .map_or_else(|| "?".to_owned(), |r| r.material.stage);
        let bytes = Cache::dir_bytes(&cache.object_dir(&key));
        if !dry_run && !cache.remove(&key)? {
            report.busy.push(key);
            continue;
        }
        *report.bytes_by_stage.entry(stage.clone()).or_default() += bytes;
        report.removed.push((key, stage, bytes));
    }
    Ok(report)
}
