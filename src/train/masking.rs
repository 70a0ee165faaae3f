//! Which positions the masked LM predicts and what it sees there: XLM's `Trainer.mask_out`
//! (training) and `Evaluator.mask_out` (validation), facebookresearch/XLM `xlm/trainer.py` and
//! `xlm/evaluation/evaluator.py`. Chunks are batch-first, `chunk[s * len + r]`.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::text::dictionary::{MASK_INDEX, PAD_INDEX};

/// Masking hyperparameters (XLM defaults: `word_pred 0.15`, `word_mask_keep_rand 0.8,0.1,0.1`,
/// `sample_alpha 0`).
#[derive(Debug, Clone, PartialEq)]
pub struct MaskConfig {
    /// Fraction of positions predicted.
    pub word_pred: f64,
    /// Probabilities that a predicted position shows MASK, the unchanged token, or a uniformly
    /// random id in `[0, n_words)` (which may be a special token, as in XLM).
    pub mask_keep_rand: [f64; 3],
    /// Dictionary size, for random replacements.
    pub n_words: u32,
    /// With `Some(scores)` (XLM `sample_alpha > 0`): exactly `ceil(word_pred * len * bs)`
    /// positions are drawn without replacement with probability proportional to
    /// `scores[token]` (`max(count, 1)^-alpha`, 0 for specials and `<pad>`).
    pub sample_scores: Option<Vec<f64>>,
}

/// A masked chunk: the model input and the prediction targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Masked {
    /// Model input, batch-first like the chunk.
    pub input: Vec<u32>,
    /// Flat indices (`s * len + r`) of the predicted positions, ascending.
    pub positions: Vec<usize>,
    /// The original tokens at `positions`.
    pub targets: Vec<u32>,
}

/// Training masking. Position 0 of every stream and `<pad>` are never targets. If the draw
/// selects nothing (possible only for tiny batches), one random eligible position is taken
/// so the loss is defined (XLM would produce NaN).
pub fn mask_train(
    chunk: &[u32],
    bs: usize,
    len: usize,
    c: &MaskConfig,
    rng: &mut ChaCha8Rng,
) -> Masked {
    let eligible = |i: usize| !i.is_multiple_of(len) && chunk[i] != PAD_INDEX;
    let mut selected = vec![false; chunk.len()];
    match &c.sample_scores {
        None => {
            for sel in &mut selected {
                *sel = rng.random::<f64>() <= c.word_pred;
            }
        }
        Some(scores) => {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let n_tgt = (c.word_pred * (len * bs) as f64).ceil() as usize;
            // Efraimidis-Spirakis: the n largest u^(1/w) are a weighted sample without
            // replacement (numpy's `choice(p=..., replace=False)` has the same distribution).
            let mut keyed: Vec<(f64, usize)> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, &t)| {
                    let w = scores.get(t as usize).copied().unwrap_or(0.0);
                    (w > 0.0).then(|| (rng.random::<f64>().powf(1.0 / w), i))
                })
                .collect();
            keyed.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
            for &(_, i) in keyed.iter().take(n_tgt) {
                selected[i] = true;
            }
        }
    }
    for (i, sel) in selected.iter_mut().enumerate() {
        *sel &= eligible(i);
    }
    if !selected.iter().any(|&s| s) {
        let candidates: Vec<usize> = (0..chunk.len()).filter(|&i| eligible(i)).collect();
        if !candidates.is_empty() {
            selected[candidates[rng.random_range(0..candidates.len())]] = true;
        }
    }
    let [p_mask, p_keep, _] = c.mask_keep_rand;
    let mut input = chunk.to_vec();
    let mut positions = Vec::new();
    let mut targets = Vec::new();
    for (i, _) in selected.iter().enumerate().filter(|(_, s)| **s) {
        positions.push(i);
        targets.push(chunk[i]);
        let u = rng.random::<f64>();
        if u < p_mask {
            input[i] = MASK_INDEX;
        } else if u >= p_mask + p_keep {
            input[i] = rng.random_range(0..c.n_words);
        }
    }
    Masked {
        input,
        positions,
        targets,
    }
}

