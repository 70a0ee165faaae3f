//! The scheduler: runs a graph in topological order, independent nodes in parallel within
//! the slots (`--jobs`, `--gpus`), each on the GPU and threads it assigns; results published
//! atomically, events out. Where a node's stage runs is the [`Runner`]'s business.

use std::sync::mpsc;
use std::time::{Instant, SystemTime};

use super::events::{Event, RunSummary};
use super::job::{JOB_FORMAT, JobMessage, NodeJob};
use super::runner::{Executor, Runner};
use crate::cache::{Cache, CacheError, CacheStatus, Draft, NodeRecord};
use crate::graph::Graph;
use crate::plan::{InputState, Inputs, Known, resolve_inputs};
use crate::stages::Placement;

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Nodes executing at once.
    pub jobs: usize,
    /// GPU slots: nodes whose stage needs a GPU executing at once.
    pub gpus: usize,
    /// Go on with independent nodes after a failure.
    pub keep_going: bool,
    /// Nodes to run again even when their key is cached (`--force`); their result replaces
    /// the cached one, and their consumers rerun only if an output changed.
    pub force: std::collections::BTreeSet<String>,
    /// Where nodes run.
    pub executor: Executor,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            jobs: 1,
            gpus: 0,
            keep_going: false,
            force: std::collections::BTreeSet::new(),
            executor: Executor::default(),
        }
    }
}

enum State {
    Waiting,
    Running,
    Done,
    Failed,
    Blocked,
}

enum Outcome {
    Executed(NodeRecord),
    Reused(NodeRecord),
    Failed,
}

/// Executes `graph` against `cache`, sending every [`Event`] to `emit`.
pub fn execute(
    graph: &Graph,
    cache: &Cache,
    opts: &RunOptions,
    emit: &(dyn Fn(Event) + Sync),
) -> Result<RunSummary, CacheError> {
    let n = graph.nodes.len();
    let mut known: Vec<Known> = vec![Known::Pending; n];
    let mut state: Vec<State> = (0..n).map(|_| State::Waiting).collect();
    let mut summary = RunSummary::default();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = (cores / opts.jobs.max(1)).max(1);
    let runner = opts.executor.runner();
    let runner: &dyn Runner = runner.as_ref();
    emit(Event::Begin { total: n });
    let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
    let result = std::thread::scope(|scope| -> Result<(), CacheError> {
        let mut running = 0usize;
        let mut gpus = GpuSlots::new(opts.gpus);
        let mut stop = false;
        loop {
            let mut progressed = false;
            for i in 0..n {
                if !matches!(state[i], State::Waiting) {
                    continue;
                }
                let parents_done = graph
                    .parents(i)
                    .iter()
                    .all(|&p| !matches!(state[p], State::Waiting | State::Running));
                if !parents_done {
                    continue;
                }
                let inputs = match resolve_inputs(graph, i, cache, &known)? {
                    InputState::Ready(inputs) => inputs,
                    InputState::Unavailable(up) => {
                        state[i] = State::Blocked;
                        known[i] = Known::Unavailable;
                        summary.blocked.push(graph.nodes[i].name.clone());
                        emit(Event::Blocked {
                            node: graph.nodes[i].name.clone(),
                            reason: format!("upstream node `{up}` did not complete"),
                        });
                        progressed = true;
                        continue;
                    }
                    InputState::Waiting(_) => continue,
                };
                let key = inputs.material.key();
                let forced = opts.force.contains(&graph.nodes[i].name);
                if !forced && let Some(rec) = cache.lookup(&key)? {
                    finish(
                        graph,
                        cache,
                        i,
                        Outcome::Reused(rec),
                        &mut state,
                        &mut known,
                        &mut summary,
                        emit,
                    )?;
                    progressed = true;
                    continue;
                }
                let resources = graph.nodes[i].stage.resources(&graph.nodes[i].params);
                let needs_gpu = resources.gpus > 0;
                if needs_gpu && opts.gpus == 0 {
                    state[i] = State::Blocked;
                    known[i] = Known::Unavailable;
                    summary.blocked.push(graph.nodes[i].name.clone());
                    emit(Event::Blocked {
                        node: graph.nodes[i].name.clone(),
                        reason: "needs a GPU slot and none is available (pass `--gpus N`)"
                            .to_owned(),
                    });
                    progressed = true;
                    continue;
                }
                if stop || running >= opts.jobs.max(1) || (needs_gpu && !gpus.any_free()) {
                    continue;
                }
                let gpu = if needs_gpu { gpus.take(i) } else { None };
                let placement = runner.placement(Placement {
                    threads: resources.cpus.unwrap_or(threads),
                    gpu,
                });
                running += 1;
                state[i] = State::Running;
                let tx = tx.clone();
                scope.spawn(move || {
                    let outcome =
                        run_node(graph, cache, runner, i, inputs, placement, forced, emit);
                    let _ = tx.send((i, outcome));
                });
                progressed = true;
            }
            if running == 0 && !progressed {
                break;
            }
            if running > 0 && !progressed {
                let Ok((i, outcome)) = rx.recv() else { break };
                running -= 1;
                gpus.release(i);
                if matches!(outcome, Outcome::Failed) && !opts.keep_going {
                    stop = true;
                }
                finish(
                    graph,
                    cache,
                    i,
                    outcome,
                    &mut state,
                    &mut known,
                    &mut summary,
                    emit,
                )?;
            }
        }
        Ok(())
    });
    result?;
    for (i, s) in state.iter().enumerate() {
        if matches!(s, State::Waiting) {
            summary.blocked.push(graph.nodes[i].name.clone());
            emit(Event::Blocked {
                node: graph.nodes[i].name.clone(),
                reason: "not started after a failure (use --keep-going to run independent nodes)"
                    .to_owned(),
            });
        }
    }
    let _ = cache.hasher().save();
    Ok(summary)
}

