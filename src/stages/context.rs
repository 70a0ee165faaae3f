//! What a running stage sees: its inputs, where to write, a log, metrics and progress.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::error::StageError;
use super::resources::Placement;
use crate::backend::DeviceSpec;

/// Sink for progress updates (done, total) of the running stage.
pub type ProgressSink<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// Sink for one-line status messages of the running stage.
pub type StatusSink<'a> = &'a (dyn Fn(&str) + Sync);

/// The context handed to [`super::Stage::run`].
pub struct StageCtx<'a> {
    node: &'a str,
    inputs: &'a BTreeMap<String, Vec<PathBuf>>,
    out_dir: &'a Path,
    checkpoint_dir: &'a Path,
    log: &'a mut (dyn Write + Send),
    metrics: BTreeMap<String, f64>,
    progress: ProgressSink<'a>,
    status: Option<StatusSink<'a>>,
    warn: Option<StatusSink<'a>>,
    last_progress_ms: AtomicU64,
    last_status_ms: AtomicU64,
    started: Instant,
    placement: Placement,
}

impl<'a> StageCtx<'a> {
    /// Builds a context. `out_dir` and `checkpoint_dir` must exist.
    pub fn new(
        node: &'a str,
        inputs: &'a BTreeMap<String, Vec<PathBuf>>,
        out_dir: &'a Path,
        checkpoint_dir: &'a Path,
        log: &'a mut (dyn Write + Send),
        progress: ProgressSink<'a>,
        placement: Placement,
    ) -> Self {
        Self {
            node,
            inputs,
            out_dir,
            checkpoint_dir,
            log,
            metrics: BTreeMap::new(),
            progress,
            status: None,
            warn: None,
            last_progress_ms: AtomicU64::new(0),
            last_status_ms: AtomicU64::new(0),
            started: Instant::now(),
            placement: Placement {
                threads: placement.threads.max(1),
                ..placement
            },
        }
    }

    /// Routes [`StageCtx::status`] lines to `sink` (the executor shows them beside the bar).
    pub fn with_status(mut self, sink: StatusSink<'a>) -> Self {
        self.status = Some(sink);
        self
    }

    /// Routes [`StageCtx::warn`] messages to `sink` (the executor reports them as warnings).
    pub fn with_warnings(mut self, sink: StatusSink<'a>) -> Self {
        self.warn = Some(sink);
        self
    }

    /// A warning about the result: it is valid but may be meaningless (e.g. every translation
    /// empty). Logged, and shown where the run is reported, never dropped.
    pub fn warn(&mut self, message: &str) {
        self.log(format!("warning: {message}"));
        if let Some(sink) = self.warn {
            sink(message);
        }
    }

    /// Shows a one-line status beside the node's progress bar (e.g. loss and tokens/s);
    /// calls closer than 250 ms apart are dropped.
    pub fn status(&self, message: &str) {
        let Some(sink) = self.status else { return };
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let prev = self.last_status_ms.load(Ordering::Relaxed);
        if (prev != 0 && now < prev + 250)
            || self
                .last_status_ms
                .compare_exchange(prev, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        sink(message);
    }

    /// The node's name (for messages).
    pub fn node(&self) -> &str {
        self.node
    }

    /// The single path bound to `slot`.
    pub fn input(&self, slot: &str) -> Result<&Path, StageError> {
        match self.inputs.get(slot).map(Vec::as_slice) {
            Some([one]) => Ok(one),
            other => Err(StageError::InputArity {
                node: self.node.to_owned(),
                slot: slot.to_owned(),
                found: other.map_or(0, <[PathBuf]>::len),
            }),
        }
    }

    /// All paths bound to `slot` (empty when the slot is absent).
    pub fn inputs(&self, slot: &str) -> &[PathBuf] {
        self.inputs.get(slot).map_or(&[], Vec::as_slice)
    }

    /// Where to write output `name`. The stage must create it.
    pub fn output(&self, name: &str) -> PathBuf {
        self.out_dir.join(name)
    }

    /// A directory that survives a crash of this attempt, for resumable checkpoints of the
    /// same node key. It is deleted once the node is published.
    pub fn checkpoint_dir(&self) -> &Path {
        self.checkpoint_dir
    }

    /// Threads the stage may use.
    pub fn threads(&self) -> usize {
        self.placement.threads
    }

    /// The device to run on for a recipe's `requested` device: a CUDA request gets the GPU
    /// the scheduler assigned to this node.
    pub fn device(&self, requested: DeviceSpec) -> DeviceSpec {
        self.placement.device(requested)
    }

    /// Appends a line to the node's log (kept with the result, and with failures).
    pub fn log(&mut self, line: impl AsRef<str>) {
        // A full disk while logging must not fail the stage; the result is what matters.
        let _ = writeln!(self.log, "{}", line.as_ref());
    }

    /// Records a metric in the node record (e.g. `bleu`, `lines_dropped`).
    pub fn metric(&mut self, name: &str, value: f64) {
        self.metrics.insert(name.to_owned(), value);
    }

    /// Reports progress; calls closer than 100 ms apart are dropped (except completion).
    pub fn progress(&self, done: u64, total: u64) {
        report(
            self.progress,
            &self.last_progress_ms,
            self.started,
            done,
            total,
        );
    }

    /// A `Sync` progress callback for library code running on several threads.
    pub fn progress_fn(&self) -> impl Fn(u64, u64) + Sync + '_ {
        let (sink, last, started) = (self.progress, &self.last_progress_ms, self.started);
        move |done, total| report(sink, last, started, done, total)
    }

    /// The metrics recorded so far.
    pub fn into_metrics(self) -> BTreeMap<String, f64> {
        self.metrics
    }
}

fn report(sink: ProgressSink<'_>, last: &AtomicU64, started: Instant, done: u64, total: u64) {
    let now = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let prev = last.load(Ordering::Relaxed);
    if (done < total && now < prev + 100)
        || last
            .compare_exchange(prev, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    sink(done, total);
}
