//! Beam search, XLM's `TransformerModel.generate_beam` and `BeamHypotheses`
//! (facebookresearch/XLM `xlm/model/transformer.py`; `generate_beam` in
//! `examples/xlm_reference.py`, which `tests/parity/unmt_parity.py` compares this code with).
//!
//! Each sentence keeps `beam_size` live hypotheses on the decoder's K/V cache (rows
//! `sentence * beam_size + beam`). A step scores every next word of every live hypothesis
//! (`log_softmax`, summed along the hypothesis), takes the best `2 * beam_size` candidates
//! of the sentence, and walks them best first: a candidate ending in `</s>` (or reaching
//! `max_len`) is offered to the sentence's finished hypotheses, any other becomes a live
//! hypothesis, until `beam_size` are live. Finished hypotheses are scored
//! `sum_logprob / len ^ length_penalty`, where `len` counts the BOS and the words, not the
//! final `</s>` (XLM's `len(hyp)` of `generated[:cur_len]`; the reference notes say "excludes
//! BOS", the code counts it). A sentence is done once it holds `beam_size` finished
//! hypotheses and, unless `early_stopping`, the best candidate of the step divided by
//! `(max_len - 1) ^ length_penalty` cannot beat the worst of them. The cache rows follow
//! their hypotheses with [`DecoderCache::select`].
//!
//! With one beam and `early_stopping` this is greedy search. Without early stopping it is
//! not, in XLM either: when `</s>` is the best candidate it is set aside as finished and the
//! second-best word stays live, and a longer hypothesis may later score better per token.
//!
//! Candidate selection runs on the host over the step's `[rows, n_words]` scores, which the
//! bookkeeping needs there anyway; it equals `torch.topk(.., 2 * beam_size)` except that
//! exact ties go to the lower index.

use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

use super::model::EncoderDecoder;
use super::steps::{Limits, StepError, encode_for_generation};
use crate::model::DecoderCache;
use crate::model::layer::Memory;
use crate::text::dictionary::{EOS_INDEX, PAD_INDEX};

/// Beam search settings (XLM `--beam_size`, `--length_penalty`, `--early_stopping`). Beam 1
/// with `early_stopping` is greedy search; without it, it is not (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeamConfig {
    /// Live hypotheses per sentence. The paper's test scores: 5.
    pub beam_size: usize,
    /// Exponent of the length normalisation; 1 is the mean log-probability, 0 the sum.
    pub length_penalty: f64,
    /// Stop a sentence as soon as it has `beam_size` finished hypotheses.
    pub early_stopping: bool,
}

impl Default for BeamConfig {
    fn default() -> Self {
        Self {
            beam_size: 5,
            length_penalty: 1.0,
            early_stopping: false,
        }
    }
}

/// The best finished hypothesis of a sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    /// The translation in XLM's layout, `</s> w1 .. wn </s>`.
    pub tokens: Vec<u32>,
    /// Its length-normalised score, `sum_logprob / (n + 1) ^ length_penalty`.
    pub score: f64,
}

/// A sentence's finished hypotheses, XLM's `BeamHypotheses`.
#[derive(Debug, Clone)]
struct Finished {
    n_hyp: usize,
    /// `max_len - 1`: the longest hypothesis without its BOS.
    max_len: usize,
    length_penalty: f64,
    early_stopping: bool,
    /// (score, hypothesis without the final `</s>`), in insertion order.
    hyps: Vec<(f64, Vec<u32>)>,
    worst_score: f64,
}

impl Finished {
    fn new(config: &BeamConfig, max_len: usize) -> Self {
        Self {
            n_hyp: config.beam_size,
            max_len: max_len - 1,
            length_penalty: config.length_penalty,
            early_stopping: config.early_stopping,
            hyps: Vec::new(),
            worst_score: 1e9,
        }
    }

