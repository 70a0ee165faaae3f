//! One post-LayerNorm Transformer layer as XLM stacks them (facebookresearch/XLM
//! `xlm/model/transformer.py`, `TransformerModel.fwd`): attention, dropout, residual, LayerNorm;
//! (decoder only) cross-attention, dropout, residual, LayerNorm; FFN, dropout, residual,
//! LayerNorm; padded positions zeroed.

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{gelu, relu};
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Tensor};

use super::attention::{AttentionMask, KeyValue, MultiHeadAttention, MultiHeadAttentionConfig};
use super::config::TransformerConfig;
use super::dropout::Dropout;

/// XLM's LayerNorm epsilon (`nn.LayerNorm(dim, eps=1e-12)`).
pub const LAYER_NORM_EPS: f64 = 1e-12;

/// A LayerNorm with XLM's epsilon (weight 1, bias 0).
pub fn layer_norm<B: Backend>(dim: usize, device: &B::Device) -> LayerNorm<B> {
    LayerNormConfig::new(dim)
        .with_epsilon(LAYER_NORM_EPS)
        .init(device)
}

/// `lin2(act(lin1(x)))` followed by dropout; XLM has no dropout between the two linears.
#[derive(Module, Debug)]
pub struct FeedForward<B: Backend> {
    /// `dim -> hidden_dim`.
    pub lin1: Linear<B>,
    /// `hidden_dim -> dim`.
    pub lin2: Linear<B>,
    dropout: Dropout,
    gelu: bool,
}

/// The configuration of a [`FeedForward`] block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeedForwardConfig {
    /// Input and output size.
    pub dim: usize,
    /// Hidden size (XLM: `4 * dim`).
    pub hidden_dim: usize,
    /// Dropout on the output.
    pub dropout: f64,
    /// Exact-erf GELU (`true`) or ReLU.
    pub gelu: bool,
}

impl FeedForwardConfig {
    /// `lin1` then `lin2`, PyTorch's `nn.Linear` initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> FeedForward<B> {
        FeedForward {
            lin1: LinearConfig::new(self.dim, self.hidden_dim).init(device),
            lin2: LinearConfig::new(self.hidden_dim, self.dim).init(device),
            dropout: Dropout::new(self.dropout),
            gelu: self.gelu,
        }
    }
}

impl<B: Backend> FeedForward<B> {
    /// # Shapes
    /// - input: `[batch, len, dim]`, output: `[batch, len, dim]`
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let h = self.lin1.forward(x);
        // Burn's `gelu` is the exact erf form (XLM `gelu`: `0.5 * x * (1 + erf(x / sqrt(2)))`).
        let h = if self.gelu { gelu(h) } else { relu(h) };
        self.dropout.forward(self.lin2.forward(h))
    }
}

/// RE-LM's bottleneck adapter (relm_unmt `src/model/transformer.py`, `Adapter`):
/// `lin2(relu(lin1(x)))` with PyTorch's `nn.Linear` initialisation, added to its input
/// (`x + A(x)`).
#[derive(Module, Debug)]
pub struct Adapter<B: Backend> {
    /// `dim -> size`.
    pub lin1: Linear<B>,
    /// `size -> dim`.
    pub lin2: Linear<B>,
}

impl<B: Backend> Adapter<B> {
    fn new(dim: usize, size: usize, device: &B::Device) -> Self {
        Self {
            lin1: LinearConfig::new(dim, size).init(device),
            lin2: LinearConfig::new(size, dim).init(device),
        }
    }

    /// `x + lin2(relu(lin1(x)))`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        x.clone() + self.lin2.forward(relu(self.lin1.forward(x)))
    }
}

/// The decoder's encoder-attention block; absent in encoder layers.
#[derive(Module, Debug)]
pub struct CrossAttention<B: Backend> {
    /// Attention from decoder states to encoder outputs.
    pub attention: MultiHeadAttention<B>,
    /// LayerNorm after its residual (XLM `layer_norm15`).
    pub layer_norm: LayerNorm<B>,
}

