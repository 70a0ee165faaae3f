//! What the training stages (`mlm`, `unmt`) share: a worker pool of the node's thread share,
//! and training events routed to the node's progress bar, status line and log.

use super::StageCtx;
use super::error::StageError;
use crate::train::report::{Reporter, TrainSink};
use crate::train::scaffold::TrainEvent;

/// Runs a training job in a rayon pool of the node's threads (Burn's CPU backend
/// parallelises with rayon, so `unmt run -j N` does not oversubscribe the cores), with its
/// events shown on the node.
pub(super) fn train_in_pool<T, E>(
    ctx: &mut StageCtx<'_>,
    job: impl FnOnce(&mut dyn FnMut(TrainEvent)) -> Result<T, E> + Send,
) -> Result<T, StageError>
where
    T: Send,
    E: Send,
    StageError: From<E>,
{
    let threads = ctx.threads();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|source| StageError::ThreadPool { threads, source })?;
    let result = pool.install(|| {
        let mut reporter = Reporter::new(NodeSink(ctx));
        job(&mut |e| reporter.event(e))
    });
    Ok(result?)
}

/// Training events on the node's progress bar, status line and log.
struct NodeSink<'c, 'a>(&'c mut StageCtx<'a>);

impl TrainSink for NodeSink<'_, '_> {
    fn log(&mut self, line: &str) {
        self.0.log(line);
    }
    fn progress(&mut self, _epoch: usize, done: u64, total: u64, status: &str) {
        self.0.progress(done, total);
        self.0.status(status);
    }
    fn epoch_done(&mut self, _epoch: usize) {}
}
