//! Crash-safe file writes: temp file, fsync, rename, fsync the directory; and reproducible
//! safetensors headers.
//!
//! A leaf module: the cache, checkpoints and training state all write through it, and it
//! imports nothing from the crate.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temporary files of one process (threads write the same path at once).
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` so that readers see either the old or the new content.
///
/// The temporary file beside `path` has a name no other writer uses (process, counter,
/// time) and is created exclusively without following symbolic links (`O_CREAT | O_EXCL |
/// O_NOFOLLOW`): a link planted where a temporary file would go (a shared or
/// group-writable cache) cannot redirect the write to another file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let (tmp, mut f) = create_temp(dir, path)?;
    let written = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    sync_dir(dir)
}

/// A new temporary file in `dir` for `path`, created exclusively.
fn create_temp(dir: &Path, path: &Path) -> std::io::Result<(PathBuf, File)> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmp = dir.join(format!(
            ".{name}.{}.{}.{nanos}.tmp",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            // Left by a crashed process that had our pid: take another name.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
}

/// fsyncs a directory so a rename into it survives a power loss.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// `buf` with its header's `__metadata__` entries in sorted order. `safetensors::serialize`
/// writes them in `HashMap` order, which differs from process to process, so equal weights
/// and metadata gave files with different bytes (and cache outputs that never compare
/// equal). Tensor entries and data are kept as they are: their offsets are relative to the
/// end of the header, whose length is padded to a multiple of 8 as safetensors writes it.
pub fn safetensors_sorted_metadata(buf: Vec<u8>) -> Result<Vec<u8>, String> {
    let bad = || "safetensors wrote a malformed header".to_owned();
    let n = buf
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(bad)?;
    let header = buf.get(8..8 + n).ok_or_else(bad)?;
    let mut value: serde_json::Value = serde_json::from_slice(header).map_err(|e| e.to_string())?;
    let Some(map) = value.as_object_mut() else {
        return Err(bad());
    };
    if let Some(serde_json::Value::Object(meta)) = map.get_mut("__metadata__") {
        let mut entries: Vec<(String, serde_json::Value)> =
            std::mem::take(meta).into_iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        meta.extend(entries);
    }
    let mut text = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
    text.resize(text.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + text.len() + buf.len() - 8 - n);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&buf[8 + n..]);
    Ok(out)
}

/// `MemAvailable` of `/proc/meminfo` in bytes; `None` where it cannot be read (non-Linux).
/// Stages that allocate in proportion to user numbers compare with it first: an allocation
/// failure aborts the whole process (`catch_unwind` cannot catch it), nodes beside it included.
pub fn available_memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_available(&text)
}

fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_writing_one_path_at_once_never_collide() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        std::thread::scope(|s| {
            for t in 0..8u8 {
                let path = &path;
                s.spawn(move || {
                    for _ in 0..50 {
                        write_atomic(path, &[t; 64]).expect("write");
                    }
                });
            }
        });
        let bytes = fs::read(&path).expect("read");
        assert_eq!(bytes.len(), 64);
        assert!(bytes.iter().all(|&b| b == bytes[0]), "one writer's bytes");
        let left: Vec<_> = fs::read_dir(dir.path()).expect("list").collect();
        assert_eq!(left.len(), 1, "no temporary files left");
    }

    #[test]
    fn a_symlink_at_the_old_temporary_name_is_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep").expect("write");
        let path = dir.path().join("record.json");
        let old_name = dir
            .path()
            .join(format!(".record.json.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &old_name).expect("symlink");
        write_atomic(&path, b"new").expect("write");
        assert_eq!(fs::read_to_string(&victim).expect("read"), "keep");
        assert_eq!(fs::read_to_string(&path).expect("read"), "new");
    }

    #[test]
    fn parses_meminfo() {
        let text = "MemTotal:       24000000 kB\nMemFree: 1 kB\nMemAvailable:   5000000 kB\n";
        assert_eq!(parse_mem_available(text), Some(5_000_000 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 1 kB\n"), None);
    }
}
