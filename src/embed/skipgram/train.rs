//! Hogwild skip-gram training with negative sampling over subword-averaged inputs.
//!
//! Port of facebookresearch/fastText:
//! - `src/fasttext.cc` `FastText::train`, `startThreads`, `trainThread` (threads start at
//!   slice i/thread of the data, the learning rate `lr * (1 - progress)` is refreshed after
//!   each line and the shared token counter advanced once a thread has seen more than
//!   `lrUpdateRate` tokens) and `FastText::skipgram` (window b ~ U[1, ws] per position);
//! - `src/dictionary.cc` `getLine` (subsampling, 1024-token cap, wrap-around at the end);
//! - `src/model.cc` `Model::update`/`computeHidden` (hidden = mean of the input rows of the
//!   centre word and its n-grams; the unnormalised gradient is added to every row);
//! - `src/loss.cc` `BinaryLogisticLoss::binaryLogistic`, `NegativeSamplingLoss::forward`;
//! - `src/densematrix.cc` `DenseMatrix::uniform`/`uniformThread` (initialisation).
//!
//! Every floating-point operation is done in fastText's order and precision, and the random
//! streams are libstdc++'s (see `rng.rs`), so with `thread = 1` the `.vec` file is
//! byte-identical to the one fastText 0.9.2 writes with the same flags (checked by
//! tests/parity/fasttext_parity.py). Differences from fastText, all deliberate:
//! - The corpus is read once into a stream of word ids (4 bytes per in-vocabulary token)
//!   instead of being re-tokenised every epoch; thread i starts at token i*len/thread
//!   rather than at byte i*size/thread (fastText may start mid-word), so multithreaded
//!   runs start from other positions (they are nondeterministic anyway).
//! - The negative table is stored as run boundaries, not 10M entries (`negatives.rs`);
//!   same draws, less memory, far fewer cache misses.
//! - After training only the word vectors are kept (the two matrices are freed).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use super::error::SkipgramError;
use super::memory::{available_memory_bytes, check_memory, estimate_memory_bytes};
use super::model::{SkipgramModel, TrainStats, WordVectors};
use super::negatives::NegativeTable;
use super::params::SkipgramParams;
use super::rng::MinStd;
use super::subwords::ngram_rows;
use super::tables::LossTables;
use super::vocab::{Vocab, next_line};
use crate::validate::Validate;

/// Input-matrix rows of every word: the word's own row followed by its n-gram rows
/// (fastText `Dictionary::initNgrams`), stored flat.
#[derive(Debug, Clone)]
pub struct SubwordIndex {
    offsets: Vec<usize>,
    rows: Vec<u32>,
}

impl SubwordIndex {
    /// Computes the rows of all vocabulary words.
    pub fn new(vocab: &Vocab, params: &SkipgramParams) -> Self {
        let nwords = vocab.len() as u32;
        let mut offsets = Vec::with_capacity(vocab.len() + 1);
        let mut rows = Vec::new();
        offsets.push(0);
        for (i, w) in vocab.words().iter().enumerate() {
            rows.push(i as u32);
            ngram_rows(
                w,
                params.minn,
                params.maxn,
                params.effective_bucket(),
                nwords,
                &mut rows,
            );
            offsets.push(rows.len());
        }
        Self { offsets, rows }
    }

    /// Rows of word `id` (its own id first).
    #[inline]
    pub fn rows(&self, id: u32) -> &[u32] {
        &self.rows[self.offsets[id as usize]..self.offsets[id as usize + 1]]
    }
}