/// The configuration of a [`TransformerLayer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransformerLayerConfig {
    /// Self-attention (cross-attention, when present, has the same shape).
    pub attention: MultiHeadAttentionConfig,
    /// The FFN.
    pub ffn: FeedForwardConfig,
    /// Dropout on the attention outputs before their residuals.
    pub dropout: f64,
    /// Whether the layer attends to encoder [`Memory`] (a decoder layer).
    pub cross_attention: bool,
    /// RE-LM adapters of this bottleneck size after the self-attention and the FFN.
    pub adapter_size: Option<usize>,
}

impl TransformerConfig {
    /// The configuration of one of this model's layers; `cross_attention` makes it a decoder
    /// layer.
    pub fn layer(&self, cross_attention: bool) -> TransformerLayerConfig {
        TransformerLayerConfig {
            attention: MultiHeadAttentionConfig {
                dim: self.dim,
                n_heads: self.n_heads,
                dropout: self.attention_dropout,
            },
            ffn: FeedForwardConfig {
                dim: self.dim,
                hidden_dim: self.hidden_dim,
                dropout: self.dropout,
                gelu: self.gelu_activation,
            },
            dropout: self.dropout,
            cross_attention,
            adapter_size: self.adapter_size,
        }
    }
}

impl TransformerLayerConfig {
    /// Builds the layer, parameters in XLM's order (attention, its LayerNorm, cross-attention
    /// and its LayerNorm, FFN, its LayerNorm).
    pub fn init<B: Backend>(&self, device: &B::Device) -> TransformerLayer<B> {
        let dim = self.attention.dim;
        TransformerLayer {
            attention: self.attention.init(device),
            layer_norm1: layer_norm(dim, device),
            cross: self.cross_attention.then(|| CrossAttention {
                attention: self.attention.init(device),
                layer_norm: layer_norm(dim, device),
            }),
            ffn: self.ffn.init(device),
            layer_norm2: layer_norm(dim, device),
            adapter_attn: self.adapter_size.map(|n| Adapter::new(dim, n, device)),
            adapter_ffn: self.adapter_size.map(|n| Adapter::new(dim, n, device)),
            dropout: Dropout::new(self.dropout),
        }
    }
}

/// What one layer's full-sequence forward pass reads.
#[derive(Debug, Clone)]
pub struct LayerInput<'a, B: Backend> {
    /// Hidden states, `[batch, len, dim]`.
    pub x: Tensor<B, 3>,
    /// Padded positions, `[batch, len]` (`true` = padding).
    pub padding: Option<Tensor<B, 2, Bool>>,
    /// `[batch, len, 1]`: 1.0 for real tokens and 0.0 for padding (outputs are multiplied).
    pub keep: Option<Tensor<B, 3>>,
    /// Self-attention mask.
    pub mask: AttentionMask,
    /// Encoder output for the cross-attention (decoder layers).
    pub memory: Option<&'a Memory<B>>,
}

/// Encoder output a decoder layer attends to.
#[derive(Debug, Clone)]
pub struct Memory<B: Backend> {
    /// Encoder states, `[batch, src_len, dim]`.
    pub states: Tensor<B, 3>,
    /// Padded source positions, `[batch, src_len]` (`true` = padding).
    pub padding: Option<Tensor<B, 2, Bool>>,
}

/// One Transformer layer.
#[derive(Module, Debug)]
pub struct TransformerLayer<B: Backend> {
    /// Self-attention.
    pub attention: MultiHeadAttention<B>,
    /// LayerNorm after the attention residual (XLM `layer_norm1`).
    pub layer_norm1: LayerNorm<B>,
    /// Cross-attention (decoders only).
    pub cross: Option<CrossAttention<B>>,
    /// Position-wise FFN.
    pub ffn: FeedForward<B>,
    /// LayerNorm after the FFN residual (XLM `layer_norm2`).
    pub layer_norm2: LayerNorm<B>,
    /// RE-LM adapter on the (dropped-out) self-attention output, before its residual.
    pub adapter_attn: Option<Adapter<B>>,
    /// RE-LM adapter on the FFN output, before its residual.
    pub adapter_ffn: Option<Adapter<B>>,
    dropout: Dropout,
}

