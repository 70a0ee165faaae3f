//! `unmt gc`: delete published objects that no current recipe reaches, and corrupt ones.
//!
//! One pass, in an order that keeps planning away from broken records and deletes nothing
//! before the keep set is known:
//! 1. list `objects/` and read every record. An object without `record.json`, or whose
//!    record cannot be read or parsed, is *corrupt*; one whose record has a newer format
//!    than this `unmt` reads is kept untouched (a newer `unmt` sharing the cache owns it).
//! 2. hide the corrupt objects from [`Cache::lookup`], so that the keep set is planned as if
//!    they were not there (their nodes would run again) instead of failing on them.
//! 3. compute the keep set (the caller's: what current plans reuse), plus, with
//!    `keep_last > 0`, each node name's most recent other results (see [`recent_by_name`]).
//! 4. delete the corrupt objects and then every unkept one, each under its key's lock and
//!    skipped when another process holds it. A corrupt object is checked again under the
//!    lock, since a forced rerun may have republished it meanwhile.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::key::NodeKey;
use super::record::{NodeRecord, RecordError};
use super::store::{Cache, CacheError, Removal};

/// What `gc` removed (or would remove).
#[derive(Debug, Default, serde::Serialize)]
pub struct GcReport {
    /// Objects kept because a recipe reaches them.
    pub kept: usize,
    /// Objects kept only by `--keep-last`: recent earlier results of their node names.
    pub kept_recent: Vec<NodeKey>,
    /// Objects kept because their record has a newer format than this `unmt` reads.
    pub newer: Vec<NodeKey>,
    /// Objects removed (or to remove), with their stage kind and size.
    pub removed: Vec<(NodeKey, String, u64)>,
    /// Corrupt objects removed (or to remove), with their size: no `record.json`, or one
    /// that cannot be read or parsed.
    pub corrupt: Vec<(NodeKey, u64)>,
    /// Objects skipped because another process holds their lock.
    pub busy: Vec<NodeKey>,
    /// Bytes freed per stage kind (corrupt objects not included).
    pub bytes_by_stage: BTreeMap<String, u64>,
    /// Debris outside `objects/`.
    pub reclaimed: Reclaimed,
}

/// What a plan needs kept: published results, and the attempts whose checkpoints a rerun
/// resumes from.
#[derive(Debug, Default)]
pub struct KeepSet {
    /// Published objects to keep.
    pub objects: BTreeSet<NodeKey>,
    /// Keys a current plan would run: their `partial/` checkpoints and `failed/` logs stay.
    pub resumable: BTreeSet<NodeKey>,
}

/// Count and bytes of one kind of debris.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Debris {
    /// Entries.
    pub entries: usize,
    /// Bytes.
    pub bytes: u64,
}

/// What `gc` reclaimed (or would) besides objects: nothing here is a result.
#[derive(Debug, Default, serde::Serialize)]
pub struct Reclaimed {
    /// Attempt directories under `partial/` no process holds: crashed attempts' work
    /// directories, and checkpoints of keys no current plan runs that are older than the
    /// grace period.
    pub partial: Debris,
    /// Logs of failed attempts under `failed/` of keys no current plan runs.
    pub failed: Debris,
    /// Objects moved aside to `quarantine/` by reuse or `verify --repair`.
    pub quarantine: Debris,
    /// Temporary files of writes whose process is gone.
    pub temp: Debris,
}

/// What an object's directory holds, as far as `gc` cares.
#[derive(Debug)]
enum State {
    /// A readable record.
    Fine(Box<NodeRecord>),
    /// A record from a newer `unmt`.
    Newer,
    /// No record, or an unreadable or unparsable one.
    Corrupt,
}

/// Reads the record in an object directory.
fn inspect(dir: &Path) -> State {
    let path = dir.join("record.json");
    if !path.is_file() {
        return State::Corrupt;
    }
    match NodeRecord::read(&path) {
        Ok(r) => State::Fine(Box::new(r)),
        Err(RecordError::TooNew { .. }) => State::Newer,
        Err(RecordError::Io { .. } | RecordError::Corrupt { .. }) => State::Corrupt,
    }
}

/// When an object was published: the modification time of its directory. The record holds
/// no publish time, only the attempt's start (`started_unix`) and the stage's wall time
/// (`seconds`), which leave out hashing and waiting; the directory's mtime is set when
/// `record.json`, its last entry, is renamed into it, moments before publication. Where the
/// filesystem gives no mtime, `started_unix + seconds` stands in.
fn published_at(dir: &Path, record: &NodeRecord) -> SystemTime {
    std::fs::metadata(dir)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            UNIX_EPOCH
                + Duration::from_secs(record.started_unix)
                + Duration::from_secs_f64(record.seconds.max(0.0))
        })
}

