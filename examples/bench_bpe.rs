//! Benchmark: `unmt bpe learn|apply` against fastBPE `learnbpe|applybpe` on the same corpus.
//!
//! Env: `UNMT` (default `target/release/unmt`), `FASTBPE` (path to the fastBPE CLI built from
//! glample/fastBPE `fastBPE/main.cc`, required), `SHARED` (default `../shared` beside the repository),
//! `BENCH_MERGES` (default 32000). Corpus: the English and Macedonian Bible monolingual files
//! of `$SHARED/data/mono` (joint BPE, fastBPE's two-file form). Peak memory is each child's
//! `VmHWM`, polled from `/proc/<pid>/status` every 2 ms until it exits.
//!
//! Run: `cargo build --release && FASTBPE=/tmp/fast cargo run --release --example bench_bpe`

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wall time (s) and peak resident memory (MiB) of one child process.
struct Run {
    secs: f64,
    peak_mib: f64,
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn run(cmd: &mut Command, stdout: Option<&Path>) -> Result<Run, String> {
    let out = match stdout {
        Some(p) => Stdio::from(std::fs::File::create(p).map_err(|e| e.to_string())?),
        None => Stdio::null(),
    };
    let start = Instant::now();
    let mut child = cmd
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawn {cmd:?}: {e}"))?;
    let pid = child.id();
    let mut peak = 0u64;
    loop {
        if let Some(k) = vm_hwm_kib(pid) {
            peak = peak.max(k);
        }
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) if status.success() => break,
            Some(status) => return Err(format!("{cmd:?} exited with {status}")),
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    Ok(Run {
        secs: start.elapsed().as_secs_f64(),
        peak_mib: peak as f64 / 1024.0,
    })
}

fn row(task: &str, reference: &Run, ours: &Run, unit: &str, work: f64) {
    let thr = |r: &Run| {
        if work > 0.0 {
            format!("{:>8.1} {unit}", work / r.secs)
        } else {
            String::new()
        }
    };
    println!(
        "| {task:<22} | {:>9.2} | {:>9.2} | {:>7.2}x | {:>8.0} | {:>8.0} | {} | {} |",
        reference.secs,
        ours.secs,
        reference.secs / ours.secs,
        reference.peak_mib,
        ours.peak_mib,
        thr(reference),
        thr(ours),
    );
}

fn main() -> Result<(), String> {
    let unmt = std::env::var("UNMT").unwrap_or_else(|_| "target/release/unmt".into());
    let fast = std::env::var("FASTBPE")
        .map_err(|_| "set FASTBPE to the fastBPE CLI (g++ -O3 -std=c++11 -pthread fastBPE/main.cc -IfastBPE -o fast)".to_string())?;
    let shared = PathBuf::from(
        std::env::var("SHARED")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared").into()),
    );
    let merges: usize = std::env::var("BENCH_MERGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32000);
    let en = shared.join("data/mono/en.bible-kjv.txt");
    let mk = shared.join("data/mono/mk.bible-mkb.txt");
    let size = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.len())
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    let mb = (size(&en)? + size(&mk)?) as f64 / 1e6;
    let tmp = std::env::temp_dir().join(format!("bench_bpe_{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;

    let f_codes = tmp.join("codes.fastbpe");
    let u_codes = tmp.join("codes.unmt");
    let learn_f = run(
        Command::new(&fast)
            .arg("learnbpe")
            .arg(merges.to_string())
            .arg(&en)
            .arg(&mk),
        Some(&f_codes),
    )?;
    let learn_u = run(
        Command::new(&unmt)
            .args(["bpe", "learn", "--merges", &merges.to_string()])
            .arg(&en)
            .arg(&mk)
            .arg("-o")
            .arg(&u_codes),
        None,
    )?;

    // Apply the same (fastBPE-learned) codes to both corpora, concatenated into one file.
    let corpus = tmp.join("corpus.txt");
    let mut all = std::fs::read(&en).map_err(|e| e.to_string())?;
    all.extend(std::fs::read(&mk).map_err(|e| e.to_string())?);
    std::fs::write(&corpus, &all).map_err(|e| e.to_string())?;
    let (f_out, u_out) = (tmp.join("out.fastbpe"), tmp.join("out.unmt"));
    let apply_f = run(
        Command::new(&fast)
            .arg("applybpe")
            .arg(&f_out)
            .arg(&corpus)
            .arg(&f_codes),
        None,
    )?;
    let apply_u = run(
        Command::new(&unmt)
            .args(["bpe", "apply", "--codes"])
            .arg(&f_codes)
            .arg("-i")
            .arg(&corpus)
            .arg("-o")
            .arg(&u_out),
        None,
    )?;
    let same = std::fs::read(&f_out).map_err(|e| e.to_string())?
        == std::fs::read(&u_out).map_err(|e| e.to_string())?;
    let n_codes = |p: &Path| {
        std::fs::read_to_string(p)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };

    println!(
        "corpus: {} + {} ({mb:.1} MB), {merges} merges, {} threads available",
        en.display(),
        mk.display(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "| {:<22} | {:>9} | {:>9} | {:>8} | {:>8} | {:>8} | fastBPE thr | unmt thr |",
        "task", "fastBPE s", "unmt s", "speedup", "fB MiB", "unmt MiB"
    );
    println!("|{}|", ["---"; 8].join("|"));
    row(
        &format!("learn {merges}"),
        &learn_f,
        &learn_u,
        "merges/s",
        merges as f64,
    );
    row("apply (same codes)", &apply_f, &apply_u, "MB/s", mb);
    println!(
        "codes lines: fastBPE {}, unmt {}; apply outputs byte-identical: {same}",
        n_codes(&f_codes),
        n_codes(&u_codes)
    );
    std::fs::remove_dir_all(&tmp).map_err(|e| e.to_string())?;
    Ok(())
}
