//! XLM's `StreamDataset` (facebookresearch/XLM `xlm/data/dataset.py`): all sentences of a
//! language (each followed by `</s>`) as one token stream, left-padded with `</s>` to a
//! multiple of `streams * bptt`, cut into `streams` parallel rows, with one extra leading
//! `</s>`. A batch is `bptt` consecutive positions of every stream; chunks start mid-sentence
//! and positions restart at 0 in every chunk.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::text::dictionary::EOS_INDEX;

/// A language's token stream laid out for batching.
#[derive(Debug, Clone)]
pub struct Stream {
    /// `(n_batches * bptt + 1) x streams`, row-major: `data[r * streams + s]` is position `r`
    /// of stream `s`; row 0 is the extra `</s>`.
    data: Vec<u32>,
    streams: usize,
    bptt: usize,
    n_batches: usize,
    n_tokens: usize,
}

impl Stream {
    /// Lays out `tokens` (the binarized token array: sentences each ending in `</s>`).
    /// Returns `None` when `tokens` is empty.
    pub fn new(tokens: &[u32], streams: usize, bptt: usize) -> Option<Self> {
        let n_tokens = tokens.len();
        if n_tokens == 0 || streams == 0 || bptt == 0 {
            return None;
        }
        let n_batches = n_tokens.div_ceil(streams * bptt);
        let cols = n_batches * bptt; // positions per stream
        let t_size = cols * streams;
        // buffer = [eos ... eos, tokens], then reshape (streams, cols) and transpose.
        let pad = t_size - n_tokens;
        let buffer = |j: usize| if j < pad { EOS_INDEX } else { tokens[j - pad] };
        let mut data = vec![EOS_INDEX; (cols + 1) * streams];
        for s in 0..streams {
            for r in 0..cols {
                data[(r + 1) * streams + s] = buffer(s * cols + r);
            }
        }
        Some(Self {
            data,
            streams,
            bptt,
            n_batches,
            n_tokens,
        })
    }

    /// Number of chunks.
    pub fn n_batches(&self) -> usize {
        self.n_batches
    }

    /// Tokens in the stream before padding.
    pub fn n_tokens(&self) -> usize {
        self.n_tokens
    }

    /// Parallel streams (the batch size).
    pub fn streams(&self) -> usize {
        self.streams
    }

    /// Chunk `i` batch-first: `out[s * bptt + r]` = position `r` of stream `s`
    /// (XLM's `data[bptt * i : bptt * (i + 1)]`, transposed).
    pub fn chunk(&self, i: usize) -> Vec<u32> {
        let (bs, bptt) = (self.streams, self.bptt);
        let mut out = vec![0; bs * bptt];
        for r in 0..bptt {
            let row = &self.data[(bptt * i + r) * bs..(bptt * i + r + 1) * bs];
            for (s, &t) in row.iter().enumerate() {
                out[s * bptt + r] = t;
            }
        }
        out
    }
}

/// Visits every chunk in a random order, then starts a new random order (XLM recreates an
/// exhausted iterator). Its state is serializable so training can resume mid-epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkOrder {
    order: Vec<usize>,
    next: usize,
}

impl ChunkOrder {
    /// An exhausted order (the first call to [`ChunkOrder::next`] shuffles).
    pub fn new() -> Self {
        Self {
            order: Vec::new(),
            next: 0,
        }
    }

    /// Whether the next call starts a new pass (and shuffles).
    pub fn exhausted(&self) -> bool {
        self.next >= self.order.len()
    }

    /// The next chunk index among `n_batches`.
    pub fn next(&mut self, n_batches: usize, rng: &mut ChaCha8Rng) -> usize {
        if self.next >= self.order.len() {
            self.order = (0..n_batches).collect();
            self.order.shuffle(rng);
            self.next = 0;
        }
        self.next += 1;
        self.order[self.next - 1]
    }
}

impl Default for ChunkOrder {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-derived from XLM's code: 5 tokens, 2 streams, bptt 2 -> 2 batches, t_size 8,
    /// buffer `[1 1 1 a b c d e]` (3 pads on the left), rows `[1 1 1 a]` and `[b c d e]`.
    #[test]
    fn layout_matches_xlm_stream_dataset() {
        let s = Stream::new(&[20, 21, 22, 23, 24], 2, 2).unwrap();
        assert_eq!(s.n_batches(), 2);
        // data rows (5 x 2): [1 1], [1 21], [1 22], [1 23], [20 24]; the last row is never
        // in a chunk (XLM's slices are `[0:2]` and `[2:4]`).
        assert_eq!(s.chunk(0), vec![1, 1, 1, 21]);
        assert_eq!(s.chunk(1), vec![1, 1, 22, 23]);
    }

    #[test]
    fn order_visits_every_chunk_once_per_pass() {
        use rand::SeedableRng;
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut order = ChunkOrder::new();
        let mut seen: Vec<usize> = (0..7).map(|_| order.next(7, &mut rng)).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..7).collect::<Vec<_>>());
    }
}
