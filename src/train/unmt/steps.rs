//! XLM's UNMT steps on an [`EncoderDecoder`]: the translation loss (XLM's `mt_step`, which is
//! also the denoising auto-encoder's step), greedy generation and the back-translation loss.
//!
//! Follows facebookresearch/XLM `xlm/trainer.py` (`EncDecTrainer.mt_step`, `bt_step`) and
//! `xlm/model/transformer.py` (`TransformerModel.generate`, greedy), as ported to PyTorch in
//! `examples/xlm_reference.py` (`ae_step_loss`, `generate_greedy`, `bt_step_loss`);
//! `tests/parity/unmt_parity.py` checks this code against that port.
//!
//! Batches are slices of sentences in XLM's layout without padding, `[</s>, w1, .., wn,
//! </s>]` (XLM uses `</s>` as BOS); here they become `[bs, slen]` token tensors padded with
//! `<pad>`, a padding mask and one language id per batch. Each step returns the loss only:
//! the caller scales it (XLM's `lambda_ae`), runs `backward` and the optimizer update.

use burn::tensor::activation::log_softmax;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};

use super::model::EncoderDecoder;
use crate::model::layer::Memory;
use crate::model::{Batch, DecoderCache, Transformer, TransformerInput};
use crate::text::dictionary::{EOS_INDEX, PAD_INDEX};

/// Why a step could not run on its inputs. Messages follow the crate convention
/// (ARCHITECTURE.md, "Errors").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum StepError {
    /// A batch without sentences.
    #[error("failed to batch the {batch} sentences: the batch is empty")]
    EmptyBatch {
        /// `source` or `target`.
        batch: &'static str,
    },
    /// A sentence is not `</s> w1..wn </s>`.
    #[error("failed to batch the {batch} sentences: sentence {sentence} {problem}")]
    Layout {
        /// `source` or `target`.
        batch: &'static str,
        /// Index of the sentence in the batch.
        sentence: usize,
        /// What is wrong, e.g. "does not start with `</s>`".
        problem: &'static str,
    },
    /// A token id outside the model's dictionary.
    #[error(
        "failed to batch the {batch} sentences: sentence {sentence} has token {token}, outside the dictionary of {n_words}"
    )]
    Token {
        /// `source` or `target`.
        batch: &'static str,
        /// Index of the sentence in the batch.
        sentence: usize,
        /// The token id.
        token: u32,
        /// The dictionary size.
        n_words: usize,
    },
    /// A sentence longer than the model's learned positions.
    #[error(
        "failed to batch the {batch} sentences: sentence {sentence} has {len} tokens, more than the model's {max_positions} positions"
    )]
    TooLong {
        /// `source` or `target`.
        batch: &'static str,
        /// Index of the sentence in the batch.
        sentence: usize,
        /// Its length in tokens.
        len: usize,
        /// The model's `max_positions`.
        max_positions: usize,
    },
    /// A language id the model has no embedding for.
    #[error("the {batch} language id {lang} is outside the model's {n_langs} languages")]
    Language {
        /// `source` or `target`.
        batch: &'static str,
        /// The id given.
        lang: usize,
        /// The model's `n_langs`.
        n_langs: usize,
    },
    /// Source and target batches of different sizes.
    #[error(
        "failed to compute the translation loss: {source_sentences} source sentences but {target_sentences} target sentences"
    )]
    SizeMismatch {
        /// Sentences in the source batch.
        source_sentences: usize,
        /// Sentences in the target batch.
        target_sentences: usize,
    },
    /// Beam search with no hypotheses.
    #[error("failed to generate translations: beam_size must be at least 1")]
    BeamSize,
    /// A generation length the decoder cannot produce.
    #[error("failed to generate translations: max_len {max_len} is outside 2..={limit}")]
    MaxLen {
        /// The length asked for.
        max_len: usize,
        /// One more than the decoder's positions (the last token is never fed back).
        limit: usize,
    },
}

/// What a Transformer accepts, read from its parameter shapes.
pub(super) struct Limits {
    pub(super) n_words: usize,
    pub(super) n_langs: usize,
    pub(super) max_positions: usize,
}

