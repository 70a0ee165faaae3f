//! The node record: what the cache knows about one published result.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::key::{ContentHash, KeyMaterial, NodeKey};

/// Whether an output is one file or a directory tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// A single file.
    File,
    /// A directory (hashed over its sorted relative paths and file contents).
    Dir,
}

/// A named output.
#[derive(Debug, Clone)]
pub struct OutputDecl {
    /// Output name; children refer to it as `node.NAME`.
    pub name: String,
    /// File or directory.
    pub kind: OutputKind,
}

/// Version of the record format. Readers accept this and older formats; a newer record is
/// an error ("written by a newer unmt") rather than a silent misread.
pub const RECORD_FORMAT: u32 = 1;

/// One output of a published node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// File or directory.
    pub kind: OutputKind,
    /// Content hash.
    pub hash: ContentHash,
    /// Size in bytes (sum over files for directories).
    pub bytes: u64,
    /// [`super::file_hash::stat_stamp`] when published: reuse re-hashes the output only
    /// when its stamp differs. Absent in records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<String>,
}

/// Where each input came from when the node ran (not hashed; used by `explain`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputOrigin {
    /// `node.output` or `files.NAME`.
    pub source: String,
    /// The producer's key, for node outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer: Option<NodeKey>,
    /// The path read, for external files (`files.NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<std::path::PathBuf>,
}

/// `record.json`, written last into a node's object directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// [`RECORD_FORMAT`].
    pub format: u32,
    /// The node key (blake3 of `material`).
    pub key: NodeKey,
    /// The node's name in the run that produced it.
    pub node: String,
    /// What the key was computed from.
    pub material: KeyMaterial,
    /// All parameters, defaults included.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Input provenance by slot.
    pub origins: BTreeMap<String, Vec<InputOrigin>>,
    /// Outputs by name.
    pub outputs: BTreeMap<String, OutputRecord>,
    /// Metrics the stage recorded.
    pub metrics: BTreeMap<String, f64>,
    /// Unix time (seconds) the attempt started.
    pub started_unix: u64,
    /// Wall time of the stage run, in seconds.
    pub seconds: f64,
    /// Version of unmt that produced it (audit only; not part of the key).
    pub unmt_version: String,
}

/// Why a record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Unreadable.
    #[error("failed to read node record `{path}`")]
    Io {
        /// The record file.
        path: std::path::PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// Not valid JSON for this format.
    #[error("node record `{path}` is corrupt")]
    Corrupt {
        /// The record file.
        path: std::path::PathBuf,
        /// Parse error.
        #[source]
        source: serde_json::Error,
    },
    /// From the future.
    #[error(
        "node record `{path}` has format {found}, newer than this unmt ({RECORD_FORMAT}); upgrade unmt"
    )]
    TooNew {
        /// The record file.
        path: std::path::PathBuf,
        /// Its format.
        found: u32,
    },
}

impl NodeRecord {
    /// Reads and version-checks a record.
    pub fn read(path: &std::path::Path) -> Result<Self, RecordError> {
        let bytes = std::fs::read(path).map_err(|source| RecordError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        #[derive(Deserialize)]
        struct Probe {
            format: u32,
        }
        let probe: Probe =
            serde_json::from_slice(&bytes).map_err(|source| RecordError::Corrupt {
                path: path.to_path_buf(),
                source,
            })?;
        if probe.format > RECORD_FORMAT {
            return Err(RecordError::TooNew {
                path: path.to_path_buf(),
                found: probe.format,
            });
        }
        serde_json::from_slice(&bytes).map_err(|source| RecordError::Corrupt {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_formats_are_refused_and_round_trips_are_exact() {
        let dir = tempfile::tempdir().expect("tempdir");
        let record = NodeRecord {
            format: RECORD_FORMAT,
            key: NodeKey("00".into()),
            node: "n".into(),
            material: KeyMaterial {
                engine_format: 1,
                stage: "corpus".into(),
                code_version: 1,
                params: BTreeMap::new(),
                inputs: BTreeMap::new(),
            },
            params: serde_json::Map::new(),
            origins: BTreeMap::new(),
            outputs: BTreeMap::new(),
            metrics: BTreeMap::from([("bleu".into(), 12.5)]),
            started_unix: 1,
            seconds: 0.5,
            unmt_version: "0.1.0".into(),
        };
        let p = dir.path().join("record.json");
        std::fs::write(&p, serde_json::to_vec(&record).expect("json")).expect("write");
        assert_eq!(NodeRecord::read(&p).expect("read"), record);
        let mut v = serde_json::to_value(&record).expect("json");
        v["format"] = serde_json::json!(RECORD_FORMAT + 1);
        std::fs::write(&p, v.to_string()).expect("write");
        assert!(matches!(
            NodeRecord::read(&p),
            Err(RecordError::TooNew { .. })
        ));
    }
}
