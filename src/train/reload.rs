//! Starting a masked LM from a pretrained one with a larger vocabulary: RE-LM's vocabulary
//! extension (Chronopoulou et al. 2020; relm_unmt `src/model/__init__.py`, `modify_params`
//! and the reload that follows it; `../shared/spec/reference-implementations.md` §1.3, §4, §0
//! item 14).
//!
//! Every tensor of the pretrained model is copied into a model built for the extended
//! dictionary. The token embedding (tied to the output projection) and the output bias grow:
//! the row of every token the pretrained dictionary has is copied exactly (by string, so the
//! ids may differ; RE-LM's extension keeps them), and the new rows start as [`NewRows`] says.
//! Tensors the pretrained model lacks (language embeddings of a monolingual model, adapters
//! added for fine-tuning) keep the new model's random initialisation.

use std::collections::BTreeMap;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::model::checkpoint::HostTensor;
use crate::text::dictionary::Dictionary;

/// How the rows of tokens new to the pretrained model start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NewRows {
    /// `N(0, dim^-0.5)`, XLM's embedding initialisation, as the RE-LM paper describes.
    #[default]
    Normal,
    /// What the public RE-LM code ends up with (quirk 14): the tied output weight is loaded
    /// last and wins, so new rows are near zero, `U(-1/dim, 1/dim)`.
    Relm,
}

/// The grown tensors and what happened to the rows.
#[derive(Debug, Clone)]
pub struct Reloaded {
    /// Every tensor of the new model.
    pub tensors: BTreeMap<String, HostTensor>,
    /// Token rows copied from the pretrained model.
    pub kept_rows: usize,
    /// Token rows new to it (the extension's size).
    pub new_rows: usize,
    /// New-model tensors the pretrained model had no counterpart for (kept at their init).
    pub fresh: Vec<String>,
    /// Pretrained tensors the new model has no place for (dropped).
    pub dropped: Vec<String>,
}

/// Token-indexed tensors: rows follow the dictionary.
const TOKEN_ROWS: &[&str] = &["embeddings.weight", "pred_bias"];

