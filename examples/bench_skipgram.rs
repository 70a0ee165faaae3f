//! Benchmark: `unmt skipgram` vs fastText skip-gram on the same corpus and hyperparameters.
//!
//! Runs both as subprocesses, one after the other, for thread = 1 and thread = 2, and prints
//! a table of words/sec/thread (each tool's own figure: tokens processed by training divided
//! by training time and threads), wall time and peak memory (VmHWM of the child, polled from
//! /proc). Never asserts on timings.
//!
//! Env:
//! - `UNMT`: our binary (default `target/release/unmt`);
//! - `FASTTEXT`: the fastText CLI (default `fasttext` on PATH; build it from the
//!   fasttext-wheel sdist with `g++ -pthread -std=c++11 -O3 -funroll-loops -DNDEBUG
//!   src/*.cc -o fasttext`). When it cannot be run, `python3` with fasttext-wheel is used
//!   and words/sec/thread is derived from the wall time;
//! - `BENCH_CORPUS`: corpus (default `$SHARED/data/mono/en.bible-kjv.txt`, SHARED defaults
//!   to `../shared` beside the repository);
//! - `BENCH_DIM`, `BENCH_EPOCH`, `BENCH_THREADS` (comma list): default 100, 5, "1,2".
//!
//! Run: `cargo build --release && cargo run --release --example bench_skipgram`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Run {
    wall: f64,
    peak_kb: u64,
    stderr: String,
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn run(cmd: &mut Command) -> Result<Run, String> {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let mut err_pipe = child.stderr.take().ok_or("no stderr pipe")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let pid = child.id();
    let mut peak = 0;
    let status = loop {
        if let Some(kb) = vm_hwm_kb(pid) {
            peak = peak.max(kb);
        }
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    };
    let wall = start.elapsed().as_secs_f64();
    let stderr = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("{cmd:?} failed: {status}\n{stderr}"));
    }
    Ok(Run {
        wall,
        peak_kb: peak,
        stderr,
    })
}

/// Last number after `key` in `text` (fastText rewrites its progress line with '\r').
fn last_number_after(text: &str, key: &str) -> Option<f64> {
    let pos = text.rfind(key)? + key.len();
    text[pos..].split_whitespace().next()?.parse().ok()
}

fn main() {
    let shared = std::env::var("SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared").into());
    let corpus = std::env::var("BENCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(&shared).join("data/mono/en.bible-kjv.txt"));
    let unmt = std::env::var("UNMT").unwrap_or_else(|_| "target/release/unmt".into());
    let fasttext = std::env::var("FASTTEXT").unwrap_or_else(|_| "fasttext".into());
    let dim = std::env::var("BENCH_DIM").unwrap_or_else(|_| "100".into());
    let epoch = std::env::var("BENCH_EPOCH").unwrap_or_else(|_| "5".into());
    let threads: Vec<String> = std::env::var("BENCH_THREADS")
        .unwrap_or_else(|_| "1,2".into())
        .split(',')
        .map(str::to_owned)
        .collect();
    let tmp = std::env::temp_dir().join(format!("bench_skipgram_{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&tmp) {
        eprintln!("cannot create {}: {e}", tmp.display());
        std::process::exit(2);
    }
    let have_cli = Command::new(&fasttext)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    println!(
        "corpus {}  dim {dim}  epoch {epoch}  (fastText via {})",
        corpus.display(),
        if have_cli {
            &fasttext
        } else {
            "python3 fasttext-wheel"
        }
    );
    println!(
        "{:>7} | {:>14} | {:>14} | {:>6} | {:>8} | {:>8} | {:>9} | {:>9}",
        "threads", "ours w/s/thr", "fastText w/s/t", "ratio", "ours s", "ft s", "ours MB", "ft MB"
    );
    for t in &threads {
        let ours = run(Command::new(&unmt)
            .args(["skipgram", "--input"])
            .arg(&corpus)
            .arg("--output")
            .arg(tmp.join("ours"))
            .args(["--dim", &dim, "--epoch", &epoch, "--thread", t]));
        let ours = match ours {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        };
        let ours_wst = last_number_after(&ours.stderr, "words/sec/thread:").unwrap_or(f64::NAN);
        let ntokens = last_number_after(&ours.stderr, "Number of tokens:").unwrap_or(f64::NAN);
        let ft = if have_cli {
            run(Command::new(&fasttext)
                .arg("skipgram")
                .arg("-input")
                .arg(&corpus)
                .arg("-output")
                .arg(tmp.join("ft"))
                .args(["-dim", &dim, "-epoch", &epoch, "-thread", t]))
        } else {
            let script = format!(
                "import fasttext; fasttext.train_unsupervised({:?}, model='skipgram', dim={dim}, epoch={epoch}, thread={t}, verbose=0)",
                corpus.display().to_string()
            );
            run(Command::new("python3").args(["-c", &script]))
        };
        let ft = match ft {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        };
        let threads_f: f64 = t.parse().unwrap_or(1.0);
        let epochs_f: f64 = epoch.parse().unwrap_or(5.0);
        let ft_wst = if have_cli {
            last_number_after(&ft.stderr, "words/sec/thread:").unwrap_or(f64::NAN)
        } else {
            epochs_f * ntokens / ft.wall / threads_f
        };
        println!(
            "{:>7} | {:>14.0} | {:>14.0} | {:>5.2}x | {:>8.1} | {:>8.1} | {:>9.0} | {:>9.0}",
            t,
            ours_wst,
            ft_wst,
            ours_wst / ft_wst,
            ours.wall,
            ft.wall,
            ours.peak_kb as f64 / 1024.0,
            ft.peak_kb as f64 / 1024.0
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
