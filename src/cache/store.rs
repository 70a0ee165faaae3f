//! The content-addressed store and the guard that is the only way to publish into it.
//!
//! Layout under the cache root:
//! ```text
//! objects/<key>/record.json      published results: outputs under out/, the log, the record
//! objects/<key>/out/<output>
//! objects/<key>/log.txt
//! partial/<key>/work-<pid>-<ns>/  the running attempt, a new name each time (becomes objects/<key> by rename)
//! partial/<key>/checkpoints/     survives crashes; resumable stages read it back
//! locks/<key>.lock               one OS file lock per key
//! failed/<key>/                  log and error of the last failed attempt
//! refs/<name>.json               last key used for a node name (for `explain`, `show`)
//! file-hashes.json               stat-keyed memo of external-file hashes
//! ```
//! Invariant: a directory under `objects/` is complete. It only appears by `rename` of a
//! work directory whose outputs were hashed and fsynced and whose record was written last,
//! so a crash or Ctrl-C at any point leaves either nothing or a complete object.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::file_hash::{self, FileHasher};
use super::key::{ContentHash, KeyMaterial, NodeKey};
use super::record::{InputOrigin, NodeRecord, OutputRecord, RECORD_FORMAT, RecordError};
use super::record::{OutputDecl, OutputKind};
use super::verify::Depth;

/// Errors of the cache itself (not of the stages).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CacheError {
    /// A filesystem operation failed.
    #[error("failed to {action} `{path}`")]
    #[diagnostic(code(unmt::cache))]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// A record could not be read.
    #[error(transparent)]
    #[diagnostic(code(unmt::cache::record))]
    Record(#[from] RecordError),
    /// `show` found nothing.
    #[error("nothing in the cache matches `{what}`")]
    #[diagnostic(
        code(unmt::cache::not_found),
        help("give a node name from a recipe that has run, or a key prefix (see `unmt plan`)")
    )]
    NotFound {
        /// The name or key prefix.
        what: String,
    },
    /// A key prefix matches several objects.
    #[error("key prefix `{prefix}` is ambiguous: {matches} objects match")]
    #[diagnostic(code(unmt::cache::ambiguous), help("give more hex digits"))]
    Ambiguous {
        /// The prefix.
        prefix: String,
        /// How many matched.
        matches: usize,
    },
    /// A stage reported success but an output is missing.
    #[error("node `{node}` finished without writing its declared output `{output}`")]
    #[diagnostic(code(unmt::cache::missing_output))]
    MissingOutput {
        /// The node.
        node: String,
        /// The output.
        output: String,
    },
    /// An output is, or holds, a symbolic link: its content could change after publishing
    /// (a link to a mutable file outside the cache) and hashing or syncing it would follow
    /// the link anywhere.
    #[error("node `{node}` wrote its output `{output}` as a symbolic link (`{link}`)")]
    #[diagnostic(
        code(unmt::cache::symlink_output),
        help("write the content itself (`cp -L`), not a link to it")
    )]
    SymlinkOutput {
        /// The node.
        node: String,
        /// The output.
        output: String,
        /// The link found.
        link: PathBuf,
    },
}

/// The first symbolic link at or under `path` (links are never followed).
fn find_symlink(path: &Path) -> std::io::Result<Option<PathBuf>> {
    let meta = fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(Some(path.to_path_buf()));
    }
    if meta.is_dir() {
        for e in fs::read_dir(path)? {
            if let Some(link) = find_symlink(&e?.path())? {
                return Ok(Some(link));
            }
        }
    }
    Ok(None)
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> CacheError + 'a {
    move |source| CacheError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// An opened cache directory.
#[derive(Debug)]
pub struct Cache {
    root: PathBuf,
    hasher: FileHasher,
    /// Keys [`Cache::lookup`] treats as unpublished (see [`Cache::hide`]).
    hidden: BTreeSet<NodeKey>,
    /// What lookups moved to `quarantine/`, for the command to tell ([`Cache::take_warnings`]).
    warnings: std::sync::Mutex<Vec<String>>,
}

/// The cache-wide lock's file under `locks/` (not a key: keys are 64 hex digits).
const USE_LOCK: &str = "cache-in-use.lock";

/// Holds the cache-wide lock ([`Cache::use_shared`], [`Cache::use_exclusive`]) until dropped.
#[derive(Debug)]
pub struct CacheUse {
    _file: File,
}

