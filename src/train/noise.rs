//! The noise of XLM's denoising auto-encoder: local word shuffle, word dropout and word
//! blanking, applied in that order to the source copy of an AE batch (the target stays clean).
//!
//! Follows facebookresearch/XLM `xlm/trainer.py`: `Trainer.word_shuffle`,
//! `Trainer.word_dropout`, `Trainer.word_blank` and `Trainer.add_noise`, as ported line by
//! line to PyTorch in `examples/xlm_reference.py` (functions of the same names). The paper
//! configuration is `--word_shuffle 3 --word_dropout 0.1 --word_blank 0.1`.
//!
//! Why the draws are separate from the transforms: XLM draws from NumPy's global generator
//! *inside* each transform, with shapes that depend on the batch (`(slen - 1) x bs`) and, for
//! the blank draw, on the batch *after* dropout. Here [`draw`] takes every draw XLM takes, in
//! XLM's order and shapes, and returns them as a [`Draws`] value; [`add_noise`] and the three
//! transforms are then pure functions of the batch and the draws. Training calls [`draw`]
//! with a seeded [`rand_chacha::ChaCha8Rng`]; parity tests deserialize [`Draws`] dumped from
//! the Python port (JSON) and must reproduce its output exactly. We do not reproduce NumPy's
//! random stream, only the shapes and the meaning of every number.
//!
//! Batches are slices of sentences, each in XLM's layout *without* padding:
//! `[</s>, w1, .., wn, </s>]` (XLM uses `</s>` as BOS). `slen` is the longest sentence of the
//! batch (XLM's padded length) and `bs` the number of sentences.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

/// `</s>` (XLM's end and beginning of sentence), `<pad>` and `<special1>` (the token
/// `word_blank` writes, XLM `params.mask_index`): the dictionary's reserved ids.
pub use crate::text::dictionary::{EOS_INDEX, MASK_INDEX, PAD_INDEX};

/// A random draw in XLM's padded shape: `grid[j][i]` belongs to position `j` (`0..slen - 1`)
/// of sentence `i` (`0..bs`); rows are positions, as NumPy's `(slen - 1, bs)` arrays, so
/// `array.tolist()` of a Python draw deserializes directly.
pub type Grid = Vec<Vec<f64>>;

/// Why noise could not be drawn or applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NoiseError {
    /// A noise parameter is out of the range XLM asserts.
    #[error("invalid parameter `{field}`: {message}")]
    InvalidParam {
        /// `word_shuffle`, `word_dropout` or `word_blank`.
        field: &'static str,
        /// Lowercase fragment, e.g. "must be in [0, 1), got 1".
        message: String,
    },
    /// The batch has no sentence.
    #[error("failed to {op}: empty batch")]
    EmptyBatch {
        /// What was being done, e.g. "apply word_dropout".
        op: &'static str,
    },
    /// A sentence is not `</s> w1..wn </s>`.
    #[error("failed to {op}: sentence {sentence} {problem}")]
    Layout {
        /// What was being done.
        op: &'static str,
        /// Index of the sentence in the batch.
        sentence: usize,
        /// What is wrong with it, e.g. "does not start with `</s>`".
        problem: &'static str,
    },
    /// A draw does not have XLM's shape for this batch.
    #[error("failed to {op}: the `{draw}` draw {problem}")]
    DrawShape {
        /// What was being done.
        op: &'static str,
        /// `shuffle_noise`, `keep_draw` or `blank_draw`.
        draw: &'static str,
        /// e.g. "has 4 rows, XLM draws 6 (slen - 1)".
        problem: String,
    },
    /// A shuffle noise value outside `[0, k)` (row 0 is exempt: XLM overwrites it).
    #[error(
        "failed to apply word_shuffle: shuffle_noise[{row}][{sentence}] = {value} is outside [0, {k})"
    )]
    ShuffleNoiseRange {
        /// Position.
        row: usize,
        /// Sentence.
        sentence: usize,
        /// The value found.
        value: f64,
        /// The shuffle parameter.
        k: f64,
    },
    /// A sentence lost every word and the fallback draws are exhausted.
    #[error(
        "failed to apply word_dropout: sentence {sentence} lost every word and no fallback draw is left"
    )]
    MissingFallback {
        /// Sentence that needed a fallback.
        sentence: usize,
    },
    /// A fallback index outside what XLM's `randint(1, len(words))` can return.
    #[error(
        "failed to apply word_dropout: fallback {index} for sentence {sentence} is outside randint(1, {n_words})"
    )]
    FallbackRange {
        /// Sentence the fallback was for.
        sentence: usize,
        /// The index found.
        index: usize,
        /// `len(words)`: BOS plus the words, `len - 1`.
        n_words: usize,
    },
    /// More fallback draws than sentences that lost every word.
    #[error("failed to apply word_dropout: {unused} fallback draws left unused")]
    UnusedFallbacks {
        /// How many were not consumed.
        unused: usize,
    },
    /// The configuration needs a draw the [`Draws`] do not hold.
    #[error("failed to add noise: {field} is {value} but the draws have no `{draw}`")]
    MissingDraw {
        /// The draw's field in [`Draws`].
        draw: &'static str,
        /// The parameter that needs it.
        field: &'static str,
        /// Its value.
        value: f64,
    },
    /// The [`Draws`] hold a draw XLM does not take with this configuration.
    #[error("failed to add noise: {field} is 0, so XLM draws no `{draw}`, but the draws have one")]
    UnexpectedDraw {
        /// The draw's field in [`Draws`].
        draw: &'static str,
        /// The parameter that is 0.
        field: &'static str,
    },
}