/// Validation masking of one bs=1 chunk of `len` positions: Bernoulli(`word_pred`) over
/// positions `1..len-1` (the first and the last are excluded), at least one target (a
/// uniformly drawn position when the draw selected none), every target replaced by MASK.
/// The caller seeds `rng` with 0 at each evaluation so every epoch sees the same masks.
pub fn mask_eval(chunk: &[u32], word_pred: f64, rng: &mut ChaCha8Rng) -> Masked {
    let len = chunk.len();
    let mut selected: Vec<bool> = (0..len).map(|_| rng.random::<f64>() <= word_pred).collect();
    for (r, sel) in selected.iter_mut().enumerate() {
        *sel &= r != 0 && r + 1 < len;
    }
    if len >= 3 && !selected.iter().any(|&s| s) {
        selected[rng.random_range(1..len - 1)] = true;
    }
    let mut input = chunk.to_vec();
    let positions: Vec<usize> = (0..len).filter(|&r| selected[r]).collect();
    let targets = positions.iter().map(|&r| chunk[r]).collect();
    for &r in &positions {
        input[r] = MASK_INDEX;
    }
    Masked {
        input,
        positions,
        targets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn config() -> MaskConfig {
        MaskConfig {
            word_pred: 0.15,
            mask_keep_rand: [0.8, 0.1, 0.1],
            n_words: 1000,
            sample_scores: None,
        }
    }

    #[test]
    fn training_masks_about_15_percent_with_80_10_10() {
        let (bs, len) = (32, 256);
        let chunk: Vec<u32> = (0..bs * len).map(|i| 14 + (i % 900) as u32).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let m = mask_train(&chunk, bs, len, &config(), &mut rng);
        let frac = m.positions.len() as f64 / (bs * (len - 1)) as f64;
        assert!((frac - 0.15).abs() < 0.01, "{frac}");
        assert!(
            m.positions.iter().all(|&i| i % len != 0),
            "row 0 is a target"
        );
        let n = m.positions.len() as f64;
        let masked = m
            .positions
            .iter()
            .filter(|&&i| m.input[i] == MASK_INDEX)
            .count() as f64;
        let kept = m
            .positions
            .iter()
            .filter(|&&i| m.input[i] == chunk[i])
            .count() as f64;
        assert!((masked / n - 0.8).abs() < 0.03, "{}", masked / n);
        // kept includes the rare random draw that equals the original token
        assert!((kept / n - 0.1).abs() < 0.03, "{}", kept / n);
        let untouched = (0..chunk.len())
            .filter(|i| !m.positions.contains(i))
            .all(|i| m.input[i] == chunk[i]);
        assert!(untouched);
    }

    #[test]
    fn padding_is_never_a_target_and_one_target_is_forced() {
        let chunk = vec![1, 2, 2, 7];
        let mut c = config();
        c.word_pred = 0.0;
        let m = mask_train(&chunk, 1, 4, &c, &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(m.positions, vec![3]);
        assert_eq!(m.targets, vec![7]);
    }

    #[test]
    fn sampled_masking_takes_exactly_ceil_and_skips_zero_scores() {
        let (bs, len) = (4, 50);
        let chunk: Vec<u32> = (0..bs * len)
            .map(|i| if i % 2 == 0 { 20 } else { 1 })
            .collect();
        let mut scores = vec![0.0; 30];
        scores[20] = 1.0;
        let mut c = config();
        c.sample_scores = Some(scores);
        let m = mask_train(&chunk, bs, len, &c, &mut ChaCha8Rng::seed_from_u64(2));
        // ceil(0.15 * 200) = 30 drawn among the 100 id-20 positions; those in row 0 are dropped
        assert!(
            m.positions.len() <= 30 && m.positions.len() >= 26,
            "{}",
            m.positions.len()
        );
        assert!(m.targets.iter().all(|&t| t == 20));
    }

    #[test]
    fn eval_masks_are_deterministic_and_exclude_the_ends() {
        let chunk: Vec<u32> = (0..64).map(|i| 14 + i).collect();
        let a = mask_eval(&chunk, 0.15, &mut ChaCha8Rng::seed_from_u64(0));
        let b = mask_eval(&chunk, 0.15, &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(a, b);
        assert!(!a.positions.is_empty());
        assert!(a.positions.iter().all(|&r| r != 0 && r != 63));
        assert!(a.positions.iter().all(|&r| a.input[r] == MASK_INDEX));
    }
}
