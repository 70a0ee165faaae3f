//! Which parameters train, as data: `*`/`?` patterns over parameter names as checkpoints
//! name them (`embeddings.weight`, `layers.3.adapter_ffn.lin1.weight`). A parameter that
//! matches no pattern does not require a gradient, so the optimiser never updates it. Frozen
//! embeddings, RE-LM's adapter fine-tuning and any other subset are one mechanism.

use burn::module::{Module, Param};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::glob::glob;
use crate::model::named::{NamedMapper, map_named};

/// Every parameter.
pub const ALL: &[&str] = &["*"];

/// RE-LM's adapter fine-tuning (relm_unmt `train.py` with `--use_adapters`; spec §5):
/// adapters, token and position embeddings, the output layer (tied weight and bias) and the
/// embedding LayerNorm; the language embeddings stay at their initialisation.
pub const ADAPTERS: &[&str] = &[
    "layers.*.adapter_*",
    "embeddings.weight",
    "position_embeddings.weight",
    "pred_bias",
    "layer_norm_emb.*",
];

/// Sets `require_grad` on each float parameter of `module` by whether its name matches one
/// of `patterns`; returns the module and the names that do not train.
pub fn apply<B: Backend, M: Module<B>>(module: M, patterns: &[String]) -> (M, Vec<String>) {
    struct Filter<'a> {
        patterns: &'a [String],
        frozen: Vec<String>,
    }
    impl<B: Backend> NamedMapper<B> for Filter<'_> {
        fn map_named<const D: usize>(
            &mut self,
            name: &str,
            param: Param<Tensor<B, D>>,
        ) -> Param<Tensor<B, D>> {
            let train = self.patterns.iter().any(|p| glob(p, name));
            if !train {
                self.frozen.push(name.to_owned());
            }
            // On the materialised tensor: a lazily initialised parameter keeps the flag only
            // in its initialiser, which Burn 0.21 does not carry through every path (measured:
            // lazy linears still received gradients).
            let (id, tensor, mapper) = param.consume();
            Param::from_mapped_value(id, tensor.set_require_grad(train), mapper)
        }
    }
    let mut f = Filter {
        patterns,
        frozen: Vec::new(),
    };
    let module = map_named(module, &mut f);
    (module, f.frozen)
}

/// Patterns from names: `"all"` and `"adapters"` are the presets above; anything else is a
/// pattern itself.
pub fn expand(names: &[String]) -> Vec<String> {
    names
        .iter()
        .flat_map(|n| match n.as_str() {
            "all" => ALL.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            "adapters" => ADAPTERS.iter().map(|s| (*s).to_owned()).collect(),
            other => vec![other.to_owned()],
        })
        .collect()
}