    /// XLM `BeamHypotheses.add`: keeps the hypothesis if there is room or it beats the worst;
    /// when over capacity, the worst is dropped (the earliest of equal scores, as Python's
    /// sort of `(score, index)` pairs picks it).
    fn add(&mut self, hyp: Vec<u32>, sum_logprobs: f64) {
        let score = sum_logprobs / (hyp.len() as f64).powf(self.length_penalty);
        if self.hyps.len() < self.n_hyp || score > self.worst_score {
            self.hyps.push((score, hyp));
            if self.hyps.len() > self.n_hyp {
                let mut order: Vec<usize> = (0..self.hyps.len()).collect();
                order.sort_by(|&a, &b| self.hyps[a].0.total_cmp(&self.hyps[b].0).then(a.cmp(&b)));
                self.worst_score = self.hyps[order[1]].0;
                self.hyps.remove(order[0]);
            } else {
                self.worst_score = self.worst_score.min(score);
            }
        }
    }

    /// XLM `BeamHypotheses.is_done` given the best candidate's summed log-probability.
    fn is_done(&self, best_sum_logprobs: f64) -> bool {
        if self.hyps.len() < self.n_hyp {
            false
        } else if self.early_stopping {
            true
        } else {
            self.worst_score >= best_sum_logprobs / (self.max_len as f64).powf(self.length_penalty)
        }
    }

    /// The highest-scoring hypothesis (the first of equal scores, as Python's `max`).
    fn best(self) -> Option<Hypothesis> {
        let mut best: Option<(f64, Vec<u32>)> = None;
        for (score, hyp) in self.hyps {
            if best.as_ref().is_none_or(|(b, _)| score > *b) {
                best = Some((score, hyp));
            }
        }
        best.map(|(score, mut tokens)| {
            tokens.push(EOS_INDEX);
            Hypothesis { tokens, score }
        })
    }
}

/// Translates `src` (language `src_lang`) into `tgt_lang` by beam search; one best hypothesis
/// per sentence, in order. Pass the inference model (`model.valid()`). `max_len` bounds the
/// output in tokens, both `</s>` included (XLM's evaluation: `int(1.5 * longest + 10)`), and
/// is in `2..=max_positions + 1`.
pub fn generate_beam<B: Backend>(
    model: &EncoderDecoder<B>,
    src: &[Vec<u32>],
    src_lang: usize,
    tgt_lang: usize,
    max_len: usize,
    config: &BeamConfig,
    device: &B::Device,
) -> Result<Vec<Hypothesis>, StepError> {
    if config.beam_size == 0 {
        return Err(StepError::BeamSize);
    }
    let memory = encode_for_generation(model, src, src_lang, tgt_lang, max_len, device)?;
    let n_words = Limits::of(&model.decoder).n_words;
    let (bs, k) = (src.len(), config.beam_size);
    let rows = bs * k;
    // Every sentence's encoder states repeated for its `k` hypotheses.
    let repeat = index_tensor::<B>((0..rows).map(|r| r / k), device);
    let memory = Memory {
        states: memory.states.select(0, repeat.clone()),
        padding: memory.padding.map(|p| p.select(0, repeat)),
    };
    let langs = Tensor::<B, 2, Int>::full([rows, 1], tgt_lang as i64, device);
    let mut generated = vec![vec![EOS_INDEX]; rows];
    // Only the first hypothesis of each sentence is live at the start.
    let mut beam_scores: Vec<f32> = (0..rows)
        .map(|r| if r % k == 0 { 0.0 } else { -1e9 })
        .collect();
    let mut finished: Vec<Finished> = (0..bs).map(|_| Finished::new(config, max_len)).collect();
    let mut done = vec![false; bs];
    let mut cache = DecoderCache::new();
    let decoder = &model.decoder;
    let dim = memory.states.dims()[2];
    let mut cur_len = 1;
    while cur_len < max_len {
        let newest: Vec<i64> = generated
            .iter()
            .map(|g| i64::from(g[g.len() - 1]))
            .collect();
        let tokens = Tensor::<B, 2, Int>::from_data(TensorData::new(newest, [rows, 1]), device);
        let h = decoder.forward_incremental(tokens, Some(langs.clone()), Some(&memory), &mut cache);
        let scores = log_softmax(decoder.predict(h.reshape([rows, dim])), 1)
            .into_data()
            .to_vec::<f32>()
            .unwrap_or_default();
        // (score, word, row it extends), `k` per sentence.
        let mut next: Vec<(f32, u32, usize)> = Vec::with_capacity(rows);
        for s in 0..bs {
            let block = &scores[s * k * n_words..(s + 1) * k * n_words];
            let candidates = best_candidates(block, &beam_scores[s * k..(s + 1) * k], 2 * k);
            done[s] = done[s] || finished[s].is_done(f64::from(candidates[0].0));
            if done[s] {
                next.extend(std::iter::repeat_n((0.0, PAD_INDEX, 0), k));
                continue;
            }
            let mut beam = Vec::with_capacity(k);
            for (value, index) in candidates {
                let (row, word) = (s * k + index / n_words, (index % n_words) as u32);
                if word == EOS_INDEX || cur_len + 1 == max_len {
                    finished[s].add(generated[row].clone(), f64::from(value));
                } else {
                    beam.push((value, word, row));
                }
                if beam.len() == k {
                    break;
                }
            }
            if beam.is_empty() {
                beam = vec![(0.0, PAD_INDEX, 0); k];
            }
            next.extend(beam);
        }
        beam_scores = next.iter().map(|&(score, _, _)| score).collect();
        generated = next
            .iter()
            .map(|&(_, word, row)| {
                let mut g = generated[row].clone();
                g.push(word);
                g
            })
            .collect();
        cache = cache.select(index_tensor::<B>(next.iter().map(|&(_, _, r)| r), device));
        cur_len += 1;
        if done.iter().all(|&d| d) {
            break;
        }
    }
    Ok(finished
        .into_iter()
        .map(|f| {
            f.best()
                .expect("every sentence finishes a hypothesis by max_len")
        })
        .collect())
}