/// Noise hyperparameters, named after XLM's flags. `Default` is XLM's and the paper's:
/// `word_shuffle 3`, `word_dropout 0.1`, `word_blank 0.1`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoiseConfig {
    /// `k` of the local shuffle: a word ends fewer than `k` positions from where it started.
    /// 0 disables it; otherwise XLM asserts `k > 1`.
    pub word_shuffle: f64,
    /// Probability of dropping each word, in `[0, 1)` (0 disables it).
    pub word_dropout: f64,
    /// Probability of replacing each word by `<special1>`, in `[0, 1)` (0 disables it).
    pub word_blank: f64,
}

impl Default for NoiseConfig {
    fn default() -> Self {
        Self {
            word_shuffle: 3.0,
            word_dropout: 0.1,
            word_blank: 0.1,
        }
    }
}

impl NoiseConfig {
    /// Checks XLM's asserts: `word_shuffle` is 0 or above 1, the probabilities are in
    /// `[0, 1)`; the error names the first offending field.
    pub fn validate(&self) -> Result<(), NoiseError> {
        check_shuffle_k(self.word_shuffle)?;
        check_probability("word_dropout", self.word_dropout, false)?;
        check_probability("word_blank", self.word_blank, false)
    }
}

fn check_shuffle_k(k: f64) -> Result<(), NoiseError> {
    if k == 0.0 || (k.is_finite() && k > 1.0) {
        Ok(())
    } else {
        Err(NoiseError::InvalidParam {
            field: "word_shuffle",
            message: format!("must be 0 or a finite number above 1, got {k}"),
        })
    }
}

/// `allow_one`: the transforms accept p == 1 (every word hit) so the limit can be tested, as
/// the Python port does; the configuration keeps XLM's `0 <= p < 1`.
fn check_probability(field: &'static str, p: f64, allow_one: bool) -> Result<(), NoiseError> {
    let ok = p >= 0.0 && (p < 1.0 || (allow_one && p == 1.0));
    if ok {
        Ok(())
    } else {
        let range = if allow_one { "[0, 1]" } else { "[0, 1)" };
        Err(NoiseError::InvalidParam {
            field,
            message: format!("must be in {range}, got {p}"),
        })
    }
}

/// Every random number XLM's `add_noise` draws for one batch, in XLM's shapes (see [`Grid`]
/// for the indexing). A field is `None` (or empty) exactly when XLM draws nothing for it.
///
/// From a Python dump of `xlm_reference.add_noise(..., return_draws=True)`: the three arrays
/// as `array.tolist()` (or `null`), and `fallbacks = [int(j) for j in fallback_draw if j >= 0]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Draws {
    /// `np.random.uniform(0, k, size=(slen - 1, bs))`, values in `[0, k)`; row 0 is drawn but
    /// overwritten by -1 (BOS stays first). `None` when `word_shuffle == 0`.
    #[serde(default)]
    pub shuffle_noise: Option<Grid>,
    /// `np.random.rand(slen - 1, bs)`: position `j` of sentence `i` keeps its word iff
    /// `keep_draw[j][i] >= word_dropout`; row 0 (BOS) is always kept. `None` when
    /// `word_dropout == 0`.
    #[serde(default)]
    pub keep_draw: Option<Grid>,
    /// XLM's lazy `np.random.randint(1, len(words))`, one per sentence that lost every word,
    /// in batch order, drawn after `keep_draw`: the index `j` (in `1..=len - 2`) of the
    /// original word that is kept. Empty when no sentence needed one.
    #[serde(default)]
    pub fallbacks: Vec<usize>,
    /// `np.random.rand(slen2 - 1, bs)` where `slen2` is the longest sentence *after* dropout:
    /// position `j` keeps its word iff `blank_draw[j][i] >= word_blank`, else it becomes
    /// `<special1>`; row 0 is always kept. `None` when `word_blank == 0`.
    #[serde(default)]
    pub blank_draw: Option<Grid>,
}

/// XLM's `slen`: the longest sentence.
fn slen(batch: &[Vec<u32>]) -> usize {
    batch.iter().map(Vec::len).max().unwrap_or(0)
}

/// XLM's layout asserts (`x[0] == eos`, `x[len - 1] == eos`), for every transform; with
/// `need_word`, also at least one word (XLM's dropout fallback `randint(1, 1)` fails
/// otherwise).
fn check_layout(batch: &[Vec<u32>], op: &'static str, need_word: bool) -> Result<(), NoiseError> {
    if batch.is_empty() {
        return Err(NoiseError::EmptyBatch { op });
    }
    for (sentence, s) in batch.iter().enumerate() {
        let problem = match s.as_slice() {
            [] | [_] => Some("has fewer than two tokens (`</s> </s>`)"),
            [first, ..] if *first != EOS_INDEX => Some("does not start with `</s>`"),
            [.., last] if *last != EOS_INDEX => Some("does not end with `</s>`"),
            [_, _] if need_word => Some("has no word (word_dropout needs at least one)"),
            _ => None,
        };
        if let Some(problem) = problem {
            return Err(NoiseError::Layout {
                op,
                sentence,
                problem,
            });
        }
    }
    Ok(())
}

fn check_grid(
    op: &'static str,
    draw: &'static str,
    grid: &[Vec<f64>],
    rows: usize,
    cols: usize,
) -> Result<(), NoiseError> {
    if grid.len() != rows {
        return Err(NoiseError::DrawShape {
            op,
            draw,
            problem: format!("has {} rows, XLM draws {rows} (slen - 1)", grid.len()),
        });
    }
    if let Some((j, row)) = grid.iter().enumerate().find(|(_, r)| r.len() != cols) {
        return Err(NoiseError::DrawShape {
            op,
            draw,
            problem: format!(
                "row {j} has {} values, want {cols} (one per sentence)",
                row.len()
            ),
        });
    }
    Ok(())
}

