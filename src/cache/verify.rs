//! Published objects checked against their records: on every reuse (by stat, re-hashing
//! only what changed) and for the whole cache (`unmt verify`, like `git fsck` or
//! `dvc status`).
//!
//! Reuse used to trust `record.json` alone: one byte flipped in an output was reused with
//! exit 0 and poisoned every result computed from it under unchanged keys, and a deleted
//! output made every later run fail (#17). Now an object whose outputs do not match its
//! record is treated as absent: it moves to `quarantine/`, its node runs again, and early
//! cutoff spares its children when the rerun reproduces the recorded bytes.

use std::path::Path;

use super::file_hash;
use super::key::NodeKey;
use super::record::{NodeRecord, OutputKind, RecordError};
use super::store::{Cache, CacheError};

/// How closely [`Cache::check_outputs`] looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Compare each output's stat stamp with the recorded one; re-hash only on a difference.
    Stat,
    /// Re-hash every output.
    Full,
}

/// Why an object cannot be trusted as its key's result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// No `record.json`: publishing writes the record before the object appears, so this is
    /// debris (a hand edit, a partial copy).
    #[error("has no record.json")]
    NoRecord,
    /// `record.json` cannot be read or parsed.
    #[error("has an unreadable record.json")]
    UnreadableRecord,
    /// The record names another key, or its key material does not hash to the key.
    #[error("holds a record that is not its key's")]
    WrongKey,
    /// A recorded output is gone.
    #[error("lacks its output `{output}`")]
    MissingOutput {
        /// The output's name.
        output: String,
    },
    /// A recorded output's content hash differs from the record's.
    #[error("has its output `{output}` changed since it was published")]
    ModifiedOutput {
        /// The output's name.
        output: String,
    },
}

/// One object that failed verification.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    /// Its key.
    pub key: NodeKey,
    /// The node that produced it, where the record says.
    pub node: Option<String>,
    /// What is wrong.
    #[serde(flatten)]
    pub problem: Problem,
}

/// What [`Cache::verify`] found.
#[derive(Debug, Default, serde::Serialize)]
pub struct VerifyReport {
    /// Objects checked.
    pub checked: usize,
    /// Objects whose record has a newer format than this `unmt` reads (left alone).
    pub newer: Vec<NodeKey>,
    /// Output bytes hashed.
    pub bytes_hashed: u64,
    /// Objects that failed.
    pub findings: Vec<Finding>,
    /// With `repair`: the failed objects moved to `quarantine/`.
    pub repaired: Vec<NodeKey>,
    /// With `repair`: failed objects left alone because another process holds their lock.
    pub busy: Vec<NodeKey>,
}

impl Cache {
    /// The first output of `record` that does not match it, if any. Only reads.
    pub(crate) fn check_outputs(
        &self,
        key: &NodeKey,
        record: &NodeRecord,
        depth: Depth,
    ) -> Option<Problem> {
        self.check_outputs_counting(key, record, depth, &mut 0)
    }

    fn check_outputs_counting(
        &self,
        key: &NodeKey,
        record: &NodeRecord,
        depth: Depth,
        hashed: &mut u64,
    ) -> Option<Problem> {
        for (name, out) in &record.outputs {
            let path = self.output_path(key, name);
            let missing = || Problem::MissingOutput {
                output: name.clone(),
            };
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                return Some(missing());
            };
            let kind_ok = match out.kind {
                OutputKind::File => meta.is_file(),
                OutputKind::Dir => meta.is_dir(),
            };
            if !kind_ok {
                return Some(missing());
            }
            if depth == Depth::Stat {
                match &out.stamp {
                    Some(s) if file_hash::stat_stamp(&path).ok().as_ref() == Some(s) => continue,
                    Some(_) => {}
                    // Written before stamps: existence is all that is checked on reuse.
                    None => continue,
                }
            }
            *hashed += out.bytes;
            let hash = match (out.kind, depth) {
                // The stat-keyed memo: a file touched but unchanged is re-hashed once.
                (OutputKind::File, Depth::Stat) => self.hasher().hash(&path),
                (OutputKind::File, Depth::Full) => file_hash::hash_file(&path),
                (OutputKind::Dir, _) => file_hash::hash_dir(&path),
            };
            if hash.ok().as_ref() != Some(&out.hash) {
                return Some(Problem::ModifiedOutput {
                    output: name.clone(),
                });
            }
        }
        None
    }

    /// Checks every published object against its record, re-hashing every output (`Depth::Full`)
    /// or only those whose stat changed. With `repair`, each object that fails moves to
    /// `quarantine/` under its key's lock, so its node runs again on the next `run`.
    pub fn verify(&self, depth: Depth, repair: bool) -> Result<VerifyReport, CacheError> {
        let mut report = VerifyReport::default();
        for key in self.objects()? {
            report.checked += 1;
            let dir = self.object_dir(&key);
            let (node, problem) = match inspect(&dir, &key) {
                Inspected::Newer => {
                    report.newer.push(key);
                    continue;
                }
                Inspected::Bad(p) => (None, Some(p)),
                Inspected::Record(r) => {
                    let p = self.check_outputs_counting(&key, &r, depth, &mut report.bytes_hashed);
                    (Some(r.node), p)
                }
            };
            let Some(problem) = problem else { continue };
            if repair {
                if self.quarantine_locked(&key, &problem.to_string())? {
                    report.repaired.push(key.clone());
                } else {
                    report.busy.push(key.clone());
                }
            }
            report.findings.push(Finding { key, node, problem });
        }
        Ok(report)
    }
}