/// The `n` best `(beam_score + score, index)` over a sentence's `[k, n_words]` block of
/// next-word log-probabilities (index = `beam * n_words + word`), best first; equal values
/// in index order.
fn best_candidates(block: &[f32], beam_scores: &[f32], n: usize) -> Vec<(f32, usize)> {
    let n_words = block.len() / beam_scores.len();
    // `a` before `b`: higher value, then lower index.
    let by_value = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    // One pass keeping the `n` best in order (n = 2 x beam, a handful), instead of
    // materialising `k * n_words` pairs per sentence and step: indices only grow, so a
    // candidate equal to the worst kept one never displaces it.
    let mut best: Vec<(f32, usize)> = Vec::with_capacity(n + 1);
    for (b, (&offset, row)) in beam_scores
        .iter()
        .zip(block.chunks_exact(n_words))
        .enumerate()
    {
        for (w, &v) in row.iter().enumerate() {
            let value = v + offset;
            if best.len() == n
                && best
                    .last()
                    .is_none_or(|worst| value.total_cmp(&worst.0) != std::cmp::Ordering::Greater)
            {
                continue;
            }
            let candidate = (value, b * n_words + w);
            let at = best.partition_point(|x| by_value(x, &candidate).is_lt());
            best.insert(at, candidate);
            best.truncate(n);
        }
    }
    best
}

