//! The UNMT encoder-decoder and its construction from a masked LM, as XLM's `build_model`
//! does for `--encoder_only false --reload_model 'mlm.pth,mlm.pth'` (facebookresearch/XLM
//! `xlm/model/__init__.py`; PyTorch port: `encoder_decoder_from_mlm` in
//! `examples/xlm_reference.py`).
//!
//! - The encoder is a fresh [`TransformerConfig::init`] model whose every parameter is
//!   overwritten by the MLM's (a strict load: every MLM tensor must be an encoder parameter
//!   and every encoder parameter must be in the MLM).
//! - The decoder is a fresh [`TransformerConfig::init_decoder`] model whose every MLM-named
//!   parameter is overwritten by the MLM's; the decoder-only blocks (XLM's
//!   `DECODER_ONLY_PARAMS`: cross-attention q/k/v/out and its LayerNorm, `layer_norm15`) keep
//!   their fresh initialisation.
//! - Each model has its own token embedding table, tied to its own output layer; the two
//!   start equal (both the MLM's) and then train apart.
//! - Language embeddings are the MLM's (XLM), or with `reinit_lang_embeddings` each model's
//!   own fresh `N(0, dim^-0.5)` table (alexandra-chron/relm_unmt `src/model/__init__.py`
//!   replaces `lang_embeddings.weight` in the reloaded state by the new model's before
//!   loading).

use std::collections::BTreeSet;

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::model::named::{NamedMapper, map_named};

use crate::model::checkpoint::NamedTensors;
use crate::model::{Transformer, TransformerConfig};
use crate::train::mlm::BACKEND_RNG;

/// The language-embedding table's parameter name.
const LANG_EMBEDDINGS: &str = "lang_embeddings.weight";

/// XLM's encoder-decoder for UNMT: two Transformers with separate parameters.
#[derive(Module, Debug)]
pub struct EncoderDecoder<B: Backend> {
    /// The encoder (its output layer is built but unused in UNMT, as in XLM).
    pub encoder: Transformer<B>,
    /// The decoder: causal self-attention, cross-attention to the encoder output, and its own
    /// tied output layer.
    pub decoder: Transformer<B>,
}

/// Why an encoder-decoder could not be built from an MLM. Messages follow the crate
/// convention (ARCHITECTURE.md, "Errors").
#[derive(Debug, Clone, PartialEq, thiserror::Error, miette::Diagnostic)]
pub enum UnmtModelError {
    /// The architecture is inconsistent.
    #[error("invalid encoder-decoder configuration: {reason}")]
    Config {
        /// What is wrong (from [`TransformerConfig::validate`]).
        reason: String,
    },
    /// A parameter of the model has no tensor in the MLM.
    #[error("failed to build the {part} from the MLM: no tensor `{name}` in the checkpoint")]
    Missing {
        /// `encoder` or `decoder`.
        part: &'static str,
        /// The parameter.
        name: String,
    },
    /// An MLM tensor has another shape than the parameter it would replace.
    #[error(
        "failed to build the {part} from the MLM: tensor `{name}` has shape {found:?}, the {part} expects {expected:?}"
    )]
    #[diagnostic(help(
        "the configuration must be the MLM's (its `config` metadata): same dictionary (`n_words`), `dim`, `n_langs`, `hidden_dim` and `max_positions`"
    ))]
    Shape {
        /// `encoder` or `decoder`.
        part: &'static str,
        /// The tensor.
        name: String,
        /// Its shape in the MLM.
        found: Vec<usize>,
        /// The parameter's shape.
        expected: Vec<usize>,
    },
    /// An MLM tensor is not a parameter of the encoder (XLM's strict load refuses it).
    #[error(
        "failed to build the encoder from the MLM: tensor `{name}` is not one of its parameters"
    )]
    Unexpected {
        /// The tensor.
        name: String,
    },
}

/// Whether `name` is a decoder-only parameter (XLM `DECODER_ONLY_PARAMS`): the cross-attention
/// block of a layer, `layers.<i>.cross.*`.
fn is_decoder_only(name: &str) -> bool {
    let mut parts = name.split('.');
    parts.next() == Some("layers") && parts.nth(1) == Some("cross")
}