impl<B: Backend> TransformerLayer<B> {
    /// Runs the layer over whole sequences.
    ///
    /// # Shapes
    /// - input.x: `[batch, len, dim]`
    /// - output: `[batch, len, dim]`
    pub fn forward(&self, input: LayerInput<'_, B>) -> Tensor<B, 3> {
        let LayerInput {
            x,
            padding,
            keep,
            mask,
            memory,
        } = input;
        let h = self.sublayers(
            x,
            |attention, x| attention.forward(x.clone(), x, padding, mask),
            memory.map(|mem| {
                |attention: &MultiHeadAttention<B>, h| {
                    attention.forward(
                        h,
                        mem.states.clone(),
                        mem.padding.clone(),
                        AttentionMask::Full,
                    )
                }
            }),
        );
        match keep {
            Some(k) => h * k,
            None => h,
        }
    }

    /// Runs the layer on the newest positions of a decoded sequence, reading and extending
    /// `cache` (see [`MultiHeadAttention::forward_incremental`]). Nothing is padded: XLM's
    /// generation never pads the target prefix.
    ///
    /// # Shapes
    /// - x: `[batch, new_len, dim]`, output: `[batch, new_len, dim]`
    pub fn forward_incremental(
        &self,
        x: Tensor<B, 3>,
        memory: Option<&Memory<B>>,
        cache: &mut LayerCache<B>,
    ) -> Tensor<B, 3> {
        let LayerCache {
            self_attention,
            cross_attention,
        } = cache;
        self.sublayers(
            x,
            |attention, x| attention.forward_incremental(x, self_attention),
            memory.map(|mem| {
                |attention: &MultiHeadAttention<B>, h| {
                    attention.forward_memory(h, &mem.states, mem.padding.clone(), cross_attention)
                }
            }),
        )
    }

    /// XLM's sub-layer sequence, with the two attention calls supplied by the caller (whole
    /// sequence or cached): self-attention, dropout, (adapter,) residual, LayerNorm;
    /// cross-attention (when the layer has it and `cross_attend` is given), dropout, residual,
    /// LayerNorm (no adapter, as RE-LM); FFN, (adapter,) residual, LayerNorm.
    fn sublayers(
        &self,
        x: Tensor<B, 3>,
        self_attend: impl FnOnce(&MultiHeadAttention<B>, Tensor<B, 3>) -> Tensor<B, 3>,
        cross_attend: Option<impl FnOnce(&MultiHeadAttention<B>, Tensor<B, 3>) -> Tensor<B, 3>>,
    ) -> Tensor<B, 3> {
        let adapt = |adapter: &Option<Adapter<B>>, t: Tensor<B, 3>| match adapter {
            Some(a) => a.forward(t),
            None => t,
        };
        let a = self
            .dropout
            .forward(self_attend(&self.attention, x.clone()));
        let mut h = self.layer_norm1.forward(x + adapt(&self.adapter_attn, a));
        if let (Some(cross), Some(attend)) = (&self.cross, cross_attend) {
            let c = attend(&cross.attention, h.clone());
            h = cross.layer_norm.forward(h + self.dropout.forward(c));
        }
        let f = adapt(&self.adapter_ffn, self.ffn.forward(h.clone()));
        self.layer_norm2.forward(h + f)
    }
}

/// One layer's keys and values kept between decoding steps.
#[derive(Debug, Clone, Default)]
pub struct LayerCache<B: Backend> {
    /// Self-attention keys/values of every position decoded so far.
    pub self_attention: Option<KeyValue<B>>,
    /// Cross-attention keys/values of the encoder memory (computed at the first step).
    pub cross_attention: Option<KeyValue<B>>,
}
