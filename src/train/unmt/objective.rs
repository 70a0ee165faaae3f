//! The UNMT objective on the training scaffold, as XLM's `train.py` loop runs it
//! (facebookresearch/XLM `train.py`, `xlm/trainer.py` `mt_step`/`bt_step`,
//! `xlm/evaluation/evaluator.py` `evaluate_mt`): each iteration, denoising auto-encoding
//! for each language in random order, weighted by `lambda_ae` (skipped at 0), then online
//! back-translation for each direction in random order; after each epoch, every parallel
//! validation direction is decoded greedily and scored (XLM's in-training BLEU, SacreBLEU
//! BLEU and chrF, teacher-forced perplexity and accuracy).
//!
//! Determinism: batch orders are seeded by (seed, step kind, language, pass over the data),
//! noise and language orders by the update and iteration counters, and dropout by reseeding
//! Burn's generator before each forward pass; so a resumed run equals an uninterrupted one.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::data::{ValidSide, subword_text};
use super::model::EncoderDecoder;
use super::params::UnmtParams;
use super::steps::{
    StepError, bt_max_len, generate_greedy, mt_loss, mt_loss_share, mt_scores, n_targets,
};
use crate::metrics::{BleuParams, ChrfParams, corpus_bleu, corpus_chrf, multi_bleu};
use crate::model::TransformerConfig;
use crate::model::dropout;
use crate::text::bpe::undo_bpe;
use crate::text::dictionary::Dictionary;
use crate::text::moses::MosesDetokenizer;
use crate::train::batches::{eval_batches, token_batches};
use crate::train::data_parallel::row_ranges;
use crate::train::noise::{add_noise, draw};
use crate::train::scaffold::{Counters, Objective, TrainError, Updater, derive};

/// Where each (step kind, language) batch iterator is: XLM keeps one iterator per
/// `('ae', lang)` and `('bt', lang)`, each reshuffled when it runs out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UnmtCursor {
    streams: BTreeMap<String, StreamPos>,
}

/// A pass over one language's data and the next batch in it.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct StreamPos {
    pass: u64,
    next: usize,
}

/// One validation direction's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectionScore {
    /// `src-tgt`.
    pub direction: String,
    /// XLM's in-training BLEU: multi-bleu on tokenized, BPE-merged text.
    pub bleu: f64,
    /// SacreBLEU BLEU on detokenized text against the raw references.
    pub sacrebleu: f64,
    /// SacreBLEU chrF on detokenized text.
    pub chrf: f64,
    /// Teacher-forced perplexity of the references.
    pub ppl: f64,
    /// Percentage of reference tokens predicted exactly (argmax), teacher-forced.
    pub acc: f64,
    /// Percentage of hypotheses that are empty (an undertrained decoder emits `</s>` at
    /// once; BLEU and chrF of such output mean nothing).
    pub empty: f64,
}

/// Validation of every direction after an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnmtValid {
    /// Per direction.
    pub directions: Vec<DirectionScore>,
}

/// The UNMT objective: data, parameters and the last validation's hypotheses.
pub struct UnmtObjective<'a, B: Backend> {
    params: &'a UnmtParams,
    mono: &'a [Vec<Vec<u32>>],
    valid: &'a [ValidSide],
    dico: &'a Dictionary,
    config: &'a TransformerConfig,
    device: B::Device,
    batches: HashMap<(String, u64), Vec<Vec<usize>>>,
    /// Detokenized hypotheses of the last validation, by direction.
    pub hypotheses: BTreeMap<String, Vec<String>>,
}

impl<'a, B: Backend> UnmtObjective<'a, B> {
    /// An objective over `mono` (per language, in `params.langs` order) and `valid` (per
    /// language, line-aligned; empty for no validation but then no criterion can be met).
    pub fn new(
        params: &'a UnmtParams,
        mono: &'a [Vec<Vec<u32>>],
        valid: &'a [ValidSide],
        dico: &'a Dictionary,
        config: &'a TransformerConfig,
        device: B::Device,
    ) -> Self {
        Self {
            params,
            mono,
            valid,
            dico,
            config,
            device,
            batches: HashMap::new(),
            hypotheses: BTreeMap::new(),
        }
    }

