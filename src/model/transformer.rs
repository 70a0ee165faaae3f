//! XLM's `TransformerModel` as an encoder (facebookresearch/XLM `xlm/model/transformer.py`):
//! token + learned position + language embeddings, a LayerNorm on their sum (no `sqrt(dim)`
//! scaling), dropout, post-LN layers, and a prediction layer whose weight is the token
//! embedding matrix (tied) with its own bias.

use burn::module::{Initializer, Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm};
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Int, Tensor};

use super::attention::AttentionMask;
use super::config::TransformerConfig;
use super::dropout::Dropout;
use super::layer::{LayerCache, LayerInput, Memory, TransformerLayer, layer_norm};

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

/// What a full-sequence forward pass reads: the batch, and how it attends (Burn's
/// `TransformerEncoderInput` pattern; the constructors are the combinations that exist).
#[derive(Debug)]
pub struct TransformerInput<'a, B: Backend> {
    batch: &'a Batch<B>,
    mask: AttentionMask,
    memory: Option<&'a Memory<B>>,
}

impl<'a, B: Backend> TransformerInput<'a, B> {
    /// Bidirectional self-attention: the encoder, and the masked LM.
    pub fn encoder(batch: &'a Batch<B>) -> Self {
        Self {
            batch,
            mask: AttentionMask::Full,
            memory: None,
        }
    }

    /// Causal self-attention and cross-attention to the encoder's `memory`: the translation
    /// decoder (a model built by [`TransformerConfig::init_decoder`]).
    pub fn decoder(batch: &'a Batch<B>, memory: &'a Memory<B>) -> Self {
        Self {
            batch,
            mask: AttentionMask::Causal,
            memory: Some(memory),
        }
    }

    /// Causal self-attention without a source: a language-model decoder (XLM's CLM).
    pub fn causal(batch: &'a Batch<B>) -> Self {
        Self {
            batch,
            mask: AttentionMask::Causal,
            memory: None,
        }
    }
}

impl TransformerConfig {
    /// Builds the encoder with XLM's initialisation: every embedding `N(0, dim^-0.5)` with the
    /// `<pad>` token row zeroed, linears as PyTorch's `nn.Linear`, LayerNorms (1, 0), output
    /// bias `U(-1/sqrt(dim), 1/sqrt(dim))` (PyTorch's `nn.Linear(dim, n_words)` bias).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Transformer<B> {
        self.init_with(false, device)
    }

    /// Builds a decoder: [`TransformerConfig::init`] plus, in every layer, attention to the
    /// encoder output with its own LayerNorm (XLM `encoder_attn`, `layer_norm15`).
    pub fn init_decoder<B: Backend>(&self, device: &B::Device) -> Transformer<B> {
        self.init_with(true, device)
    }

    fn init_with<B: Backend>(&self, decoder: bool, device: &B::Device) -> Transformer<B> {
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
                .map(|_| self.layer(decoder).init(device))
                .collect(),
            pred_bias: Initializer::Uniform {
                min: -std,
                max: std,
            }
            .init([self.n_words], device),
            dropout: Dropout::new(self.dropout),
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
        self.embed_from(batch, 0)
    }

    /// [`Transformer::embed`] with positions starting at `first` (incremental decoding).
    fn embed_from(&self, batch: &Batch<B>, first: usize) -> Tensor<B, 3> {
        let [bs, len] = batch.tokens.dims();
        let device = batch.tokens.device();
        let positions = Tensor::<B, 1, Int>::arange(first as i64..(first + len) as i64, &device)
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

    /// Runs every layer over whole sequences, attending as `input` says.
    ///
    /// # Shapes
    /// - output: `[batch, len, dim]`
    pub fn forward(&self, input: TransformerInput<'_, B>) -> Tensor<B, 3> {
        let TransformerInput {
            batch,
            mask,
            memory,
        } = input;
        let keep = keep_mask(batch.padding.as_ref());
        let mut h = self.embed(batch);
        for layer in &self.layers {
            h = layer.forward(LayerInput {
                x: h,
                padding: batch.padding.clone(),
                keep: keep.clone(),
                mask,
                memory,
            });
        }
        h
    }

    /// Decodes the next `new_len` positions of every row given `cache`, which holds the keys
    /// and values of the positions decoded before (XLM `fwd` with `cache`; same result as
    /// [`Transformer::forward`] with `causal` on the whole prefix, without recomputing it).
    /// Positions continue from `cache.len()`; the caller keeps them below `max_positions`.
    ///
    /// # Shapes
    /// - tokens, langs: `[batch, new_len]`
    /// - output: `[batch, new_len, dim]`
    pub fn forward_incremental(
        &self,
        tokens: Tensor<B, 2, Int>,
        langs: Option<Tensor<B, 2, Int>>,
        memory: Option<&Memory<B>>,
        cache: &mut DecoderCache<B>,
    ) -> Tensor<B, 3> {
        let new_len = tokens.dims()[1];
        let batch = Batch {
            tokens,
            langs,
            padding: None,
        };
        let mut h = self.embed_from(&batch, cache.len);
        cache
            .layers
            .resize_with(self.layers.len(), LayerCache::default);
        for (layer, layer_cache) in self.layers.iter().zip(&mut cache.layers) {
            h = layer.forward_incremental(h, memory, layer_cache);
        }
        cache.len += new_len;
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

/// What a decoder keeps between incremental steps (XLM's `cache`): every layer's keys and
/// values, and how many positions they cover.
#[derive(Debug, Clone)]
pub struct DecoderCache<B: Backend> {
    len: usize,
    layers: Vec<LayerCache<B>>,
}

impl<B: Backend> Default for DecoderCache<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: Backend> DecoderCache<B> {
    /// An empty cache (nothing decoded yet).
    pub fn new() -> Self {
        Self {
            len: 0,
            layers: Vec::new(),
        }
    }

    /// Positions decoded so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been decoded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The cache of rows `rows`, in that order (beam search keeps the surviving hypotheses;
    /// a row may be taken several times).
    ///
    /// # Shapes
    /// - rows: `[new_batch]`
    pub fn select(&self, rows: Tensor<B, 1, Int>) -> Self {
        let pick = |kv: &Option<super::attention::KeyValue<B>>| {
            kv.as_ref().map(|kv| kv.select(rows.clone()))
        };
        Self {
            len: self.len,
            layers: self
                .layers
                .iter()
                .map(|l| LayerCache {
                    self_attention: pick(&l.self_attention),
                    cross_attention: pick(&l.cross_attention),
                })
                .collect(),
        }
    }
}