impl Limits {
    pub(super) fn of<B: Backend>(model: &Transformer<B>) -> Self {
        Self {
            n_words: model.embeddings.weight.dims()[0],
            n_langs: model
                .lang_embeddings
                .as_ref()
                .map_or(1, |e| e.weight.dims()[0]),
            max_positions: model.position_embeddings.weight.dims()[0],
        }
    }

    pub(super) fn check_lang(&self, batch: &'static str, lang: usize) -> Result<(), StepError> {
        if lang < self.n_langs {
            Ok(())
        } else {
            Err(StepError::Language {
                batch,
                lang,
                n_langs: self.n_langs,
            })
        }
    }

    /// XLM's layout (`</s>` first and last, no `<pad>`), ids in the dictionary, lengths within
    /// the positions.
    fn check_sentences(
        &self,
        batch: &'static str,
        sentences: &[Vec<u32>],
    ) -> Result<(), StepError> {
        if sentences.is_empty() {
            return Err(StepError::EmptyBatch { batch });
        }
        for (sentence, s) in sentences.iter().enumerate() {
            let layout = |problem| StepError::Layout {
                batch,
                sentence,
                problem,
            };
            match s.as_slice() {
                [] | [_] => return Err(layout("has fewer than two tokens (`</s> </s>`)")),
                [first, ..] if *first != EOS_INDEX => {
                    return Err(layout("does not start with `</s>`"));
                }
                [.., last] if *last != EOS_INDEX => return Err(layout("does not end with `</s>`")),
                _ if s.contains(&PAD_INDEX) => return Err(layout("contains `<pad>`")),
                _ => {}
            }
            if let Some(&token) = s.iter().find(|&&t| t as usize >= self.n_words) {
                return Err(StepError::Token {
                    batch,
                    sentence,
                    token,
                    n_words: self.n_words,
                });
            }
            if s.len() > self.max_positions {
                return Err(StepError::TooLong {
                    batch,
                    sentence,
                    len: s.len(),
                    max_positions: self.max_positions,
                });
            }
        }
        Ok(())
    }
}

/// Sentences as one padded batch for `model`: tokens `[bs, slen]` (`slen` the longest
/// sentence) padded with `<pad>`, the padding mask, and `lang` at every position (XLM's
/// `batch_sentences` + `langs = x.clone().fill_(lang_id)`).
pub(super) fn sentence_batch<B: Backend>(
    model: &Transformer<B>,
    sentences: &[Vec<u32>],
    lang: usize,
    batch: &'static str,
    device: &B::Device,
) -> Result<Batch<B>, StepError> {
    let limits = Limits::of(model);
    limits.check_lang(batch, lang)?;
    limits.check_sentences(batch, sentences)?;
    let (bs, slen) = (sentences.len(), longest(sentences));
    let mut tokens = vec![i64::from(PAD_INDEX); bs * slen];
    let mut padding = vec![true; bs * slen];
    for (i, s) in sentences.iter().enumerate() {
        for (j, &t) in s.iter().enumerate() {
            tokens[i * slen + j] = i64::from(t);
            padding[i * slen + j] = false;
        }
    }
    Ok(Batch {
        tokens: Tensor::from_data(TensorData::new(tokens, [bs, slen]), device),
        langs: Some(Tensor::full([bs, slen], lang as i64, device)),
        padding: Some(Tensor::from_data(
            TensorData::new(padding, [bs, slen]),
            device,
        )),
    })
}

/// The longest sentence, in tokens (XLM's `len.max()`).
fn longest(sentences: &[Vec<u32>]) -> usize {
    sentences.iter().map(Vec::len).max().unwrap_or(0)
}

/// The encoder's output over `batch`, with its padding, as the decoder attends to it.
pub(super) fn encode<B: Backend>(encoder: &Transformer<B>, batch: &Batch<B>) -> Memory<B> {
    Memory {
        states: encoder.forward(TransformerInput::encoder(batch)),
        padding: batch.padding.clone(),
    }
}

