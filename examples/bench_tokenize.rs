//! Benchmark: Moses normalisation + tokenization, ours vs sacremoses, same corpus.
//!
//! For each language (en: KJV Bible, mk: Macedonian Bible; first `BENCH_LINES` lines,
//! default 30000) it measures
//! - ours in-process, 1 thread (`MosesPipeline::tokenize_line` in a loop) and all threads
//!   (`tokenize_stream` on a rayon pool, output to a sink);
//! - ours as the CLI (`$UNMT tokenize --lang L --threads T < file > /dev/null`), wall time and
//!   peak RSS via `/usr/bin/time -f "%e %M"` when that tool exists;
//! - sacremoses in one python process (timing only the normalise+tokenize loop; peak RSS
//!   from `resource.getrusage`).
//!
//! Env: `UNMT` (default `target/release/unmt`), `SHARED` (default `../shared` beside the repository),
//! `BENCH_LINES` (default 30000), `PYTHON` (default `python3`).
//! Run: `cargo build --release && cargo run --release --example bench_tokenize`.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use unmt::text::moses::{MosesPipeline, tokenize_stream};

const SACREMOSES_SCRIPT: &str = r#"
import resource, sys, time
from sacremoses import MosesPunctNormalizer, MosesTokenizer
lang, path = sys.argv[1], sys.argv[2]
with open(path, "rb") as f:
    lines = [l.decode("utf-8") for l in f.read().split(b"\n")[:-1]]
norm = MosesPunctNormalizer(lang, pre_replace_unicode_punct=True, post_remove_control_chars=True)
tok = MosesTokenizer(lang)
t0 = time.perf_counter()
out = [tok.tokenize(norm.normalize(l), escape=False, return_str=True) for l in lines]
dt = time.perf_counter() - t0
print(len(out), dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"#;

struct Row {
    lang: &'static str,
    what: String,
    threads: usize,
    lines_per_s: f64,
    peak_mib: Option<f64>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let unmt =
        PathBuf::from(std::env::var("UNMT").unwrap_or_else(|_| "target/release/unmt".into()));
    let shared = PathBuf::from(
        std::env::var("SHARED")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared").into()),
    );
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let n_lines: usize = std::env::var("BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    let all_threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let tmp = tempfile::tempdir()?;
    let mut rows = Vec::new();

    for (lang, rel) in [
        ("en", "data/mono/en.bible-kjv.txt"),
        ("mk", "data/mono/mk.bible-mkb.txt"),
    ] {
        let text = std::fs::read_to_string(shared.join(rel))?;
        let lines: Vec<&str> = text.lines().take(n_lines).collect();
        let corpus: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let corpus_path = tmp.path().join(format!("{lang}.txt"));
        std::fs::write(&corpus_path, &corpus)?;
        let n = lines.len() as f64;
        eprintln!("{lang}: {} lines, {} bytes", lines.len(), corpus.len());

        // Ours, in-process, one thread.
        let pipeline = MosesPipeline::new(lang)?;
        let t0 = Instant::now();
        let mut bytes = 0usize;
        for line in &lines {
            bytes += pipeline.tokenize_line(line).len();
        }
        let secs = t0.elapsed().as_secs_f64();
        std::hint::black_box(bytes);
        rows.push(Row {
            lang,
            what: "ours (in-process)".into(),
            threads: 1,
            lines_per_s: n / secs,
            peak_mib: None,
        });

        // Ours, in-process, all threads, streaming.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(all_threads)
            .build()?;
        let t0 = Instant::now();
        let stats = pool.install(|| {
            tokenize_stream(
                Cursor::new(corpus.as_bytes()),
                std::io::sink(),
                &pipeline,
                &|_, _| {},
            )
        })?;
        let secs = t0.elapsed().as_secs_f64();
        rows.push(Row {
            lang,
            what: "ours (in-process stream)".into(),
            threads: all_threads,
            lines_per_s: stats.lines as f64 / secs,
            peak_mib: None,
        });

        // Ours, the CLI, end to end (process start + I/O included).
        for threads in [1, all_threads] {
            if let Some((secs, peak_kib)) = time_cli(&unmt, lang, threads, &corpus_path)? {
                rows.push(Row {
                    lang,
                    what: "ours (unmt tokenize)".into(),
                    threads,
                    lines_per_s: n / secs,
                    peak_mib: peak_kib.map(|k| k / 1024.0),
                });
            }
        }

        // sacremoses.
        let out = Command::new(&python)
            .arg("-c")
            .arg(SACREMOSES_SCRIPT)
            .arg(lang)
            .arg(&corpus_path)
            .stderr(Stdio::inherit())
            .output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let fields: Vec<f64> = stdout
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if let [count, secs, maxrss_kib] = fields[..] {
            rows.push(Row {
                lang,
                what: "sacremoses (python)".into(),
                threads: 1,
                lines_per_s: count / secs,
                peak_mib: Some(maxrss_kib / 1024.0),
            });
        } else {
            eprintln!("sacremoses run failed: {stdout}");
        }
    }

    let own_peak = vm_hwm_kib().map(|k| k / 1024.0);
    println!();
    println!(
        "{:<5} {:<26} {:>7} {:>12} {:>14} {:>10}",
        "lang", "implementation", "threads", "lines/s", "x sacremoses", "peak MiB"
    );
    for row in &rows {
        let reference = rows
            .iter()
            .find(|r| r.lang == row.lang && r.what.starts_with("sacremoses"))
            .map(|r| r.lines_per_s);
        let ratio = reference.map_or("n/a".to_string(), |r| format!("{:.1}", row.lines_per_s / r));
        let peak = row.peak_mib.map_or("-".to_string(), |p| format!("{p:.1}"));
        println!(
            "{:<5} {:<26} {:>7} {:>12.0} {:>14} {:>10}",
            row.lang, row.what, row.threads, row.lines_per_s, ratio, peak
        );
    }
    println!(
        "\npeak RSS of this bench process (in-process rows, corpus held in memory): {}",
        own_peak.map_or("n/a".to_string(), |p| format!("{p:.1} MiB"))
    );
    println!("CLI rows include process start-up and I/O; sacremoses times only its loop.");
    Ok(())
}

/// Wall seconds and peak RSS (KiB, when `/usr/bin/time` can measure it) of one CLI run.
type CliTiming = (f64, Option<f64>);

/// Runs the CLI on `input`; `None` when the binary is missing.
fn time_cli(
    unmt: &Path,
    lang: &str,
    threads: usize,
    input: &Path,
) -> Result<Option<CliTiming>, Box<dyn std::error::Error>> {
    if !unmt.exists() {
        eprintln!(
            "skipping CLI rows: {} not found (cargo build --release)",
            unmt.display()
        );
        return Ok(None);
    }
    let gnu_time = Path::new("/usr/bin/time");
    let mut cmd = if gnu_time.exists() {
        let mut c = Command::new(gnu_time);
        c.arg("-f").arg("%e %M").arg(unmt);
        c
    } else {
        Command::new(unmt)
    };
    cmd.args([
        "tokenize",
        "--lang",
        lang,
        "--threads",
        &threads.to_string(),
    ])
    .stdin(std::fs::File::open(input)?)
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let t0 = Instant::now();
    let out = cmd.output()?;
    let wall = t0.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!("unmt failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let peak = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<f64>().ok())
        });
    Ok(Some((wall, peak)))
}

/// `VmHWM` (peak resident set) of this process, KiB.
fn vm_hwm_kib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