/// A row-major f32 matrix shared by all Hogwild threads.
///
/// Soundness argument. Threads read and write rows through this raw pointer without
/// locks, exactly as fastText and word2vec do (Hogwild, Recht et al. 2011). What makes this
/// acceptable here:
/// - every access is in bounds: row ids come from [`SubwordIndex`] (word ids < nwords,
///   n-gram rows < nwords + bucket) or the negative table (< nwords), and `row_ptr` checks
///   `row < rows` in debug builds;
/// - the buffer outlives all threads (`std::thread::scope` joins them before the owning
///   `Vec` is touched again) and is never reallocated while shared;
/// - no `&`/`&mut` reference to shared memory is ever created while other threads run;
///   all accesses are raw-pointer reads and writes of single `f32`s, a type with no
///   invalid bit patterns, so a lost update or a torn/stale read only perturbs the
///   optimisation (which Hogwild tolerates), never memory safety.
///
/// Formally, concurrent unsynchronised writes are a data race, which the Rust (and C++)
/// memory model leaves undefined; relaxed atomics would remove that at the cost of
/// vectorisation. We accept the same trade-off as fastText. With one thread there is no
/// concurrency at all.
#[derive(Clone, Copy)]
struct SharedMatrix {
    ptr: *mut f32,
    rows: usize,
    dim: usize,
}

// SAFETY: see the soundness argument on the type.
unsafe impl Send for SharedMatrix {}
// SAFETY: see the soundness argument on the type.
unsafe impl Sync for SharedMatrix {}

impl SharedMatrix {
    fn new(data: &mut [f32], dim: usize) -> Self {
        Self {
            ptr: data.as_mut_ptr(),
            rows: data.len() / dim,
            dim,
        }
    }

    #[inline]
    fn row_ptr(&self, row: u32) -> *mut f32 {
        debug_assert!((row as usize) < self.rows);
        // SAFETY: row < rows (see the type's argument), so the offset stays inside the buffer.
        unsafe { self.ptr.add(row as usize * self.dim) }
    }

    /// `hidden += row`.
    #[inline]
    fn add_row_to(&self, row: u32, hidden: &mut [f32]) {
        let p = self.row_ptr(row);
        for (j, h) in hidden.iter_mut().enumerate() {
            // SAFETY: j < dim, inside the row.
            *h += unsafe { p.add(j).read() };
        }
    }

    /// Dot product of a row with `v`, summed left to right like `DenseMatrix::dotRow`
    /// (one running sum; this keeps results bit-identical to fastText's).
    #[inline]
    fn dot_row(&self, row: u32, v: &[f32]) -> f32 {
        let p = self.row_ptr(row);
        let mut d = 0.0f32;
        for (j, x) in v.iter().enumerate() {
            // SAFETY: j < dim, inside the row.
            d += unsafe { p.add(j).read() } * x;
        }
        d
    }

    /// `grad += alpha * row; row += alpha * hidden` in one pass (the gradient uses the
    /// row before its update, as in `binaryLogistic`).
    #[inline]
    fn logistic_update(&self, row: u32, alpha: f32, hidden: &[f32], grad: &mut [f32]) {
        let p = self.row_ptr(row);
        for (j, (g, h)) in grad.iter_mut().zip(hidden).enumerate() {
            // SAFETY: j < dim.
            unsafe {
                let o = p.add(j).read();
                *g += alpha * o;
                p.add(j).write(o + alpha * h);
            }
        }
    }

    /// `row += v`.
    #[inline]
    fn add_to_row(&self, row: u32, v: &[f32]) {
        let p = self.row_ptr(row);
        for (j, x) in v.iter().enumerate() {
            // SAFETY: j < dim.
            unsafe { p.add(j).write(p.add(j).read() + x) };
        }
    }
}

/// Fills `data` like `DenseMatrix::uniform(1.0 / dim, thread, seed)`.
///
/// [QUIRK, kept] fastText splits the matrix into 10 blocks of len/10 values and lets thread
/// i fill block i with `minstd_rand(i + seed)`; blocks >= `thread` stay zero, so with fewer
/// than 10 threads only the first `thread`/10 of the rows (the word rows and the first
/// n-gram buckets) are random and the rest start at 0. We reproduce this so that our
/// `-thread N` runs start from the same point as fastText's.
fn init_input(data: &mut [f32], dim: usize, threads: usize, seed: i32) {
    let a = (1.0f64 / dim as f64) as f32;
    let len = data.len();
    let block = len / 10;
    if block == 0 {
        // Fewer than 10 values: fastText's blocks are empty and nothing is initialised.
        return;
    }
    let nblocks = threads.min(len.div_ceil(block));
    let mut chunks: Vec<&mut [f32]> = data.chunks_mut(block).take(nblocks).collect();
    std::thread::scope(|s| {
        for (b, chunk) in chunks.iter_mut().enumerate() {
            s.spawn(move || {
                let mut rng = MinStd::new(seed.wrapping_add(b as i32) as i64);
                for x in chunk.iter_mut() {
                    *x = rng.uniform_real(-(a as f64), a as f64) as f32;
                }
            });
        }
    });
}