/// `-log p(target token)` of every target token after the BOS, sentence by sentence (the
/// `len - 1` tokens `tgt[i][1..]` of sentence `i`, in order): XLM `mt_step`'s prediction
/// targets, `pred_mask = alen[:, None] < len2[None] - 1` selecting the decoder states that
/// predict `x2[1:]` (every word and the final `</s>`).
///
/// # Shapes
/// - output: `[Σ (len_i - 1)]`
fn target_nll<B: Backend>(
    model: &EncoderDecoder<B>,
    src: &[Vec<u32>],
    src_lang: usize,
    tgt: &[Vec<u32>],
    tgt_lang: usize,
    device: &B::Device,
) -> Result<Tensor<B, 1>, StepError> {
    let (log_probs, next) = target_log_probs(model, src, src_lang, tgt, tgt_lang, device)?;
    let n = next.dims()[0];
    Ok(log_probs.gather(1, next).reshape([n]).neg())
}

/// The decoder's log-probabilities `[n, n_words]` at every prediction position of
/// [`target_nll`], and the tokens it should predict there, `[n, 1]`.
fn target_log_probs<B: Backend>(
    model: &EncoderDecoder<B>,
    src: &[Vec<u32>],
    src_lang: usize,
    tgt: &[Vec<u32>],
    tgt_lang: usize,
    device: &B::Device,
) -> Result<(Tensor<B, 2>, Tensor<B, 2, Int>), StepError> {
    if src.len() != tgt.len() {
        return Err(StepError::SizeMismatch {
            source_sentences: src.len(),
            target_sentences: tgt.len(),
        });
    }
    let source = sentence_batch(&model.encoder, src, src_lang, "source", device)?;
    let target = sentence_batch(&model.decoder, tgt, tgt_lang, "target", device)?;
    let memory = encode(&model.encoder, &source);
    let hidden = model
        .decoder
        .forward(TransformerInput::decoder(&target, &memory));
    let [bs, slen, dim] = hidden.dims();
    let (rows, next): (Vec<i64>, Vec<i64>) = tgt
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            s.windows(2)
                .enumerate()
                .map(move |(j, w)| ((i * slen + j) as i64, i64::from(w[1])))
        })
        .unzip();
    let n = rows.len();
    let rows = Tensor::<B, 1, Int>::from_data(TensorData::new(rows, [n]), device);
    let next = Tensor::<B, 2, Int>::from_data(TensorData::new(next, [n, 1]), device);
    let scores = model
        .decoder
        .predict(hidden.reshape([bs * slen, dim]).select(0, rows));
    Ok((log_softmax(scores, 1), next))
}

/// Teacher-forced scores of `tgt` given `src`: XLM `evaluate_mt`'s `xe_loss` (summed) and
/// `n_valid` (argmax equal to the reference), over every target token after the BOS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MtScores {
    /// Summed cross-entropy (nats).
    pub nll: f64,
    /// Target tokens scored.
    pub tokens: usize,
    /// Of those, predicted exactly by the argmax.
    pub correct: usize,
}

/// [`MtScores`] of one batch (use the inference model: no dropout).
pub fn mt_scores<B: Backend>(
    model: &EncoderDecoder<B>,
    src: &[Vec<u32>],
    src_lang: usize,
    tgt: &[Vec<u32>],
    tgt_lang: usize,
    device: &B::Device,
) -> Result<MtScores, StepError> {
    let (log_probs, next) = target_log_probs(model, src, src_lang, tgt, tgt_lang, device)?;
    let n = next.dims()[0];
    let nll: f32 = log_probs
        .clone()
        .gather(1, next.clone())
        .sum()
        .neg()
        .into_scalar()
        .elem();
    let correct: i64 = log_probs
        .argmax(1)
        .equal(next)
        .int()
        .sum()
        .into_scalar()
        .elem();
    Ok(MtScores {
        nll: f64::from(nll),
        tokens: n,
        correct: usize::try_from(correct).unwrap_or(0),
    })
}