    /// The sentences each data-parallel peer takes of a batch of `rows`.
    fn row_ranges(
        &self,
        kind: &str,
        rows: usize,
        peers: usize,
    ) -> Result<Vec<std::ops::Range<usize>>, TrainError> {
        row_ranges(rows, peers).map_err(|e| TrainError::Step {
            kind: kind.to_owned(),
            reason: e.to_string(),
        })
    }

    /// The next training batch of `lang` for step kind `kind` (sentences, unpadded).
    fn next_batch(
        &mut self,
        kind: &str,
        lang: usize,
        cursor: &mut UnmtCursor,
    ) -> Result<Vec<Vec<u32>>, TrainError> {
        let key = format!("{kind}:{}", self.params.langs[lang]);
        let pos = cursor.streams.entry(key.clone()).or_default();
        let p = self.params;
        let sentences = &self.mono[lang];
        let make = |pass: u64| -> Result<Vec<Vec<usize>>, TrainError> {
            let lengths: Vec<usize> = sentences.iter().map(Vec::len).collect();
            let code = u64::from(kind == "bt");
            let mut rng = ChaCha8Rng::seed_from_u64(derive(p.seed, 20 + code, lang as u64, pass));
            token_batches(&lengths, p.tokens_per_batch, &mut rng).map_err(|e| TrainError::Step {
                kind: key.clone(),
                reason: e.to_string(),
            })
        };
        if !self.batches.contains_key(&(key.clone(), pos.pass)) {
            self.batches.retain(|(k, _), _| *k != key);
            self.batches
                .insert((key.clone(), pos.pass), make(pos.pass)?);
        }
        let mut order = &self.batches[&(key.clone(), pos.pass)];
        if pos.next >= order.len() {
            pos.pass += 1;
            pos.next = 0;
            self.batches.retain(|(k, _), _| *k != key);
            self.batches
                .insert((key.clone(), pos.pass), make(pos.pass)?);
            order = &self.batches[&(key.clone(), pos.pass)];
        }
        let batch = order[pos.next]
            .iter()
            .map(|&i| sentences[i].clone())
            .collect();
        pos.next += 1;
        Ok(batch)
    }

    fn lang(&self, i: usize) -> &str {
        &self.params.langs[i]
    }

    /// Decodes and scores the direction `src -> tgt` of the validation data with the
    /// inference model.
    fn score_direction<IB: Backend<Device = B::Device>>(
        &self,
        model: &EncoderDecoder<IB>,
        src: usize,
        tgt: usize,
    ) -> Result<(DirectionScore, Vec<String>), TrainError> {
        let name = format!("{}-{}", self.lang(src), self.lang(tgt));
        let step_err = |e: super::steps::StepError| TrainError::Step {
            kind: format!("valid {name}"),
            reason: e.to_string(),
        };
        let (s, t) = (&self.valid[src], &self.valid[tgt]);
        let lengths: Vec<usize> = s
            .sentences
            .iter()
            .zip(&t.sentences)
            .map(|(a, b)| a.len() + b.len())
            .collect();
        let batches =
            eval_batches(&lengths, self.params.eval_batch_size).map_err(|e| TrainError::Step {
                kind: format!("valid {name}"),
                reason: e.to_string(),
            })?;
        let mut hyps = vec![Vec::new(); lengths.len()];
        let (mut nll, mut n_tokens, mut n_correct) = (0.0f64, 0usize, 0usize);
        for batch in &batches {
            let srcs: Vec<Vec<u32>> = batch.iter().map(|&i| s.sentences[i].clone()).collect();
            let tgts: Vec<Vec<u32>> = batch.iter().map(|&i| t.sentences[i].clone()).collect();
            let longest = srcs.iter().map(Vec::len).max().unwrap_or(2);
            let max_len =
                ((1.5 * longest as f64 + 10.0) as usize).min(self.config.max_positions + 1);
            let out =
                generate_greedy(model, &srcs, src, tgt, max_len, &self.device).map_err(step_err)?;
            for (&i, h) in batch.iter().zip(out) {
                hyps[i] = h;
            }
            let scores =
                mt_scores(model, &srcs, src, &tgts, tgt, &self.device).map_err(step_err)?;
            nll += scores.nll;
            n_tokens += scores.tokens;
            n_correct += scores.correct;
        }
        let bpe: Vec<String> = hyps.iter().map(|h| subword_text(self.dico, h)).collect();
        let merged: Vec<String> = bpe.iter().map(|l| undo_bpe(l)).collect();
        let ref_merged: Vec<String> = t.segmented.iter().map(|l| undo_bpe(l)).collect();
        let detok = MosesDetokenizer::new(self.lang(tgt));
        let detokenized: Vec<String> = merged.iter().map(|l| detok.detokenize_line(l)).collect();
        let refs = std::slice::from_ref(&t.references);
        let score = DirectionScore {
            direction: name,
            bleu: multi_bleu(&merged, std::slice::from_ref(&ref_merged), false).bleu,
            sacrebleu: corpus_bleu(&detokenized, refs, &BleuParams::default()).score,
            chrf: corpus_chrf(&detokenized, refs, &ChrfParams::default()),
            ppl: if n_tokens == 0 {
                f64::INFINITY
            } else {
                (nll / n_tokens as f64).exp()
            },
            acc: 100.0 * n_correct as f64 / n_tokens.max(1) as f64,
            empty: 100.0 * detokenized.iter().filter(|l| l.trim().is_empty()).count() as f64
                / detokenized.len().max(1) as f64,
        };
        Ok((score, detokenized))
    }
}

