//! Data parallelism over devices with Burn's collectives (`burn-collective` 0.21, all-reduce):
//! each peer computes the loss of its shard of the batch on its replica of the model, the
//! gradients are summed across peers, and one optimiser step follows, as XLM's multi-GPU
//! training does with PyTorch's DDP.
//!
//! Not yet wired into the `mlm` / `unmt` stages (#18): this is the gradient step those will
//! use, tested to equal the single-device step.
//!
//! - **Weighting.** XLM's loss is a mean over the batch's targets, and shards hold different
//!   numbers of them; a plain mean of shard means is not the batch mean. Each peer's loss is
//!   its shard's summed token loss divided by the whole batch's target count, so the sum of
//!   the peers' gradients is exactly the single-device gradient (up to summation order).
//! - **Replicas** are `fork`ed, not cloned: a cloned autodiff module shares graph nodes
//!   across threads under Burn's global graph lock, a forked one has its own graph with the
//!   same parameter ids, so the gradients apply to the original model.
//! - **Every peer presents every trainable parameter**, a zero gradient where its shard left
//!   none, so the peers' all-reduce sequences match (Burn's own `GradientsParams::all_reduce`
//!   assumes they do and pairs tensors wrongly or hangs otherwise).
//! - **Dropout** is not handled yet: Flex's random generator is global and ignores the device,
//!   so concurrent peers would race for it. Callers must train without dropout until masks
//!   come from a per-peer generator seeded by `(seed, step, peer)`.

use burn::collective::{self, CollectiveConfig, CollectiveError, PeerId, ReduceOperation};
use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorPrimitive};

use super::masking::Masked;

/// Why a data-parallel step failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DataParallelError {
    /// A peer's collective operation failed.
    #[error("failed to all-reduce the gradients of peer {peer}: {detail}")]
    Collective {
        /// The peer.
        peer: usize,
        /// burn-collective's error (it implements no `Error`).
        detail: String,
    },
    /// A peer thread panicked.
    #[error("data-parallel peer {peer} panicked")]
    Panicked {
        /// The peer.
        peer: usize,
    },
    /// More peers than batch rows.
    #[error("cannot split a batch of {rows} rows over {peers} peers")]
    TooFewRows {
        /// Batch rows.
        rows: usize,
        /// Peers.
        peers: usize,
    },
}

/// Splits a masked batch of `bs` rows of `len` tokens into `peers` shards of consecutive
/// rows (the first `bs % peers` one row longer); returns each shard with its row count.
pub fn shard_rows(
    masked: &Masked,
    bs: usize,
    len: usize,
    peers: usize,
) -> Result<Vec<(Masked, usize)>, DataParallelError> {
    if peers == 0 || peers > bs {
        return Err(DataParallelError::TooFewRows { rows: bs, peers });
    }
    let mut out = Vec::with_capacity(peers);
    let mut start = 0;
    for p in 0..peers {
        let rows = bs / peers + usize::from(p < bs % peers);
        let (lo, hi) = (start * len, (start + rows) * len);
        let mut shard = Masked {
            input: masked.input[lo..hi].to_vec(),
            positions: Vec::new(),
            targets: Vec::new(),
        };
        for (&pos, &t) in masked.positions.iter().zip(&masked.targets) {
            if (lo..hi).contains(&pos) {
                shard.positions.push(pos - lo);
                shard.targets.push(t);
            }
        }
        out.push((shard, rows));
        start += rows;
    }
    Ok(out)
}

/// Sums `grads` across the registered peers in place (`peer` is the caller), for every
/// trainable parameter of `module`.
pub fn all_reduce_grads<B, M>(
    peer: usize,
    module: &M,
    grads: &mut GradientsParams,
) -> Result<(), DataParallelError>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
{
    struct Reduce<'a> {
        peer: usize,
        grads: &'a mut GradientsParams,
        error: Option<CollectiveError>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Reduce<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if self.error.is_some() || !param.is_require_grad() {
                return;
            }
            let g = self
                .grads
                .remove::<B::InnerBackend, D>(param.id)
                .unwrap_or_else(|| param.val().inner().zeros_like());
            let prim = g.into_primitive().tensor();
            match collective::all_reduce::<B::InnerBackend>(
                PeerId::from(self.peer),
                prim,
                ReduceOperation::Sum,
            ) {
                Ok(sum) => {
                    let t =
                        Tensor::<B::InnerBackend, D>::from_primitive(TensorPrimitive::Float(sum));
                    self.grads.register::<B::InnerBackend, D>(param.id, t);
                }
                Err(e) => self.error = Some(e),
            }
        }
    }
    let mut v = Reduce {
        peer,
        grads,
        error: None,
    };
    module.visit(&mut v);
    match v.error {
        None => Ok(()),
        Some(e) => Err(DataParallelError::Collective {
            peer,
            detail: format!("{e:?}"),
        }),
    }
}

