//! The files of a cached `unmt` node's model, found by walking the producers of its inputs
//! in the cache: the checkpoint (`best`), the vocabulary wired to it, the BPE codes of the
//! one `bpe_learn` among its ancestors, and the Moses settings of its `tokenize` ancestors,
//! per language. What `unmt export` copies and `unmt translate --node` reads: the model then
//! sees raw text exactly as its training text was prepared, without the recipe.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::cache::{Cache, CacheError, NodeKey, NodeRecord};
use crate::stages::{BpeLearnStage, Stage, TokenizeStage, UnmtStage};
use crate::text::moses::MosesParams;
use crate::train::unmt::bundle::ModelFiles;

/// A cached model's files, and what had to be assumed.
#[derive(Debug, Clone)]
pub struct FoundModel {
    /// The files and Moses settings.
    pub files: ModelFiles,
    /// The `unmt` node's key.
    pub key: NodeKey,
    /// Its record.
    pub record: NodeRecord,
    /// Model languages no `tokenize` ancestor has settings for (XLM's defaults are used).
    pub defaulted: Vec<String>,
}

/// Why a cached node's model files could not be found.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ModelFilesError {
    /// The cache failed or has no such node.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Cache(#[from] CacheError),
    /// The node is not a `unmt` node.
    #[error("`{node}` is a `{stage}` node, not a `unmt` node")]
    #[diagnostic(help("give the name of a `unmt` node that has run"))]
    NotUnmt {
        /// The node.
        node: String,
        /// Its stage kind.
        stage: String,
    },
    /// An input needed came from an external file or a result no longer in the cache.
    #[error("failed to find the `{slot}` of `{node}` in the cache")]
    #[diagnostic(help(
        "rerun the recipe (`unmt run`), or give the files: `--model`, `--vocab`, `--codes`"
    ))]
    Missing {
        /// The node whose input is missing.
        node: String,
        /// What was looked for.
        slot: String,
    },
    /// Zero or several `bpe_learn` ancestors.
    #[error("failed to find the BPE codes of `{node}`: {count} `bpe_learn` nodes among its inputs")]
    #[diagnostic(help("give the codes with `--codes`"))]
    Codes {
        /// The `unmt` node.
        node: String,
        /// How many there are.
        count: usize,
    },
    /// Two `tokenize` ancestors disagree for one language.
    #[error("`tokenize` nodes `{first}` and `{second}` tokenize `{lang}` differently")]
    #[diagnostic(help("a model needs one tokenization per language"))]
    Moses {
        /// The language.
        lang: String,
        /// One node.
        first: String,
        /// The other.
        second: String,
    },
    /// A record's params are not a stage's parameters (a newer or corrupt record).
    #[error("failed to read the parameters of `{node}`")]
    Params {
        /// The node.
        node: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

/// The model files of the `unmt` result `what` names (a node name or a key prefix).
pub fn find_model(cache: &Cache, what: &str) -> Result<FoundModel, ModelFilesError> {
    let (key, record) = cache.resolve(what)?;
    if record.material.stage != UnmtStage::KIND {
        return Err(ModelFilesError::NotUnmt {
            node: record.node.clone(),
            stage: record.material.stage.clone(),
        });
    }
    let missing = |node: &str, slot: &str| ModelFilesError::Missing {
        node: node.to_owned(),
        slot: slot.to_owned(),
    };
    let vocab =
        input_path(cache, &record, "vocab")?.ok_or_else(|| missing(&record.node, "vocab"))?;
    let ancestors = ancestors(cache, &record)?;
    let codes: BTreeSet<_> = ancestors
        .iter()
        .filter(|(_, r)| r.material.stage == BpeLearnStage::KIND)
        .map(|(k, _)| cache.output_path(k, "codes"))
        .collect();
    if codes.len() != 1 {
        return Err(ModelFilesError::Codes {
            node: record.node.clone(),
            count: codes.len(),
        });
    }
    let mut moses: BTreeMap<String, (MosesParams, String)> = BTreeMap::new();
    for (_, r) in ancestors
        .iter()
        .filter(|(_, r)| r.material.stage == TokenizeStage::KIND)
    {
        let p: MosesParams = serde_json::from_value(serde_json::Value::Object(r.params.clone()))
            .map_err(|source| ModelFilesError::Params {
                node: r.node.clone(),
                source,
            })?;
        match moses.get(&p.lang) {
            Some((q, first)) if *q != p => {
                return Err(ModelFilesError::Moses {
                    lang: p.lang.clone(),
                    first: first.clone(),
                    second: r.node.clone(),
                });
            }
            Some(_) => {}
            None => {
                moses.insert(p.lang.clone(), (p, r.node.clone()));
            }
        }
    }
    let mut files = ModelFiles {
        model: cache.output_path(&key, "best"),
        vocab,
        codes: codes
            .into_iter()
            .next()
            .ok_or_else(|| missing(&record.node, "codes"))?,
        moses: moses.into_iter().map(|(l, (p, _))| (l, p)).collect(),
    };
    let langs = files
        .langs()
        .map_err(|_| missing(&record.node, "best checkpoint"))?;
    files.moses.retain(|l, _| langs.contains(l));
    let defaulted: Vec<String> = langs
        .iter()
        .filter(|l| !files.moses.contains_key(*l))
        .cloned()
        .collect();
    for l in &defaulted {
        files.moses.insert(l.clone(), MosesParams::for_language(l));
    }
    Ok(FoundModel {
        files,
        key,
        record,
        defaulted,
    })
}

/// The cached file behind input `slot` of `record` (its first origin), when a node made it.
fn input_path(
    cache: &Cache,
    record: &NodeRecord,
    slot: &str,
) -> Result<Option<std::path::PathBuf>, ModelFilesError> {
    let Some(origin) = record.origins.get(slot).and_then(|o| o.first()) else {
        return Ok(None);
    };
    let (Some(producer), Some((_, output))) = (&origin.producer, origin.source.rsplit_once('.'))
    else {
        return Ok(None);
    };
    Ok(cache
        .lookup(producer)?
        .filter(|r| r.outputs.contains_key(output))
        .map(|_| cache.output_path(producer, output)))
}

/// Every record upstream of `record` that is still in the cache, each once.
fn ancestors(
    cache: &Cache,
    record: &NodeRecord,
) -> Result<Vec<(NodeKey, NodeRecord)>, ModelFilesError> {
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<NodeKey> = producers(record).collect();
    let mut out = Vec::new();
    while let Some(key) = queue.pop_front() {
        if !seen.insert(key.clone()) {
            continue;
        }
        if let Some(r) = cache.lookup(&key)? {
            queue.extend(producers(&r));
            out.push((key, r));
        }
    }
    Ok(out)
}

fn producers(record: &NodeRecord) -> impl Iterator<Item = NodeKey> + '_ {
    record
        .origins
        .values()
        .flatten()
        .filter_map(|o| o.producer.clone())
}