enum Inspected {
    Record(Box<NodeRecord>),
    Newer,
    Bad(Problem),
}

fn inspect(dir: &Path, key: &NodeKey) -> Inspected {
    let path = dir.join("record.json");
    if !path.is_file() {
        return Inspected::Bad(Problem::NoRecord);
    }
    match NodeRecord::read(&path) {
        Ok(r) if r.key != *key || r.material.key() != *key => Inspected::Bad(Problem::WrongKey),
        Ok(r) => Inspected::Record(Box::new(r)),
        Err(RecordError::TooNew { .. }) => Inspected::Newer,
        Err(RecordError::Io { .. } | RecordError::Corrupt { .. }) => {
            Inspected::Bad(Problem::UnreadableRecord)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::cache::{CacheStatus, Draft, KeyMaterial, OutputDecl};

    /// Publishes a node with one file output `o` holding `body`.
    fn publish(cache: &Cache, salt: i64, body: &str) -> NodeKey {
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
        std::fs::write(attempt.out_dir().join("o"), body).expect("write");
        attempt
            .publish(Draft {
                node: format!("n{salt}"),
                material,
                params: serde_json::Map::new(),
                origins: BTreeMap::new(),
                outputs: vec![OutputDecl {
                    name: "o".into(),
                    kind: OutputKind::File,
                }],
                metrics: BTreeMap::new(),
                started_unix: 1,
                seconds: 0.0,
            })
            .expect("publish");
        key
    }

    /// Overwrites a published (read-only) file, keeping its size and modification time when
    /// `same_stat`, as a bit flip on disk or a careful hand edit would.
    fn tamper(path: &Path, body: &str, same_stat: bool) {
        let mtime = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .expect("mtime");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::write(path, body).expect("write");
        if same_stat {
            std::fs::File::options()
                .write(true)
                .open(path)
                .and_then(|f| f.set_modified(mtime))
                .expect("set mtime");
        }
    }

    #[test]
    fn published_outputs_are_read_only_and_stamped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::open(dir.path()).expect("open");
        let key = publish(&cache, 1, "hello");
        let path = cache.output_path(&key, "o");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o222, 0, "no write bits: {mode:o}");
        let record = cache.lookup(&key).expect("lookup").expect("published");
        assert!(record.outputs["o"].stamp.is_some());
    }

    #[test]
    fn reuse_quarantines_an_object_whose_output_changed_or_went_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::open(dir.path()).expect("open");
        let changed = publish(&cache, 1, "hello");
        let gone = publish(&cache, 2, "world");
        let touched = publish(&cache, 3, "same");
        tamper(&cache.output_path(&changed, "o"), "hellO", false);
        std::fs::remove_file(cache.output_path(&gone, "o")).expect("rm");
        // New mtime, same bytes: re-hashed, still a result.
        tamper(&cache.output_path(&touched, "o"), "same", false);

        assert!(cache.lookup(&changed).expect("lookup").is_none());
        assert!(cache.lookup(&gone).expect("lookup").is_none());
        assert!(cache.lookup(&touched).expect("lookup").is_some());
        let warnings = cache.take_warnings();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains("has its output `o` changed"),
            "{warnings:?}"
        );
        assert!(warnings[1].contains("lacks its output `o`"), "{warnings:?}");
        // Both keys are free to run again.
        assert!(matches!(
            cache.begin(&changed, false, || {}).expect("begin"),
            CacheStatus::Miss(_)
        ));
    }

    #[test]
    fn verify_finds_what_stat_cannot_and_repair_quarantines_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::open(dir.path()).expect("open");
        let fine = publish(&cache, 1, "hello");
        let flipped = publish(&cache, 2, "world");
        let norecord = publish(&cache, 3, "x");
        tamper(&cache.output_path(&flipped, "o"), "worle", true);
        std::fs::remove_file(cache.object_dir(&norecord).join("record.json")).expect("rm");

        // Same size and mtime: the stat check cannot see the flip, a full one does.
        let quick = cache.verify(Depth::Stat, false).expect("verify");
        assert_eq!(quick.findings.len(), 1);
        assert_eq!(quick.findings[0].problem, Problem::NoRecord);
        let full = cache.verify(Depth::Full, false).expect("verify");
        assert_eq!(full.checked, 3);
        let found: Vec<(NodeKey, Problem)> = full
            .findings
            .iter()
            .map(|f| (f.key.clone(), f.problem.clone()))
            .collect();
        let modified = Problem::ModifiedOutput { output: "o".into() };
        let mut expected = vec![(flipped, modified), (norecord, Problem::NoRecord)];
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(found, expected);
        assert_eq!(full.bytes_hashed, 10);

        let repaired = cache.verify(Depth::Full, true).expect("verify");
        assert_eq!(repaired.repaired.len(), 2);
        assert_eq!(cache.objects().expect("list"), vec![fine]);
        assert!(
            cache
                .verify(Depth::Full, false)
                .expect("verify")
                .findings
                .is_empty()
        );
    }
}
