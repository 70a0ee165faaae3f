//! XLM's multi-head attention (facebookresearch/XLM `xlm/model/transformer.py`,
//! `MultiHeadAttention`): separate q/k/v/out projections with bias, queries scaled by
//! `1/sqrt(head_dim)`, masked scores set to `-inf`, softmax in float32, dropout on the weights.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Int, Tensor};

use super::dropout::Dropout;

/// Which keys a query may see besides unpadded ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionMask {
    /// Every key (encoder self-attention, cross-attention).
    Full,
    /// Keys up to the query's own position (decoder self-attention, where query and keys are
    /// the same sequence).
    Causal,
}

/// The configuration of a [`MultiHeadAttention`] block (Burn's `XxxConfig::init` pattern).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MultiHeadAttentionConfig {
    /// Model dimension (queries, keys, values and output).
    pub dim: usize,
    /// Heads; must divide `dim`.
    pub n_heads: usize,
    /// Dropout on the attention probabilities (XLM `attention_dropout`).
    pub dropout: f64,
}

impl MultiHeadAttentionConfig {
    /// Projections with PyTorch's `nn.Linear` initialisation (Burn's default `LinearConfig`
    /// initialiser is the same `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` for weight and bias),
    /// built q, k, v, out in XLM's order.
    pub fn init<B: Backend>(&self, device: &B::Device) -> MultiHeadAttention<B> {
        let lin = || LinearConfig::new(self.dim, self.dim).init(device);
        MultiHeadAttention {
            q_lin: lin(),
            k_lin: lin(),
            v_lin: lin(),
            out_lin: lin(),
            dropout: Dropout::new(self.dropout),
            n_heads: self.n_heads,
        }
    }
}

/// Multi-head attention used for self-attention (encoder and decoder) and, with a separate
/// key/value input, for the decoder's cross-attention.
#[derive(Module, Debug)]
pub struct MultiHeadAttention<B: Backend> {
    /// Query projection.
    pub q_lin: Linear<B>,
    /// Key projection.
    pub k_lin: Linear<B>,
    /// Value projection.
    pub v_lin: Linear<B>,
    /// Output projection.
    pub out_lin: Linear<B>,
    dropout: Dropout,
    n_heads: usize,
}

impl<B: Backend> MultiHeadAttention<B> {
    /// Attends from `query` to `key_value`.
    ///
    /// `key_padding` marks padded key positions (`true` = ignore); [`AttentionMask::Causal`]
    /// additionally hides keys after the query position.
    ///
    /// # Shapes
    /// - query: `[batch, q_len, dim]`
    /// - key_value: `[batch, k_len, dim]`
    /// - key_padding: `[batch, k_len]`
    /// - output: `[batch, q_len, dim]`
    pub fn forward(
        &self,
        query: Tensor<B, 3>,
        key_value: Tensor<B, 3>,
        key_padding: Option<Tensor<B, 2, Bool>>,
        mask: AttentionMask,
    ) -> Tensor<B, 3> {
        let kv = self.project_kv(key_value);
        let causal_offset = (mask == AttentionMask::Causal).then_some(0);
        self.attend(query, &kv, key_padding, causal_offset)
    }

    /// Self-attention of the newest positions of a growing sequence (incremental decoding,
    /// XLM's `cache[layer_id]` when `kv is None`): their keys and values are appended to
    /// `cache`, and each new position sees every cached one and the new ones up to itself.
    ///
    /// # Shapes
    /// - query: `[batch, new_len, dim]`
    /// - cache: `[batch, heads, cached_len, head_dim]`, grown by `new_len`
    /// - output: `[batch, new_len, dim]`
    pub fn forward_incremental(
        &self,
        query: Tensor<B, 3>,
        cache: &mut Option<KeyValue<B>>,
    ) -> Tensor<B, 3> {
        let new = self.project_kv(query.clone());
        let (kv, offset) = match cache.take() {
            Some(old) => {
                let offset = old.len();
                (
                    KeyValue {
                        keys: Tensor::cat(vec![old.keys, new.keys], 2),
                        values: Tensor::cat(vec![old.values, new.values], 2),
                    },
                    offset,
                )
            }
            None => (new, 0),
        };
        let out = self.attend(query, &kv, None, Some(offset));
        *cache = Some(kv);
        out
    }