/// For `--keep-last n`: per node name, the `n` most recently published objects outside
/// `keep` recorded under that name. An object's names are the one in its record (the node
/// that produced it) and those of every ref to it (the nodes, in any recipe, that last
/// used it), so the choice does not depend on which recipes exist now. Objects already in
/// `keep` do not count towards `n`: `--keep-last 1` keeps the result each name had before
/// the current one, so that a config edit and its rerun do not delete the previous
/// variant's results. Ties in time are broken by key, so the choice is deterministic.
fn recent_by_name(
    objects: &BTreeMap<NodeKey, (Box<NodeRecord>, SystemTime)>,
    refs: &[super::store::NameRef],
    keep: &BTreeSet<NodeKey>,
    n: usize,
) -> BTreeSet<NodeKey> {
    if n == 0 {
        return BTreeSet::new();
    }
    let mut names: BTreeMap<&str, BTreeSet<&NodeKey>> = BTreeMap::new();
    for (key, (record, _)) in objects {
        names.entry(&record.node).or_default().insert(key);
    }
    for r in refs {
        if let Some((key, _)) = objects.get_key_value(&r.key) {
            names.entry(&r.node).or_default().insert(key);
        }
    }
    let mut out = BTreeSet::new();
    for keys in names.values() {
        let mut older: Vec<(SystemTime, &NodeKey)> = keys
            .iter()
            .filter(|k| !keep.contains(**k))
            .map(|k| (objects[*k].1, *k))
            .collect();
        older.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        out.extend(older.into_iter().take(n).map(|(_, k)| k.clone()));
    }
    out
}

/// Removes every object not in the keep set, and every corrupt object; with `dry_run` only
/// reports. `reachable` computes the keep set (`plan::reachable` over the current plans) on
/// the cache with the corrupt objects hidden (see [`Cache::hide`], which stays in effect on
/// `cache`); `keep_last` also keeps each node name's most recent other results (see
/// [`recent_by_name`]). Nothing is deleted if `reachable` fails.
pub fn gc(
    cache: &mut Cache,
    keep_last: usize,
    dry_run: bool,
    grace: Duration,
    reachable: impl FnOnce(&Cache) -> Result<KeepSet, CacheError>,
) -> Result<GcReport, CacheError> {
    let mut report = GcReport::default();
    let mut fine = BTreeMap::new();
    let mut corrupt = Vec::new();
    for key in cache.objects()? {
        let dir = cache.object_dir(&key);
        match inspect(&dir) {
            State::Fine(record) => {
                let at = published_at(&dir, &record);
                fine.insert(key, (record, at));
            }
            State::Newer => report.newer.push(key),
            State::Corrupt => corrupt.push(key),
        }
    }
    cache.hide(corrupt.iter().cloned());
    let KeepSet {
        objects: mut keep,
        resumable,
    } = reachable(cache)?;
    report.reclaimed = reclaim(cache, &resumable, grace, dry_run)?;
    report.kept = fine.keys().filter(|k| keep.contains(*k)).count();
    let recent = recent_by_name(&fine, &cache.refs()?, &keep, keep_last);
    report.kept_recent = recent.iter().cloned().collect();
    keep.extend(recent);

    for key in corrupt {
        let bytes = Cache::dir_bytes(&cache.object_dir(&key));
        if !dry_run {
            match cache.remove_if(&key, |dir| matches!(inspect(dir), State::Corrupt))? {
                Removal::Removed => {}
                Removal::Busy => {
                    report.busy.push(key);
                    continue;
                }
                Removal::Kept => continue,
            }
        }
        report.corrupt.push((key, bytes));
    }
    for (key, (record, _)) in fine {
        if keep.contains(&key) {
            continue;
        }
        let stage = record.material.stage;
        let bytes = Cache::dir_bytes(&cache.object_dir(&key));
        if !dry_run {
            match cache.remove_if(&key, |_| true)? {
                Removal::Removed => {}
                Removal::Busy => {
                    report.busy.push(key);
                    continue;
                }
                Removal::Kept => continue,
            }
        }
        *report.bytes_by_stage.entry(stage.clone()).or_default() += bytes;
        report.removed.push((key, stage, bytes));
    }
    Ok(report)
}

