//! Benchmark: `unmt vecmap` vs VecMap's map_embeddings.py on the same vectors and cores.
//!
//! The reference is the NumPy port of map_embeddings.py in `tests/parity/vecmap_parity.py`
//! (`--bench`: VecMap's operations in VecMap's order on NumPy/OpenBLAS, float32, the port's
//! own diagnostics switched off; VecMap is GPL-3 and not installable here, and the port's
//! results match ours in `tests/parity/vecmap_parity.py`). Both run as subprocesses, one
//! after the other, for each mode (`--identical`, `--unsupervised`) and thread count, with
//! VecMap's defaults (CSLS 10, stochastic_initial 0.1, union), the same vocabulary cutoff and
//! the same cap on self-learning iterations. Printed per run: seconds per self-learning
//! iteration (each tool's own clock around its loop, divided by its iterations), the ratio
//! reference / ours, seconds for normalisation + seed, total wall time (file reading
//! included: the port parses text in Python), and peak memory (VmHWM of the child, polled
//! from /proc). Never asserts on timings.
//!
//! Env:
//! - `UNMT`: our binary (default `target/release/unmt`);
//! - `BENCH_SRC`, `BENCH_TRG`: `.vec` files (fastText text format). Unset: synthetic vectors,
//!   12,000 words x 300 dims per side (clusters; the target a signed permutation of the
//!   source plus noise; 300 shared strings so `--identical` has a seed), written to a temp dir;
//! - `BENCH_CUTOFF` (default 5000), `BENCH_ITERATIONS` (20), `BENCH_THREADS` (comma list,
//!   "1,2"), `BENCH_MODES` ("identical,unsupervised").
//!
//! Run: `cargo build --release && cargo run --release --example bench_vecmap`.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Run {
    peak_kb: u64,
    wall: f64,
    stdout: String,
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn run(cmd: &mut Command) -> Result<Run, String> {
    let start = std::time::Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let mut out_pipe = child.stdout.take().ok_or("no stdout pipe")?;
    let mut err_pipe = child.stderr.take().ok_or("no stderr pipe")?;
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
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
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("{cmd:?} failed: {status}\n{stderr}"));
    }
    Ok(Run {
        peak_kb: peak,
        wall,
        stdout,
    })
}

/// Iterations, seconds in the loop and seconds for the seed, from either tool's JSON.
fn figures(json: &serde_json::Value) -> Option<(f64, f64, f64)> {
    let it = json.get("iterations")?.as_f64()?;
    let secs = json.get("seconds")?;
    Some((
        it,
        secs.get("iterations")?.as_f64()?,
        secs.get("seed")?.as_f64()?,
    ))
}

fn gaussian(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// Writes the synthetic pair described in the module docs; returns the two paths.
fn synthetic(dir: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
    const WORDS: usize = 12_000;
    const DIM: usize = 300;
    const CLUSTERS: usize = 50;
    const SHARED: usize = 300;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let centers: Vec<f32> = (0..CLUSTERS * DIM).map(|_| gaussian(&mut rng)).collect();
    let mut perm: Vec<usize> = (0..DIM).collect();
    for i in (1..DIM).rev() {
        perm.swap(i, rng.random_range(0..=i));
    }
    let signs: Vec<f32> = (0..DIM)
        .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
        .collect();
    let paths = (dir.join("src.vec"), dir.join("trg.vec"));
    let mut src = BufWriter::new(std::fs::File::create(&paths.0)?);
    let mut trg = BufWriter::new(std::fs::File::create(&paths.1)?);
    writeln!(src, "{WORDS} {DIM}")?;
    writeln!(trg, "{WORDS} {DIM}")?;
    for i in 0..WORDS {
        let c = rng.random_range(0..CLUSTERS);
        let x: Vec<f32> = (0..DIM)
            .map(|d| centers[c * DIM + d] + 0.8 * gaussian(&mut rng))
            .collect();
        let shared = i % (WORDS / SHARED) == 0;
        let (sw, tw) = if shared {
            (format!("n{i}"), format!("n{i}"))
        } else {
            (format!("s{i}"), format!("t{i}"))
        };
        write!(src, "{sw}")?;
        write!(trg, "{tw}")?;
        for d in 0..DIM {
            write!(src, " {:.5}", x[d])?;
            let z = signs[d] * x[perm[d]] + 0.3 * gaussian(&mut rng);
            write!(trg, " {z:.5}")?;
        }
        writeln!(src)?;
        writeln!(trg)?;
    }
    src.flush()?;
    trg.flush()?;
    Ok(paths)
}

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.into())
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("{msg}");
    std::process::exit(2);
}

