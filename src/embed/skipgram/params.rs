//! Hyperparameters of fastText's skip-gram, with fastText's defaults.
//!
//! Port of the `skipgram` defaults of facebookresearch/fastText `src/args.cc`
//! (`Args::Args` plus the unsupervised overrides in `Args::parseArgs`:
//! `minCount 5`, `bucket 2000000`, `minn 3`, `maxn 6`, `lr 0.05`, `loss ns`).

use serde::{Deserialize, Serialize};

use crate::validate::{InvalidParam, Validate};

/// Skip-gram hyperparameters. Field names are snake_case versions of fastText's flags.
///
/// The loss is always negative sampling (`-loss ns`), the only loss this port implements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SkipgramParams {
    /// Initial learning rate, decayed linearly to 0 (fastText `-lr`). Default 0.05.
    pub lr: f64,
    /// Embedding dimension (fastText `-dim`). Default 100 (the lexical paper uses 1024).
    pub dim: usize,
    /// Maximum context window size; each position draws b ~ U[1, ws] (fastText `-ws`). Default 5.
    pub ws: usize,
    /// Number of passes over the data (fastText `-epoch`). Default 5.
    pub epoch: usize,
    /// Minimum number of occurrences for a word to enter the vocabulary (fastText `-minCount`). Default 5.
    pub min_count: u64,
    /// Number of negatives per positive (fastText `-neg`). Default 5.
    pub neg: usize,
    /// Max length of word n-grams (fastText `-wordNgrams`). Default 1. fastText ignores it
    /// for skip-gram (only supervised models hash word n-grams); kept for flag parity.
    pub word_ngrams: usize,
    /// Number of hash buckets for character n-grams (fastText `-bucket`). Default 2,000,000.
    pub bucket: u32,
    /// Minimum character n-gram length (fastText `-minn`). Default 3.
    pub minn: usize,
    /// Maximum character n-gram length; 0 disables subwords (fastText `-maxn`). Default 6.
    pub maxn: usize,
    /// Number of Hogwild training threads; 0 = all available cores (fastText `-thread`,
    /// whose own default is 12). Default 0. More than one thread makes training
    /// nondeterministic, exactly as in fastText.
    pub thread: usize,
    /// Number of tokens a thread processes between learning-rate updates
    /// (fastText `-lrUpdateRate`). Default 100.
    pub lr_update_rate: u64,
    /// Subsampling threshold: a token of frequency f is kept with probability
    /// sqrt(t/f) + t/f (fastText `-t`). Default 1e-4.
    pub t: f64,
    /// Random seed; thread i uses seed + i, as fastText (fastText `-seed`). Default 0.
    /// As in fastText (`std::minstd_rand` maps seed 0 to 1), seeds 0 and 1 give the same run.
    pub seed: i32,
}

impl Default for SkipgramParams {
    fn default() -> Self {
        Self {
            lr: 0.05,
            dim: 100,
            ws: 5,
            epoch: 5,
            min_count: 5,
            neg: 5,
            word_ngrams: 1,
            bucket: 2_000_000,
            minn: 3,
            maxn: 6,
            thread: 0,
            lr_update_rate: 100,
            t: 1e-4,
            seed: 0,
        }
    }
}

fn invalid(name: &str, reason: impl Into<String>) -> InvalidParam {
    InvalidParam::new(name, reason)
}