/// Removes what lies outside `objects/` and no live process holds: stale attempts and
/// checkpoints in `partial/`, old `failed/` logs, `quarantine/`, and temporary files.
/// Checkpoints of `resumable` keys and those younger than `grace` stay: an interrupted
/// training resumes from them, also when its plan cannot compute its key right now.
fn reclaim(
    cache: &Cache,
    resumable: &BTreeSet<NodeKey>,
    grace: Duration,
    dry_run: bool,
) -> Result<Reclaimed, CacheError> {
    let mut out = Reclaimed::default();
    let root = cache.root();
    let now = SystemTime::now();
    let old = |p: &Path| {
        newest_mtime(p).is_none_or(|t| now.duration_since(t).is_ok_and(|age| age > grace))
    };
    let remove = |p: &Path, debris: &mut Debris| -> Result<(), CacheError> {
        debris.entries += 1;
        debris.bytes += Cache::dir_bytes(p);
        if dry_run {
            return Ok(());
        }
        let gone = if p.is_dir() {
            std::fs::remove_dir_all(p)
        } else {
            std::fs::remove_file(p)
        };
        match gone {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(CacheError::Io {
                action: "remove",
                path: p.to_path_buf(),
                source,
            }),
        }
    };
    for e in list(&root.join("partial")) {
        let name = file_name(&e);
        if name.starts_with(".gc-") {
            // A `gc` removal that crashed halfway; `remove_if` clears it under the lock.
            continue;
        }
        let Some(_lock) = cache.try_lock_key(&name)? else {
            continue; // a run holds it
        };
        let resumes = NodeKey::is_prefix_like(&name) && resumable.contains(&NodeKey(name.clone()));
        if !resumes && old(&e) {
            remove(&e, &mut out.partial)?;
            continue;
        }
        for inner in list(&e) {
            let n = file_name(&inner);
            if n == "work" || n.starts_with("work-") || n == "replaced" {
                remove(&inner, &mut out.partial)?;
            }
        }
    }
    for e in list(&root.join("failed")) {
        let name = file_name(&e);
        if !resumable.contains(&NodeKey(name)) {
            remove(&e, &mut out.failed)?;
        }
    }
    for e in list(&root.join("quarantine")) {
        remove(&e, &mut out.quarantine)?;
    }
    for dir in [root.to_path_buf(), root.join("refs")] {
        for e in list(&dir) {
            if stale_temp(&file_name(&e)) {
                remove(&e, &mut out.temp)?;
            }
        }
    }
    Ok(out)
}

/// Whether `name` is a temporary file of [`crate::io::write_atomic`] whose process is gone.
fn stale_temp(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    // `.NAME.PID.COUNTER.NANOS.tmp`
    let parts: Vec<&str> = rest.rsplitn(4, '.').collect();
    let [_, _, pid, _] = parts.as_slice() else {
        return false;
    };
    let Ok(pid) = pid.parse::<i32>() else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    !alive
}