/// Whether position `j` of sentence `i` survives a keep/blank draw: row 0 (BOS) always does,
/// as XLM's `keep[0] = 1`; otherwise iff the draw is `>= p` (XLM's comparison).
fn survives(grid: &[Vec<f64>], j: usize, i: usize, p: f64) -> bool {
    j == 0 || grid[j][i] >= p
}

/// XLM `Trainer.word_shuffle`: a local shuffle of BOS and the words.
///
/// For sentence `i` of length `l`, the first `l - 1` tokens (BOS + words; the final `</s>` is
/// outside) are reordered by a *stable* argsort of `score_j = j + noise[j][i]` with
/// `noise[0][i]` taken as -1, so BOS stays first and no word moves `k` or more positions. Ties
/// (probability 0 for continuous draws) keep the original order, as the Python port (XLM's
/// NumPy `argsort` leaves them unspecified). `noise` has shape `(slen - 1) x bs` with values
/// in `[0, k)` outside row 0; rows `l - 1..` of column `i` are unused. `k == 0` returns the
/// batch unchanged and does not read `noise` (XLM draws nothing); otherwise `k > 1`.
pub fn word_shuffle(
    batch: &[Vec<u32>],
    k: f64,
    noise: &[Vec<f64>],
) -> Result<Vec<Vec<u32>>, NoiseError> {
    const OP: &str = "apply word_shuffle";
    check_shuffle_k(k)?;
    if k == 0.0 {
        return Ok(batch.to_vec());
    }
    check_layout(batch, OP, false)?;
    let bs = batch.len();
    check_grid(OP, "shuffle_noise", noise, slen(batch) - 1, bs)?;
    for (j, row) in noise.iter().enumerate().skip(1) {
        if let Some((i, &value)) = row
            .iter()
            .enumerate()
            .find(|&(_, &v)| !(0.0..k).contains(&v))
        {
            return Err(NoiseError::ShuffleNoiseRange {
                row: j,
                sentence: i,
                value,
                k,
            });
        }
    }
    Ok(batch
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let n = s.len() - 1;
            let score = |j: usize| if j == 0 { -1.0 } else { j as f64 + noise[j][i] };
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| score(a).total_cmp(&score(b)));
            order
                .iter()
                .map(|&j| s[j])
                .chain(std::iter::once(s[n]))
                .collect()
        })
        .collect())
}

/// XLM `Trainer.word_dropout`: drop each word with probability `p`.
///
/// Position `j` of sentence `i` is kept iff `keep[j][i] >= p` (row 0, BOS, always); `keep`
/// has shape `(slen - 1) x bs`. The words are `s[1..l - 1]`; the final `</s>` is re-appended
/// after the survivors. A sentence that loses every word keeps one original word instead,
/// XLM's `words[np.random.randint(1, len(words))]` with `words = s[..l - 1]` (BOS + words):
/// the next entry `j` of `fallbacks` (consumed in batch order, `1 <= j < l - 1`) and the word
/// `s[j]`. Every fallback must be consumed. Needs at least one word per sentence.
///
/// `p == 0` returns the batch unchanged and reads no draw (XLM draws nothing); otherwise `p`
/// is in `(0, 1]` (XLM asserts `p < 1`; 1 is accepted so the limit can be tested).
pub fn word_dropout(
    batch: &[Vec<u32>],
    p: f64,
    keep: &[Vec<f64>],
    fallbacks: &[usize],
) -> Result<Vec<Vec<u32>>, NoiseError> {
    const OP: &str = "apply word_dropout";
    check_probability("word_dropout", p, true)?;
    if p == 0.0 {
        return Ok(batch.to_vec());
    }
    check_layout(batch, OP, true)?;
    check_grid(OP, "keep_draw", keep, slen(batch) - 1, batch.len())?;
    let mut fallbacks = fallbacks.iter();
    let mut out = Vec::with_capacity(batch.len());
    for (i, s) in batch.iter().enumerate() {
        let words = &s[..s.len() - 1];
        let mut new_s: Vec<u32> = words
            .iter()
            .enumerate()
            .filter(|&(j, _)| survives(keep, j, i, p))
            .map(|(_, &w)| w)
            .collect();
        if new_s.len() == 1 {
            let &j = fallbacks
                .next()
                .ok_or(NoiseError::MissingFallback { sentence: i })?;
            if !(1..words.len()).contains(&j) {
                return Err(NoiseError::FallbackRange {
                    sentence: i,
                    index: j,
                    n_words: words.len(),
                });
            }
            new_s.push(words[j]);
        }
        new_s.push(s[s.len() - 1]);
        out.push(new_s);
    }
    match fallbacks.len() {
        0 => Ok(out),
        unused => Err(NoiseError::UnusedFallbacks { unused }),
    }
}