/// XLM `mt_step`'s loss (facebookresearch/XLM `xlm/trainer.py`; `ae_step_loss` in the port):
/// encode `src` (language `src_lang`, padding masked), decode `tgt` (language `tgt_lang`)
/// causally with cross-attention to the encoder output, and take the mean cross-entropy of
/// the decoder's tied output layer over every target token after the BOS, the final `</s>`
/// included. The denoising AE step calls it with the noised copy as `src` and the clean
/// sentences as `tgt` (one language); back-translation with the generated sentences as `src`.
/// Dropout is the model's: pass the training model.
pub fn mt_loss<B: Backend>(
    model: &EncoderDecoder<B>,
    src: &[Vec<u32>],
    src_lang: usize,
    tgt: &[Vec<u32>],
    tgt_lang: usize,
    device: &B::Device,
) -> Result<Tensor<B, 1>, StepError> {
    Ok(target_nll(model, src, src_lang, tgt, tgt_lang, device)?.mean())
}

/// Prediction targets of a batch of target sentences ([`target_nll`]'s length).
pub fn n_targets(tgt: &[Vec<u32>]) -> usize {
    tgt.iter().map(|s| s.len().saturating_sub(1)).sum()
}

/// A shard's share of [`mt_loss`] over a batch with `batch_targets` targets
/// ([`n_targets`]): the shard's summed token loss over that count, so that the shares of a
/// batch split by sentences add up to the batch's `mt_loss` (data-parallel peers).
pub fn mt_loss_share<B: Backend>(
    model: &EncoderDecoder<B>,
    src: &[Vec<u32>],
    src_lang: usize,
    tgt: &[Vec<u32>],
    tgt_lang: usize,
    batch_targets: usize,
    device: &B::Device,
) -> Result<Tensor<B, 1>, StepError> {
    let nll = target_nll(model, src, src_lang, tgt, tgt_lang, device)?;
    Ok(nll.sum().div_scalar(batch_targets.max(1) as f64))
}

/// Greedy translation, XLM `TransformerModel.generate` with `sample_temperature None`
/// (facebookresearch/XLM `xlm/model/transformer.py`; `generate_greedy` in the port).
///
/// Encodes `src` (language `src_lang`); every output starts with `</s>`, and each step feeds
/// the newest token of every unfinished sentence (language `tgt_lang`, positions 0, 1, ..)
/// through [`Transformer::forward_incremental`] with a [`DecoderCache`], so a step costs one
/// position, and appends the argmax of the decoder's tied output layer. A sentence is
/// finished once it emits `</s>`; the loop stops when all are, or when outputs reach
/// `max_len` tokens, and a sentence unfinished then has its last token replaced by `</s>`
/// (XLM's `generated[-1].masked_fill_(unfinished_sents, eos)`). Returns the sentences
/// unpadded in XLM's layout, each with exactly two `</s>` and at most `max_len` tokens.
///
/// XLM generates in eval mode without gradients: pass the inference model
/// (`model.valid()` of the training model). `max_len` is in `2..=max_positions + 1`
/// (back-translation: [`bt_max_len`]; XLM's validation: `int(1.5 * longest + 10)`).
pub fn generate_greedy<B: Backend>(
    model: &EncoderDecoder<B>,
    src: &[Vec<u32>],
    src_lang: usize,
    tgt_lang: usize,
    max_len: usize,
    device: &B::Device,
) -> Result<Vec<Vec<u32>>, StepError> {
    let memory = encode_for_generation(model, src, src_lang, tgt_lang, max_len, device)?;
    Ok(greedy(&model.decoder, &memory, tgt_lang, max_len, device))
}

/// What greedy and beam search start from: `max_len` in `2..=max_positions + 1`, a known
/// target language, and the encoded source batch.
pub(super) fn encode_for_generation<B: Backend>(
    model: &EncoderDecoder<B>,
    src: &[Vec<u32>],
    src_lang: usize,
    tgt_lang: usize,
    max_len: usize,
    device: &B::Device,
) -> Result<Memory<B>, StepError> {
    let limits = Limits::of(&model.decoder);
    let limit = limits.max_positions + 1;
    if !(2..=limit).contains(&max_len) {
        return Err(StepError::MaxLen { max_len, limit });
    }
    limits.check_lang("target", tgt_lang)?;
    let source = sentence_batch(&model.encoder, src, src_lang, "source", device)?;
    Ok(encode(&model.encoder, &source))
}

