//! The Transformer's hyperparameters, stored as JSON beside every checkpoint.

use serde::{Deserialize, Serialize};

/// Hyperparameters of the XLM Transformer (facebookresearch/XLM `xlm/model/transformer.py`,
/// `TransformerModel.__init__`; paper values in `train.py`'s README commands).
///
/// The defaults are the paper's: 6 layers, 1024 dimensions, 8 heads, FFN 4x, dropout 0.1,
/// attention dropout 0.1, exact GELU, 512 learned positions. `n_words` and `n_langs` come from
/// the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformerConfig {
    /// Dictionary size (XLM's 14 reserved ids included).
    pub n_words: usize,
    /// Number of languages; the language embedding is used only when > 1 (XLM `use_lang_emb`).
    pub n_langs: usize,
    /// Model (embedding) dimension. Paper: 1024.
    pub dim: usize,
    /// Encoder layers. Paper: 6.
    pub n_layers: usize,
    /// Attention heads; must divide `dim`. Paper: 8.
    pub n_heads: usize,
    /// FFN hidden size; XLM fixes it at `4 * dim`.
    pub hidden_dim: usize,
    /// Dropout after the embedding LayerNorm, on every sub-layer output and after the FFN.
    pub dropout: f64,
    /// Dropout on attention probabilities.
    pub attention_dropout: f64,
    /// Exact-erf GELU (`true`, paper) or ReLU (XLM's `train.py` default).
    pub gelu_activation: bool,
    /// Learned position embeddings (XLM `N_MAX_POSITIONS` = 512).
    pub max_positions: usize,
    /// `<pad>` id: its embedding row starts at zero and padded positions are zeroed.
    pub pad_index: usize,
    /// RE-LM adapters (bottleneck size; the paper: 256) in every layer, after the
    /// self-attention and after the FFN. Absent from the JSON of models without them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter_size: Option<usize>,
}

impl TransformerConfig {
    /// The paper's architecture for a dictionary of `n_words` and `n_langs` languages.
    pub fn paper(n_words: usize, n_langs: usize) -> Self {
        Self::new(n_words, n_langs, 1024, 6, 8)
    }

    /// An architecture with XLM's fixed choices (FFN 4x, dropout 0.1, GELU, 512 positions).
    pub fn new(
        n_words: usize,
        n_langs: usize,
        dim: usize,
        n_layers: usize,
        n_heads: usize,
    ) -> Self {
        Self {
            n_words,
            n_langs,
            dim,
            n_layers,
            n_heads,
            hidden_dim: dim.saturating_mul(4),
            dropout: 0.1,
            attention_dropout: 0.1,
            gelu_activation: true,
            max_positions: 512,
            pad_index: crate::text::dictionary::PAD_INDEX as usize,
            adapter_size: None,
        }
    }

    /// Checks the invariants the modules rely on.
    pub fn validate(&self) -> Result<(), String> {
        if self.dim == 0 || self.n_heads == 0 || !self.dim.is_multiple_of(self.n_heads) {
            return Err(format!(
                "dim ({}) must be a positive multiple of n_heads ({})",
                self.dim, self.n_heads
            ));
        }
        if self.n_words <= self.pad_index {
            return Err(format!("n_words ({}) must exceed pad_index", self.n_words));
        }
        if self.adapter_size == Some(0) {
            return Err("adapter_size must be positive".to_owned());
        }
        if self.n_langs == 0 || self.max_positions == 0 || self.hidden_dim == 0 {
            return Err("n_langs, max_positions and hidden_dim must be positive".to_owned());
        }
        if self.training_bytes().is_none() {
            return Err(format!(
                "dim {}, {} layers and {} words give more parameters than this machine can count",
                self.dim, self.n_layers, self.n_words
            ));
        }
        for (name, p) in [
            ("dropout", self.dropout),
            ("attention_dropout", self.attention_dropout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(format!("{name} must be in [0, 1), got {p}"));
            }
        }
        Ok(())
    }

    /// Number of trainable scalars (the output projection is tied, its bias is counted).
    /// [`Self::validate`] rejects configs whose count overflows, so this saturates only on
    /// configs that never reach a model.
    pub fn n_params(&self) -> usize {
        self.checked_n_params().unwrap_or(usize::MAX)
    }

    /// [`Self::n_params`] in checked arithmetic: `None` when the count overflows `usize`
    /// (user numbers such as `dim = 10^10` would otherwise wrap silently in release builds).
    pub fn checked_n_params(&self) -> Option<usize> {
        let (d, h, v) = (self.dim, self.hidden_dim, self.n_words);
        let add = |terms: &[Option<usize>]| {
            terms
                .iter()
                .try_fold(0usize, |acc, t| acc.checked_add((*t)?))
        };
        let mul = |a: usize, b: usize| a.checked_mul(b);
        let langs = if self.n_langs > 1 { self.n_langs } else { 0 };
        let emb = add(&[
            mul(v, d),
            mul(self.max_positions, d),
            mul(langs, d),
            mul(2, d),
        ])?;
        let adapters = match self.adapter_size {
            None => 0,
            Some(a) => {
                let one = add(&[mul(d, a), Some(a), mul(a, d), Some(d)])?;
                mul(2, one)?
            }
        };
        let attention = mul(4, add(&[mul(d, d), Some(d)])?)?;
        let ffn = add(&[mul(d, h), Some(h), mul(h, d), Some(d)])?;
        let layer = add(&[Some(attention), mul(4, d), Some(ffn), Some(adapters)])?;
        add(&[Some(emb), mul(self.n_layers, layer), Some(v)])
    }

    /// Bytes that training this model in f32 with Adam holds at least: weights, gradients
    /// and Adam's two moments (4 copies of every parameter), activations not counted.
    /// `None` on overflow.
    pub fn training_bytes(&self) -> Option<u64> {
        (self.checked_n_params()? as u64).checked_mul(16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// XLM issue #197 reports 141,848,203 parameters for the En-Fr 1024-d encoder with a ~64K
    /// dictionary and 2 languages; our count reproduces it exactly for 64,139 entries (the only
    /// integer solution near 64K), so every tensor of XLM's encoder is accounted for.
    #[test]
    fn paper_config_has_xlm_parameter_count() {
        let c = TransformerConfig::paper(64_139, 2);
        assert_eq!(c.n_params(), 141_848_203);
    }

    #[test]
    fn huge_dims_are_an_error_not_a_wrapped_count() {
        let c = TransformerConfig::new(64_000, 2, 1 << 40, 6, 8);
        assert_eq!(c.checked_n_params(), None);
        let err = c.validate().unwrap_err();
        assert!(
            err.contains("more parameters than this machine can count"),
            "{err}"
        );
    }

    #[test]
    fn heads_must_divide_dim() {
        assert!(TransformerConfig::new(100, 2, 30, 1, 4).validate().is_err());
        assert!(TransformerConfig::new(100, 2, 32, 1, 4).validate().is_ok());
    }
}