/// XLM `Trainer.word_blank`: replace each word by `mask_index` with probability `p`.
///
/// Position `j` of sentence `i` keeps its word iff `blank[j][i] >= p` (row 0, BOS, always),
/// else it becomes `mask_index` (XLM's `<special1>`, [`MASK_INDEX`]); the final `</s>` stays
/// and lengths do not change. `blank` has shape `(slen - 1) x bs` of *this* batch (in
/// [`add_noise`], the batch after dropout).
///
/// `p == 0` returns the batch unchanged and reads no draw (XLM draws nothing); otherwise `p`
/// is in `(0, 1]` (XLM asserts `p < 1`; 1 is accepted so the limit can be tested).
pub fn word_blank(
    batch: &[Vec<u32>],
    p: f64,
    blank: &[Vec<f64>],
    mask_index: u32,
) -> Result<Vec<Vec<u32>>, NoiseError> {
    const OP: &str = "apply word_blank";
    check_probability("word_blank", p, true)?;
    if p == 0.0 {
        return Ok(batch.to_vec());
    }
    check_layout(batch, OP, false)?;
    check_grid(OP, "blank_draw", blank, slen(batch) - 1, batch.len())?;
    Ok(batch
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let n = s.len() - 1;
            s[..n]
                .iter()
                .enumerate()
                .map(|(j, &w)| {
                    if survives(blank, j, i, p) {
                        w
                    } else {
                        mask_index
                    }
                })
                .chain(std::iter::once(s[n]))
                .collect()
        })
        .collect())
}

/// The draw a stage needs, or the error saying the two disagree: XLM draws exactly when the
/// parameter is nonzero.
fn stage_draw<'a>(
    field: &'static str,
    value: f64,
    draw: &'static str,
    grid: Option<&'a Grid>,
) -> Result<&'a [Vec<f64>], NoiseError> {
    match (value == 0.0, grid) {
        (true, None) => Ok(&[]),
        (true, Some(_)) => Err(NoiseError::UnexpectedDraw { draw, field }),
        (false, Some(g)) => Ok(g),
        (false, None) => Err(NoiseError::MissingDraw { draw, field, value }),
    }
}

/// XLM `Trainer.add_noise`: [`word_shuffle`], then [`word_dropout`], then [`word_blank`]
/// (with [`MASK_INDEX`]), each with its draw from `draws`. The draws must be exactly those
/// XLM takes for this configuration (a draw present iff its parameter is nonzero), as
/// [`draw`] returns them.
pub fn add_noise(
    batch: &[Vec<u32>],
    config: &NoiseConfig,
    draws: &Draws,
) -> Result<Vec<Vec<u32>>, NoiseError> {
    config.validate()?;
    let noise = stage_draw(
        "word_shuffle",
        config.word_shuffle,
        "shuffle_noise",
        draws.shuffle_noise.as_ref(),
    )?;
    let keep = stage_draw(
        "word_dropout",
        config.word_dropout,
        "keep_draw",
        draws.keep_draw.as_ref(),
    )?;
    if config.word_dropout == 0.0 && !draws.fallbacks.is_empty() {
        return Err(NoiseError::UnexpectedDraw {
            draw: "fallbacks",
            field: "word_dropout",
        });
    }
    let blank = stage_draw(
        "word_blank",
        config.word_blank,
        "blank_draw",
        draws.blank_draw.as_ref(),
    )?;
    let x = word_shuffle(batch, config.word_shuffle, noise)?;
    let x = word_dropout(&x, config.word_dropout, keep, &draws.fallbacks)?;
    word_blank(&x, config.word_blank, blank, MASK_INDEX)
}

/// `rows x cols` draws of `f`, row by row (NumPy's C order).
fn grid(rows: usize, cols: usize, mut f: impl FnMut() -> f64) -> Grid {
    (0..rows)
        .map(|_| (0..cols).map(|_| f()).collect())
        .collect()
}

