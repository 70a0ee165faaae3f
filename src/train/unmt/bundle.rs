//! A model directory: a trained UNMT model with everything needed to turn raw text into
//! translations on another machine (`unmt export`, `unmt translate --model DIR`), as a
//! fairseq or Marian model directory carries its dictionaries and BPE codes.
//!
//! Layout: `model.safetensors` (the checkpoint, its metadata included: model config and
//! languages), `vocab.txt` (XLM dictionary), `codes` (fastBPE), and the manifest
//! `unmt-model.json`: format, languages, each language's Moses settings (those its training
//! text was tokenized with), the blake3 hash of every file, and free-form provenance. A
//! directory is written as `DIR.partial` and renamed into place, so a crash never leaves a
//! half-written directory under the final name; opening one checks every hash.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::translate::FORMAT;
use crate::model::checkpoint::{self, CheckpointError};
use crate::text::moses::MosesParams;

/// The manifest's file name.
pub const MANIFEST: &str = "unmt-model.json";
/// The manifest's format version.
pub const MANIFEST_FORMAT: u32 = 1;
const MODEL: &str = "model.safetensors";
const VOCAB: &str = "vocab.txt";
const CODES: &str = "codes";

/// The files of a trained model and the tokenization each of its languages expects.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFiles {
    /// The UNMT checkpoint.
    pub model: PathBuf,
    /// Its vocabulary.
    pub vocab: PathBuf,
    /// The BPE codes the vocabulary was built with.
    pub codes: PathBuf,
    /// Moses settings per language name of the model.
    pub moses: BTreeMap<String, MosesParams>,
}

/// `unmt-model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: u32,
    langs: Vec<String>,
    moses: BTreeMap<String, MosesParams>,
    /// File name -> blake3 hex.
    files: BTreeMap<String, String>,
    provenance: serde_json::Value,
}

/// Why a model directory could not be written or opened.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BundleError {
    /// A file could not be read, written or renamed.
    #[error("failed to {action} `{path}`")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The checkpoint's header is unreadable.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint is not a UNMT model, or does not name its languages.
    #[error("failed to export `{path}`: {reason}")]
    NotUnmt {
        /// The checkpoint.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// A language of the model has no Moses settings.
    #[error("failed to export: no Moses settings for the model's language `{lang}`")]
    NoMoses {
        /// The language.
        lang: String,
    },
    /// The target directory exists.
    #[error("failed to export into `{path}`: it already exists")]
    #[diagnostic(help("choose a new directory, or remove this one first"))]
    Exists {
        /// The directory.
        path: PathBuf,
    },
    /// The manifest is missing or malformed.
    #[error("failed to open model directory `{path}`: {reason}")]
    #[diagnostic(help("a model directory is made by `unmt export NODE DIR`"))]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file's content is not what the manifest says (copied partly, or edited).
    #[error("failed to open model directory: `{path}` does not match its hash in the manifest")]
    #[diagnostic(help("copy the directory again from where it was exported"))]
    Corrupt {
        /// The file.
        path: PathBuf,
    },
}

impl ModelFiles {
    /// The model's languages, from its checkpoint header.
    pub fn langs(&self) -> Result<Vec<String>, BundleError> {
        let not_unmt = |reason: String| BundleError::NotUnmt {
            path: self.model.clone(),
            reason,
        };
        let meta = checkpoint::read_metadata(&self.model)?;
        if meta.get("format").map(String::as_str) != Some(FORMAT) {
            return Err(not_unmt(format!(
                "not a UNMT encoder-decoder (metadata `format` is {:?}, expected `{FORMAT}`)",
                meta.get("format")
            )));
        }
        meta.get("langs")
            .and_then(|l| serde_json::from_str(l).ok())
            .ok_or_else(|| not_unmt("no `langs` in the checkpoint metadata".into()))
    }

    /// The Moses settings of `lang`, or XLM's defaults for it when the model has none.
    pub fn moses_for(&self, lang: &str) -> MosesParams {
        self.moses
            .get(lang)
            .cloned()
            .unwrap_or_else(|| MosesParams::for_language(lang))
    }

