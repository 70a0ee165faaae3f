//! Benchmark: what a node costs under each runner of `unmt run --executor` (threads,
//! subprocess, Slurm), on nodes that do almost nothing, so the figure is the runner's
//! overhead: job file, process start, `sbatch` and the queue, reading the report back,
//! publishing. Each runner gets a fresh cache and the same recipe of `BENCH_NODES`
//! independent `command` nodes (`echo`), run one at a time (`-j 1`) and then `BENCH_JOBS` at
//! a time. Printed: wall seconds, seconds per node, and the overhead per node beyond threads.
//! The Slurm rows need a cluster answering `sinfo` (`.ci/slurm-up`); without one they say so.
//! Never asserts on timings.
//!
//! Env: `UNMT` (default `target/release/unmt`), `BENCH_NODES` (20), `BENCH_JOBS` (2).
//!
//! Run: `cargo build --release && cargo run --release --example bench_executors`.

use std::process::Command;
use std::time::Instant;

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_owned())
}

fn recipe(nodes: usize) -> String {
    (0..nodes)
        .map(|i| {
            format!(
                "[nodes.n{i:03}]\nstage = \"command\"\nparams = {{ run = [\"echo\", \"{i}\"], stdout = \"out\" }}\n\n"
            )
        })
        .collect()
}

/// Wall seconds of one `unmt run` on a fresh cache, or why it failed.
fn time_run(unmt: &str, executor: &str, jobs: usize, nodes: usize) -> Result<f64, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let r = dir.path().join("r.toml");
    std::fs::write(&r, recipe(nodes)).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let out = Command::new(unmt)
        .args([
            "run",
            &r.to_string_lossy(),
            "--json",
            "--executor",
            executor,
        ])
        .args(["-j", &jobs.to_string()])
        .env("UNMT_CACHE", dir.path().join("cache"))
        .output()
        .map_err(|e| format!("failed to start `{unmt}`: {e}"))?;
    let wall = t0.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_owned();
    let v: serde_json::Value = serde_json::from_str(&last).map_err(|e| e.to_string())?;
    let executed = v["summary"]["executed"].as_array().map_or(0, Vec::len);
    if executed != nodes {
        return Err(format!("{executed} of {nodes} nodes executed"));
    }
    Ok(wall)
}

fn slurm_up() -> bool {
    Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
}

fn main() {
    let unmt = env_or("UNMT", "target/release/unmt");
    let nodes: usize = env_or("BENCH_NODES", "20").parse().unwrap_or(20);
    let jobs: usize = env_or("BENCH_JOBS", "2").parse().unwrap_or(2);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("{nodes} `command` nodes (echo) per run, fresh cache, {cores} cores, binary {unmt}");
    println!(
        "{:<11} | {:>4} | {:>7} | {:>10} | {:>22}",
        "executor", "-j", "wall s", "s / node", "overhead / node vs threads"
    );
    for j in [1, jobs] {
        let mut base = None;
        for executor in ["threads", "subprocess", "slurm"] {
            if executor == "slurm" && !slurm_up() {
                println!(
                    "{executor:<11} | {j:>4} | no Slurm cluster answers `sinfo` (.ci/slurm-up)"
                );
                continue;
            }
            match time_run(&unmt, executor, j, nodes) {
                Ok(wall) => {
                    let per = wall / nodes as f64;
                    let over = base.map_or("-".to_owned(), |b: f64| {
                        format!("{:+.1} ms", (per - b) * 1e3)
                    });
                    if executor == "threads" {
                        base = Some(per);
                    }
                    println!(
                        "{executor:<11} | {j:>4} | {wall:>7.2} | {:>7.1} ms | {over:>22}",
                        per * 1e3
                    );
                }
                Err(e) => println!("{executor:<11} | {j:>4} | failed: {}", e.trim()),
            }
        }
    }
}