/// Draws every random number [`add_noise`] needs for `batch`, in XLM's order and shapes:
///
/// 1. `shuffle_noise`: `(slen - 1) x bs` uniform in `[0, word_shuffle)` (unless it is 0);
/// 2. `keep_draw`: `(slen - 1) x bs` uniform in `[0, 1)`, then, for each sentence in batch
///    order that this draw leaves without a word, one fallback uniform in `1..len - 1`
///    (unless `word_dropout` is 0);
/// 3. `blank_draw`: `(slen2 - 1) x bs` uniform in `[0, 1)`, `slen2` the longest sentence after
///    dropout (unless `word_blank` is 0).
///
/// The fallbacks and `slen2` depend on the keep draw, so this runs dropout on the sentence
/// lengths (the shuffle does not change them, and which words survive does not depend on the
/// token ids) with the same survival rule [`word_dropout`] applies. Checks the configuration
/// and the batch layout as [`add_noise`] does.
pub fn draw<R: Rng + ?Sized>(
    batch: &[Vec<u32>],
    config: &NoiseConfig,
    rng: &mut R,
) -> Result<Draws, NoiseError> {
    config.validate()?;
    check_layout(batch, "draw noise", config.word_dropout != 0.0)?;
    let (rows, bs) = (slen(batch) - 1, batch.len());
    let k = config.word_shuffle;
    let shuffle_noise = (k != 0.0).then(|| {
        grid(rows, bs, || {
            // uniform(0, k) as NumPy computes it; rounding can reach k, which XLM's range
            // excludes, so that one value is pulled below it.
            let v = k * rng.random::<f64>();
            if v < k { v } else { k.next_down() }
        })
    });
    let mut fallbacks = Vec::new();
    let mut rows_after = rows;
    let p = config.word_dropout;
    let keep_draw = (p != 0.0).then(|| {
        let keep = grid(rows, bs, || rng.random::<f64>());
        let mut longest = 0;
        for (i, s) in batch.iter().enumerate() {
            // XLM's `len(words)`: BOS and the words (at least one, checked above)
            let n_words = s.len() - 1;
            let mut kept = (1..n_words).filter(|&j| survives(&keep, j, i, p)).count();
            if kept == 0 {
                fallbacks.push(rng.random_range(1..n_words));
                kept = 1;
            }
            longest = longest.max(kept + 2);
        }
        rows_after = longest - 1;
        keep
    });
    let blank_draw =
        (config.word_blank != 0.0).then(|| grid(rows_after, bs, || rng.random::<f64>()));
    Ok(Draws {
        shuffle_noise,
        keep_draw,
        fallbacks,
        blank_draw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// XLM layout from word lists (`xlm_reference._batch`, unpadded).
    fn batch(words: &[&[u32]]) -> Vec<Vec<u32>> {
        words
            .iter()
            .map(|w| {
                std::iter::once(EOS_INDEX)
                    .chain(w.iter().copied())
                    .chain(std::iter::once(EOS_INDEX))
                    .collect()
            })
            .collect()
    }

    /// `FIRST_WORD + j` word lists of the given lengths (selfcheck-unmt's batches).
    fn numbered(lengths: &[u32]) -> Vec<Vec<u32>> {
        let words: Vec<Vec<u32>> = lengths.iter().map(|&n| (14..14 + n).collect()).collect();
        let refs: Vec<&[u32]> = words.iter().map(Vec::as_slice).collect();
        batch(&refs)
    }

    fn constant(rows: usize, cols: usize, v: f64) -> Grid {
        vec![vec![v; cols]; rows]
    }

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    #[test]
    fn defaults_are_the_paper_values_and_validate() {
        let c = NoiseConfig::default();
        assert_eq!(
            (c.word_shuffle, c.word_dropout, c.word_blank),
            (3.0, 0.1, 0.1)
        );
        c.validate().unwrap();
        let off = NoiseConfig {
            word_shuffle: 0.0,
            word_dropout: 0.0,
            word_blank: 0.0,
        };
        off.validate().unwrap();
    }

    #[test]
    fn validate_names_the_field() {
        let bad = |c: NoiseConfig| match c.validate() {
            Err(NoiseError::InvalidParam { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let d = NoiseConfig::default();
        for k in [0.5, 1.0, -3.0, f64::NAN, f64::INFINITY] {
            let c = NoiseConfig {
                word_shuffle: k,
                ..d
            };
            assert_eq!(bad(c), "word_shuffle", "{k}");
        }
        for p in [1.0, -0.1, f64::NAN] {
            let c = NoiseConfig {
                word_dropout: p,
                ..d
            };
            assert_eq!(bad(c), "word_dropout");
            let c = NoiseConfig { word_blank: p, ..d };
            assert_eq!(bad(c), "word_blank");
        }
        let e = NoiseConfig {
            word_dropout: 1.0,
            ..d
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid parameter `word_dropout`: must be in [0, 1), got 1"
        );
    }

    #[test]
    fn config_serde_round_trip_defaults_and_unknown_fields() {
        let c: NoiseConfig = serde_json::from_str(r#"{"word_dropout": 0.2}"#).unwrap();
        assert_eq!(c.word_dropout, 0.2);
        assert_eq!(c.word_shuffle, 3.0);
        let back: NoiseConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert!(serde_json::from_str::<NoiseConfig>(r#"{"word_shufle": 3}"#).is_err());
    }

    // ---- word_shuffle

    #[test]
    fn shuffle_zero_noise_is_the_identity() {
        let x = numbered(&[1, 2, 5, 9, 3, 7]);
        let rows = slen(&x) - 1;
        assert_eq!(word_shuffle(&x, 3.0, &constant(rows, 6, 0.0)).unwrap(), x);
    }

    #[test]
    fn shuffle_k0_returns_the_batch_without_reading_noise() {
        let x = numbered(&[1, 2, 5]);
        assert_eq!(word_shuffle(&x, 0.0, &[]).unwrap(), x);
    }

    #[test]
    fn shuffle_hand_computed_permutation() {
        // selfcheck-unmt: scores -1, 2.5, 2, 3 -> BOS, 21, 20, 22
        let x = batch(&[&[20, 21, 22]]);
        let noise = vec![vec![0.9], vec![1.5], vec![0.0], vec![0.0]];
        assert_eq!(
            word_shuffle(&x, 3.0, &noise).unwrap(),
            vec![vec![1, 21, 20, 22, 1]]
        );
    }

    #[test]
    fn shuffle_ties_keep_the_original_order() {
        // scores -1, 1 + 1, 2 + 0 -> the tie between positions 1 and 2 keeps 20 before 21
        let x = batch(&[&[20, 21]]);
        let noise = vec![vec![0.0], vec![1.0], vec![0.0]];
        assert_eq!(
            word_shuffle(&x, 3.0, &noise).unwrap(),
            vec![vec![1, 20, 21, 1]]
        );
    }

    #[test]
    fn shuffle_keeps_ends_permutes_words_and_moves_less_than_k() {
        let x = numbered(&[1, 2, 5, 9, 3, 7]);
        let config = NoiseConfig {
            word_shuffle: 3.0,
            word_dropout: 0.0,
            word_blank: 0.0,
        };
        let (mut worst, mut moved) = (0, 0);
        for seed in 0..200 {
            let d = draw(&x, &config, &mut rng(seed)).unwrap();
            let y = word_shuffle(&x, 3.0, d.shuffle_noise.as_ref().unwrap()).unwrap();
            assert_eq!(y, add_noise(&x, &config, &d).unwrap());
            for (a, b) in x.iter().zip(&y) {
                assert_eq!(a.len(), b.len());
                assert_eq!((b[0], b[b.len() - 1]), (EOS_INDEX, EOS_INDEX));
                let (mut sa, mut sb) = (a.clone(), b.clone());
                sa.sort_unstable();
                sb.sort_unstable();
                assert_eq!(sa, sb);
                for (new_pos, tok) in b.iter().enumerate().take(b.len() - 1).skip(1) {
                    let old_pos = a.iter().position(|t| t == tok).unwrap();
                    worst = worst.max(new_pos.abs_diff(old_pos));
                    moved += usize::from(new_pos != old_pos);
                }
            }
        }
        assert!(worst > 0 && worst < 3 && moved > 0, "{worst} {moved}");
    }

    #[test]
    fn shuffle_checks_shape_and_range() {
        let x = numbered(&[1, 3]);
        assert!(matches!(
            word_shuffle(&x, 3.0, &constant(3, 2, 0.0)),
            Err(NoiseError::DrawShape { .. })
        ));
        assert!(matches!(
            word_shuffle(&x, 3.0, &constant(4, 1, 0.0)),
            Err(NoiseError::DrawShape { .. })
        ));
        let mut noise = constant(4, 2, 0.0);
        noise[0][1] = 99.0; // row 0 is overwritten: not checked, as in XLM
        word_shuffle(&x, 3.0, &noise).unwrap();
        noise[3][0] = 3.0; // unused position, but XLM's range is checked everywhere
        let e = word_shuffle(&x, 3.0, &noise).unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to apply word_shuffle: shuffle_noise[3][0] = 3 is outside [0, 3)"
        );
    }

    // ---- word_dropout

    #[test]
    fn dropout_all_keep_is_the_identity() {
        let x = numbered(&[1, 2, 5, 9, 3, 7]);
        let rows = slen(&x) - 1;
        // a draw equal to p keeps (>=)
        assert_eq!(
            word_dropout(&x, 0.1, &constant(rows, 6, 0.1), &[]).unwrap(),
            x
        );
        assert_eq!(word_dropout(&x, 0.0, &[], &[]).unwrap(), x);
    }

    #[test]
    fn dropout_all_drop_keeps_exactly_the_fallback_word() {
        let x = numbered(&[1, 2, 5, 9, 3, 7]);
        let rows = slen(&x) - 1;
        // selfcheck-unmt: word j = 2, or the only one
        let fb: Vec<usize> = x.iter().map(|s| 2.min(s.len() - 2)).collect();
        let y = word_dropout(&x, 0.1, &constant(rows, 6, 0.0), &fb).unwrap();
        let want: Vec<Vec<u32>> = x
            .iter()
            .zip(&fb)
            .map(|(s, &j)| vec![EOS_INDEX, s[j], EOS_INDEX])
            .collect();
        assert_eq!(y, want);
        // p = 1 drops every word whatever the draw
        let y = word_dropout(&x, 1.0, &constant(rows, 6, 0.999), &fb).unwrap();
        assert_eq!(y, want);
    }

    #[test]
    fn dropout_hand_computed() {
        // selfcheck-unmt: drop 20, 22; the second sentence falls back to 24
        let x = batch(&[&[20, 21, 22, 23], &[24, 25]]);
        let keep = vec![
            vec![0.0, 0.0],
            vec![0.05, 0.0],
            vec![0.5, 0.01],
            vec![0.05, 0.0],
            vec![0.5, 0.0],
        ];
        let y = word_dropout(&x, 0.1, &keep, &[1]).unwrap();
        assert_eq!(y, vec![vec![1, 21, 23, 1], vec![1, 24, 1]]);
    }

    #[test]
    fn dropout_fallback_errors() {
        let x = batch(&[&[20, 21, 22, 23], &[24, 25]]);
        let drop_all = constant(5, 2, 0.0);
        // x[1][3] is the final </s>: outside randint(1, 3)
        assert_eq!(
            word_dropout(&x, 0.1, &drop_all, &[1, 3]),
            Err(NoiseError::FallbackRange {
                sentence: 1,
                index: 3,
                n_words: 3
            })
        );
        assert_eq!(
            word_dropout(&x, 0.1, &drop_all, &[0, 1]),
            Err(NoiseError::FallbackRange {
                sentence: 0,
                index: 0,
                n_words: 5
            })
        );
        assert_eq!(
            word_dropout(&x, 0.1, &drop_all, &[1]),
            Err(NoiseError::MissingFallback { sentence: 1 })
        );
        assert_eq!(
            word_dropout(&x, 0.1, &drop_all, &[1, 1, 2]),
            Err(NoiseError::UnusedFallbacks { unused: 1 })
        );
    }

    #[test]
    fn dropout_needs_a_word_and_xlm_layout() {
        let keep = constant(1, 1, 0.5);
        let e = word_dropout(&[vec![1, 1]], 0.1, &keep, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to apply word_dropout: sentence 0 has no word (word_dropout needs at least one)"
        );
        let keep = constant(2, 1, 0.5);
        let e = word_dropout(&[vec![1, 7, 8]], 0.1, &keep, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to apply word_dropout: sentence 0 does not end with `</s>`"
        );
        assert!(matches!(
            word_dropout(&[vec![7, 7, 1]], 0.1, &keep, &[]),
            Err(NoiseError::Layout { .. })
        ));
        assert_eq!(
            word_dropout(&[], 0.1, &[], &[]),
            Err(NoiseError::EmptyBatch {
                op: "apply word_dropout"
            })
        );
        assert!(matches!(
            word_dropout(&[vec![1, 7, 1]], 1.5, &keep, &[]),
            Err(NoiseError::InvalidParam {
                field: "word_dropout",
                ..
            })
        ));
    }

    // ---- word_blank

    #[test]
    fn blank_p0_is_the_identity() {
        let x = numbered(&[1, 2, 5]);
        assert_eq!(word_blank(&x, 0.0, &[], MASK_INDEX).unwrap(), x);
    }

    #[test]
    fn blank_p1_masks_every_word_and_keeps_the_ends() {
        let x = numbered(&[1, 2, 5, 9, 3, 7]);
        let rows = slen(&x) - 1;
        let y = word_blank(&x, 1.0, &constant(rows, 6, 0.7), MASK_INDEX).unwrap();
        for (a, b) in x.iter().zip(&y) {
            let mut want = vec![MASK_INDEX; a.len()];
            want[0] = EOS_INDEX;
            want[a.len() - 1] = EOS_INDEX;
            assert_eq!(*b, want);
        }
    }

    #[test]
    fn blank_hand_computed() {
        // selfcheck-unmt: masks 21 only (0.09 < 0.1 <= 0.1)
        let x = batch(&[&[20, 21, 22]]);
        let draw = vec![vec![0.0], vec![0.5], vec![0.09], vec![0.1]];
        let y = word_blank(&x, 0.1, &draw, MASK_INDEX).unwrap();
        assert_eq!(y, vec![vec![1, 20, MASK_INDEX, 22, 1]]);
        // the mask id is a parameter
        assert_eq!(
            word_blank(&x, 0.1, &draw, 9).unwrap(),
            vec![vec![1, 20, 9, 22, 1]]
        );
    }

    // ---- add_noise and draw

    /// `xlm_reference.add_noise(rng=np.random.RandomState(7), return_draws=True)` on five
    /// sentences of 1, 3, 6, 2, 1 words (`/tmp/unmt_py/dump_noise.py 7`): four fallbacks, and
    /// the blank draw has 6 rows (slen 7 after dropout) against 7 before.
    const PYTHON_FIXTURE: &str = r#"{"batch": [[1, 14, 1], [1, 24, 25, 26, 1], [1, 34, 35, 36, 37, 38, 39, 1], [1, 44, 45, 1], [1, 54, 1]], "config": {"word_shuffle": 3, "word_dropout": 0.5, "word_blank": 0.3}, "draws": {"shuffle_noise": [[0.22892486812187152, 2.3397563767203438, 1.3152276943226804, 2.1703955334928238, 2.9339685359898082], [1.615487611231301, 1.5033613909798138, 0.21615340007928463, 0.8053169403056135, 1.4996475024766798], [2.0376899883628212, 2.411217108313126, 1.1428233994456152, 0.19780904071771532, 0.8644367979239806], [2.7287805831588408, 0.6401560607397465, 1.3563718854530493, 2.7936180590670654, 0.07469768265104404], [1.8016467523923676, 2.850388501240937, 0.6909086370628944, 1.6454697577080912, 2.7273851246601937], [0.3995083372777505, 1.5702377420212974, 2.2512295773061046, 2.0070397226517414, 1.4032585792349421], [0.6145472708933852, 1.4722976672732113, 1.1171540681551768, 1.4322034645547652, 1.0976711573417788]], "keep_draw": [[0.8379179943092606, 0.7686475065195093, 0.31399467721266217, 0.572625332643954, 0.2760490483306951], [0.4528429325464004, 0.3529783659443947, 0.6573994627797582, 0.3703510829880352, 0.45909297789143144], [0.7193241225090415, 0.4129918291138346, 0.9064232691643387, 0.1804516192026816, 0.7411188729132643], [0.42237404364314035, 0.42645357268494233, 0.6343798686338388, 0.5229062010283453, 0.4148859784394432], [0.0014268805627581926, 0.09226234584675208, 0.7093943937252127, 0.5243455967651972, 0.6961604635169689], [0.955468323002926, 0.6829138543754175, 0.05312869067295756, 0.30885268486379713, 0.592594687323373], [0.2351204072574643, 0.9649709995361269, 0.9450482237927939, 0.8484008808376887, 0.47232399628840227]], "fallbacks": [1, 2, 1, 1], "blank_draw": [[0.5325575940961663, 0.039646092526587795, 0.09559835301225772, 0.798894967778215, 0.4023884843057104], [0.682451951083068, 0.5019234890075487, 0.3971778102250315, 0.7858166930489345, 0.9513361410416794], [0.2579546008119036, 0.5198816863812533, 0.8681035473673843, 0.45936149002902305, 0.11000553116671952], [0.7990021540091454, 0.49791911160416114, 0.1971754705527332, 0.8760751098430085, 0.268174469017322], [0.23693823844683026, 0.3725929400002339, 0.3859036734444131, 0.23309063520852102, 0.17577938584060182], [0.3985057899150418, 0.8416296403642562, 0.7867305923905094, 0.6407810603771512, 0.49601705638371874]]}, "output": [[1, 14, 1], [1, 26, 1], [1, 34, 35, 5, 37, 38, 1], [1, 44, 1], [1, 54, 1]], "after_shuffle": [[1, 14, 1], [1, 24, 26, 25, 1], [1, 34, 35, 36, 37, 39, 38, 1], [1, 44, 45, 1], [1, 54, 1]], "after_dropout": [[1, 14, 1], [1, 26, 1], [1, 34, 35, 36, 37, 38, 1], [1, 44, 1], [1, 54, 1]]}"#;

    #[derive(Deserialize)]
    struct Fixture {
        batch: Vec<Vec<u32>>,
        config: NoiseConfig,
        draws: Draws,
        output: Vec<Vec<u32>>,
        after_shuffle: Vec<Vec<u32>>,
        after_dropout: Vec<Vec<u32>>,
    }

    #[test]
    fn replays_python_draws_exactly() {
        let f: Fixture = serde_json::from_str(PYTHON_FIXTURE).unwrap();
        let c = f.config;
        let d = &f.draws;
        let a = word_shuffle(&f.batch, c.word_shuffle, d.shuffle_noise.as_ref().unwrap()).unwrap();
        assert_eq!(a, f.after_shuffle);
        let b = word_dropout(
            &a,
            c.word_dropout,
            d.keep_draw.as_ref().unwrap(),
            &d.fallbacks,
        )
        .unwrap();
        assert_eq!(b, f.after_dropout);
        let out = word_blank(&b, c.word_blank, d.blank_draw.as_ref().unwrap(), MASK_INDEX).unwrap();
        assert_eq!(out, f.output);
        assert_eq!(add_noise(&f.batch, &c, d).unwrap(), f.output);
        // the draws survive a serde round trip bit for bit
        let back: Draws = serde_json::from_str(&serde_json::to_string(d).unwrap()).unwrap();
        assert_eq!(&back, d);
    }

    #[test]
    fn add_noise_checks_draws_against_the_config() {
        let x = numbered(&[2, 3]);
        let c = NoiseConfig::default();
        let d = draw(&x, &c, &mut rng(1)).unwrap();
        add_noise(&x, &c, &d).unwrap();
        let no_shuffle = Draws {
            shuffle_noise: None,
            ..d.clone()
        };
        assert_eq!(
            add_noise(&x, &c, &no_shuffle).unwrap_err().to_string(),
            "failed to add noise: word_shuffle is 3 but the draws have no `shuffle_noise`"
        );
        let off = NoiseConfig {
            word_blank: 0.0,
            ..c
        };
        assert_eq!(
            add_noise(&x, &off, &d).unwrap_err().to_string(),
            "failed to add noise: word_blank is 0, so XLM draws no `blank_draw`, but the draws have one"
        );
        let no_drop = NoiseConfig {
            word_dropout: 0.0,
            ..c
        };
        let fb = Draws {
            keep_draw: None,
            fallbacks: vec![1],
            ..d.clone()
        };
        assert!(matches!(
            add_noise(&x, &no_drop, &fb),
            Err(NoiseError::UnexpectedDraw {
                draw: "fallbacks",
                ..
            })
        ));
        // Python's per-column `fallback_draw` is not silently accepted
        assert!(serde_json::from_str::<Draws>(r#"{"fallback_draw": [-1, 1]}"#).is_err());
    }

    #[test]
    fn zero_noise_draws_nothing_and_is_the_identity() {
        let x = numbered(&[0, 1, 4]);
        let c = NoiseConfig {
            word_shuffle: 0.0,
            word_dropout: 0.0,
            word_blank: 0.0,
        };
        let d = draw(&x, &c, &mut rng(0)).unwrap();
        assert_eq!(d, Draws::default());
        assert_eq!(add_noise(&x, &c, &d).unwrap(), x);
        let d: Draws = serde_json::from_str("{}").unwrap();
        assert_eq!(add_noise(&x, &c, &d).unwrap(), x);
    }

    #[test]
    fn draw_shapes_follow_xlm_and_fallbacks_are_consumed() {
        // many one-word sentences at p = 0.5: fallbacks are common; the long sentence may
        // shrink, so the blank draw is often shorter than the others
        let x = numbered(&[1, 1, 2, 4, 1, 6, 3, 1]);
        let c = NoiseConfig {
            word_shuffle: 3.0,
            word_dropout: 0.5,
            word_blank: 0.3,
        };
        let (mut n_fallback, mut shorter) = (0, 0);
        for seed in 0..300 {
            let d = draw(&x, &c, &mut rng(seed)).unwrap();
            assert_eq!(d.shuffle_noise.as_ref().unwrap().len(), 7);
            assert_eq!(d.keep_draw.as_ref().unwrap().len(), 7);
            let y = add_noise(&x, &c, &d).unwrap();
            let blank_rows = d.blank_draw.as_ref().unwrap().len();
            assert_eq!(blank_rows, slen(&y) - 1);
            assert!(d.blank_draw.as_ref().unwrap().iter().all(|r| r.len() == 8));
            shorter += usize::from(blank_rows < 7);
            n_fallback += d.fallbacks.len();
            for (a, b) in x.iter().zip(&y) {
                assert!(b.len() >= 3 && b.len() <= a.len());
                assert_eq!((b[0], b[b.len() - 1]), (EOS_INDEX, EOS_INDEX));
            }
            let noise = d.shuffle_noise.as_ref().unwrap();
            assert!(noise.iter().flatten().all(|v| (0.0..3.0).contains(v)));
        }
        assert!(n_fallback > 100 && shorter > 10, "{n_fallback} {shorter}");
    }

    #[test]
    fn draw_is_deterministic_per_seed() {
        let x = numbered(&[3, 5, 2]);
        let c = NoiseConfig::default();
        let a = draw(&x, &c, &mut rng(42)).unwrap();
        assert_eq!(a, draw(&x, &c, &mut rng(42)).unwrap());
        assert_ne!(a, draw(&x, &c, &mut rng(43)).unwrap());
    }

    #[test]
    fn draw_checks_config_and_layout() {
        let c = NoiseConfig::default();
        assert!(matches!(
            draw(&numbered(&[2, 0]), &c, &mut rng(0)),
            Err(NoiseError::Layout {
                op: "draw noise",
                sentence: 1,
                ..
            })
        ));
        // without dropout an empty sentence is fine (XLM's shuffle and blank accept it)
        let c0 = NoiseConfig {
            word_dropout: 0.0,
            ..c
        };
        let x = numbered(&[2, 0]);
        let d = draw(&x, &c0, &mut rng(0)).unwrap();
        assert_eq!(add_noise(&x, &c0, &d).unwrap()[1], vec![1, 1]);
        let bad = NoiseConfig {
            word_shuffle: 1.0,
            ..c
        };
        assert!(matches!(
            draw(&x, &bad, &mut rng(0)),
            Err(NoiseError::InvalidParam {
                field: "word_shuffle",
                ..
            })
        ));
    }
}
