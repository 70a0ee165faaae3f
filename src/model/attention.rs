//! XLM's multi-head attention (facebookresearch/XLM `xlm/model/transformer.py`,
//! `MultiHeadAttention`): separate q/k/v/out projections with bias, queries scaled by
//! `1/sqrt(head_dim)`, masked scores set to `-inf`, softmax in float32, dropout on the weights.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Tensor};

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
    /// Projections with PyTorch's `nn.Linear` initialisation (Burn's default `LinearConfig`
    /// initialiser is the same `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` for weight and bias).
    pub fn new(dim: usize, n_heads: usize, attention_dropout: f64, device: &B::Device) -> Self {
        let lin = || LinearConfig::new(dim, dim).init(device);
        Self {
            q_lin: lin(),
            k_lin: lin(),
            v_lin: lin(),
            out_lin: lin(),
            dropout: DropoutConfig::new(attention_dropout).init(),
            n_heads,
        }
    }

    /// Attends from `query` to `key_value`.
    ///
    /// `key_padding` marks padded key positions (`true` = ignore); `causal` additionally hides
    /// keys after the query position (decoder self-attention, where query and keys are the
    /// same sequence).
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
        causal: bool,
    ) -> Tensor<B, 3> {
        let [bs, q_len, dim] = query.dims();
        let k_len = key_value.dims()[1];
        let heads = self.n_heads;
        let head_dim = dim / heads;
        let split = |x: Tensor<B, 3>, len: usize| {
            x.reshape([bs, len, heads, head_dim]).swap_dims(1, 2) // [bs, heads, len, head_dim]
        };
        #[allow(clippy::cast_precision_loss)]
        let scale = 1.0 / (head_dim as f64).sqrt();
        let q = split(self.q_lin.forward(query), q_len).mul_scalar(scale);
        let k = split(self.k_lin.forward(key_value.clone()), k_len);
        let v = split(self.v_lin.forward(key_value), k_len);
        let mut scores = q.matmul(k.swap_dims(2, 3)); // [bs, heads, q_len, k_len]
        let shape = [bs, heads, q_len, k_len];
        if let Some(pad) = key_padding {
            let mask = pad.reshape([bs, 1, 1, k_len]).expand(shape);
            scores = scores.mask_fill(mask, f32::NEG_INFINITY);
        }
        if causal {
            let future = Tensor::<B, 2, Bool>::triu_mask([q_len, k_len], 1, &scores.device())
                .reshape([1, 1, q_len, k_len])
                .expand(shape);
            scores = scores.mask_fill(future, f32::NEG_INFINITY);
        }
        let weights = self.dropout.forward(softmax(scores, 3));
        let context = weights.matmul(v).swap_dims(1, 2).reshape([bs, q_len, dim]);
        self.out_lin.forward(context)
    }
}