/// Which node holds each GPU index: a GPU node gets the lowest free index, which its stage
/// sees as its device (`cuda:N`), so two GPU nodes never share a GPU.
#[derive(Debug)]
struct GpuSlots {
    holder: Vec<Option<usize>>,
}

impl GpuSlots {
    fn new(gpus: usize) -> Self {
        Self {
            holder: vec![None; gpus],
        }
    }

    fn any_free(&self) -> bool {
        self.holder.iter().any(Option::is_none)
    }

    /// The lowest free index, now held by `node`.
    fn take(&mut self, node: usize) -> Option<usize> {
        let g = self.holder.iter().position(Option::is_none)?;
        self.holder[g] = Some(node);
        Some(g)
    }

    /// Frees what `node` held (nothing if it held no GPU).
    fn release(&mut self, node: usize) {
        for h in &mut self.holder {
            if *h == Some(node) {
                *h = None;
            }
        }
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site, the scheduler loop; a struct would only rename them"
)]
fn finish(
    graph: &Graph,
    cache: &Cache,
    i: usize,
    outcome: Outcome,
    state: &mut [State],
    known: &mut [Known],
    summary: &mut RunSummary,
    emit: &(dyn Fn(Event) + Sync),
) -> Result<(), CacheError> {
    let name = graph.nodes[i].name.clone();
    match outcome {
        Outcome::Executed(rec) => {
            cache.set_ref(&graph.scope, &name, &rec.key)?;
            if !rec.metrics.is_empty() {
                summary.metrics.insert(name.clone(), rec.metrics.clone());
            }
            summary.executed.push(name);
            state[i] = State::Done;
            known[i] = Known::Done(Box::new(rec));
        }
        Outcome::Reused(rec) => {
            cache.set_ref(&graph.scope, &name, &rec.key)?;
            emit(Event::Reused {
                node: name.clone(),
                key: rec.key.0.clone(),
            });
            if !rec.metrics.is_empty() {
                summary.metrics.insert(name.clone(), rec.metrics.clone());
            }
            summary.reused.push(name);
            state[i] = State::Done;
            known[i] = Known::Done(Box::new(rec));
        }
        Outcome::Failed => {
            summary.failed.push(name);
            state[i] = State::Failed;
            known[i] = Known::Unavailable;
        }
    }
    Ok(())
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site, the scheduler loop's spawn; a struct would only rename them"
)]
fn run_node(
    graph: &Graph,
    cache: &Cache,
    runner: &dyn Runner,
    i: usize,
    inputs: Inputs,
    placement: Placement,
    forced: bool,
    emit: &(dyn Fn(Event) + Sync),
) -> Outcome {
    let node = &graph.nodes[i];
    let key = inputs.material.key();
    let fail = |error: String, log: Option<std::path::PathBuf>| {
        emit(Event::Failed {
            node: node.name.clone(),
            error,
            log,
        });
        Outcome::Failed
    };
    let status = cache.begin(&key, forced, || {
        emit(Event::Waiting {
            node: node.name.clone(),
            key: key.0.clone(),
        });
    });
    let attempt = match status {
        Ok(CacheStatus::Hit(rec)) => return Outcome::Reused(rec),
        Ok(CacheStatus::Miss(attempt)) => attempt,
        Err(e) => return fail(e.to_string(), None),
    };
    emit(Event::Started {
        node: node.name.clone(),
        stage: node.stage.kind().to_owned(),
        key: key.0.clone(),
    });
    let started_unix = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let t0 = Instant::now();
    let job = NodeJob {
        format: JOB_FORMAT,
        node: node.name.clone(),
        key: key.0.clone(),
        stage: node.stage.kind().to_owned(),
        code_version: node.stage.code_version(),
        params: node.params.full.clone(),
        inputs: inputs.paths.clone(),
        out_dir: attempt.out_dir(),
        checkpoint_dir: attempt.checkpoint_dir(),
        log: attempt.log_path(),
        resources: node.stage.resources(&node.params),
        placement,
    };
    let sink = |m: JobMessage| emit(job_event(&node.name, m));
    let job_file = attempt.job_path();
    let result = write_job(&job, &job_file).and_then(|()| runner.run(node, &job, &job_file, &sink));
    match result {
        Ok(metrics) => {
            let seconds = t0.elapsed().as_secs_f64();
            let draft = Draft {
                node: node.name.clone(),
                material: inputs.material,
                params: node.params.full.clone(),
                origins: inputs.origins,
                outputs: node.signature.outputs.clone(),
                metrics: metrics.clone(),
                started_unix,
                seconds,
            };
            match attempt.publish(draft) {
                Ok(rec) => {
                    emit(Event::Finished {
                        node: node.name.clone(),
                        key: key.0.clone(),
                        seconds,
                        metrics,
                    });
                    Outcome::Executed(rec)
                }
                Err(e) => {
                    let msg = e.to_string();
                    // publish consumed the attempt; the lock is released, nothing is visible.
                    fail(msg, None)
                }
            }
        }
        Err(msg) => {
            let dir = attempt.fail(&msg);
            fail(msg, Some(dir.join("log.txt")))
        }
    }
}