/// Builds the new model's tensors from its fresh initialisation `init` and the pretrained
/// `old` ones. Token rows map through the dictionaries by string; every other tensor must
/// have the same shape in both (a different `dim` or layer count is an error) except the
/// language embeddings, copied only when both models have the same number of languages.
/// New output-bias entries start at 0 (RE-LM's `modify_params`).
pub fn grow(
    old: &BTreeMap<String, HostTensor>,
    old_dico: &Dictionary,
    new_dico: &Dictionary,
    init: &BTreeMap<String, HostTensor>,
    new_rows: NewRows,
    seed: u64,
) -> Result<Reloaded, String> {
    let mut out = BTreeMap::new();
    let mut fresh = Vec::new();
    let mut kept_rows = 0;
    let mut new_count = 0;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5245_4c4d); // "RELM"
    for (name, init_t) in init {
        let Some(old_t) = old.get(name) else {
            fresh.push(name.clone());
            out.insert(name.clone(), init_t.clone());
            continue;
        };
        if TOKEN_ROWS.contains(&name.as_str()) {
            let width: usize = init_t.shape[1..].iter().product();
            let old_width: usize = old_t.shape[1..].iter().product();
            if width != old_width || old_t.shape[0] != old_dico.len() {
                return Err(format!(
                    "`{name}` of the pretrained model has shape {:?}, which does not fit its \
                     vocabulary of {} entries and this model's {:?}",
                    old_t.shape,
                    old_dico.len(),
                    init_t.shape
                ));
            }
            let mut t = init_t.clone();
            let (mut kept, mut added) = (0, 0);
            for id in 0..new_dico.len() {
                let row = &mut t.values[id * width..(id + 1) * width];
                match new_dico.word(id as u32).and_then(|w| old_dico.get(w)) {
                    Some(old_id) => {
                        let o = old_id as usize * width;
                        row.copy_from_slice(&old_t.values[o..o + width]);
                        kept += 1;
                    }
                    None => {
                        added += 1;
                        if name == "pred_bias" {
                            row.fill(0.0);
                        } else if new_rows == NewRows::Relm {
                            let b = 1.0 / width as f32;
                            row.iter_mut().for_each(|x| *x = rng.random_range(-b..b));
                        }
                    }
                }
            }
            if name == "embeddings.weight" {
                (kept_rows, new_count) = (kept, added);
            }
            out.insert(name.clone(), t);
        } else if old_t.shape == init_t.shape {
            out.insert(name.clone(), old_t.clone());
        } else if name.starts_with("lang_embeddings") {
            fresh.push(name.clone());
            out.insert(name.clone(), init_t.clone());
        } else {
            return Err(format!(
                "`{name}` of the pretrained model has shape {:?}, this model {:?}: the \
                 architecture (`dim`, `n_layers`, `n_heads`) must be the pretrained one's",
                old_t.shape, init_t.shape
            ));
        }
    }
    let dropped = old
        .keys()
        .filter(|k| !init.contains_key(*k))
        .cloned()
        .collect();
    Ok(Reloaded {
        tensors: out,
        kept_rows,
        new_rows: new_count,
        fresh,
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::bpe::Vocab;

    fn dico(words: &[&str]) -> Dictionary {
        let entries = words
            .iter()
            .enumerate()
            .map(|(i, w)| ((*w).to_owned(), 1000 - i as u64))
            .collect();
        Dictionary::from_vocab(&Vocab { entries }).expect("dictionary")
    }

    fn tensor(shape: &[usize], f: impl Fn(usize) -> f32) -> HostTensor {
        let n = shape.iter().product();
        HostTensor {
            shape: shape.to_vec(),
            values: (0..n).map(f).collect(),
        }
    }

    fn models(
        dim: usize,
    ) -> (
        Dictionary,
        Dictionary,
        BTreeMap<String, HostTensor>,
        BTreeMap<String, HostTensor>,
    ) {
        let old_dico = dico(&["the", "of", "and"]);
        let new_dico = dico(&["the", "of", "and", "на", "и"]);
        let (n_old, n_new) = (old_dico.len(), new_dico.len());
        let old = BTreeMap::from([
            (
                "embeddings.weight".to_owned(),
                tensor(&[n_old, dim], |i| i as f32 + 0.5),
            ),
            (
                "pred_bias".to_owned(),
                tensor(&[n_old], |i| -(i as f32) - 1.0),
            ),
            (
                "layer_norm_emb.gamma".to_owned(),
                tensor(&[dim], |i| i as f32 * 3.0),
            ),
        ]);
        let init = BTreeMap::from([
            (
                "embeddings.weight".to_owned(),
                tensor(&[n_new, dim], |_| 7.0),
            ),
            ("pred_bias".to_owned(), tensor(&[n_new], |_| 7.0)),
            ("layer_norm_emb.gamma".to_owned(), tensor(&[dim], |_| 7.0)),
            (
                "lang_embeddings.weight".to_owned(),
                tensor(&[2, dim], |_| 7.0),
            ),
        ]);
        (old_dico, new_dico, old, init)
    }

    #[test]
    fn growth_keeps_every_old_row_bit_for_bit_and_starts_new_rows_as_chosen() {
        let dim = 4;
        let (old_dico, new_dico, old, init) = models(dim);
        let r = grow(&old, &old_dico, &new_dico, &init, NewRows::Normal, 0).expect("grow");
        assert_eq!((r.kept_rows, r.new_rows), (old_dico.len(), 2));
        let emb = &r.tensors["embeddings.weight"];
        let old_emb = &old["embeddings.weight"];
        assert_eq!(emb.values[..old_dico.len() * dim], old_emb.values[..]);
        // Normal: the fresh N(0, dim^-0.5) rows of the new model's init are kept.
        assert!(emb.values[old_dico.len() * dim..].iter().all(|&x| x == 7.0));
        let bias = &r.tensors["pred_bias"];
        assert_eq!(bias.values[..old_dico.len()], old["pred_bias"].values[..]);
        assert!(bias.values[old_dico.len()..].iter().all(|&x| x == 0.0));
        assert_eq!(
            r.tensors["layer_norm_emb.gamma"],
            old["layer_norm_emb.gamma"]
        );
        assert_eq!(r.fresh, ["lang_embeddings.weight"]);

        let q = grow(&old, &old_dico, &new_dico, &init, NewRows::Relm, 0).expect("grow");
        let new = &q.tensors["embeddings.weight"].values[old_dico.len() * dim..];
        let b = 1.0 / dim as f32;
        assert!(
            new.iter().all(|&x| x != 7.0 && (-b..b).contains(&x)),
            "{new:?}"
        );
    }

    #[test]
    fn rows_follow_strings_when_the_ids_move() {
        let dim = 2;
        let (old_dico, _, old, _) = models(dim);
        let moved = dico(&["и", "and", "the", "of"]);
        let init = BTreeMap::from([
            (
                "embeddings.weight".to_owned(),
                tensor(&[moved.len(), dim], |_| 7.0),
            ),
            ("pred_bias".to_owned(), tensor(&[moved.len()], |_| 7.0)),
            ("layer_norm_emb.gamma".to_owned(), tensor(&[dim], |_| 7.0)),
        ]);
        let r = grow(&old, &old_dico, &moved, &init, NewRows::Normal, 0).expect("grow");
        let row =
            |t: &HostTensor, id: u32| t.values[id as usize * dim..(id as usize + 1) * dim].to_vec();
        let emb = &r.tensors["embeddings.weight"];
        for w in ["the", "of", "and"] {
            assert_eq!(
                row(emb, moved.get(w).expect("new id")),
                row(&old["embeddings.weight"], old_dico.get(w).expect("old id"))
            );
        }
    }

    #[test]
    fn another_architecture_is_refused() {
        let (old_dico, new_dico, old, mut init) = models(4);
        init.insert("layer_norm_emb.gamma".into(), tensor(&[8], |_| 0.0));
        let e = grow(&old, &old_dico, &new_dico, &init, NewRows::Normal, 0).unwrap_err();
        assert!(e.contains("architecture"), "{e}");
    }
}
