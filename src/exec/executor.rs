//! Runs a graph: topological order, independent nodes in parallel, results published
//! atomically, events out.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::time::{Instant, SystemTime};

use super::events::{Event, RunSummary};
use crate::cache::{Attempt, Cache, CacheError, CacheStatus, Draft, NodeRecord};
use crate::graph::Graph;
use crate::plan::{InputState, Inputs, Known, resolve_inputs};
use crate::stages::StageCtx;

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
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            jobs: 1,
            gpus: 0,
            keep_going: false,
            force: std::collections::BTreeSet::new(),
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
    emit(Event::Begin { total: n });
    let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
    let result = std::thread::scope(|scope| -> Result<(), CacheError> {
        let mut running = 0usize;
        let mut gpu_running = 0usize;
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
                let needs_gpu = graph.nodes[i].stage.needs_gpu(&graph.nodes[i].params);
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
                if stop || running >= opts.jobs.max(1) || (needs_gpu && gpu_running >= opts.gpus) {
                    continue;
                }
                running += 1;
                gpu_running += usize::from(needs_gpu);
                state[i] = State::Running;
                let tx = tx.clone();
                scope.spawn(move || {
                    let outcome = run_node(graph, cache, i, inputs, threads, forced, emit);
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
                gpu_running -= usize::from(graph.nodes[i].stage.needs_gpu(&graph.nodes[i].params));
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

fn run_node(
    graph: &Graph,
    cache: &Cache,
    i: usize,
    inputs: Inputs,
    threads: usize,
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
    match run_stage(node, &attempt, &inputs, threads, emit) {
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

fn run_stage(
    node: &crate::graph::GraphNode,
    attempt: &Attempt,
    inputs: &Inputs,
    threads: usize,
    emit: &(dyn Fn(Event) + Sync),
) -> Result<BTreeMap<String, f64>, String> {
    let log_path = attempt.log_path();
    let mut log = std::fs::File::create(&log_path)
        .map_err(|e| format!("failed to create `{}`: {e}", log_path.display()))?;
    let out_dir = attempt.out_dir();
    let checkpoints = attempt.checkpoint_dir();
    let progress = |done: u64, total: u64| {
        emit(Event::Progress {
            node: node.name.clone(),
            done,
            total,
        });
    };
    let status = |message: &str| {
        emit(Event::Status {
            node: node.name.clone(),
            message: message.to_owned(),
        });
    };
    let warn = |message: &str| {
        emit(Event::Warning {
            node: node.name.clone(),
            message: message.to_owned(),
        });
    };
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut ctx = StageCtx::new(
            &node.name,
            &inputs.paths,
            &out_dir,
            &checkpoints,
            &mut log,
            &progress,
            threads,
        )
        .with_status(&status)
        .with_warnings(&warn);
        node.stage
            .run(&node.params, &mut ctx)
            .map(|()| ctx.into_metrics())
    }));
    match result {
        Ok(Ok(metrics)) => Ok(metrics),
        Ok(Err(e)) => {
            let msg = crate::stages::error_chain(&e);
            use std::io::Write;
            let _ = writeln!(log, "error: {msg}");
            Err(msg)
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(format!("stage `{}` panicked: {what}", node.stage.kind()))
        }
    }
}