/// Writes the job file a runner in another process reads (kept for in-process runs too:
/// `unmt exec-node` on it reruns the node by hand while the attempt exists).
fn write_job(job: &NodeJob, path: &std::path::Path) -> Result<(), String> {
    let body = serde_json::to_vec_pretty(job)
        .map_err(|e| format!("failed to encode `{}`: {e}", path.display()))?;
    crate::io::write_atomic(path, &body)
        .map_err(|e| format!("failed to write `{}`: {e}", path.display()))
}

/// A runner's message as the run's event.
fn job_event(node: &str, message: JobMessage) -> Event {
    let node = node.to_owned();
    match message {
        JobMessage::Progress { done, total } => Event::Progress { node, done, total },
        JobMessage::Status { message } => Event::Status { node, message },
        JobMessage::Warning { message } => Event::Warning { node, message },
        // Outcomes are the runner's return value; a stray one is shown, not lost.
        JobMessage::Finished { .. } => Event::Status {
            node,
            message: "finished".to_owned(),
        },
        JobMessage::Failed { error } => Event::Warning {
            node,
            message: error,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_nodes_get_distinct_devices_and_freed_ones_are_reused() {
        let mut slots = GpuSlots::new(2);
        assert_eq!(slots.take(7), Some(0));
        assert_eq!(slots.take(3), Some(1));
        assert!(!slots.any_free());
        assert_eq!(slots.take(4), None);
        slots.release(7);
        slots.release(5); // held nothing
        assert_eq!(slots.take(4), Some(0));
        assert_eq!(GpuSlots::new(0).take(1), None);
    }
}