/// One data-parallel gradient computation: peer `p` forks `model` onto `devices[p]`,
/// computes `loss(replica, p)` (which must already carry the batch weighting, see the module
/// docs), backpropagates, and the peers all-reduce; returns peer 0's summed gradients, which
/// apply to `model`.
pub fn data_parallel_grads<B, M, F>(
    model: &M,
    devices: &[B::Device],
    loss: F,
) -> Result<GradientsParams, DataParallelError>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Clone + Send,
    B::Device: Send + Sync,
    F: Fn(&M, usize) -> Tensor<B, 1> + Sync,
{
    let peers = devices.len();
    collective::reset_collective::<B::InnerBackend>();
    let config = CollectiveConfig::default().with_num_devices(peers);
    let results: Vec<Result<GradientsParams, DataParallelError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = devices
            .iter()
            .enumerate()
            .map(|(p, device)| {
                let (config, loss) = (config.clone(), &loss);
                let replica = model.clone().fork(device);
                scope.spawn(move || -> Result<GradientsParams, DataParallelError> {
                    let collective_err = |e: CollectiveError| DataParallelError::Collective {
                        peer: p,
                        detail: format!("{e:?}"),
                    };
                    collective::register::<B::InnerBackend>(
                        PeerId::from(p),
                        device.clone(),
                        config,
                    )
                    .map_err(collective_err)?;
                    let l = loss(&replica, p);
                    let mut grads = GradientsParams::from_grads(l.backward(), &replica);
                    let reduced = all_reduce_grads::<B, M>(p, &replica, &mut grads);
                    collective::finish_collective::<B::InnerBackend>(PeerId::from(p))
                        .map_err(collective_err)?;
                    reduced.map(|()| grads)
                })
            })
            .collect();
        handles
            .into_iter()
            .enumerate()
            .map(|(p, h)| {
                h.join()
                    .unwrap_or(Err(DataParallelError::Panicked { peer: p }))
            })
            .collect()
    });
    let mut first = None;
    for (p, r) in results.into_iter().enumerate() {
        let g = r?;
        if p == 0 {
            first = Some(g);
        }
    }
    first.ok_or(DataParallelError::TooFewRows { rows: 0, peers })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Cpu;
    use crate::model::config::TransformerConfig;
    use crate::train::masking::{MaskConfig, mask_train};
    use crate::train::mlm::mlm_loss;
    use crate::train::optim::named_gradients;
    use burn::backend::Autodiff;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    type Ad = Autodiff<Cpu>;

    fn batch(bs: usize, len: usize) -> Masked {
        let chunk: Vec<u32> = (0..bs * len).map(|i| 5 + (i * 7 % 31) as u32).collect();
        let config = MaskConfig {
            word_pred: 0.3,
            mask_keep_rand: [0.8, 0.1, 0.1],
            n_words: 40,
            sample_scores: None,
        };
        mask_train(&chunk, bs, len, &config, &mut ChaCha8Rng::seed_from_u64(3))
    }

    #[test]
    fn shards_cover_the_batch_once() {
        let (bs, len) = (5, 6);
        let m = batch(bs, len);
        let shards = shard_rows(&m, bs, len, 2).unwrap();
        assert_eq!(shards.iter().map(|s| s.1).collect::<Vec<_>>(), [3, 2]);
        let targets: usize = shards.iter().map(|s| s.0.targets.len()).sum();
        assert_eq!(targets, m.targets.len());
        let rebuilt: Vec<u32> = shards.iter().flat_map(|s| s.0.input.clone()).collect();
        assert_eq!(rebuilt, m.input);
        assert!(matches!(
            shard_rows(&m, bs, len, 6),
            Err(DataParallelError::TooFewRows { .. })
        ));
    }

    /// One step on 2 peers with B/2 rows each equals one step on one device with B rows.
    #[test]
    fn two_flex_peers_give_the_single_device_gradient() {
        let (bs, len) = (4, 8);
        let mut config = TransformerConfig::new(40, 1, 16, 1, 2);
        config.dropout = 0.0;
        config.attention_dropout = 0.0;
        let device = Default::default();
        let model = config.init::<Ad>(&device);
        let masked = batch(bs, len);
        let whole = mlm_loss(&model, &masked, 0, 1, bs, len, &device);
        let single = GradientsParams::from_grads(whole.backward(), &model);
        let expected = named_gradients(&model, &single);

        let shards = shard_rows(&masked, bs, len, 2).unwrap();
        let total = masked.targets.len() as f32;
        let devices = vec![device; 2];
        let summed = data_parallel_grads::<Ad, _, _>(&model, &devices, |replica, p| {
            let (shard, rows) = &shards[p];
            let mean = mlm_loss(replica, shard, 0, 1, *rows, len, &Default::default());
            mean.mul_scalar(shard.targets.len() as f32 / total)
        })
        .unwrap();
        let got = named_gradients(&model, &summed);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>()
        );
        for (name, e) in &expected {
            let g = &got[name];
            let worst = e
                .values
                .iter()
                .zip(&g.values)
                .map(|(a, b)| (a - b).abs() / (1e-6 + a.abs()).max(1.0))
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-5, "{name}: {worst}");
        }
    }
}