fn main() {
    let unmt = env_or("UNMT", "target/release/unmt");
    let cutoff = env_or("BENCH_CUTOFF", "5000");
    let iterations = env_or("BENCH_ITERATIONS", "20");
    let threads: Vec<String> = env_or("BENCH_THREADS", "1,2")
        .split(',')
        .map(str::to_owned)
        .collect();
    let modes: Vec<String> = env_or("BENCH_MODES", "identical,unsupervised")
        .split(',')
        .map(str::to_owned)
        .collect();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/parity/vecmap_parity.py");
    let tmp = std::env::temp_dir().join(format!("bench_vecmap_{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&tmp) {
        fail(format!("cannot create {}: {e}", tmp.display()));
    }
    let (src, trg) = match (std::env::var("BENCH_SRC"), std::env::var("BENCH_TRG")) {
        (Ok(s), Ok(t)) => (PathBuf::from(s), PathBuf::from(t)),
        _ => synthetic(&tmp).unwrap_or_else(|e| fail(format!("cannot write vectors: {e}"))),
    };
    println!(
        "src {}  trg {}  cutoff {cutoff}  at most {iterations} self-learning iterations",
        src.display(),
        trg.display()
    );
    println!(
        "reference: map_embeddings.py's operations in NumPy (tests/parity/vecmap_parity.py --bench)"
    );
    println!(
        "{:<12} | {:>3} | {:>5} | {:>9} | {:>9} | {:>6} | {:>7} | {:>7} | {:>8} | {:>8} | {:>7} | {:>7}",
        "mode",
        "thr",
        "iters",
        "ours s/it",
        "ref s/it",
        "ratio",
        "ours sd",
        "ref sd",
        "ours s",
        "ref s",
        "ours MB",
        "ref MB"
    );
    for mode in &modes {
        for t in &threads {
            let summary = tmp.join("summary.json");
            let ours = run(Command::new(&unmt)
                .env("RAYON_NUM_THREADS", t)
                .arg("vecmap")
                .arg(format!("--{mode}"))
                .arg(&src)
                .arg(&trg)
                .arg(tmp.join("out.src.vec"))
                .arg(tmp.join("out.trg.vec"))
                .args(["--vocabulary-cutoff", &cutoff])
                .args(["--max-iterations", &iterations])
                .arg("--summary-json")
                .arg(&summary))
            .unwrap_or_else(|e| fail(e));
            let ours_json: serde_json::Value = std::fs::read_to_string(&summary)
                .ok()
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or_else(|| fail("unmt vecmap wrote no readable --summary-json"));
            let reference = run(Command::new("python3")
                .env("OPENBLAS_NUM_THREADS", t)
                .env("OMP_NUM_THREADS", t)
                .env("MKL_NUM_THREADS", t)
                .arg(script)
                .arg("--bench")
                .arg(&src)
                .arg(&trg)
                .args([mode, &cutoff, &iterations]))
            .unwrap_or_else(|e| fail(e));
            let ref_json: serde_json::Value = reference
                .stdout
                .lines()
                .last()
                .and_then(|l| serde_json::from_str(l).ok())
                .unwrap_or_else(|| {
                    fail(format!("reference printed no JSON: {}", reference.stdout))
                });
            let (Some((oi, ol, os)), Some((ri, rl, rs))) =
                (figures(&ours_json), figures(&ref_json))
            else {
                fail("a summary lacks iterations or seconds")
            };
            if oi != ri {
                eprintln!("note: {mode}/{t}: ours ran {oi} iterations, the reference {ri}");
            }
            let (o_it, r_it) = (ol / oi.max(1.0), rl / ri.max(1.0));
            println!(
                "{:<12} | {:>3} | {:>5} | {:>9.3} | {:>9.3} | {:>5.2}x | {:>7.2} | {:>7.2} | {:>8.1} | {:>8.1} | {:>7.0} | {:>7.0}",
                mode,
                t,
                oi,
                o_it,
                r_it,
                r_it / o_it,
                os,
                rs,
                ours.wall,
                reference.wall,
                ours.peak_kb as f64 / 1024.0,
                reference.peak_kb as f64 / 1024.0
            );
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