/// Builds the encoder-decoder from an MLM's named tensors (see the module docs).
///
/// The fresh values (the decoder's cross-attention, and the language embeddings with
/// `reinit_lang_embeddings`) are XLM's initialisation drawn from Burn's generator seeded with
/// `seed` (encoder first, then decoder, as XLM builds them), so the result is a function of
/// the MLM and `seed`. Errors, naming the tensor, when a parameter is missing from the MLM, a
/// tensor's shape differs from the parameter's (e.g. another vocabulary), or the MLM has a
/// tensor the encoder lacks. With `reinit_lang_embeddings` the MLM's
/// `lang_embeddings.weight` is neither needed nor read.
pub fn from_mlm<B: Backend>(
    config: &TransformerConfig,
    mlm: &NamedTensors,
    reinit_lang_embeddings: bool,
    seed: u64,
    device: &B::Device,
) -> Result<EncoderDecoder<B>, UnmtModelError> {
    config
        .validate()
        .map_err(|reason| UnmtModelError::Config { reason })?;
    let (encoder, decoder) = fresh_pair::<B>(config, seed, device);
    let fresh_lang = |name: &str| reinit_lang_embeddings && name == LANG_EMBEDDINGS;
    let (encoder, visited) = overwrite(encoder, mlm, "encoder", &fresh_lang)?;
    if let Some(name) = mlm
        .keys()
        .find(|name| !visited.contains(*name) && !fresh_lang(name))
    {
        return Err(UnmtModelError::Unexpected { name: name.clone() });
    }
    let (decoder, _) = overwrite(decoder, mlm, "decoder", &|name| {
        fresh_lang(name) || is_decoder_only(name)
    })?;
    Ok(EncoderDecoder { encoder, decoder })
}

/// A freshly initialised encoder and decoder (XLM's init), drawn in that order from Burn's
/// generator seeded with `seed`, under the process-wide lock.
fn fresh_pair<B: Backend>(
    config: &TransformerConfig,
    seed: u64,
    device: &B::Device,
) -> (Transformer<B>, Transformer<B>) {
    let _guard = BACKEND_RNG
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    B::seed(device, seed);
    // Burn initialises parameters lazily, on first use: draw them now, under the lock
    let encoder = config.init::<B>(device).map(&mut Materialize);
    let decoder = config.init_decoder::<B>(device).map(&mut Materialize);
    (encoder, decoder)
}

/// Replaces every parameter of `module` not `kept` by the tensor of the same name in
/// `tensors`; returns the module and the names of all its parameters. Parameter ids and
/// `require_grad` flags are kept.
fn overwrite<B: Backend, M: Module<B>>(
    module: M,
    tensors: &NamedTensors,
    part: &'static str,
    kept: &dyn Fn(&str) -> bool,
) -> Result<(M, BTreeSet<String>), UnmtModelError> {
    let mut mapper = Overwrite {
        tensors,
        part,
        kept,
        visited: BTreeSet::new(),
        error: None,
    };
    let module = map_named(module, &mut mapper);
    match mapper.error {
        Some(e) => Err(e),
        None => Ok((module, mapper.visited)),
    }
}

/// Forces the initialisation of every (lazily initialised) parameter, in module order.
struct Materialize;

impl<B: Backend> ModuleMapper<B> for Materialize {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        param.map(|t| t)
    }
}

/// The [`ModuleMapper`] of [`overwrite`]; keeps the first error.
struct Overwrite<'a> {
    tensors: &'a NamedTensors,
    part: &'static str,
    kept: &'a dyn Fn(&str) -> bool,
    visited: BTreeSet<String>,
    error: Option<UnmtModelError>,
}