fn list(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The newest modification time at or under `p` (links not followed).
fn newest_mtime(p: &Path) -> Option<SystemTime> {
    let meta = std::fs::symlink_metadata(p).ok()?;
    let own = meta.modified().ok();
    if !meta.is_dir() {
        return own;
    }
    list(p)
        .iter()
        .filter_map(|c| newest_mtime(c))
        .chain(own)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{CacheStatus, Draft, KeyMaterial};

    /// Publishes an empty result of node `node` whose key depends on `salt`.
    fn publish(cache: &Cache, node: &str, salt: i64) -> NodeKey {
        let material = KeyMaterial {
            engine_format: 1,
            stage: "corpus".into(),
            code_version: 1,
            params: BTreeMap::from([("salt".into(), serde_json::json!(salt))]),
            inputs: BTreeMap::new(),
        };
        let key = material.key();
        let CacheStatus::Miss(attempt) = cache.begin(&key, false, || {}).expect("begin") else {
            panic!("already published");
        };
        attempt
            .publish(Draft {
                node: node.into(),
                material,
                params: serde_json::Map::new(),
                origins: BTreeMap::new(),
                outputs: Vec::new(),
                metrics: BTreeMap::new(),
                started_unix: 1,
                seconds: 0.0,
            })
            .expect("publish");
        key
    }

    fn set_mtime(cache: &Cache, key: &NodeKey, secs: u64) {
        let dir = std::fs::File::open(cache.object_dir(key)).expect("open");
        dir.set_modified(UNIX_EPOCH + Duration::from_secs(secs))
            .expect("set mtime");
    }

    fn keep(objects: &BTreeSet<NodeKey>) -> KeepSet {
        KeepSet {
            objects: objects.clone(),
            resumable: BTreeSet::new(),
        }
    }

    fn keys(report: &[(NodeKey, String, u64)]) -> BTreeSet<NodeKey> {
        report.iter().map(|(k, _, _)| k.clone()).collect()
    }

    #[test]
    fn gc_keep_last_keeps_the_newest_unreached_results_of_each_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cache = Cache::open(dir.path()).expect("open");
        let a: Vec<NodeKey> = (0..4).map(|i| publish(&cache, "a", i)).collect();
        let b = publish(&cache, "b", 10);
        for (i, k) in a.iter().enumerate() {
            set_mtime(&cache, k, 1000 + i as u64);
        }
        // The newest `a` is current; `--keep-last 2` keeps the two before it.
        let current = BTreeSet::from([a[3].clone()]);
        let report = gc(&mut cache, 2, true, Duration::ZERO, |_| Ok(keep(&current))).expect("gc");
        assert_eq!(report.kept, 1);
        assert_eq!(
            report.kept_recent.into_iter().collect::<BTreeSet<_>>(),
            BTreeSet::from([a[1].clone(), a[2].clone(), b.clone()])
        );
        assert_eq!(keys(&report.removed), BTreeSet::from([a[0].clone()]));
        let report = gc(&mut cache, 0, false, Duration::ZERO, |_| Ok(keep(&current))).expect("gc");
        assert_eq!(
            keys(&report.removed),
            BTreeSet::from([a[0].clone(), a[1].clone(), a[2].clone(), b.clone()])
        );
        assert_eq!(cache.objects().expect("list"), vec![a[3].clone()]);
    }

    #[test]
    fn gc_keep_last_counts_names_of_refs_too() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cache = Cache::open(dir.path()).expect("open");
        let old = publish(&cache, "a", 1);
        let new = publish(&cache, "renamed", 2);
        set_mtime(&cache, &old, 1000);
        set_mtime(&cache, &new, 2000);
        // `old` was also used under the name `renamed`, whose newest other result is `new`.
        cache.set_ref("/r.toml", "renamed", &old).expect("ref");
        let report = gc(&mut cache, 1, true, Duration::ZERO, |_| {
            Ok(keep(&BTreeSet::from([new.clone()])))
        })
        .expect("gc");
        assert_eq!(report.kept_recent, vec![old.clone()]);
        assert!(report.removed.is_empty());
    }

    #[test]
    fn gc_removes_corrupt_objects_and_plans_around_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cache = Cache::open(dir.path()).expect("open");
        let truncated = publish(&cache, "a", 1);
        let missing = publish(&cache, "b", 2);
        let fine = publish(&cache, "c", 3);
        let record = cache.object_dir(&truncated).join("record.json");
        let text = std::fs::read(&record).expect("read");
        std::fs::write(&record, &text[..text.len() / 2]).expect("truncate");
        std::fs::remove_file(cache.object_dir(&missing).join("record.json")).expect("rm");

        let report = gc(&mut cache, 0, true, Duration::ZERO, |c| {
            // Planning sees the corrupt objects as unpublished instead of failing on them.
            assert!(c.lookup(&truncated).expect("lookup").is_none());
            Ok(keep(&BTreeSet::from([fine.clone(), truncated.clone()])))
        })
        .expect("gc");
        let mut corrupt: Vec<NodeKey> = report.corrupt.iter().map(|(k, _)| k.clone()).collect();
        corrupt.sort();
        let mut expected = vec![truncated.clone(), missing.clone()];
        expected.sort();
        assert_eq!(corrupt, expected);
        assert!(report.removed.is_empty());
        assert_eq!(
            cache.objects().expect("list").len(),
            3,
            "a dry run deletes nothing"
        );

        let mut cache = Cache::open(dir.path()).expect("open");
        let report = gc(&mut cache, 0, false, Duration::ZERO, |_| {
            Ok(keep(&BTreeSet::from([fine.clone()])))
        })
        .expect("gc");
        assert_eq!(report.corrupt.len(), 2);
        assert_eq!(report.kept, 1);
        assert_eq!(cache.objects().expect("list"), vec![fine]);
    }

    #[test]
    fn gc_skips_locked_objects_and_keeps_newer_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cache = Cache::open(dir.path()).expect("open");
        let locked = publish(&cache, "a", 1);
        let newer = publish(&cache, "b", 2);
        let record = cache.object_dir(&newer).join("record.json");
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&record).expect("read")).expect("json");
        v["format"] = serde_json::json!(crate::cache::RECORD_FORMAT + 1);
        std::fs::write(&record, v.to_string()).expect("write");
        std::fs::remove_file(cache.object_dir(&locked).join("record.json")).expect("rm");
        // Another process runs `locked` (a forced rerun) and holds its lock.
        let other = Cache::open(dir.path()).expect("open");
        let CacheStatus::Miss(attempt) = other.begin(&locked, true, || {}).expect("begin") else {
            panic!("forced begin is a miss");
        };
        let report = gc(&mut cache, 0, false, Duration::ZERO, |_| {
            Ok(KeepSet::default())
        })
        .expect("gc");
        assert_eq!(report.busy, vec![locked.clone()]);
        assert!(report.corrupt.is_empty());
        assert_eq!(report.newer, vec![newer.clone()]);
        drop(attempt);
        assert_eq!(cache.objects().expect("list").len(), 2);
    }
}
