//! Data parallelism over devices with Burn's collectives (`burn-collective` 0.21, all-reduce):
//! each peer computes the loss of its shard of the batch on its replica of the model, the
//! gradients are summed across peers, and one optimiser step follows, as XLM's multi-GPU
//! training does with PyTorch's DDP.
//!
//! [`super::scaffold::Updater::update_sharded`] runs it when a training has more than one
//! peer (the `mlm` stage's `peers`).
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
//! - **Dropout** masks come from [`crate::model::dropout`]'s per-thread streams: each peer seeds
//!   its thread with the step's seed and its shard's first row, so the peers drop exactly what
//!   one device would on the whole batch.

use std::ops::Range;
use std::sync::Mutex;

use burn::collective::{self, CollectiveConfig, CollectiveError, PeerId, ReduceOperation};
use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor, TensorPrimitive};

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
    /// A peer's loss could not be computed.
    #[error("peer {peer}: {reason}")]
    Loss {
        /// The peer.
        peer: usize,
        /// Why.
        reason: String,
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

/// The rows of a batch of `rows` each of `peers` peers takes: consecutive, the first
/// `rows % peers` one row longer (empty for the last peers of a batch with fewer rows than
/// peers: they contribute nothing to that update).
pub fn row_ranges(rows: usize, peers: usize) -> Result<Vec<Range<usize>>, DataParallelError> {
    if peers == 0 {
        return Err(DataParallelError::TooFewRows { rows, peers });
    }
    let mut start = 0;
    Ok((0..peers)
        .map(|p| {
            let n = rows / peers + usize::from(p < rows % peers);
            start += n;
            start - n..start
        })
        .collect())
}

/// Splits a masked batch of `bs` rows of `len` tokens into the shards of [`row_ranges`];
/// returns each shard with its row count.
pub fn shard_rows(
    masked: &Masked,
    bs: usize,
    len: usize,
    peers: usize,
) -> Result<Vec<(Masked, usize)>, DataParallelError> {
    if peers > bs {
        return Err(DataParallelError::TooFewRows { rows: bs, peers });
    }
    let mut out = Vec::with_capacity(peers);
    for range in row_ranges(bs, peers)? {
        let rows = range.len();
        let (lo, hi) = (range.start * len, range.end * len);
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

/// burn-collective's local server is one per process and backend: two trainings of one
/// process (`-j 2`, parallel tests) would reset and join each other's collectives. Their
/// data-parallel steps take turns (`--executor subprocess` runs them side by side).
static COLLECTIVE: Mutex<()> = Mutex::new(());

/// One data-parallel gradient computation: peer `p` forks `model` onto `devices[p]`,
/// computes `loss(replica, p)` (which must already carry the batch weighting, see the module
/// docs; `Ok(None)`: the shard contributes nothing, e.g. no masked target), backpropagates, and
/// the peers all-reduce; returns the summed gradients, which apply to `model`, and the sum of
/// the peers' losses (the batch loss).
pub fn data_parallel_grads<B, M, F>(
    model: &M,
    devices: &[B::Device],
    loss: F,
) -> Result<(GradientsParams, f64), DataParallelError>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Clone + Send,
    B::Device: Send + Sync,
    F: Fn(&M, usize) -> Result<Option<Tensor<B, 1>>, String> + Sync,
{
    let peers = devices.len();
    let _one_at_a_time = COLLECTIVE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    collective::reset_collective::<B::InnerBackend>();
    let config = CollectiveConfig::default().with_num_devices(peers);
    type PeerResult = Result<(GradientsParams, f64), DataParallelError>;
    let results: Vec<PeerResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = devices
            .iter()
            .enumerate()
            .map(|(p, device)| {
                let (config, loss) = (config.clone(), &loss);
                let replica = model.clone().fork(device);
                scope.spawn(move || -> PeerResult {
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
                    // A failed loss still takes part in the all-reduce (with no gradient), so
                    // the other peers are not left waiting; its error is returned after.
                    let (loss, failed) = match loss(&replica, p) {
                        Ok(l) => (l, None),
                        Err(reason) => (None, Some(reason)),
                    };
                    let (mut grads, value) = match loss {
                        Some(l) => {
                            let value: f32 = l.clone().into_scalar().elem();
                            (
                                GradientsParams::from_grads(l.backward(), &replica),
                                f64::from(value),
                            )
                        }
                        None => (GradientsParams::new(), 0.0),
                    };
                    let reduced = all_reduce_grads::<B, M>(p, &replica, &mut grads);
                    collective::finish_collective::<B::InnerBackend>(PeerId::from(p))
                        .map_err(collective_err)?;
                    if let Some(reason) = failed {
                        return Err(DataParallelError::Loss { peer: p, reason });
                    }
                    reduced.map(|()| (grads, value))
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
    let mut total = 0.0;
    for (p, r) in results.into_iter().enumerate() {
        let (g, value) = r?;
        total += value;
        if p == 0 {
            first = Some(g);
        }
    }
    first
        .map(|g| (g, total))
        .ok_or(DataParallelError::TooFewRows { rows: 0, peers })
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
        assert_eq!(row_ranges(2, 3).unwrap(), [0..1, 1..2, 2..2]);
        assert_eq!(row_ranges(7, 2).unwrap(), [0..4, 4..7]);
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
        let whole_value: f32 = whole.clone().into_scalar().elem();
        let single = GradientsParams::from_grads(whole.backward(), &model);
        let expected = named_gradients(&model, &single);

        let shards = shard_rows(&masked, bs, len, 2).unwrap();
        let total = masked.targets.len() as f32;
        let devices = vec![device; 2];
        let (summed, value) = data_parallel_grads::<Ad, _, _>(&model, &devices, |replica, p| {
            let (shard, rows) = &shards[p];
            let mean = mlm_loss(replica, shard, 0, 1, *rows, len, &Default::default());
            Ok(Some(mean.mul_scalar(shard.targets.len() as f32 / total)))
        })
        .unwrap();
        assert!(
            (value - f64::from(whole_value)).abs() < 1e-5,
            "{value} vs {whole_value}"
        );
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