/// Everything a training thread reads.
struct Shared<'a> {
    params: &'a SkipgramParams,
    stream: &'a [u32],
    subwords: &'a SubwordIndex,
    discard: &'a [f32],
    negatives: &'a NegativeTable,
    tables: &'a LossTables,
    eos: Option<u32>,
    input: SharedMatrix,
    output: SharedMatrix,
    token_count: AtomicU64,
    total: u64,
    nan: AtomicBool,
}

/// Per-thread state (fastText `Model::State`).
struct Worker {
    rng: MinStd,
    hidden: Vec<f32>,
    grad: Vec<f32>,
    line: Vec<u32>,
    pos: usize,
    loss: f64,
    examples: u64,
}

impl Worker {
    /// `Dictionary::getLine` on the id stream (see [`next_line`]).
    fn get_line(&mut self, sh: &Shared) -> u64 {
        next_line(
            sh.stream,
            &mut self.pos,
            sh.discard,
            sh.eos,
            &mut self.rng,
            &mut self.line,
        )
    }

    /// `FastText::skipgram`.
    fn skipgram(&mut self, sh: &Shared, lr: f32) {
        let line = std::mem::take(&mut self.line);
        let ws = sh.params.ws as u64;
        for w in 0..line.len() {
            let b = self.rng.uniform_int(1, ws) as isize;
            let rows = sh.subwords.rows(line[w]);
            for c in -b..=b {
                let t = w as isize + c;
                if c != 0 && t >= 0 && (t as usize) < line.len() {
                    self.update(sh, rows, line[t as usize], lr);
                }
            }
        }
        self.line = line;
    }

    /// `Model::update` with `NegativeSamplingLoss::forward`.
    fn update(&mut self, sh: &Shared, rows: &[u32], target: u32, lr: f32) {
        self.hidden.fill(0.0);
        for &r in rows {
            sh.input.add_row_to(r, &mut self.hidden);
        }
        let scale = (1.0f64 / rows.len() as f64) as f32;
        for h in &mut self.hidden {
            *h *= scale;
        }
        self.grad.fill(0.0);
        let mut loss = self.binary_logistic(sh, target, true, lr);
        for _ in 0..sh.params.neg {
            if let Some(n) = sh.negatives.sample(target, &mut self.rng) {
                loss += self.binary_logistic(sh, n, false, lr);
            }
        }
        self.loss += loss as f64;
        self.examples += 1;
        for &r in rows {
            sh.input.add_to_row(r, &self.grad);
        }
    }

    /// `BinaryLogisticLoss::binaryLogistic` with backprop.
    #[inline]
    fn binary_logistic(&mut self, sh: &Shared, target: u32, positive: bool, lr: f32) -> f32 {
        let d = sh.output.dot_row(target, &self.hidden);
        if d.is_nan() {
            sh.nan.store(true, Ordering::Relaxed);
        }
        let score = sh.tables.sigmoid(d);
        let label = if positive { 1.0 } else { 0.0 };
        let alpha = lr * (label - score);
        sh.output
            .logistic_update(target, alpha, &self.hidden, &mut self.grad);
        if positive {
            -sh.tables.log(score)
        } else {
            -sh.tables.log(1.0 - score)
        }
    }
}

