//! The trained model: vocabulary, word vectors and training statistics.

use super::error::SkipgramError;
use super::params::SkipgramParams;

/// Figures of a training run (what fastText prints, plus timings).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainStats {
    /// Vocabulary size (fastText "Number of words").
    pub nwords: usize,
    /// Tokens read including `</s>` and rare words (fastText `ntokens`).
    pub ntokens: u64,
    /// Threads used.
    pub threads: usize,
    /// Tokens processed by training (>= epoch x ntokens, counted like fastText).
    pub processed_tokens: u64,
    /// Seconds spent in the training threads.
    pub train_seconds: f64,
    /// Seconds from the end of corpus reading to the word vectors (init, training, export).
    pub total_seconds: f64,
    /// processed_tokens / train_seconds / threads (fastText "words/sec/thread").
    pub words_per_sec_per_thread: f64,
    /// Mean negative-sampling loss over all updates of the run.
    pub loss: f64,
}

/// Word vectors in vocabulary order (row i belongs to word i), row-major f32.
#[derive(Debug, Clone, PartialEq)]
pub struct WordVectors {
    words: Vec<String>,
    dim: usize,
    data: Vec<f32>,
}

impl WordVectors {
    /// Wraps `data` (`words.len() x dim` values, row-major).
    pub fn new(words: Vec<String>, dim: usize, data: Vec<f32>) -> Result<Self, SkipgramError> {
        if dim == 0 || words.len() * dim != data.len() {
            return Err(SkipgramError::ShapeMismatch {
                words: words.len(),
                dim,
                values: data.len(),
            });
        }
        Ok(Self { words, dim, data })
    }

    /// Words, in row order.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// True when there is no word.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Vector of row `i`.
    pub fn vector(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Vector of `word` (linear search; build your own index for many lookups).
    pub fn get(&self, word: &str) -> Option<&[f32]> {
        self.words
            .iter()
            .position(|w| w == word)
            .map(|i| self.vector(i))
    }

    /// All values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }
}

/// A trained skip-gram model (only the word vectors are kept; the input and output
/// matrices are freed after training, so vectors for unseen words are not available).
#[derive(Debug, Clone)]
pub struct SkipgramModel {
    params: SkipgramParams,
    vectors: WordVectors,
    counts: Vec<u64>,
    stats: TrainStats,
}

impl SkipgramModel {
    /// Assembles a model.
    pub fn new(
        params: SkipgramParams,
        vectors: WordVectors,
        counts: Vec<u64>,
        stats: TrainStats,
    ) -> Self {
        Self {
            params,
            vectors,
            counts,
            stats,
        }
    }

    /// Parameters it was trained with.
    pub fn params(&self) -> &SkipgramParams {
        &self.params
    }

    /// Word vectors (fastText `.vec` content).
    pub fn vectors(&self) -> &WordVectors {
        &self.vectors
    }

    /// Vocabulary words, most frequent first.
    pub fn words(&self) -> &[String] {
        self.vectors.words()
    }

    /// Corpus counts aligned with [`SkipgramModel::words`].
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Vector of `word`, if in the vocabulary.
    pub fn get(&self, word: &str) -> Option<&[f32]> {
        self.vectors.get(word)
    }

    /// Training statistics.
    pub fn stats(&self) -> &TrainStats {
        &self.stats
    }
}
