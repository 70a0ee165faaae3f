//! XLM's `TransformerModel` as an encoder (facebookresearch/XLM `xlm/model/transformer.py`):
//! token + learned position + language embeddings, a LayerNorm on their sum (no `sqrt(dim)`
//! scaling), dropout, post-LN layers, and a prediction layer whose weight is the token
//! embedding matrix (tied) with its own bias.

use burn::module::{Initializer, Module, Param};
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm};
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Int, Tensor};

use super::config::TransformerConfig;
use super::layer::{Memory, TransformerLayer, layer_norm};

/// The Transformer (encoder; layers built with cross-attention make it a decoder body).
#[derive(Module, Debug)]
pub struct Transformer<B: Backend> {
    /// Token embeddings `[n_words, dim]`, also the output projection's weight.
    pub embeddings: Embedding<B>,
    /// Learned position embeddings `[max_positions, dim]`.
    pub position_embeddings: Embedding<B>,
    /// Language embeddings `[n_langs, dim]`, present when `n_langs > 1`.
    pub lang_embeddings: Option<Embedding<B>>,
    /// LayerNorm on the summed embeddings (XLM `layer_norm_emb`).
    pub layer_norm_emb: LayerNorm<B>,
    /// The layers.
    pub layers: Vec<TransformerLayer<B>>,
    /// Output bias `[n_words]` (XLM `pred_layer.proj.bias`).
    pub pred_bias: Param<Tensor<B, 1>>,
    dropout: Dropout,
}

/// The inputs of one forward pass.
#[derive(Debug, Clone)]
pub struct Batch<B: Backend> {
    /// Token ids, `[batch, len]`.
    pub tokens: Tensor<B, 2, Int>,
    /// Language ids, `[batch, len]` (ignored by single-language models).
    pub langs: Option<Tensor<B, 2, Int>>,
    /// Padded positions, `[batch, len]` (`true` = padding); `None` when nothing is padded
    /// (MLM streams).
    pub padding: Option<Tensor<B, 2, Bool>>,
}

impl TransformerConfig {
    /// Builds the encoder with XLM's initialisation: every embedding `N(0, dim^-0.5)` with the
    /// `<pad>` token row zeroed, linears as PyTorch's `nn.Linear`, LayerNorms (1, 0), output
    /// bias `U(-1/sqrt(dim), 1/sqrt(dim))` (PyTorch's `nn.Linear(dim, n_words)` bias).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Transformer<B> {
        #[allow(clippy::cast_precision_loss)]
        let std = (self.dim as f64).powf(-0.5);
        let embedding = |n: usize| {
            EmbeddingConfig::new(n, self.dim)
                .with_initializer(Initializer::Normal { mean: 0.0, std })
                .init(device)
        };
        let mut embeddings = embedding(self.n_words);
        let (pad, dim) = (self.pad_index, self.dim);
        embeddings.weight = embeddings.weight.map(|w| {
            let device = w.device();
            // On an autodiff backend `slice_assign` yields a computed tensor, which would
            // receive no gradient of its own: detach it into a fresh trainable leaf.
            w.slice_assign([pad..pad + 1, 0..dim], Tensor::zeros([1, dim], &device))
                .detach()
                .require_grad()
        });
        Transformer {
            embeddings,
            position_embeddings: embedding(self.max_positions),
            lang_embeddings: (self.n_langs > 1).then(|| embedding(self.n_langs)),
            layer_norm_emb: layer_norm(self.dim, device),
            layers: (0..self.n_layers)
                .map(|_| TransformerLayer::new(self, false, device))
                .collect(),
            pred_bias: Initializer::Uniform {
                min: -std,
                max: std,
            }
            .init([self.n_words], device),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

impl<B: Backend> Transformer<B> {
    /// The embedding block: `LN(tok + pos + lang)`, dropout, padded positions zeroed.
    /// Positions restart at 0 in every row (XLM's default `positions = arange(slen)`).
    ///
    /// # Shapes
    /// - output: `[batch, len, dim]`
    pub fn embed(&self, batch: &Batch<B>) -> Tensor<B, 3> {
        let [bs, len] = batch.tokens.dims();
        let device = batch.tokens.device();
        let positions = Tensor::<B, 1, Int>::arange(0..len as i64, &device)
            .reshape([1, len])
            .expand([bs, len]);
        let mut h = self.embeddings.forward(batch.tokens.clone())
            + self.position_embeddings.forward(positions);
        if let (Some(lang_emb), Some(langs)) = (&self.lang_embeddings, &batch.langs) {
            h = h + lang_emb.forward(langs.clone());
        }
        let h = self.dropout.forward(self.layer_norm_emb.forward(h));
        match keep_mask(batch.padding.as_ref()) {
            Some(k) => h * k,
            None => h,
        }
    }

    /// Encodes a batch (bidirectional self-attention; `causal` for a language-model decoder).
    ///
    /// # Shapes
    /// - output: `[batch, len, dim]`
    pub fn forward(
        &self,
        batch: &Batch<B>,
        causal: bool,
        memory: Option<&Memory<B>>,
    ) -> Tensor<B, 3> {
        let keep = keep_mask(batch.padding.as_ref());
        let mut h = self.embed(batch);
        for layer in &self.layers {
            h = layer.forward(h, batch.padding.clone(), keep.clone(), causal, memory);
        }
        h
    }

    /// Vocabulary scores with the tied output projection: `h · Eᵀ + b`.
    ///
    /// # Shapes
    /// - hidden: `[n, dim]`
    /// - output: `[n, n_words]`
    pub fn predict(&self, hidden: Tensor<B, 2>) -> Tensor<B, 2> {
        let weight = self.embeddings.weight.val(); // [n_words, dim]
        hidden.matmul(weight.transpose()) + self.pred_bias.val().unsqueeze_dim(0)
    }
}

/// `1.0` for real tokens and `0.0` for padding, `[batch, len, 1]`.
fn keep_mask<B: Backend>(padding: Option<&Tensor<B, 2, Bool>>) -> Option<Tensor<B, 3>> {
    padding.map(|p| {
        let [bs, len] = p.dims();
        p.clone().bool_not().float().reshape([bs, len, 1])
    })
}
