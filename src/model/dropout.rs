//! Dropout whose masks come from a counter-based hash, one stream per thread.
//!
//! Why not Burn's `nn::Dropout`: its masks come from the backend's generator, which on Flex
//! is one process-wide, locked generator drawing one element at a time. That was ~12% of an
//! MLM step (#19), it made concurrent trainers (`-j 2`) take turns for their forward passes,
//! and data-parallel peers on threads would race for it (#18).
//!
//! Here element `i` of the `c`-th dropout call since [`seed`] is kept iff
//! `mix(key(seed, c) + g * φ) >> 32 < keep · 2³²`, where `g = row_offset · row_len + i` is the
//! element's index in the whole batch (`row_len` is the product of the non-batch dimensions;
//! every tensor of the model is batch-first). So a mask is a pure function of `(seed, call,
//! position)`: drawn in bulk and in parallel, the same on any thread count, resumable from the
//! seed alone, and the same for a batch whether one device computes it or data-parallel peers
//! compute shards of its rows (each peer seeds with its shard's first row as `row_offset`).
//!
//! Kept elements are scaled by `1 / keep` as in PyTorch and Burn; dropout is active only when
//! the backend records gradients (`ad_enabled`), as Burn's is.

use std::cell::Cell;

use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

/// The calling thread's dropout stream.
#[derive(Debug, Clone, Copy)]
struct Stream {
    seed: u64,
    row_offset: u64,
    calls: u64,
}

thread_local! {
    static STREAM: Cell<Stream> = const { Cell::new(Stream { seed: 0, row_offset: 0, calls: 0 }) };
}

/// Starts the calling thread's dropout stream: the masks of the following forward passes
/// depend on `seed` and on the order of dropout calls only; `row_offset` is the index, in
/// the whole batch, of the first row this thread computes (0 unless data-parallel).
pub fn seed(seed: u64, row_offset: usize) {
    STREAM.with(|s| {
        s.set(Stream {
            seed,
            row_offset: row_offset as u64,
            calls: 0,
        })
    });
}

/// SplitMix64's finaliser: a bijective 64-bit mix with full avalanche.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// Elements per parallel task: large enough that scheduling costs nothing next to hashing.
const CHUNK: usize = 1 << 15;

/// The scale-or-zero mask of `n` elements starting at batch index `first`.
fn mask(key: u64, first: u64, n: usize, keep: f64) -> Vec<f32> {
    // `keep · 2³²` in u64 so that keep = 1 keeps everything.
    let threshold = (keep * 4_294_967_296.0) as u64;
    let scale = (1.0 / keep) as f32;
    let mut out = vec![0.0f32; n];
    out.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(c, chunk)| {
            let base = first + (c * CHUNK) as u64;
            for (i, v) in chunk.iter_mut().enumerate() {
                let h = mix(key.wrapping_add((base + i as u64).wrapping_mul(GOLDEN))) >> 32;
                if h < threshold {
                    *v = scale;
                }
            }
        });
    out
}

/// Zeroes each element with probability `prob` during training, scaling the rest by
/// `1 / (1 - prob)`; the identity otherwise. Drop-in for `burn::nn::Dropout`.
#[derive(Module, Clone, Debug)]
pub struct Dropout {
    /// The probability of zeroing an element.
    pub prob: f64,
}

impl Dropout {
    /// Dropout with probability `prob` (validated by the model configuration, in `[0, 1)`).
    pub fn new(prob: f64) -> Self {
        Self { prob }
    }

    /// # Shapes
    /// - input: `[batch, ...]`, output: the same
    pub fn forward<B: Backend, const D: usize>(&self, input: Tensor<B, D>) -> Tensor<B, D> {
        let device = input.device();
        if self.prob == 0.0 || !B::ad_enabled(&device) {
            return input;
        }
        let dims = input.dims();
        let n: usize = dims.iter().product();
        let row_len: usize = dims[1..].iter().product();
        let stream = STREAM.with(|s| {
            let now = s.get();
            s.set(Stream {
                calls: now.calls + 1,
                ..now
            });
            now
        });
        let key = mix(stream.seed ^ mix(stream.calls.wrapping_add(GOLDEN)));
        let first = stream.row_offset * row_len as u64;
        let values = mask(key, first, n, 1.0 - self.prob);
        let m = Tensor::<B, D>::from_data(TensorData::new(values, dims), &device);
        input * m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Cpu;
    use burn::backend::Autodiff;

    type Ad = Autodiff<Cpu>;

    fn draw(seed_v: u64, offset: usize, shape: [usize; 3]) -> Vec<f32> {
        seed(seed_v, offset);
        let x = Tensor::<Ad, 3>::ones(shape, &Default::default());
        Dropout::new(0.25).forward(x).into_data().to_vec().unwrap()
    }

    #[test]
    fn keeps_about_keep_and_scales() {
        let v = draw(7, 0, [8, 64, 128]);
        let kept = v.iter().filter(|&&x| x != 0.0).count() as f64 / v.len() as f64;
        assert!((kept - 0.75).abs() < 0.01, "{kept}");
        assert!(v.iter().all(|&x| x == 0.0 || (x - 1.0 / 0.75).abs() < 1e-6));
    }

    #[test]
    fn masks_depend_on_seed_and_call_only() {
        assert_eq!(draw(7, 0, [4, 8, 16]), draw(7, 0, [4, 8, 16]));
        assert_ne!(draw(7, 0, [4, 8, 16]), draw(8, 0, [4, 8, 16]));
        // The second call of a stream differs from its first.
        seed(7, 0);
        let d = Dropout::new(0.5);
        let x = || Tensor::<Ad, 2>::ones([4, 32], &Default::default());
        let a: Vec<f32> = d.forward(x()).into_data().to_vec().unwrap();
        let b: Vec<f32> = d.forward(x()).into_data().to_vec().unwrap();
        assert_ne!(a, b);
    }

    /// Two shards of rows, each drawn with its first row as the offset, give the whole
    /// batch's mask: data-parallel peers drop what one device would.
    #[test]
    fn row_shards_reproduce_the_whole_batch() {
        let whole = draw(3, 0, [5, 6, 7]);
        let mut shards = draw(3, 0, [3, 6, 7]);
        shards.extend(draw(3, 3, [2, 6, 7]));
        assert_eq!(whole, shards);
    }

    #[test]
    fn inactive_without_autodiff_or_probability() {
        seed(1, 0);
        let x = Tensor::<Cpu, 2>::ones([4, 4], &Default::default());
        let y: Vec<f32> = Dropout::new(0.5).forward(x).into_data().to_vec().unwrap();
        assert!(y.iter().all(|&v| v == 1.0));
        let x = Tensor::<Ad, 2>::ones([4, 4], &Default::default());
        let y: Vec<f32> = Dropout::new(0.0).forward(x).into_data().to_vec().unwrap();
        assert!(y.iter().all(|&v| v == 1.0));
    }

    #[test]
    fn the_gradient_is_the_mask() {
        seed(5, 0);
        let x = Tensor::<Ad, 2>::ones([3, 50], &Default::default()).require_grad();
        let y = Dropout::new(0.3).forward(x.clone());
        let mask: Vec<f32> = y.clone().into_data().to_vec().unwrap();
        let grads = y.sum().backward();
        let g: Vec<f32> = x.grad(&grads).unwrap().into_data().to_vec().unwrap();
        assert_eq!(g, mask);
    }
}