impl Validate for SkipgramParams {
    /// Checks every value is in the range fastText can train with.
    fn validate(&self) -> Result<(), InvalidParam> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(invalid(
                "lr",
                format!("must be a positive number, got {}", self.lr),
            ));
        }
        if self.dim == 0 || self.dim > 1 << 20 {
            return Err(invalid(
                "dim",
                format!("must be in 1..=1048576, got {}", self.dim),
            ));
        }
        if self.ws == 0 || self.ws > i32::MAX as usize {
            return Err(invalid(
                "ws",
                format!("must be at least 1, got {}", self.ws),
            ));
        }
        // `epoch x tokens` counts the planned updates in u64: an unbounded epoch count could
        // wrap it in a release build.
        if self.epoch == 0 || self.epoch > 1 << 20 {
            return Err(invalid(
                "epoch",
                format!("must be in 1..=1048576, got {}", self.epoch),
            ));
        }
        if self.min_count == 0 {
            return Err(invalid("min_count", "must be at least 1"));
        }
        if self.neg == 0 {
            return Err(invalid("neg", "must be at least 1 for negative sampling"));
        }
        if self.word_ngrams == 0 {
            return Err(invalid("word_ngrams", "must be at least 1"));
        }
        if self.bucket > i32::MAX as u32 {
            return Err(invalid(
                "bucket",
                format!("must be at most {}, got {}", i32::MAX, self.bucket),
            ));
        }
        if self.maxn > 0 {
            if self.bucket == 0 {
                return Err(invalid(
                    "bucket",
                    "must be at least 1 when maxn > 0 (subwords need buckets)",
                ));
            }
            if self.minn == 0 || self.minn > self.maxn {
                return Err(invalid(
                    "minn",
                    format!("must be in 1..=maxn ({}), got {}", self.maxn, self.minn),
                ));
            }
        }
        if self.thread > 4096 {
            return Err(invalid(
                "thread",
                format!("must be at most 4096, got {}", self.thread),
            ));
        }
        if self.lr_update_rate == 0 {
            return Err(invalid("lr_update_rate", "must be at least 1"));
        }
        if !(self.t.is_finite() && self.t > 0.0) {
            return Err(invalid(
                "t",
                format!("must be a positive number, got {}", self.t),
            ));
        }
        Ok(())
    }
}

impl SkipgramParams {
    /// Threads actually used: `thread`, or the number of available cores when it is 0.
    pub fn effective_threads(&self) -> usize {
        if self.thread > 0 {
            self.thread
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }

    /// Number of hash buckets actually allocated: fastText allocates none when subwords
    /// are off (`maxn == 0`, `Args::parseArgs` sets `bucket = 0` then).
    pub fn effective_bucket(&self) -> u32 {
        if self.maxn == 0 { 0 } else { self.bucket }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_fasttext_skipgram_defaults() {
        let p = SkipgramParams::default();
        assert_eq!(
            (p.lr, p.dim, p.ws, p.epoch, p.min_count, p.neg),
            (0.05, 100, 5, 5, 5, 5)
        );
        assert_eq!(
            (p.word_ngrams, p.bucket, p.minn, p.maxn),
            (1, 2_000_000, 3, 6)
        );
        assert_eq!((p.lr_update_rate, p.t, p.seed), (100, 1e-4, 0));
        p.validate().unwrap();
    }

    #[test]
    fn serde_round_trip_and_unknown_fields() {
        let p = SkipgramParams {
            dim: 1024,
            ..Default::default()
        };
        let s = serde_json::to_string(&p).unwrap();
        let back: SkipgramParams = serde_json::from_str(&s).unwrap();
        assert_eq!(back, p);
        let partial: SkipgramParams = serde_json::from_str(r#"{"dim": 300}"#).unwrap();
        assert_eq!(partial.dim, 300);
        assert_eq!(partial.bucket, 2_000_000);
        assert!(serde_json::from_str::<SkipgramParams>(r#"{"dimm": 3}"#).is_err());
    }

    #[test]
    fn validate_rejects_out_of_range() {
        let bad = [
            SkipgramParams {
                lr: 0.0,
                ..Default::default()
            },
            SkipgramParams {
                dim: 0,
                ..Default::default()
            },
            SkipgramParams {
                ws: 0,
                ..Default::default()
            },
            SkipgramParams {
                minn: 7,
                ..Default::default()
            },
            SkipgramParams {
                bucket: 0,
                ..Default::default()
            },
            SkipgramParams {
                t: -1.0,
                ..Default::default()
            },
            SkipgramParams {
                neg: 0,
                ..Default::default()
            },
        ];
        for p in bad {
            assert!(matches!(p.validate(), Err(InvalidParam { .. })), "{p:?}");
        }
        let no_sub = SkipgramParams {
            maxn: 0,
            bucket: 0,
            ..Default::default()
        };
        no_sub.validate().unwrap();
        assert_eq!(no_sub.effective_bucket(), 0);
    }
}