/// What [`Cache::remove_if`] did with an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Deleted.
    Removed,
    /// Another process holds the key's lock; nothing was touched.
    Busy,
    /// Under the lock the object was gone, or no longer met the condition; nothing was touched.
    Kept,
}

/// The result of [`Cache::begin`].
pub enum CacheStatus {
    /// Someone already published this key.
    Hit(NodeRecord),
    /// Not published; the caller holds the key's lock and must run the node.
    Miss(Attempt),
}

/// The last key used under a node name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NameRef {
    /// The node name.
    pub node: String,
    /// Its last key.
    pub key: NodeKey,
    /// The recipe (its absolute path) for a recipe's own ref; `None` for the name's latest
    /// result in any recipe (and in refs written before recipes were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// When the ref was last written (its file's modification time), on reading: when the
    /// recipe last used a result under this name other than the one before.
    #[serde(skip)]
    pub written: Option<std::time::SystemTime>,
}

impl Cache {
    /// Opens (creating if needed) the cache at `root`.
    pub fn open(root: &Path) -> Result<Self, CacheError> {
        for sub in ["objects", "partial", "locks", "failed", "refs"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(io("create", &p))?;
        }
        Ok(Self {
            root: root.to_path_buf(),
            hasher: FileHasher::open(root.join("file-hashes.json")),
            hidden: BTreeSet::new(),
            warnings: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Takes the cache-wide lock shared, for a command that reuses objects while it runs
    /// (`run`): `gc`, which takes it exclusively, then waits or refuses instead of deleting
    /// what the run is about to read. `on_wait` is called if a `gc` holds it now.
    pub fn use_shared(&self, on_wait: impl FnOnce()) -> Result<CacheUse, CacheError> {
        let path = self.root.join("locks").join(USE_LOCK);
        let file = File::create(&path).map_err(io("create", &path))?;
        match file.try_lock_shared() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                on_wait();
                file.lock_shared().map_err(io("lock", &path))?;
            }
            Err(TryLockError::Error(e)) => return Err(io("lock", &path)(e)),
        }
        Ok(CacheUse { _file: file })
    }

    /// Takes the cache-wide lock exclusively (`gc`): `None` if a run holds it and `wait`
    /// is false; with `wait`, blocks until every run has finished.
    pub fn use_exclusive(&self, wait: bool) -> Result<Option<CacheUse>, CacheError> {
        let path = self.root.join("locks").join(USE_LOCK);
        let file = File::create(&path).map_err(io("create", &path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) if !wait => return Ok(None),
            Err(TryLockError::WouldBlock) => file.lock().map_err(io("lock", &path))?,
            Err(TryLockError::Error(e)) => return Err(io("lock", &path)(e)),
        }
        Ok(Some(CacheUse { _file: file }))
    }

    /// Warnings about the cache since the last call (objects quarantined by lookups).
    pub fn take_warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
    }

    /// Moves an object that cannot be a result aside, to `quarantine/<key>-<ns>/`, so that
    /// its key is free to run again; a result is never reused, and no key is blocked, on
    /// the strength of a record that is not there or cannot be read.
    pub(super) fn quarantine(&self, key: &NodeKey, why: &str) -> Result<(), CacheError> {
        let from = self.object_dir(key);
        let dir = self.root.join("quarantine");
        fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let to = dir.join(format!("{}-{nanos}", key.0));
        match fs::rename(&from, &to) {
            Ok(()) => {}
            // Another process quarantined (or republished) it first.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io("quarantine", &from)(e)),
        }
        if let Ok(mut w) = self.warnings.lock() {
            w.push(format!(
                "cached object `{}` {why}: moved to `{}`; its node runs again",
                key.short(),
                to.display()
            ));
        }
        Ok(())
    }

    /// The key's lock if no other process holds it (`gc` reclaiming an attempt's directory).
    pub(super) fn try_lock_key(&self, key: &str) -> Result<Option<File>, CacheError> {
        let lock_path = self.root.join("locks").join(format!("{key}.lock"));
        let lock = File::create(&lock_path).map_err(io("create", &lock_path))?;
        Ok(lock.try_lock().is_ok().then_some(lock))
    }

    /// [`Cache::quarantine`] under the key's lock: `false` (nothing touched) when another
    /// process holds it, as a run does while it republishes the key.
    pub(super) fn quarantine_locked(&self, key: &NodeKey, why: &str) -> Result<bool, CacheError> {
        let lock_path = self.root.join("locks").join(format!("{}.lock", key.0));
        let lock = File::create(&lock_path).map_err(io("create", &lock_path))?;
        if lock.try_lock().is_err() {
            return Ok(false);
        }
        self.quarantine(key, why)?;
        Ok(true)
    }