/// One translation-loss update (auto-encoding or back-translation) split by sentences over
/// data-parallel peers: peer `p` takes `ranges[p]`, seeds its dropout stream at its first
/// sentence, and returns its share of the batch's [`mt_loss`] (all of it with one peer).
struct ShardedMt<'a> {
    src: &'a [Vec<u32>],
    src_lang: usize,
    tgt: &'a [Vec<u32>],
    tgt_lang: usize,
    ranges: Vec<std::ops::Range<usize>>,
    dropout_seed: u64,
}

impl ShardedMt<'_> {
    /// Peer `peer`'s loss; `None` when its range is empty.
    fn loss<B: Backend>(
        &self,
        model: &EncoderDecoder<B>,
        peer: usize,
        device: &B::Device,
    ) -> Result<Option<burn::tensor::Tensor<B, 1>>, StepError> {
        let r = self.ranges[peer].clone();
        if r.is_empty() {
            return Ok(None);
        }
        dropout::seed(self.dropout_seed, r.start);
        let (sl, tl) = (self.src_lang, self.tgt_lang);
        let loss = if self.ranges.len() == 1 {
            mt_loss(model, self.src, sl, self.tgt, tl, device)?
        } else {
            let total = n_targets(self.tgt);
            let (x, y) = (&self.src[r.clone()], &self.tgt[r]);
            mt_loss_share(model, x, sl, y, tl, total, device)?
        };
        Ok(Some(loss))
    }
}

/// Tokens in a batch (both `</s>` included), for the throughput figure.
fn tokens(batch: &[Vec<u32>]) -> u64 {
    batch.iter().map(|s| s.len() as u64).sum()
}

