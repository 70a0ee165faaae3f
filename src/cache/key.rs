//! Node keys: blake3 over one canonical [`KeyMaterial`].
//!
//! Everything that can change a node's output is a named field here, and nothing else is:
//! the stage kind, its declared code version, its non-default parameters, and the *content
//! hashes* of its inputs. Keying on input content rather than on parents' keys gives early
//! cutoff: a parent that reruns and writes byte-identical output leaves its children's keys
//! unchanged. Names (of nodes, files, recipes) are deliberately absent, so renaming a node or
//! moving a corpus invalidates nothing, and identical nodes of different sweep variants share
//! one cache entry.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Version of the key encoding and cache layout; part of every key.
pub const ENGINE_FORMAT: u32 = 1;

/// A blake3 hash of file or directory content, lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentHash(pub String);

impl ContentHash {
    /// From a finished hasher.
    pub fn from_hash(h: &blake3::Hash) -> Self {
        Self(h.to_hex().to_string())
    }

    /// The first 12 hex digits, for display.
    pub fn short(&self) -> &str {
        &self.0[..self.0.len().min(12)]
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A node key: blake3 of the node's [`KeyMaterial`], lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeKey(pub String);

impl NodeKey {
    /// The first 12 hex digits, for display.
    pub fn short(&self) -> &str {
        &self.0[..self.0.len().min(12)]
    }

    /// Whether `s` is a plausible key or key prefix (hex, 4 to 64 digits).
    pub fn is_prefix_like(s: &str) -> bool {
        (4..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    }
}

impl fmt::Display for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything a node key is computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyMaterial {
    /// [`ENGINE_FORMAT`].
    pub engine_format: u32,
    /// Stage kind.
    pub stage: String,
    /// The stage's declared code version.
    pub code_version: u32,
    /// Parameters that differ from their documented defaults.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Content hashes of the inputs, by slot, in reference order.
    pub inputs: BTreeMap<String, Vec<ContentHash>>,
}

impl KeyMaterial {
    /// The canonical bytes: JSON with sorted maps (serde_json's `Map` is a `BTreeMap`) and
    /// shortest round-trip floats, so equal material always gives equal bytes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|e| unreachable!("key material is plain JSON: {e}"))
    }

    /// The node key.
    pub fn key(&self) -> NodeKey {
        let mut h = blake3::Hasher::new();
        h.update(b"unmt-node-key\0");
        h.update(&self.canonical_bytes());
        NodeKey(h.finalize().to_hex().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn material() -> KeyMaterial {
        KeyMaterial {
            engine_format: ENGINE_FORMAT,
            stage: "corpus".into(),
            code_version: 1,
            params: BTreeMap::from([("valid".into(), serde_json::json!(100))]),
            inputs: BTreeMap::from([("text".into(), vec![ContentHash("ab".into())])]),
        }
    }

    #[test]
    fn key_changes_with_each_field_and_only_with_them() {
        let base = material().key();
        assert_eq!(base, material().key());
        let mut m = material();
        m.code_version = 2;
        assert_ne!(m.key(), base);
        let mut m = material();
        m.params.insert("seed".into(), serde_json::json!(1));
        assert_ne!(m.key(), base);
        let mut m = material();
        m.inputs
            .insert("text".into(), vec![ContentHash("ac".into())]);
        assert_ne!(m.key(), base);
        let mut m = material();
        m.params.insert("valid".into(), serde_json::json!(100.0));
        assert_ne!(m.key(), base, "integers and floats are different values");
    }

    #[test]
    fn key_is_stable_across_releases() {
        // Changing this value means every cache entry ever written is invalidated: bump
        // ENGINE_FORMAT deliberately instead.
        assert_eq!(
            material().canonical_bytes(),
            br#"{"engine_format":1,"stage":"corpus","code_version":1,"params":{"valid":100},"inputs":{"text":["ab"]}}"#
        );
    }
}