fn index_tensor<B: Backend>(
    rows: impl Iterator<Item = usize>,
    device: &B::Device,
) -> Tensor<B, 1, Int> {
    let rows: Vec<i64> = rows.map(|r| r as i64).collect();
    let n = rows.len();
    Tensor::from_data(TensorData::new(rows, [n]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Cpu;
    use crate::model::TransformerConfig;
    use crate::train::unmt::generate_greedy;
    use crate::train::unmt::model::from_mlm;
    use crate::train::unmt::model::tests::mlm_tensors;

    fn model() -> EncoderDecoder<Cpu> {
        let mut c = TransformerConfig::new(40, 2, 16, 2, 2);
        c.dropout = 0.0;
        c.attention_dropout = 0.0;
        c.max_positions = 32;
        from_mlm::<Cpu>(&c, &mlm_tensors(&c, 3), false, 5, &Default::default()).expect("builds")
    }

    fn batch() -> Vec<Vec<u32>> {
        vec![
            vec![1, 20, 21, 22, 1],
            vec![1, 30, 1],
            vec![1, 15, 16, 17, 18, 19, 1],
        ]
    }

    /// With `early_stopping` a sentence ends at its first finished hypothesis, and with one
    /// beam that is the argmax path. (Without it XLM's beam 1 is not greedy: a `</s>`
    /// candidate is set aside, the second-best word continues, and a longer hypothesis may
    /// score better per token later.)
    #[test]
    fn beam_one_with_early_stopping_is_greedy() {
        let m = model();
        let device = Default::default();
        let greedy = generate_greedy(&m, &batch(), 0, 1, 12, &device).expect("greedy");
        let config = BeamConfig {
            beam_size: 1,
            length_penalty: 1.0,
            early_stopping: true,
        };
        let beam = generate_beam(&m, &batch(), 0, 1, 12, &config, &device).expect("beam");
        let tokens: Vec<Vec<u32>> = beam.into_iter().map(|h| h.tokens).collect();
        assert_eq!(tokens, greedy);
    }

    #[test]
    fn hypotheses_are_well_formed_and_bounded() {
        let m = model();
        for (beam_size, max_len) in [(2, 5), (5, 12), (3, 2)] {
            let config = BeamConfig {
                beam_size,
                ..BeamConfig::default()
            };
            let out = generate_beam(&m, &batch(), 0, 1, max_len, &config, &Default::default())
                .expect("beam");
            assert_eq!(out.len(), 3);
            for h in out {
                assert!(h.tokens.len() <= max_len && h.tokens.len() >= 2, "{h:?}");
                assert_eq!(
                    (h.tokens[0], h.tokens[h.tokens.len() - 1]),
                    (EOS_INDEX, EOS_INDEX)
                );
                assert_eq!(h.tokens.iter().filter(|&&t| t == EOS_INDEX).count(), 2);
                assert!(h.score.is_finite() && h.score <= 0.0, "{h:?}");
            }
        }
    }

    #[test]
    fn a_sentence_is_translated_alike_alone_and_in_a_batch() {
        let m = model();
        let config = BeamConfig::default();
        let device = Default::default();
        let together = generate_beam(&m, &batch(), 0, 1, 12, &config, &device).expect("batch");
        for (i, s) in batch().into_iter().enumerate() {
            let alone = generate_beam(&m, &[s], 0, 1, 12, &config, &device).expect("alone");
            assert_eq!(alone[0].tokens, together[i].tokens);
            assert!((alone[0].score - together[i].score).abs() < 1e-5);
        }
    }

    #[test]
    fn finished_hypotheses_keep_the_best_n() {
        let config = BeamConfig {
            beam_size: 2,
            length_penalty: 0.0,
            early_stopping: false,
        };
        let mut f = Finished::new(&config, 10);
        f.add(vec![1, 5], -3.0);
        f.add(vec![1, 6], -1.0);
        f.add(vec![1, 7], -2.0);
        f.add(vec![1, 8], -4.0);
        let kept: Vec<f64> = f.hyps.iter().map(|h| h.0).collect();
        assert_eq!(kept, [-1.0, -2.0]);
        assert_eq!(f.worst_score, -2.0);
        assert!(f.is_done(-2.0) && !f.is_done(-1.5));
        let best = f.best().expect("best");
        assert_eq!((best.tokens, best.score), (vec![1, 6, 1], -1.0));
    }

    #[test]
    fn candidates_are_the_top_n_with_ties_in_index_order() {
        let block = [-1.0, -0.5, -0.5, -3.0, -0.1, -2.0];
        let got = best_candidates(&block, &[0.0, -1.0], 3);
        assert_eq!(got, [(-0.5, 1), (-0.5, 2), (-1.0, 0)]);
        assert_eq!(best_candidates(&block, &[0.0, -1.0], 10).len(), 6);
        // The same as sorting every pair, on random blocks with many ties.
        let mut state = 7u64;
        for _ in 0..50 {
            let block: Vec<f32> = (0..60)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    -((state >> 60) as f32) / 4.0
                })
                .collect();
            let offsets = [0.0, -0.25, -0.5];
            let mut all: Vec<(f32, usize)> = block
                .iter()
                .enumerate()
                .map(|(i, &v)| (v + offsets[i / 20], i))
                .collect();
            all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            all.truncate(6);
            assert_eq!(best_candidates(&block, &offsets, 6), all);
        }
    }
}