/// The decoding loop of [`generate_greedy`] over an encoded batch. Finished sentences are fed
/// `<pad>` (XLM writes `<pad>` after their `</s>`); their outputs are ignored.
fn greedy<B: Backend>(
    decoder: &Transformer<B>,
    memory: &Memory<B>,
    lang: usize,
    max_len: usize,
    device: &B::Device,
) -> Vec<Vec<u32>> {
    let [bs, _, dim] = memory.states.dims();
    let langs = Tensor::<B, 2, Int>::full([bs, 1], lang as i64, device);
    let mut out = vec![vec![EOS_INDEX]; bs];
    let mut unfinished = vec![true; bs];
    let mut cache = DecoderCache::new();
    for _ in 1..max_len {
        let newest: Vec<i64> = out
            .iter()
            .zip(&unfinished)
            .map(|(s, &u)| i64::from(if u { s[s.len() - 1] } else { PAD_INDEX }))
            .collect();
        let tokens = Tensor::<B, 2, Int>::from_data(TensorData::new(newest, [bs, 1]), device);
        let h = decoder.forward_incremental(tokens, Some(langs.clone()), Some(memory), &mut cache);
        let next = decoder.predict(h.reshape([bs, dim])).argmax(1).into_data();
        for ((s, u), word) in out.iter_mut().zip(&mut unfinished).zip(next.iter::<i64>()) {
            if *u {
                s.push(word as u32);
                *u = word != i64::from(EOS_INDEX);
            }
        }
        if !unfinished.contains(&true) {
            break;
        }
    }
    for (s, _) in out.iter_mut().zip(&unfinished).filter(|(_, u)| **u) {
        let last = s.len() - 1;
        s[last] = EOS_INDEX;
    }
    out
}

/// XLM `bt_step`'s generation length: `int(1.3 * len1.max() + 5)`, `len1` in tokens with
/// both `</s>` (facebookresearch/XLM `xlm/trainer.py`).
pub fn bt_max_len(src: &[Vec<u32>]) -> usize {
    (1.3 * longest(src) as f64 + 5.0) as usize
}

/// A back-translation step's loss and the translations it learned from.
#[derive(Debug, Clone)]
pub struct BackTranslation<B: Backend> {
    /// The mean cross-entropy of reconstructing the source from its translation.
    pub loss: Tensor<B, 1>,
    /// The greedy translations (`tgt_lang`), unpadded, in XLM's layout.
    pub generated: Vec<Vec<u32>>,
}

/// XLM `bt_step`'s loss for `src_lang -> tgt_lang -> src_lang` (facebookresearch/XLM
/// `xlm/trainer.py`; `bt_step_loss` in the port): translate `src` greedily with the inference
/// model (eval mode, no gradient; [`generate_greedy`] with [`bt_max_len`]), then, with the
/// training model, encode the translations (language `tgt_lang`) and decode the original
/// `src` from them: [`mt_loss`]. No gradient flows through the generation. The caller
/// passes `inference = model.valid()`; XLM HEAD multiplies the loss by `lambda_bt` (1 by
/// default), RE-LM does not.
pub fn bt_loss<B: AutodiffBackend>(
    model: &EncoderDecoder<B>,
    inference: &EncoderDecoder<B::InnerBackend>,
    src: &[Vec<u32>],
    src_lang: usize,
    tgt_lang: usize,
    device: &B::Device,
) -> Result<BackTranslation<B>, StepError> {
    let generated = generate_greedy(inference, src, src_lang, tgt_lang, bt_max_len(src), device)?;
    let loss = mt_loss(model, &generated, tgt_lang, src, src_lang, device)?;
    Ok(BackTranslation { loss, generated })
}