    /// Makes [`Cache::lookup`] (and so planning) treat `keys` as unpublished: `gc` plans
    /// around the corrupt objects it found, whose records cannot be read, also when it
    /// does not delete them (`--dry-run`, or locked by another process).
    pub fn hide(&mut self, keys: impl IntoIterator<Item = NodeKey>) {
        self.hidden.extend(keys);
    }

    /// The cache root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The memo of external file hashes.
    pub fn hasher(&self) -> &FileHasher {
        &self.hasher
    }

    /// Where a published object lives.
    pub fn object_dir(&self, key: &NodeKey) -> PathBuf {
        self.root.join("objects").join(&key.0)
    }

    /// The path of a published output.
    pub fn output_path(&self, key: &NodeKey, output: &str) -> PathBuf {
        self.object_dir(key).join("out").join(output)
    }

    /// The record of a published key, if any.
    pub fn lookup(&self, key: &NodeKey) -> Result<Option<NodeRecord>, CacheError> {
        if self.hidden.contains(key) {
            return Ok(None);
        }
        let dir = self.object_dir(key);
        let path = dir.join("record.json");
        if !path.exists() {
            // Publishing renames a complete directory, record included, into place: an
            // object without one is debris (a hand edit, a partial copy), and would block
            // the key's next publish ("directory not empty").
            if dir.exists() {
                self.quarantine(key, "has no record.json")?;
            }
            return Ok(None);
        }
        match NodeRecord::read(&path) {
            Ok(r) => match self.check_outputs(key, &r, Depth::Stat) {
                None => Ok(Some(r)),
                Some(problem) => {
                    self.quarantine(key, &problem.to_string())?;
                    Ok(None)
                }
            },
            Err(RecordError::Corrupt { .. }) => {
                self.quarantine(key, "has an unreadable record.json")?;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Looks `key` up under its lock. On a miss the lock is kept in the returned [`Attempt`],
    /// so that exactly one process runs each key; `on_wait` is called if another process
    /// holds the lock (we then wait for it, and usually find its result published).
    /// `force` (`unmt run --force`) skips a published result and the key's checkpoints, so
    /// the node runs from the start; its result then replaces the published one.
    pub fn begin(
        &self,
        key: &NodeKey,
        force: bool,
        on_wait: impl FnOnce(),
    ) -> Result<CacheStatus, CacheError> {
        if !force && let Some(r) = self.lookup(key)? {
            return Ok(CacheStatus::Hit(r));
        }
        let lock_path = self.root.join("locks").join(format!("{}.lock", key.0));
        let lock = File::create(&lock_path).map_err(io("create", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                on_wait();
                lock.lock().map_err(io("lock", &lock_path))?;
            }
            Err(TryLockError::Error(e)) => return Err(io("lock", &lock_path)(e)),
        }
        if !force && let Some(r) = self.lookup(key)? {
            return Ok(CacheStatus::Hit(r));
        }
        let dir = self.root.join("partial").join(&key.0);
        if force && dir.exists() {
            fs::remove_dir_all(&dir).map_err(io("remove", &dir))?;
        }
        // Work directories left by crashed attempts: never published, safe to discard
        // (checkpoints stay). Each attempt gets a new name, so that a program an earlier
        // attempt started, if it outlived it, cannot write into this attempt's outputs.
        if let Ok(entries) = fs::read_dir(&dir) {
            for e in entries.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name == "work" || name.starts_with("work-") {
                    let stale = e.path();
                    fs::remove_dir_all(&stale).map_err(io("remove", &stale))?;
                }
            }
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let work = dir.join(format!("work-{}-{nanos}", std::process::id()));
        let out = work.join("out");
        fs::create_dir_all(&out).map_err(io("create", &out))?;
        let checkpoints = dir.join("checkpoints");
        fs::create_dir_all(&checkpoints).map_err(io("create", &checkpoints))?;
        Ok(CacheStatus::Miss(Attempt {
            key: key.clone(),
            _lock: lock,
            objects: self.root.join("objects"),
            failed: self.root.join("failed"),
            dir,
            work,
        }))
    }

    /// Records that `node` of the recipe `scope` last used `key`, and that `key` is the
    /// latest result for the name `node` (for `show`). Unchanged refs are not rewritten, so
    /// a no-op rerun does no writes.
    pub fn set_ref(&self, scope: &str, node: &str, key: &NodeKey) -> Result<(), CacheError> {
        for (path, scope) in [
            (self.ref_path(Some(scope), node), Some(scope.to_owned())),
            (self.ref_path(None, node), None),
        ] {
            if read_ref(&path).as_ref() == Some(key) {
                continue;
            }
            let body = serde_json::to_vec(&NameRef {
                node: node.to_owned(),
                key: key.clone(),
                scope,
                written: None,
            })
            .map_err(|e| io("encode", &path)(std::io::Error::other(e)))?;
            crate::io::write_atomic(&path, &body).map_err(io("write", &path))?;
        }
        Ok(())
    }

    /// The key `node` of recipe `scope` last used (any recipe's when `scope` is `None`).
    pub fn get_ref(&self, scope: Option<&str>, node: &str) -> Option<NodeKey> {
        read_ref(&self.ref_path(scope, node))
    }

    /// Every recipe's own ref (recipe, node name, key), sorted: which recipes used which
    /// result under which name (`unmt show`).
    pub fn recipe_refs(&self) -> Result<Vec<NameRef>, CacheError> {
        let dir = self.root.join("refs");
        let mut out = Vec::new();
        let Ok(entries) = fs::read_dir(&dir) else {
            return Ok(out);
        };
        for e in entries {
            let path = e.map_err(io("list", &dir))?.path();
            if let Some(mut r) = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<NameRef>(&b).ok())
                .filter(|r| r.scope.is_some())
            {
                r.written = fs::metadata(&path).and_then(|m| m.modified()).ok();
                out.push(r);
            }
        }
        out.sort_by(|a, b| (&a.scope, &a.node).cmp(&(&b.scope, &b.node)));
        Ok(out)
    }

    /// Every readable ref: each recipe's own and each name's latest in any recipe (`scope`
    /// `None`), sorted by node name, then scope. Unreadable ref files are skipped (a ref is
    /// only a hint). `gc --keep-last` reads from these which names used which result.
    pub fn refs(&self) -> Result<Vec<NameRef>, CacheError> {
        let dir = self.root.join("refs");
        let mut out = Vec::new();
        let Ok(entries) = fs::read_dir(&dir) else {
            return Ok(out);
        };
        for e in entries {
            let path = e.map_err(io("list", &dir))?.path();
            if let Some(r) = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<NameRef>(&b).ok())
            {
                out.push(r);
            }
        }
        out.sort_by(|a, b| (&a.node, &a.scope, &a.key).cmp(&(&b.node, &b.scope, &b.key)));
        Ok(out)
    }

    fn ref_path(&self, scope: Option<&str>, node: &str) -> PathBuf {
        let mut h = blake3::Hasher::new();
        if let Some(scope) = scope {
            h.update(scope.as_bytes());
        }
        h.update(b"\0");
        h.update(node.as_bytes());
        let h = h.finalize().to_hex();
        self.root.join("refs").join(format!("{}.json", &h[..24]))
    }

    /// Every published key.
    pub fn objects(&self) -> Result<Vec<NodeKey>, CacheError> {
        let dir = self.root.join("objects");
        let mut keys = Vec::new();
        for e in fs::read_dir(&dir).map_err(io("list", &dir))? {
            let e = e.map_err(io("list", &dir))?;
            if let Some(name) = e.file_name().to_str()
                && NodeKey::is_prefix_like(name)
                && name.len() == 64
            {
                keys.push(NodeKey(name.to_owned()));
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// Keys starting with `prefix`.
    pub fn find_prefix(&self, prefix: &str) -> Result<Vec<NodeKey>, CacheError> {
        Ok(self
            .objects()?
            .into_iter()
            .filter(|k| k.0.starts_with(prefix))
            .collect())
    }

    /// The published result `what` names: a node name (its last result, in any recipe) or
    /// a unique key prefix.
    pub fn resolve(&self, what: &str) -> Result<(NodeKey, NodeRecord), CacheError> {
        let not_found = || CacheError::NotFound {
            what: what.to_owned(),
        };
        let key = match self.get_ref(None, what) {
            Some(k) => k,
            None if NodeKey::is_prefix_like(what) => {
                let mut found = self.find_prefix(what)?;
                match found.len() {
                    0 => return Err(not_found()),
                    1 => found.pop().ok_or_else(not_found)?,
                    n => {
                        return Err(CacheError::Ambiguous {
                            prefix: what.to_owned(),
                            matches: n,
                        });
                    }
                }
            }
            None => return Err(not_found()),
        };
        let record = self.lookup(&key)?.ok_or_else(not_found)?;
        Ok((key, record))
    }

    /// Deletes a published object unless another process holds its lock. Returns whether it
    /// was deleted.
    pub fn remove(&self, key: &NodeKey) -> Result<bool, CacheError> {
        let lock_path = self.root.join("locks").join(format!("{}.lock", key.0));
        let lock = File::create(&lock_path).map_err(io("create", &lock_path))?;
        if lock.try_lock().is_err() {
            return Ok(false);
        }
        let dir = self.object_dir(key);
        // Rename first so no reader ever sees a half-deleted object as complete.
        let trash = self.root.join("partial").join(format!(".gc-{}", key.0));
        fs::rename(&dir, &trash).map_err(io("move", &dir))?;
        fs::remove_dir_all(&trash).map_err(io("remove", &trash))?;
        drop(lock);
        let _ = fs::remove_file(&lock_path);
        Ok(true)
    }

    /// Deletes a published object if, holding its lock, `still(object_dir)` is true: `gc`
    /// checks again under the lock that what it decided on a listing still holds (a corrupt
    /// object may have been replaced by a forced rerun meanwhile). An object that is gone by
    /// then (another `gc`) is [`Removal::Kept`], not an error.
    pub fn remove_if(
        &self,
        key: &NodeKey,
        still: impl FnOnce(&Path) -> bool,
    ) -> Result<Removal, CacheError> {
        let lock_path = self.root.join("locks").join(format!("{}.lock", key.0));
        let lock = File::create(&lock_path).map_err(io("create", &lock_path))?;
        if lock.try_lock().is_err() {
            return Ok(Removal::Busy);
        }
        let dir = self.object_dir(key);
        if !dir.is_dir() || !still(&dir) {
            return Ok(Removal::Kept);
        }
        let trash = self.root.join("partial").join(format!(".gc-{}", key.0));
        // Left by a `gc` that crashed between the rename and the delete (only `gc`, under
        // this lock, writes here).
        if trash.exists() {
            fs::remove_dir_all(&trash).map_err(io("remove", &trash))?;
        }
        fs::rename(&dir, &trash).map_err(io("move", &dir))?;
        fs::remove_dir_all(&trash).map_err(io("remove", &trash))?;
        drop(lock);
        let _ = fs::remove_file(&lock_path);
        Ok(Removal::Removed)
    }

    /// Total bytes under a directory (for `gc` and `show`).
    pub fn dir_bytes(path: &Path) -> u64 {
        walk_bytes(path)
    }
}

fn read_ref(path: &Path) -> Option<NodeKey> {
    let bytes = fs::read(path).ok()?;
    serde_json::from_slice::<NameRef>(&bytes)
        .ok()
        .map(|r| r.key)
}

fn walk_bytes(path: &Path) -> u64 {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::read_dir(path)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| walk_bytes(&e.path()))
                    .sum()
            })
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// A running attempt at one key. Holding it means holding the key's lock; consuming it with
/// [`Attempt::publish`] is the only way to create `objects/<key>`.
pub struct Attempt {
    key: NodeKey,
    _lock: File,
    objects: PathBuf,
    failed: PathBuf,
    dir: PathBuf,
    work: PathBuf,
}

/// What the executor hands to [`Attempt::publish`].
pub struct Draft {
    /// Node name.
    pub node: String,
    /// Key material.
    pub material: KeyMaterial,
    /// Full parameters.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Input provenance.
    pub origins: BTreeMap<String, Vec<InputOrigin>>,
    /// Declared outputs.
    pub outputs: Vec<OutputDecl>,
    /// Stage metrics.
    pub metrics: BTreeMap<String, f64>,
    /// Unix start time.
    pub started_unix: u64,
    /// Stage wall time.
    pub seconds: f64,
}

impl Attempt {
    /// The key being computed.
    pub fn key(&self) -> &NodeKey {
        &self.key
    }

    /// Where the stage writes its outputs.
    pub fn out_dir(&self) -> PathBuf {
        self.work.join("out")
    }

    /// The crash-surviving checkpoint directory of this key.
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }

    /// The attempt's log file.
    pub fn log_path(&self) -> PathBuf {
        self.work.join("log.txt")
    }

    /// Where the scheduler writes the attempt's unit of work (`unmt exec-node` reads it);
    /// beside the checkpoints, so it goes when the result is published.
    pub fn job_path(&self) -> PathBuf {
        self.dir.join("job.json")
    }

    /// Hashes and fsyncs the outputs, writes the record last, and renames the work directory
    /// into `objects/`. Returns the published record.
    pub fn publish(self, draft: Draft) -> Result<NodeRecord, CacheError> {
        let out = self.out_dir();
        let mut outputs = BTreeMap::new();
        for decl in &draft.outputs {
            let path = out.join(&decl.name);
            if let Ok(Some(link)) = find_symlink(&path) {
                return Err(CacheError::SymlinkOutput {
                    node: draft.node.clone(),
                    output: decl.name.clone(),
                    link: link
                        .strip_prefix(&out)
                        .map_or(link.clone(), Path::to_path_buf),
                });
            }
            let ok = match decl.kind {
                OutputKind::File => path.is_file(),
                OutputKind::Dir => path.is_dir(),
            };
            if !ok {
                return Err(CacheError::MissingOutput {
                    node: draft.node.clone(),
                    output: decl.name.clone(),
                });
            }
            sync_tree(&path).map_err(io("sync", &path))?;
            let hash = match decl.kind {
                OutputKind::File => file_hash::hash_file(&path),
                OutputKind::Dir => file_hash::hash_dir(&path),
            }
            .map_err(io("hash", &path))?;
            file_hash::make_read_only(&path).map_err(io("protect", &path))?;
            let stamp = file_hash::stat_stamp(&path).map_err(io("stat", &path))?;
            outputs.insert(
                decl.name.clone(),
                OutputRecord {
                    kind: decl.kind,
                    hash,
                    bytes: walk_bytes(&path),
                    stamp: Some(stamp),
                },
            );
        }
        let log = self.log_path();
        if let Ok(f) = File::open(&log) {
            f.sync_all().map_err(io("sync", &log))?;
        }
        let record = NodeRecord {
            format: RECORD_FORMAT,
            key: self.key.clone(),
            node: draft.node,
            material: draft.material,
            params: draft.params,
            origins: draft.origins,
            outputs,
            metrics: draft.metrics,
            started_unix: draft.started_unix,
            seconds: draft.seconds,
            unmt_version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        let record_path = self.work.join("record.json");
        let body = serde_json::to_vec_pretty(&record)
            .map_err(|e| io("encode", &record_path)(std::io::Error::other(e)))?;
        crate::io::write_atomic(&record_path, &body).map_err(io("write", &record_path))?;
        for path in [&record_path, &log] {
            if path.exists() {
                file_hash::make_read_only(path).map_err(io("protect", path))?;
            }
        }
        crate::io::sync_dir(&out).map_err(io("sync", &out))?;
        let target = self.objects.join(&self.key.0);
        // A forced rerun replaces the published result: the old one is moved aside first
        // (a rename cannot replace a non-empty directory) and deleted once the new one is in.
        let replaced = self.dir.join("replaced");
        if target.exists() {
            fs::rename(&target, &replaced).map_err(io("replace", &target))?;
        }
        fs::rename(&self.work, &target).map_err(io("publish", &target))?;
        crate::io::sync_dir(&self.objects).map_err(io("sync", &self.objects))?;
        // Checkpoints are only for resuming this key; the result now exists.
        let _ = fs::remove_dir_all(&self.dir);
        Ok(record)
    }

    /// Keeps the log and error of a failed attempt under `failed/<key>/` and returns that
    /// directory. Checkpoints are kept so the next attempt can resume.
    pub fn fail(self, error: &str) -> PathBuf {
        let dest = self.failed.join(&self.key.0);
        let _ = fs::remove_dir_all(&dest);
        let _ = fs::create_dir_all(&dest);
        let _ = fs::rename(self.log_path(), dest.join("log.txt"));
        let _ = fs::write(dest.join("error.txt"), format!("{error}\n"));
        let _ = fs::remove_dir_all(&self.work);
        dest
    }
}

fn sync_tree(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        for e in fs::read_dir(path)? {
            sync_tree(&e?.path())?;
        }
        crate::io::sync_dir(path)
    } else {
        File::open(path)?.sync_all()
    }
}

/// Hash of an external file through the memo.
pub fn external_hash(cache: &Cache, path: &Path) -> Result<ContentHash, CacheError> {
    cache.hasher.hash(path).map_err(io("hash", path))
}