    /// Cross-attention to a fixed memory whose keys and values are computed once and then
    /// reused from `cache` (XLM's `cache[layer_id]` when `kv` is the encoder output).
    ///
    /// # Shapes
    /// - query: `[batch, q_len, dim]`
    /// - memory: `[batch, src_len, dim]`, memory_padding: `[batch, src_len]`
    /// - output: `[batch, q_len, dim]`
    pub fn forward_memory(
        &self,
        query: Tensor<B, 3>,
        memory: &Tensor<B, 3>,
        memory_padding: Option<Tensor<B, 2, Bool>>,
        cache: &mut Option<KeyValue<B>>,
    ) -> Tensor<B, 3> {
        let kv = cache.get_or_insert_with(|| self.project_kv(memory.clone()));
        self.attend(query, kv, memory_padding, None)
    }

    /// Keys and values of `x`, split into heads.
    fn project_kv(&self, x: Tensor<B, 3>) -> KeyValue<B> {
        KeyValue {
            keys: self.split_heads(self.k_lin.forward(x.clone())),
            values: self.split_heads(self.v_lin.forward(x)),
        }
    }

    /// `[batch, len, dim]` -> `[batch, heads, len, head_dim]`.
    fn split_heads(&self, x: Tensor<B, 3>) -> Tensor<B, 4> {
        let [bs, len, dim] = x.dims();
        x.reshape([bs, len, self.n_heads, dim / self.n_heads])
            .swap_dims(1, 2)
    }

    /// Scaled dot-product attention of `query` over `kv`. With `causal_offset = Some(o)`, the
    /// query at row `i` is position `o + i` of the key sequence and sees keys `0..=o + i`.
    fn attend(
        &self,
        query: Tensor<B, 3>,
        kv: &KeyValue<B>,
        key_padding: Option<Tensor<B, 2, Bool>>,
        causal_offset: Option<usize>,
    ) -> Tensor<B, 3> {
        let [bs, q_len, dim] = query.dims();
        let heads = self.n_heads;
        let k_len = kv.len();
        let scale = 1.0 / ((dim / heads) as f64).sqrt();
        let q = self
            .split_heads(self.q_lin.forward(query))
            .mul_scalar(scale);
        let mut scores = q.matmul(kv.keys.clone().swap_dims(2, 3)); // [bs, heads, q_len, k_len]
        let shape = [bs, heads, q_len, k_len];
        if let Some(pad) = key_padding {
            let mask = pad.reshape([bs, 1, 1, k_len]).expand(shape);
            scores = scores.mask_fill(mask, f32::NEG_INFINITY);
        }
        // Keys after the query's own position; none exist when one new position is decoded.
        // Burn's `tril_mask(shape, o)` is `true` outside the lower triangle, i.e. `j > i + o`
        // (`triu_mask` is the opposite: `true` *below* the band, which would hide the past).
        if let Some(offset) = causal_offset.filter(|&o| o + 1 < k_len) {
            let future =
                Tensor::<B, 2, Bool>::tril_mask([q_len, k_len], offset as i64, &scores.device())
                    .reshape([1, 1, q_len, k_len])
                    .expand(shape);
            scores = scores.mask_fill(future, f32::NEG_INFINITY);
        }
        let weights = self.dropout.forward(softmax(scores, 3));
        let context = weights
            .matmul(kv.values.clone())
            .swap_dims(1, 2)
            .reshape([bs, q_len, dim]);
        self.out_lin.forward(context)
    }
}

/// Projected keys and values of one attention block, kept between decoding steps.
#[derive(Debug, Clone)]
pub struct KeyValue<B: Backend> {
    /// `[batch, heads, len, head_dim]`.
    pub keys: Tensor<B, 4>,
    /// `[batch, heads, len, head_dim]`.
    pub values: Tensor<B, 4>,
}

impl<B: Backend> KeyValue<B> {
    /// Positions held.
    pub fn len(&self) -> usize {
        self.keys.dims()[2]
    }

    /// Whether no position is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows `rows` (beam search reorders hypotheses between steps).
    ///
    /// # Shapes
    /// - rows: `[new_batch]`, indices into the batch
    pub fn select(&self, rows: Tensor<B, 1, Int>) -> Self {
        Self {
            keys: self.keys.clone().select(0, rows.clone()),
            values: self.values.clone().select(0, rows),
        }
    }
}