#[cfg(test)]
mod tests {
    use burn::backend::Autodiff;
    use burn::module::{AutodiffModule, Param};
    use burn::tensor::ElementConversion;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::backend::Cpu;
    use crate::model::TransformerConfig;
    use crate::train::noise::{NoiseConfig, add_noise, draw};
    use crate::train::unmt::model::from_mlm;
    use crate::train::unmt::model::tests::mlm_tensors;

    type Ad = Autodiff<Cpu>;

    fn config() -> TransformerConfig {
        let mut c = TransformerConfig::new(40, 2, 16, 2, 2);
        c.dropout = 0.0;
        c.attention_dropout = 0.0;
        c.max_positions = 32;
        c
    }

    fn model<B: Backend>() -> EncoderDecoder<B> {
        let c = config();
        from_mlm::<B>(&c, &mlm_tensors(&c, 3), false, 5, &Default::default()).expect("builds")
    }

    /// [`model`] from an MLM whose linear weights are tripled: with XLM's initialisation the
    /// residual stream stays close to the input embedding, so through the tied output layer
    /// greedy decoding repeats one token; larger layer outputs make translations vary.
    fn varied_model() -> EncoderDecoder<Cpu> {
        let c = config();
        let mut mlm = mlm_tensors(&c, 3);
        for (name, t) in &mut mlm {
            if ["_lin.weight", "lin1.weight", "lin2.weight"]
                .iter()
                .any(|l| name.ends_with(l))
            {
                t.values.iter_mut().for_each(|v| *v *= 3.0);
            }
        }
        from_mlm::<Cpu>(&c, &mlm, false, 5, &Default::default()).expect("builds")
    }