/// Linear decay `lr * (1 - progress)` with progress = done / total computed in float, as
/// in `FastText::trainThread` (refreshed before every line; `done` advances in steps of
/// more than `lrUpdateRate` tokens per thread).
pub fn learning_rate(lr: f64, done: u64, total: u64) -> f32 {
    let progress = done as f32 / total as f32;
    (lr * (1.0 - progress as f64)) as f32
}

/// `FastText::trainThread`.
fn train_thread(
    sh: &Shared,
    thread_id: usize,
    threads: usize,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> (f64, u64) {
    let dim = sh.params.dim;
    let mut w = Worker {
        rng: MinStd::new(sh.params.seed.wrapping_add(thread_id as i32) as i64),
        hidden: vec![0.0; dim],
        grad: vec![0.0; dim],
        line: Vec::new(),
        pos: (thread_id as u128 * sh.stream.len() as u128 / threads as u128) as usize,
        loss: 0.0,
        examples: 0,
    };
    let report_every = (sh.total / 1000).max(1);
    let mut next_report = report_every;
    let mut local = 0u64;
    loop {
        let done = sh.token_count.load(Ordering::Relaxed);
        if done >= sh.total || sh.nan.load(Ordering::Relaxed) {
            break;
        }
        if thread_id == 0 && done >= next_report {
            on_progress(done, sh.total);
            next_report = done + report_every;
        }
        let lr = learning_rate(sh.params.lr, done, sh.total);
        local += w.get_line(sh);
        w.skipgram(sh, lr);
        if local > sh.params.lr_update_rate {
            sh.token_count.fetch_add(local, Ordering::Relaxed);
            local = 0;
        }
    }
    (w.loss, w.examples)
}

/// Trains fastText skip-gram vectors on `inputs` (read as one concatenated stream).
///
/// Steps: validate `params`; count the vocabulary; refuse with
/// [`SkipgramError::InsufficientMemory`] when [`estimate_memory_bytes`] plus the encoded
/// corpus exceeds `MemAvailable`; encode the corpus; initialise and train with
/// `params.effective_threads()` Hogwild threads; return the word vectors (mean of each
/// word's input rows, as fastText's `.vec`).
///
/// `on_progress(done, total)` counts tokens (total = epoch x ntokens), called about a
/// thousand times. With one thread and a fixed seed the result is bit-reproducible; with
/// several threads it is not (lock-free updates race), exactly as in fastText.
pub fn train(
    inputs: &[PathBuf],
    params: &SkipgramParams,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<SkipgramModel, SkipgramError> {
    params.validate()?;
    if inputs.is_empty() {
        return Err(SkipgramError::NoInput);
    }
    let vocab = Vocab::from_files(inputs, params.min_count)?;
    let needed = estimate_memory_bytes(params, vocab.len()) + vocab.ntokens() * 4;
    check_memory(params, needed, available_memory_bytes())?;
    let stream = vocab.encode(inputs)?;
    train_vocab(vocab, &stream, params, on_progress)
}

/// Training once the vocabulary and the id stream are known.
fn train_vocab(
    vocab: Vocab,
    stream: &[u32],
    params: &SkipgramParams,
    on_progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<SkipgramModel, SkipgramError> {
    let start = Instant::now();
    let threads = params.effective_threads();
    let dim = params.dim;
    let nwords = vocab.len();
    let subwords = SubwordIndex::new(&vocab, params);
    let discard = vocab.discard_table(params.t);
    let negatives = NegativeTable::new(vocab.counts());
    let tables = LossTables::new();
    let mut input = vec![0.0f32; (nwords + params.effective_bucket() as usize) * dim];
    init_input(&mut input, dim, threads, params.seed);
    let mut output = vec![0.0f32; nwords * dim];
    let total = params.epoch as u64 * vocab.ntokens();
    let sh = Shared {
        params,
        stream,
        subwords: &subwords,
        discard: &discard,
        negatives: &negatives,
        tables: &tables,
        eos: vocab.eos(),
        input: SharedMatrix::new(&mut input, dim),
        output: SharedMatrix::new(&mut output, dim),
        token_count: AtomicU64::new(0),
        total,
        nan: AtomicBool::new(false),
    };
    let train_start = Instant::now();
    let results: Vec<(f64, u64)> = if threads == 1 {
        vec![train_thread(&sh, 0, 1, on_progress)]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|i| {
                    s.spawn({
                        let sh = &sh;
                        move || train_thread(sh, i, threads, on_progress)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().map_err(|_| SkipgramError::ThreadPanic))
                .collect::<Result<Vec<_>, _>>()
        })?
    };
    let train_seconds = train_start.elapsed().as_secs_f64();
    if sh.nan.load(Ordering::Relaxed) {
        return Err(SkipgramError::NanEncountered);
    }
    let processed = sh.token_count.load(Ordering::Relaxed);
    on_progress(total, total);
    drop(output);

    // `FastText::getWordVector`: sum of the rows, times the float reciprocal of their count.
    let mut data = vec![0.0f32; nwords * dim];
    for (i, v) in data.chunks_mut(dim).enumerate() {
        let rows = subwords.rows(i as u32);
        for &r in rows {
            let row = &input[r as usize * dim..(r as usize + 1) * dim];
            for (x, y) in v.iter_mut().zip(row) {
                *x += y;
            }
        }
        let scale = (1.0f64 / rows.len() as f64) as f32;
        for x in v.iter_mut() {
            *x *= scale;
        }
    }
    let (loss, examples) = results
        .iter()
        .fold((0.0, 0u64), |a, r| (a.0 + r.0, a.1 + r.1));
    let stats = TrainStats {
        nwords,
        ntokens: vocab.ntokens(),
        threads,
        processed_tokens: processed,
        train_seconds,
        total_seconds: start.elapsed().as_secs_f64(),
        words_per_sec_per_thread: processed as f64 / train_seconds.max(1e-9) / threads as f64,
        loss: if examples > 0 {
            loss / examples as f64
        } else {
            0.0
        },
    };
    let vectors = WordVectors::new(vocab.words().to_vec(), dim, data)?;
    Ok(SkipgramModel::new(
        params.clone(),
        vectors,
        vocab.counts().to_vec(),
        stats,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// 2 clusters of 6 words; each line uses words of one cluster only.
    fn cluster_corpus(dir: &tempfile::TempDir) -> PathBuf {
        let a = ["apple", "pear", "plum", "cherry", "grape", "melon"];
        let b = ["hammer", "drill", "saw", "wrench", "chisel", "pliers"];
        let mut rng = MinStd::new(42);
        let mut text = String::new();
        for i in 0..1500 {
            let words = if i % 2 == 0 { &a } else { &b };
            let line: Vec<&str> = (0..8)
                .map(|_| words[rng.uniform_int(0, 5) as usize])
                .collect();
            text.push_str(&line.join(" "));
            text.push('\n');
        }
        let p = dir.path().join("clusters.txt");
        std::fs::File::create(&p)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        p
    }

    fn small_params() -> SkipgramParams {
        SkipgramParams {
            dim: 16,
            epoch: 5,
            min_count: 1,
            bucket: 1000,
            thread: 1,
            t: 1.0,
            ..Default::default()
        }
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (na * nb)
    }

    #[test]
    fn training_separates_co_occurring_clusters() {
        let dir = tempfile::tempdir().unwrap();
        let input = cluster_corpus(&dir);
        let model = train(&[input], &small_params(), &|_, _| {}).unwrap();
        let v = model.vectors();
        let is_a = |w: &str| ["apple", "pear", "plum", "cherry", "grape", "melon"].contains(&w);
        for (i, w) in v.words().iter().enumerate() {
            if w == EOS_FOR_TEST {
                continue;
            }
            let best = (0..v.len())
                .filter(|&j| j != i && v.words()[j] != EOS_FOR_TEST)
                .max_by(|&x, &y| {
                    cosine(v.vector(i), v.vector(x)).total_cmp(&cosine(v.vector(i), v.vector(y)))
                })
                .unwrap();
            assert_eq!(
                is_a(w),
                is_a(&v.words()[best]),
                "{w} -> {}",
                v.words()[best]
            );
        }
        assert!(model.stats().loss.is_finite() && model.stats().loss > 0.0);
        assert!(model.stats().processed_tokens >= 5 * model.stats().ntokens);
    }

    const EOS_FOR_TEST: &str = "</s>";

    #[test]
    fn loss_decreases_with_more_epochs() {
        let dir = tempfile::tempdir().unwrap();
        let input = cluster_corpus(&dir);
        let one = train(
            std::slice::from_ref(&input),
            &SkipgramParams {
                epoch: 1,
                ..small_params()
            },
            &|_, _| {},
        )
        .unwrap();
        let ten = train(
            &[input],
            &SkipgramParams {
                epoch: 10,
                ..small_params()
            },
            &|_, _| {},
        )
        .unwrap();
        assert!(
            ten.stats().loss < one.stats().loss,
            "{} !< {}",
            ten.stats().loss,
            one.stats().loss
        );
    }

    #[test]
    fn single_thread_training_is_bit_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        let input = cluster_corpus(&dir);
        let p = SkipgramParams {
            epoch: 2,
            t: 1e-4,
            ..small_params()
        };
        let calls = AtomicU64::new(0);
        let m1 = train(std::slice::from_ref(&input), &p, &|d, t| {
            assert!(d <= t);
            calls.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
        let m2 = train(std::slice::from_ref(&input), &p, &|_, _| {}).unwrap();
        let bits = |m: &SkipgramModel| {
            m.vectors()
                .data()
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&m1), bits(&m2));
        assert!(calls.load(Ordering::Relaxed) > 10);
        let m3 = train(&[input], &SkipgramParams { seed: 2, ..p }, &|_, _| {}).unwrap();
        assert_ne!(bits(&m1), bits(&m3));
    }

    #[test]
    fn multithreaded_training_runs() {
        let dir = tempfile::tempdir().unwrap();
        let input = cluster_corpus(&dir);
        let m = train(
            &[input],
            &SkipgramParams {
                thread: 2,
                ..small_params()
            },
            &|_, _| {},
        )
        .unwrap();
        assert_eq!(m.stats().threads, 2);
        assert!(m.vectors().data().iter().all(|x| x.is_finite()));
    }

    #[test]
    fn learning_rate_decays_linearly() {
        assert_eq!(learning_rate(0.05, 0, 1000), 0.05);
        assert!((learning_rate(0.05, 500, 1000) - 0.025).abs() < 1e-9);
        assert!((learning_rate(0.05, 900, 1000) - 0.005).abs() < 1e-8);
        assert!(learning_rate(0.05, 999, 1000) > 0.0);
    }

    #[test]
    fn init_fills_only_thread_blocks_like_fasttext() {
        let mut m = vec![0.0f32; 1000];
        init_input(&mut m, 10, 1, 0);
        assert!(m[..100].iter().all(|&x| x != 0.0 && x.abs() <= 0.1));
        assert!(m[100..].iter().all(|&x| x == 0.0));
        let mut all = vec![0.0f32; 1000];
        init_input(&mut all, 10, 12, 0);
        assert_eq!(&all[..100], &m[..100]);
        assert!(all.iter().all(|&x| x != 0.0));
        // First value by hand: minstd seed 0 -> state 1; two draws 48271, 48271^2 mod m.
        let mut r = MinStd::new(0);
        assert_eq!(m[0], r.uniform_real(-0.1f32 as f64, 0.1f32 as f64) as f32);
    }

    #[test]
    fn oversized_model_is_refused_before_allocation() {
        let dir = tempfile::tempdir().unwrap();
        let input = cluster_corpus(&dir);
        let p = SkipgramParams {
            dim: 1 << 20,
            bucket: i32::MAX as u32,
            ..small_params()
        };
        match train(&[input], &p, &|_, _| {}) {
            Err(SkipgramError::InsufficientMemory { dim, .. }) => assert_eq!(dim, 1 << 20),
            other => panic!("unexpected {:?}", other.map(|m| m.stats().clone())),
        }
    }
}
