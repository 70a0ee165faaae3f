//! Content hashes of files and directories, with a stat-keyed memo for external inputs.
//!
//! External corpora are large and rarely change, so their hashes are memoized by
//! (device, inode, size, mtime in ns): a no-op rerun stats each input instead of re-reading
//! gigabytes. A file replaced in place with the same size within the same nanosecond would
//! be missed; every tool that memoizes by stat (DVC, Bazel, Nextflow) accepts the same risk.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::key::ContentHash;
use crate::io;

/// Hashes one file: memory-mapped and multithreaded for large files (blake3 + rayon).
pub fn hash_file(path: &Path) -> std::io::Result<ContentHash> {
    let mut h = blake3::Hasher::new();
    h.update_mmap_rayon(path)?;
    Ok(ContentHash::from_hash(&h.finalize()))
}

/// Hashes a directory tree: sorted relative paths with their file hashes.
pub fn hash_dir(dir: &Path) -> std::io::Result<ContentHash> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort();
    let mut h = blake3::Hasher::new();
    h.update(b"unmt-dir\0");
    for rel in files {
        let content = hash_file(&dir.join(&rel))?;
        h.update(rel.to_string_lossy().as_bytes());
        h.update(b"\0");
        h.update(content.0.as_bytes());
        h.update(b"\n");
    }
    Ok(ContentHash::from_hash(&h.finalize()))
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect(root, &path, out)?;
        } else {
            out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}

/// A cheap fingerprint of an output's metadata: blake3 over the sorted relative paths with
/// each file's size and modification time (ns). Reuse compares it with the one recorded at
/// publishing and re-hashes the content only when it differs, as Bazel and DVC do with their
/// stat caches. Inode and device are left out, so a cache copied with its times (`cp -a`,
/// `rsync -a`) still verifies by stat.
pub fn stat_stamp(path: &Path) -> std::io::Result<String> {
    let meta = std::fs::symlink_metadata(path)?;
    let mut files = Vec::new();
    if meta.is_dir() {
        collect(path, path, &mut files)?;
        files.sort();
    } else {
        files.push(PathBuf::new());
    }
    let mut h = blake3::Hasher::new();
    h.update(b"unmt-stat\0");
    for rel in files {
        let file = if rel.as_os_str().is_empty() {
            path.to_path_buf()
        } else {
            path.join(&rel)
        };
        let m = std::fs::symlink_metadata(file)?;
        let mtime_ns = i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec());
        h.update(rel.to_string_lossy().as_bytes());
        h.update(b"\0");
        h.update(&m.len().to_le_bytes());
        h.update(&mtime_ns.to_le_bytes());
    }
    Ok(h.finalize().to_hex()[..32].to_owned())
}

/// Clears the write bits of every file at or under `path` (directories stay writable, so
/// `gc` can still delete): a published result is not edited in place by accident, as
/// Bazel's outputs and DVC's protected links are not. Root ignores the bits; verification
/// on reuse catches what gets through.
pub fn make_read_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        for e in std::fs::read_dir(path)? {
            make_read_only(&e?.path())?;
        }
        Ok(())
    } else {
        let mode = meta.permissions().mode() & !0o222;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    hash: ContentHash,
}

/// The memo of external-file hashes, persisted as one JSON file in the cache.
#[derive(Debug)]
pub struct FileHasher {
    path: PathBuf,
    entries: Mutex<BTreeMap<PathBuf, Stamp>>,
    dirty: Mutex<bool>,
}

impl FileHasher {
    /// Loads the memo at `path` (a missing or unreadable memo is simply empty).
    pub fn open(path: PathBuf) -> Self {
        let entries = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Self {
            path,
            entries: Mutex::new(entries),
            dirty: Mutex::new(false),
        }
    }

    /// The content hash of external file `path`, from the memo when its stat is unchanged.
    pub fn hash(&self, path: &Path) -> std::io::Result<ContentHash> {
        let abs = std::path::absolute(path)?;
        let meta = std::fs::metadata(&abs)?;
        let mtime_ns = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
        let probe = |s: &Stamp| {
            s.dev == meta.dev()
                && s.ino == meta.ino()
                && s.size == meta.len()
                && s.mtime_ns == mtime_ns
        };
        if let Some(s) = lock(&self.entries).get(&abs)
            && probe(s)
        {
            return Ok(s.hash.clone());
        }
        let hash = hash_file(&abs)?;
        lock(&self.entries).insert(
            abs,
            Stamp {
                dev: meta.dev(),
                ino: meta.ino(),
                size: meta.len(),
                mtime_ns,
                hash: hash.clone(),
            },
        );
        *lock(&self.dirty) = true;
        Ok(hash)
    }

    /// Writes the memo back if it changed, merged with what other processes wrote meanwhile.
    pub fn save(&self) -> std::io::Result<()> {
        if !*lock(&self.dirty) {
            return Ok(());
        }
        let mut merged: BTreeMap<PathBuf, Stamp> = std::fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        merged.extend(
            lock(&self.entries)
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        merged.retain(|p, _| p.exists());
        let bytes = serde_json::to_vec(&merged).map_err(std::io::Error::other)?;
        io::write_atomic(&self.path, &bytes)?;
        *lock(&self.dirty) = false;
        Ok(())
    }
}

/// Locks a mutex, recovering from poisoning (the data are plain values, never half-updated).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memo_is_used_until_the_file_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("a.txt");
        std::fs::write(&f, "one").expect("write");
        let memo = dir.path().join("memo.json");
        let h = FileHasher::open(memo.clone());
        let first = h.hash(&f).expect("hash");
        assert_eq!(first, hash_file(&f).expect("hash"));
        h.save().expect("save");
        let h2 = FileHasher::open(memo);
        assert_eq!(h2.hash(&f).expect("hash"), first);
        assert!(!*lock(&h2.dirty), "served from the memo");
        std::fs::write(&f, "two!").expect("write");
        assert_ne!(h2.hash(&f).expect("hash"), first);
    }

    #[test]
    fn directory_hash_covers_names_and_contents() {
        let a = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(a.path().join("s")).expect("mkdir");
        std::fs::write(a.path().join("s/x"), "1").expect("write");
        let h1 = hash_dir(a.path()).expect("hash");
        std::fs::write(a.path().join("s/x"), "2").expect("write");
        let h2 = hash_dir(a.path()).expect("hash");
        std::fs::rename(a.path().join("s/x"), a.path().join("s/y")).expect("rename");
        let h3 = hash_dir(a.path()).expect("hash");
        assert!(h1 != h2 && h2 != h3 && h1 != h3);
    }
}