    /// Writes the model directory `dir` (which must not exist). `provenance` is stored as
    /// given (where the model came from: node, key, metrics).
    pub fn export(&self, dir: &Path, provenance: serde_json::Value) -> Result<(), BundleError> {
        if dir.exists() {
            return Err(BundleError::Exists {
                path: dir.to_path_buf(),
            });
        }
        let langs = self.langs()?;
        if let Some(lang) = langs.iter().find(|l| !self.moses.contains_key(*l)) {
            return Err(BundleError::NoMoses { lang: lang.clone() });
        }
        let moses = langs
            .iter()
            .map(|l| (l.clone(), self.moses_for(l)))
            .collect();
        let partial = partial_dir(dir);
        if partial.exists() {
            std::fs::remove_dir_all(&partial).map_err(io("remove", &partial))?;
        }
        std::fs::create_dir_all(&partial).map_err(io("create", &partial))?;
        let mut files = BTreeMap::new();
        for (from, name) in [
            (&self.model, MODEL),
            (&self.vocab, VOCAB),
            (&self.codes, CODES),
        ] {
            let to = partial.join(name);
            std::fs::copy(from, &to).map_err(io("copy", from))?;
            // The cache's files are read-only and `copy` keeps the mode; an exported model
            // is the user's to edit or replace.
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o644))
                    .map_err(io("write", &to))?;
            }
            files.insert(name.to_owned(), hash(&to)?);
        }
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            langs,
            moses,
            files,
            provenance,
        };
        let text = serde_json::to_vec_pretty(&manifest).map_err(|e| BundleError::Manifest {
            path: dir.join(MANIFEST),
            reason: e.to_string(),
        })?;
        let manifest_path = partial.join(MANIFEST);
        crate::io::write_atomic(&manifest_path, &text).map_err(io("write", &manifest_path))?;
        for name in [MODEL, VOCAB, CODES] {
            let p = partial.join(name);
            std::fs::File::open(&p)
                .and_then(|f| f.sync_all())
                .map_err(io("sync", &p))?;
        }
        std::fs::rename(&partial, dir).map_err(io("rename", &partial))?;
        let parent = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        crate::io::sync_dir(parent).map_err(io("sync", parent))?;
        Ok(())
    }

    /// Opens a model directory written by [`ModelFiles::export`], checking every file
    /// against its hash.
    pub fn open_dir(dir: &Path) -> Result<Self, BundleError> {
        let path = dir.join(MANIFEST);
        let bad = |reason: String| BundleError::Manifest {
            path: path.clone(),
            reason,
        };
        let text = std::fs::read(&path).map_err(|e| bad(e.to_string()))?;
        let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
        if manifest.format != MANIFEST_FORMAT {
            return Err(bad(format!(
                "format {} (this unmt reads {MANIFEST_FORMAT})",
                manifest.format
            )));
        }
        for name in [MODEL, VOCAB, CODES] {
            let expected = manifest
                .files
                .get(name)
                .ok_or_else(|| bad(format!("no hash for `{name}`")))?;
            let file = dir.join(name);
            if &hash(&file)? != expected {
                return Err(BundleError::Corrupt { path: file });
            }
        }
        Ok(Self {
            model: dir.join(MODEL),
            vocab: dir.join(VOCAB),
            codes: dir.join(CODES),
            moses: manifest.moses,
        })
    }

    /// Whether `dir` looks like a model directory (has a manifest).
    pub fn is_model_dir(dir: &Path) -> bool {
        dir.join(MANIFEST).is_file()
    }
}

/// `DIR.partial`, beside `DIR`.
fn partial_dir(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dir.with_file_name(name)
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BundleError {
    let path = path.to_path_buf();
    move |source| BundleError::Io {
        action,
        path,
        source,
    }
}

fn hash(path: &Path) -> Result<String, BundleError> {
    let mut h = blake3::Hasher::new();
    h.update_mmap(path).map_err(io("read", path))?;
    Ok(h.finalize().to_hex().to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::model::checkpoint::{HostTensor, NamedTensors, write_safetensors};

    fn files(dir: &Path, format: &str) -> ModelFiles {
        let model = dir.join("best");
        let tensors = NamedTensors::from([(
            "w".to_owned(),
            HostTensor {
                shape: vec![2],
                values: vec![1.0, 2.0],
            },
        )]);
        let meta = HashMap::from([
            ("format".to_owned(), format.to_owned()),
            ("langs".to_owned(), r#"["en","mk"]"#.to_owned()),
        ]);
        write_safetensors(&model, &tensors, meta).expect("write");
        std::fs::write(dir.join("vocab"), "a 3\n").expect("write");
        std::fs::write(dir.join("bpe.codes"), "a b 3\n").expect("write");
        ModelFiles {
            model,
            vocab: dir.join("vocab"),
            codes: dir.join("bpe.codes"),
            moses: BTreeMap::from([
                ("en".to_owned(), MosesParams::for_language("en")),
                (
                    "mk".to_owned(),
                    MosesParams {
                        aggressive_dash_splits: true,
                        ..MosesParams::for_language("mk")
                    },
                ),
            ]),
        }
    }

    #[test]
    fn an_exported_directory_opens_with_the_same_settings() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let source = files(tmp.path(), FORMAT);
        let dir = tmp.path().join("model");
        source
            .export(&dir, serde_json::json!({"node": "unmt"}))
            .expect("export");
        assert!(!partial_dir(&dir).exists());
        let opened = ModelFiles::open_dir(&dir).expect("open");
        assert_eq!(opened.moses, source.moses);
        assert!(opened.moses_for("mk").aggressive_dash_splits);
        assert_eq!(opened.langs().expect("langs"), ["en", "mk"]);
        assert_eq!(
            std::fs::read(&opened.codes).expect("codes"),
            std::fs::read(&source.codes).expect("codes")
        );
        let again = source.export(&dir, serde_json::Value::Null);
        assert!(
            matches!(again, Err(BundleError::Exists { .. })),
            "{again:?}"
        );
    }

    #[test]
    fn a_changed_file_or_a_missing_language_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut source = files(tmp.path(), FORMAT);
        let dir = tmp.path().join("model");
        source
            .export(&dir, serde_json::Value::Null)
            .expect("export");
        std::fs::write(dir.join(VOCAB), "b 3\n").expect("write");
        let e = ModelFiles::open_dir(&dir).expect_err("edited vocab");
        assert!(matches!(e, BundleError::Corrupt { .. }), "{e:?}");

        source.moses.remove("mk");
        let e = source
            .export(&tmp.path().join("other"), serde_json::Value::Null)
            .expect_err("no mk settings");
        assert_eq!(
            e.to_string(),
            "failed to export: no Moses settings for the model's language `mk`"
        );
        let e = ModelFiles::open_dir(tmp.path()).expect_err("no manifest");
        assert!(matches!(e, BundleError::Manifest { .. }), "{e:?}");
    }

    #[test]
    fn an_mlm_checkpoint_is_not_exported() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let source = files(tmp.path(), "xlm-mlm");
        let e = source
            .export(&tmp.path().join("model"), serde_json::Value::Null)
            .expect_err("not unmt");
        assert!(e.to_string().contains("not a UNMT encoder-decoder"), "{e}");
        assert!(!tmp.path().join("model.partial").exists());
    }
}