impl<B: AutodiffBackend> Objective<B> for UnmtObjective<'_, B> {
    type Model = EncoderDecoder<B>;
    type Cursor = UnmtCursor;
    type Report = UnmtValid;

    fn start(&self) -> UnmtCursor {
        UnmtCursor::default()
    }

    fn iteration(
        &mut self,
        updater: &mut Updater<'_, B, EncoderDecoder<B>>,
        cursor: &mut UnmtCursor,
    ) -> Result<(), TrainError> {
        let p = self.params;
        let it = updater.counters().iterations;
        let lambda = p.lambda_ae.value(it);
        let noise = p.noise();
        let device = self.device.clone();
        let mut ae = p.ae_langs();
        ae.shuffle(&mut ChaCha8Rng::seed_from_u64(derive(p.seed, 21, it, 0)));
        if lambda > 0.0 {
            for l in ae {
                let kind = format!("ae_{}", self.lang(l));
                let clean = self.next_batch("ae", l, cursor)?;
                let steps = updater.counters().updates;
                let mut rng = ChaCha8Rng::seed_from_u64(derive(p.seed, 22, steps, 0));
                let noise_err = |e: crate::train::noise::NoiseError| TrainError::Step {
                    kind: kind.clone(),
                    reason: e.to_string(),
                };
                let draws = draw(&clean, &noise, &mut rng).map_err(noise_err)?;
                let noisy = add_noise(&clean, &noise, &draws).map_err(noise_err)?;
                let n = tokens(&clean) + tokens(&noisy);
                let step = ShardedMt {
                    src: &noisy,
                    src_lang: l,
                    tgt: &clean,
                    tgt_lang: l,
                    ranges: self.row_ranges(&kind, clean.len(), updater.peers())?,
                    dropout_seed: derive(p.seed, 23, steps, 0),
                };
                let shard_loss = |model: &EncoderDecoder<B>, peer: usize, device: &B::Device| {
                    let loss = step
                        .loss(model, peer, device)
                        .map_err(|e| TrainError::Step {
                            kind: kind.clone(),
                            reason: e.to_string(),
                        })?;
                    Ok(loss.map(|loss| loss.mul_scalar(lambda)))
                };
                updater.update_sharded(&kind, shard_loss, p.batch_size as u64, n)?;
            }
        }
        let mut bt = p.bt_directions();
        bt.shuffle(&mut ChaCha8Rng::seed_from_u64(derive(p.seed, 24, it, 0)));
        for d in bt {
            let (a, b) = (self.lang(d.src).to_owned(), self.lang(d.via).to_owned());
            let kind = format!("bt_{a}-{b}-{a}");
            let src = self.next_batch("bt", d.src, cursor)?;
            let steps = updater.counters().updates;
            let step_err = |e: StepError| TrainError::Step {
                kind: kind.clone(),
                reason: e.to_string(),
            };
            // XLM's online back-translation: greedy, in eval mode, on the whole batch; then
            // the loss of reconstructing `src` from it (what `bt_loss` computes, sharded).
            let generated = {
                let inference = updater.model().valid();
                let max_len = bt_max_len(&src);
                generate_greedy(&inference, &src, d.src, d.via, max_len, &device)
                    .map_err(step_err)?
            };
            let n = tokens(&src) + tokens(&generated);
            let step = ShardedMt {
                src: &generated,
                src_lang: d.via,
                tgt: &src,
                tgt_lang: d.src,
                ranges: self.row_ranges(&kind, src.len(), updater.peers())?,
                dropout_seed: derive(p.seed, 25, steps, 0),
            };
            let shard_loss = |model: &EncoderDecoder<B>, peer: usize, device: &B::Device| {
                step.loss(model, peer, device).map_err(step_err)
            };
            updater.update_sharded(&kind, shard_loss, p.batch_size as u64, n)?;
        }
        Ok(())
    }

    fn validate(
        &mut self,
        model: &EncoderDecoder<B::InnerBackend>,
        _: Counters,
    ) -> Result<(UnmtValid, BTreeMap<String, f64>), TrainError> {
        let mut directions = Vec::new();
        let mut metrics = BTreeMap::new();
        self.hypotheses.clear();
        let n = self.valid.len();
        for src in 0..n {
            for tgt in 0..n {
                if src == tgt {
                    continue;
                }
                let (score, hyps) = self.score_direction(model, src, tgt)?;
                let d = &score.direction;
                metrics.insert(format!("valid_{d}_mt_bleu"), score.bleu);
                metrics.insert(format!("valid_{d}_mt_sacrebleu"), score.sacrebleu);
                metrics.insert(format!("valid_{d}_mt_chrf"), score.chrf);
                metrics.insert(format!("valid_{d}_mt_ppl"), score.ppl);
                metrics.insert(format!("valid_{d}_mt_acc"), score.acc);
                metrics.insert(format!("valid_{d}_mt_empty"), score.empty);
                self.hypotheses.insert(d.clone(), hyps);
                directions.push(score);
            }
        }
        Ok((UnmtValid { directions }, metrics))
    }

    fn model_metadata(&self, epoch: usize) -> HashMap<String, String> {
        HashMap::from([
            ("format".to_owned(), super::translate::FORMAT.to_owned()),
            (
                "langs".to_owned(),
                serde_json::to_string(&self.params.langs).unwrap_or_default(),
            ),
            (
                "config".to_owned(),
                serde_json::to_string(self.config).unwrap_or_default(),
            ),
            ("epoch".to_owned(), epoch.to_string()),
        ])
    }

    fn on_best(&mut self, _: &UnmtValid, dir: &Path) -> Result<(), TrainError> {
        let out = dir.join("best_hypotheses");
        std::fs::create_dir_all(&out).map_err(|source| io_err(&out, source))?;
        for (direction, lines) in &self.hypotheses {
            let path = out.join(format!("{direction}.txt"));
            let mut text = lines.join("\n");
            text.push('\n');
            crate::io::write_atomic(&path, text.as_bytes())
                .map_err(|source| io_err(&path, source))?;
        }
        Ok(())
    }
}