    /// Sentences of `n` words each (ids 14..40), in XLM's layout.
    fn sentences(lengths: &[usize], offset: usize) -> Vec<Vec<u32>> {
        lengths
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let words = (0..n).map(|j| 14 + ((offset + 7 * i + 3 * j) % 26) as u32);
                std::iter::once(EOS_INDEX)
                    .chain(words)
                    .chain(std::iter::once(EOS_INDEX))
                    .collect()
            })
            .collect()
    }

    fn unpadded<B: Backend>(tokens: &[u32], lang: usize) -> Batch<B> {
        let device = Default::default();
        let ids: Vec<i64> = tokens.iter().map(|&t| i64::from(t)).collect();
        Batch {
            tokens: Tensor::from_data(TensorData::new(ids, [1, tokens.len()]), &device),
            langs: Some(Tensor::full([1, tokens.len()], lang as i64, &device)),
            padding: None,
        }
    }

    fn scalar<B: Backend>(t: Tensor<B, 1>) -> f64 {
        t.into_scalar().elem::<f64>()
    }

    fn host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
        t.into_data().iter::<f32>().collect()
    }

    /// Greedy decoding written independently of [`greedy`]: one sentence, its source unpadded,
    /// the whole causal decoder re-run on the prefix at every step (no cache).
    fn greedy_by_full_recompute(
        model: &EncoderDecoder<Cpu>,
        src: &[u32],
        tgt_lang: usize,
        max_len: usize,
    ) -> Vec<u32> {
        let memory = Memory {
            states: model
                .encoder
                .forward(TransformerInput::encoder(&unpadded(src, 0))),
            padding: None,
        };
        let mut seq = vec![EOS_INDEX];
        while seq.len() < max_len {
            let h = model.decoder.forward(TransformerInput::decoder(
                &unpadded(&seq, tgt_lang),
                &memory,
            ));
            let [_, len, dim] = h.dims();
            let last = h.slice([0..1, len - 1..len]).reshape([1, dim]);
            let word: i64 = model.decoder.predict(last).argmax(1).into_scalar().elem();
            seq.push(word as u32);
            if word == i64::from(EOS_INDEX) {
                break;
            }
        }
        if let Some(last) = seq.last_mut() {
            *last = EOS_INDEX;
        }
        seq
    }

    #[test]
    fn greedy_with_the_cache_equals_recomputing_the_full_decoder() {
        let device = Default::default();
        let mut model = varied_model();
        let src = sentences(&[5, 1, 8, 3, 6, 2], 0);
        let max_len = bt_max_len(&src);
        // move P(</s>) until some sentences end by </s> and the others are forced at max_len
        let base = model.decoder.pred_bias.val();
        let mut found = None;
        let offsets = (0..400).flat_map(|k| [k as f32 * 0.025, k as f32 * -0.025]);
        for bias in offsets {
            let mut delta = vec![0.0f32; config().n_words];
            delta[EOS_INDEX as usize] = bias;
            let delta = Tensor::<Cpu, 1>::from_data(TensorData::new(delta, [40]), &device);
            model.decoder.pred_bias = Param::from_tensor(base.clone() + delta);
            let got = generate_greedy(&model, &src, 0, 1, max_len, &device).unwrap();
            let early = got.iter().filter(|s| s.len() < max_len).count();
            if 0 < early && early < src.len() {
                found = Some(got);
                break;
            }
        }
        let got = found.expect("a bias with early and forced ends");
        let want: Vec<Vec<u32>> = src
            .iter()
            .map(|s| greedy_by_full_recompute(&model, s, 1, max_len))
            .collect();
        assert_eq!(got, want);
        let distinct = |s: &Vec<u32>| s.iter().collect::<std::collections::BTreeSet<_>>().len();
        assert!(
            got.iter().any(|s| distinct(s) > 3),
            "varied tokens: {got:?}"
        );
        for s in &got {
            assert_eq!(s.iter().filter(|&&t| t == EOS_INDEX).count(), 2, "{s:?}");
            assert_eq!((s[0], s[s.len() - 1]), (EOS_INDEX, EOS_INDEX));
        }
    }

    /// `Σ -log p` over `tgt[1..]` and the count, computed per sentence without padding.
    fn unpadded_nll(model: &EncoderDecoder<Cpu>, src: &[u32], tgt: &[u32]) -> (f64, usize) {
        let memory = Memory {
            states: model
                .encoder
                .forward(TransformerInput::encoder(&unpadded(src, 0))),
            padding: None,
        };
        let h = model
            .decoder
            .forward(TransformerInput::decoder(&unpadded(tgt, 0), &memory));
        let [_, len, dim] = h.dims();
        let logp = host(log_softmax(model.decoder.predict(h.reshape([len, dim])), 1));
        let n_words = config().n_words;
        let sum = (0..len - 1)
            .map(|j| -f64::from(logp[j * n_words + tgt[j + 1] as usize]))
            .sum();
        (sum, len - 1)
    }

    #[test]
    fn ae_loss_equals_the_per_sentence_unpadded_cross_entropy() {
        let device = Default::default();
        let model = model::<Cpu>();
        let clean = sentences(&[4, 2, 7, 3], 5);
        let noise = NoiseConfig::default();
        let draws = draw(&clean, &noise, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
        let noisy = add_noise(&clean, &noise, &draws).unwrap();
        assert_ne!(noisy, clean);
        let loss = scalar(mt_loss(&model, &noisy, 0, &clean, 0, &device).unwrap());
        let (mut total, mut count) = (0.0, 0);
        for (src, tgt) in noisy.iter().zip(&clean) {
            let (sum, n) = unpadded_nll(&model, src, tgt);
            total += sum;
            count += n;
        }
        assert_eq!(count, 4 + 2 + 7 + 3 + 4, "every word and the final </s>");
        let want = total / count as f64;
        assert!((loss - want).abs() <= 1e-5 * want, "{loss} vs {want}");
    }

    #[test]
    fn padding_does_not_change_the_other_sentences_losses() {
        let device = Default::default();
        let model = model::<Cpu>();
        let (src, tgt) = (sentences(&[3, 5], 0), sentences(&[4, 2], 9));
        let alone = host(target_nll(&model, &src, 0, &tgt, 1, &device).unwrap());
        assert_eq!(alone.len(), 5 + 3);
        // a longer pair pads both batches further
        let (mut src2, mut tgt2) = (src.clone(), tgt.clone());
        src2.extend(sentences(&[14], 1));
        tgt2.extend(sentences(&[11], 2));
        let with_long = host(target_nll(&model, &src2, 0, &tgt2, 1, &device).unwrap());
        assert_eq!(with_long.len(), alone.len() + 12);
        for (i, (a, b)) in alone.iter().zip(&with_long).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * a.abs().max(1.0),
                "token {i}: {a} vs {b}"
            );
        }
    }

    #[test]
    fn bt_loss_is_the_translation_loss_of_the_greedy_back_translation() {
        let device = Default::default();
        let model = model::<Ad>();
        let inference = model.valid();
        let src = sentences(&[5, 1, 8], 3);
        let bt = bt_loss(&model, &inference, &src, 0, 1, &device).unwrap();
        let generated = generate_greedy(&inference, &src, 0, 1, bt_max_len(&src), &device).unwrap();
        assert_eq!(bt.generated, generated);
        let want = mt_loss(&model, &generated, 1, &src, 0, &device).unwrap();
        assert_eq!(scalar(bt.loss.clone()), scalar(want));
        let grads = bt.loss.backward();
        let enc_q = &model.encoder.layers[0].attention.q_lin.weight;
        assert!(
            enc_q.grad(&grads).is_some(),
            "the encoder of the translations trains"
        );
        let cross = model.decoder.layers[1]
            .cross
            .as_ref()
            .expect("decoder layer");
        assert!(cross.attention.v_lin.weight.grad(&grads).is_some());
    }

    #[test]
    fn bt_max_len_truncates_like_xlm() {
        assert_eq!(bt_max_len(&[vec![1; 7], vec![1; 3]]), 14); // int(14.1)
        assert_eq!(bt_max_len(&[vec![1; 10]]), 18); // 1.3 * 10 = 13.000000000000002
        assert_eq!(bt_max_len(&[vec![1; 102]]), 137); // int(137.6), not rounded
    }

    #[test]
    fn malformed_inputs_are_typed_errors() {
        let device = Default::default();
        let model = model::<Cpu>();
        let ok = sentences(&[2], 0);
        let loss = |src: &[Vec<u32>], tgt: &[Vec<u32>], tgt_lang| {
            mt_loss(&model, src, 0, tgt, tgt_lang, &device).map(|_| ())
        };
        let layout = |batch, problem| {
            Err(StepError::Layout {
                batch,
                sentence: 0,
                problem,
            })
        };
        assert_eq!(
            loss(&[], &[], 0),
            Err(StepError::EmptyBatch { batch: "source" })
        );
        assert_eq!(
            loss(&ok, &[vec![20, 21, 1]], 0),
            layout("target", "does not start with `</s>`")
        );
        assert_eq!(
            loss(&[vec![1, 20]], &ok, 0),
            layout("source", "does not end with `</s>`")
        );
        assert_eq!(
            loss(&ok, &[vec![1]], 0),
            layout("target", "has fewer than two tokens (`</s> </s>`)")
        );
        assert_eq!(
            loss(&ok, &[vec![1, 20, PAD_INDEX, 1]], 0),
            layout("target", "contains `<pad>`")
        );
        let err = loss(&[vec![1, 40, 1]], &ok, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to batch the source sentences: sentence 0 has token 40, outside the dictionary of 40"
        );
        assert_eq!(
            loss(&ok, &[vec![1; 33]], 0),
            Err(StepError::TooLong {
                batch: "target",
                sentence: 0,
                len: 33,
                max_positions: 32
            })
        );
        assert_eq!(
            loss(&ok, &ok, 2).unwrap_err().to_string(),
            "the target language id 2 is outside the model's 2 languages"
        );
        assert_eq!(
            loss(&ok, &sentences(&[1, 2], 0), 0),
            Err(StepError::SizeMismatch {
                source_sentences: 1,
                target_sentences: 2
            })
        );
        for max_len in [1, 34] {
            assert_eq!(
                generate_greedy(&model, &ok, 0, 1, max_len, &device),
                Err(StepError::MaxLen { max_len, limit: 33 })
            );
        }
        assert!(generate_greedy(&model, &ok, 0, 1, 33, &device).is_ok());
    }
}