impl<B: Backend> NamedMapper<B> for Overwrite<'_> {
    fn map_named<const D: usize>(
        &mut self,
        name: &str,
        param: Param<Tensor<B, D>>,
    ) -> Param<Tensor<B, D>> {
        self.visited.insert(name.to_owned());
        if (self.kept)(name) || self.error.is_some() {
            return param;
        }
        let (id, tensor, mapper) = param.consume();
        let expected = tensor.dims().to_vec();
        let tensor = match self.tensors.get(name) {
            Some(t) if t.shape == expected => {
                let loaded = t.to_tensor::<B, D>(&tensor.device());
                if tensor.is_require_grad() {
                    loaded.require_grad()
                } else {
                    loaded
                }
            }
            Some(t) => {
                self.error = Some(UnmtModelError::Shape {
                    part: self.part,
                    name: name.to_owned(),
                    found: t.shape.clone(),
                    expected,
                });
                tensor
            }
            None => {
                self.error = Some(UnmtModelError::Missing {
                    part: self.part,
                    name: name.to_owned(),
                });
                tensor
            }
        };
        Param::from_mapped_value(id, tensor, mapper)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::backend::Cpu;
    use crate::model::checkpoint::{HostTensor, named_parameters};

    fn config(n_words: usize) -> TransformerConfig {
        let mut c = TransformerConfig::new(n_words, 2, 16, 2, 2);
        c.dropout = 0.0;
        c.attention_dropout = 0.0;
        c
    }

    /// A random MLM's tensors (XLM's initialisation from `seed`).
    pub(crate) fn mlm_tensors(config: &TransformerConfig, seed: u64) -> NamedTensors {
        let device = Default::default();
        let _guard = BACKEND_RNG
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        <Cpu as Backend>::seed(&device, seed);
        named_parameters(&config.init::<Cpu>(&device))
    }

    fn build(c: &TransformerConfig, mlm: &NamedTensors, reinit: bool) -> EncoderDecoder<Cpu> {
        from_mlm::<Cpu>(c, mlm, reinit, 11, &Default::default()).expect("builds")
    }

    #[test]
    fn encoder_is_the_mlm_and_decoder_adds_fresh_cross_attention() {
        let c = config(40);
        let mlm = mlm_tensors(&c, 1);
        let model = build(&c, &mlm, false);
        assert_eq!(named_parameters(&model.encoder), mlm);
        let dec = named_parameters(&model.decoder);
        let (cross, shared): (Vec<_>, Vec<_>) = dec.iter().partition(|(n, _)| is_decoder_only(n));
        assert_eq!(
            cross.len(),
            2 * 10,
            "q/k/v/out weight+bias and LN per layer"
        );
        for (name, t) in shared {
            assert_eq!(Some(t), mlm.get(name), "{name}");
        }
        let bound = 1.0 / (c.dim as f32).sqrt();
        for l in 0..c.n_layers {
            let get = |n: &str| &dec[&format!("layers.{l}.{n}")];
            assert!(
                get("cross.layer_norm.gamma")
                    .values
                    .iter()
                    .all(|&v| v == 1.0)
            );
            assert!(
                get("cross.layer_norm.beta")
                    .values
                    .iter()
                    .all(|&v| v == 0.0)
            );
            let q = get("cross.attention.q_lin.weight");
            assert!(q.values.iter().all(|v| v.abs() <= bound));
            assert_ne!(q, get("attention.q_lin.weight"));
        }
        assert_ne!(
            model.encoder.embeddings.weight.id, model.decoder.embeddings.weight.id,
            "the two embedding tables are separate parameters"
        );
    }

    #[test]
    fn reinit_lang_embeddings_draws_fresh_tables_and_keeps_the_rest() {
        let c = config(40);
        let mut mlm = mlm_tensors(&c, 1);
        let model = build(&c, &mlm, true);
        let (enc, dec) = (
            named_parameters(&model.encoder),
            named_parameters(&model.decoder),
        );
        let lang = |p: &NamedTensors| p[LANG_EMBEDDINGS].clone();
        assert_ne!(lang(&enc), lang(&mlm));
        assert_ne!(lang(&dec), lang(&mlm));
        assert_ne!(lang(&enc), lang(&dec), "each model draws its own");
        let n = enc[LANG_EMBEDDINGS].values.len() as f64;
        let var = enc[LANG_EMBEDDINGS]
            .values
            .iter()
            .map(|&v| f64::from(v).powi(2))
            .sum::<f64>()
            / n;
        assert!(var < 4.0 / c.dim as f64, "N(0, dim^-0.5) scale: {var}");
        for (name, t) in &mlm {
            if name != LANG_EMBEDDINGS {
                assert_eq!(&enc[name], t, "{name}");
                assert_eq!(&dec[name], t, "{name}");
            }
        }
        // the MLM's table is not needed then; same seed, same model
        mlm.remove(LANG_EMBEDDINGS);
        let again = build(&c, &mlm, true);
        assert_eq!(named_parameters(&again), named_parameters(&model));
    }

    #[test]
    fn a_mismatched_vocabulary_is_an_error_naming_the_tensor() {
        let mlm = mlm_tensors(&config(40), 1);
        let err = from_mlm::<Cpu>(&config(41), &mlm, false, 0, &Default::default()).unwrap_err();
        assert_eq!(
            err,
            UnmtModelError::Shape {
                part: "encoder",
                name: "embeddings.weight".into(),
                found: vec![40, 16],
                expected: vec![41, 16],
            }
        );
        assert_eq!(
            err.to_string(),
            "failed to build the encoder from the MLM: tensor `embeddings.weight` has shape [40, 16], the encoder expects [41, 16]"
        );
    }

    #[test]
    fn missing_and_unexpected_tensors_are_errors() {
        let c = config(40);
        let mut mlm = mlm_tensors(&c, 1);
        mlm.remove("layers.1.ffn.lin2.bias");
        assert_eq!(
            from_mlm::<Cpu>(&c, &mlm, false, 0, &Default::default()).unwrap_err(),
            UnmtModelError::Missing {
                part: "encoder",
                name: "layers.1.ffn.lin2.bias".into()
            }
        );
        let mut mlm = mlm_tensors(&c, 1);
        mlm.insert(
            "layers.0.cross.layer_norm.gamma".into(),
            HostTensor {
                shape: vec![16],
                values: vec![1.0; 16],
            },
        );
        assert_eq!(
            from_mlm::<Cpu>(&c, &mlm, false, 0, &Default::default()).unwrap_err(),
            UnmtModelError::Unexpected {
                name: "layers.0.cross.layer_norm.gamma".into()
            }
        );
        // an MLM with language embeddings for a one-language model: XLM's strict load refuses
        let one_lang = TransformerConfig { n_langs: 1, ..c };
        let err = from_mlm::<Cpu>(
            &one_lang,
            &mlm_tensors(&c, 1),
            false,
            0,
            &Default::default(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            UnmtModelError::Unexpected {
                name: LANG_EMBEDDINGS.into()
            }
        );
        let bad = TransformerConfig { n_heads: 3, ..c };
        assert!(matches!(
            from_mlm::<Cpu>(&bad, &mlm, false, 0, &Default::default()),
            Err(UnmtModelError::Config { .. })
        ));
    }
}