fn io_err(path: &Path, source: std::io::Error) -> TrainError {
    TrainError::Checkpoint(crate::model::checkpoint::CheckpointError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use burn::backend::Autodiff;

    use super::*;
    use crate::backend::Cpu;
    use crate::model::checkpoint;
    use crate::train::optim::AdamConfig;
    use crate::train::scaffold::{
        self, Criterion, Direction, LrSchedule, Outcome, RunFiles, ScaffoldSettings,
    };
    use crate::train::schedule::LambdaSchedule;
    use crate::train::unmt::data::with_boundaries;
    use crate::train::unmt::model::from_mlm;
    use crate::train::unmt::model::tests::mlm_tensors;

    type Ad = Autodiff<Cpu>;

    fn config() -> TransformerConfig {
        let mut c = TransformerConfig::new(40, 2, 16, 1, 2);
        c.max_positions = 64;
        c
    }

    fn dico() -> Dictionary {
        let text: String = (0..26).map(|i| format!("w{i} {}\n", 100 - i)).collect();
        Dictionary::parse(text.as_bytes(), Path::new("vocab")).expect("dictionary")
    }

    fn corpus(offset: u32, n: usize) -> Vec<Vec<u32>> {
        (0..n)
            .map(|i| {
                let len = 3 + i % 5;
                let ids: Vec<u32> = (0..len)
                    .map(|j| 14 + offset + ((i + j) % 12) as u32)
                    .collect();
                with_boundaries(&ids)
            })
            .collect()
    }

    fn valid(lang: &str, offset: u32, d: &Dictionary) -> ValidSide {
        let sentences = corpus(offset, 6);
        let segmented: Vec<String> = sentences
            .iter()
            .map(|s| {
                s[1..s.len() - 1]
                    .iter()
                    .map(|&id| d.word(id).unwrap_or("?").to_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        ValidSide {
            lang: lang.into(),
            sentences,
            references: segmented.clone(),
            segmented,
        }
    }

    fn params() -> UnmtParams {
        UnmtParams {
            langs: vec!["en".into(), "mk".into()],
            ae_steps: Some(vec!["en".into(), "mk".into()]),
            bt_steps: Some(vec!["en-mk-en".into(), "mk-en-mk".into()]),
            lambda_ae: LambdaSchedule::parse("0:1,4:0.5").expect("schedule"),
            tokens_per_batch: 40,
            batch_size: 4,
            stopping_criterion: Some("valid_mk-en_mt_chrf".into()),
            eval_batch_size: 4,
            seed: 3,
            ..UnmtParams::default()
        }
    }

    fn run_cut(
        dir: &Path,
        stop: Option<usize>,
        cut: Option<u64>,
    ) -> Result<Outcome<UnmtValid>, TrainError> {
        run_with(dir, stop, cut, 1, config())
    }

    fn run_with(
        dir: &Path,
        stop: Option<usize>,
        cut: Option<u64>,
        peers: usize,
        c: TransformerConfig,
    ) -> Result<Outcome<UnmtValid>, TrainError> {
        let (p, d) = (params(), dico());
        let mono = vec![corpus(0, 40), corpus(12, 40)];
        let sides = vec![valid("en", 0, &d), valid("mk", 12, &d)];
        let settings = ScaffoldSettings {
            epoch_size: 16,
            max_epochs: 2,
            criterion: Criterion {
                metric: p.criterion(),
                direction: Direction::Higher,
                patience: 5,
            },
            clip_grad_norm: 5.0,
            adam: AdamConfig {
                lr: 1e-3,
                beta2: 0.98,
                ..AdamConfig::default()
            },
            lr: LrSchedule::InverseSqrt(p.schedule()),
            row_masks: Vec::new(),
            peers,
        };
        let device = Default::default();
        let fresh = from_mlm::<Ad>(&c, &mlm_tensors(&c, 5), false, 1, &device).expect("model");
        let mut objective = UnmtObjective::<Ad>::new(&p, &mono, &sides, &d, &c, device);
        let files = RunFiles {
            dir,
            fingerprint: "test",
            stop_after_epochs: stop,
            stop_after_iterations: cut,
        };
        scaffold::run::<Ad, _>(
            &mut objective,
            fresh,
            &settings,
            &files,
            &device,
            &mut |_| {},
        )
    }

    fn run(dir: &Path, stop: Option<usize>) -> Outcome<UnmtValid> {
        run_cut(dir, stop, None).expect("training")
    }

    /// Without dropout, 2 data-parallel peers (auto-encoding and back-translation steps
    /// split by sentences) train like one, up to float summation order.
    #[test]
    fn two_peers_train_like_one_without_dropout() {
        let mut c = config();
        c.dropout = 0.0;
        c.attention_dropout = 0.0;
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let one = run_with(a.path(), None, None, 1, c.clone()).expect("1 peer");
        let two = run_with(b.path(), None, None, 2, c).expect("2 peers");
        for (x, y) in one.history.iter().zip(&two.history) {
            assert_eq!(x.steps, y.steps);
            for (kind, sx) in &x.train {
                let sy = &y.train[kind];
                assert!(
                    (sx.loss - sy.loss).abs() <= 1e-4 * sx.loss.abs().max(1.0),
                    "{kind}: {} vs {}",
                    sx.loss,
                    sy.loss
                );
            }
        }
        let (wa, wb) = (
            checkpoint::read_safetensors(&one.last).unwrap().0,
            checkpoint::read_safetensors(&two.last).unwrap().0,
        );
        for (name, t) in wa.iter().filter(|(n, _)| !n.ends_with("k_lin.bias")) {
            let worst = t
                .values
                .iter()
                .zip(&wb[name].values)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-5, "{name}: {worst}");
        }
    }

    #[test]
    fn every_step_kind_trains_and_validation_reports_each_direction() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = run(dir.path(), None);
        let h = &out.history;
        assert_eq!(h.len(), 2);
        // 16 sentences per epoch at 4 per update: one iteration of 2 AE + 2 BT updates.
        assert_eq!(h[0].steps, 4);
        let kinds: Vec<&str> = h[0].train.keys().map(String::as_str).collect();
        assert_eq!(kinds, ["ae_en", "ae_mk", "bt_en-mk-en", "bt_mk-en-mk"]);
        for metric in [
            "valid_en-mk_mt_bleu",
            "valid_mk-en_mt_chrf",
            "valid_mk-en_mt_ppl",
            "valid_en-mk_mt_empty",
        ] {
            assert!(
                h[1].metrics.contains_key(metric),
                "{metric}: {:?}",
                h[1].metrics
            );
        }
        assert!(h[1].metrics["valid_mk-en_mt_ppl"].is_finite());
        assert!(dir.path().join("best_hypotheses/mk-en.txt").exists());
    }

    #[test]
    fn a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one() {
        let whole = tempfile::tempdir().expect("tempdir");
        let a = run(whole.path(), None);
        let split = tempfile::tempdir().expect("tempdir");
        let first = run(split.path(), Some(1));
        assert_eq!(first.history.len(), 1);
        let b = run(split.path(), None);
        assert_eq!(b.resumed_from_epoch, 1);
        let params = |p: &Path| checkpoint::read_safetensors(p).expect("model").0;
        assert_eq!(params(&a.last), params(&b.last));
        let losses =
            |o: &Outcome<UnmtValid>| o.history.iter().map(|r| r.train_loss()).collect::<Vec<_>>();
        assert_eq!(losses(&a), losses(&b));
    }

    #[test]
    fn a_run_cut_short_at_a_step_boundary_resumes_to_the_same_weights() {
        let whole = tempfile::tempdir().expect("tempdir");
        let a = run(whole.path(), None);
        let split = tempfile::tempdir().expect("tempdir");
        let err = run_cut(split.path(), None, Some(1)).expect_err("cut short");
        assert!(
            matches!(err, TrainError::Interrupted { epoch: 2, .. }),
            "{err}"
        );
        let b = run(split.path(), None);
        let params = |p: &Path| checkpoint::read_safetensors(p).expect("model").0;
        assert_eq!(params(&a.last), params(&b.last));
        let losses =
            |o: &Outcome<UnmtValid>| o.history.iter().map(|r| r.train_loss()).collect::<Vec<_>>();
        assert_eq!(losses(&a), losses(&b));
    }
}
