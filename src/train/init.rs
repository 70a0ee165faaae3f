//! Embedding initialisation from aligned static vectors (XLM `xlm/model/pretrain.py`
//! `load_embeddings`, `xlm/model/__init__.py` `set_pretrain_emb`, as the lexical fork uses them).
//!
//! Every dictionary entry whose string has a vector gets that vector as its embedding row
//! (which, tied, is also its output-projection row); the others keep XLM's random
//! `N(0, dim^-0.5)`. `</s>` gets fastText's `</s>` vector when the file has one, as in XLM. The
//! joint `.vec` written by `vecmap` lists the source (English) words first and drops later
//! duplicates, so a string present in both languages gets the English vector.

use burn::tensor::backend::Backend;

use crate::embed::vec_format::Embeddings;
use crate::model::Transformer;
use crate::model::checkpoint::HostTensor;
use crate::text::dictionary::Dictionary;

/// Rows to overwrite, and how many dictionary entries were found.
#[derive(Debug, Clone)]
pub struct AlignedRows {
    /// `(dictionary id, vector)`.
    pub rows: Vec<(usize, Vec<f32>)>,
    /// Dictionary size.
    pub total: usize,
}

impl AlignedRows {
    /// Fraction of dictionary entries initialised from the vectors.
    pub fn coverage(&self) -> f64 {
        self.rows.len() as f64 / self.total.max(1) as f64
    }
}

/// Matches dictionary strings to vectors (first occurrence wins). Fails when the dimensions
/// differ (XLM asserts `dim == emb_dim`).
pub fn aligned_rows(
    dico: &Dictionary,
    vectors: &Embeddings,
    dim: usize,
) -> Result<AlignedRows, String> {
    if vectors.dim != dim {
        return Err(format!(
            "the vectors have dimension {}, the model {dim}: set the model's `dim` to the \
             embeddings' dimension",
            vectors.dim
        ));
    }
    let index = vectors.word_index();
    let rows = (0..dico.len())
        .filter_map(|id| {
            let word = dico.word(id as u32)?;
            index.get(word).map(|&r| (id, vectors.row(r).to_vec()))
        })
        .collect();
    Ok(AlignedRows {
        rows,
        total: dico.len(),
    })
}

/// Overwrites token-embedding rows of `model` (keeping the parameter's id and grad flag).
pub fn overwrite_embedding_rows<B: Backend>(
    mut model: Transformer<B>,
    rows: &AlignedRows,
) -> Transformer<B> {
    model.embeddings.weight = model.embeddings.weight.map(|w| {
        let require_grad = w.is_require_grad();
        let mut host = HostTensor::from_tensor(&w);
        let dim = host.shape[1];
        for (id, v) in &rows.rows {
            host.values[id * dim..(id + 1) * dim].copy_from_slice(v);
        }
        let fresh = host.to_tensor::<B, 2>(&w.device());
        if require_grad {
            fresh.require_grad()
        } else {
            fresh
        }
    });
    model
}
