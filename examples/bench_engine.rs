//! Engine benchmark: a 50-node recipe over ~1 GB of input files.
//!
//! Measures (1) first-hash throughput of the inputs with a cold stat memo (target >= 1 GB/s
//! on 2 cores) and (2) the wall time of a no-op rerun once hashes are memoized (target
//! < 100 ms), both in-process and as a whole `unmt run` process.
//!
//! ```sh
//! cargo run --release --example bench_engine            # data in target/bench-engine
//! BENCH_GB=0.25 cargo run --release --example bench_engine
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use unmt::cache::{Cache, file_hash};
use unmt::exec::{RunOptions, execute};
use unmt::graph::{PlanChoice, build};

const FILES: usize = 10;

fn main() {
    let gb: f64 = std::env::var("BENCH_GB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let dir = PathBuf::from("target/bench-engine");
    std::fs::create_dir_all(&dir).expect("create bench dir");
    let per_file = (gb * 1e9 / FILES as f64) as u64;
    let files = make_inputs(&dir, per_file);
    let recipe = dir.join("bench.toml");
    std::fs::write(&recipe, recipe_text(&files)).expect("write recipe");
    let cache_dir = dir.join("cache");
    let _ = std::fs::remove_dir_all(&cache_dir);

    // (1) First hash, cold memo: what the first `unmt run` pays once.
    drop_page_cache_hint(&files);
    let t = Instant::now();
    let mut total = 0u64;
    for f in &files {
        total += std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        file_hash::hash_file(f).expect("hash");
    }
    let hash_s = t.elapsed().as_secs_f64();

    // First full run (not measured): executes the 50 nodes and fills the memo.
    let recipe_v = unmt::recipe::load(&recipe).expect("valid recipe");
    let graph = build(&recipe_v, &PlanChoice::Default).expect("graph");
    let cache = Cache::open(&cache_dir).expect("cache");
    let opts = RunOptions {
        jobs: 2,
        ..RunOptions::default()
    };
    let s = execute(&graph, &cache, &opts, &|_| {}).expect("run");
    assert_eq!(s.executed.len(), 50, "{s:?}");

    // (2) No-op reruns.
    let mut inproc = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let recipe_v = unmt::recipe::load(&recipe).expect("valid recipe");
        let graph = build(&recipe_v, &PlanChoice::Default).expect("graph");
        let cache = Cache::open(&cache_dir).expect("cache");
        let s = execute(&graph, &cache, &opts, &|_| {}).expect("run");
        inproc.push(t.elapsed().as_secs_f64());
        assert_eq!(s.reused.len(), 50);
    }
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(|d| d.join("unmt")));
    let mut process = Vec::new();
    if let Some(exe) = exe.filter(|e| e.exists()) {
        for _ in 0..7 {
            let t = Instant::now();
            let out = std::process::Command::new(&exe)
                .args([
                    "run",
                    recipe.to_str().unwrap_or_default(),
                    "--json",
                    "--cache",
                ])
                .arg(&cache_dir)
                .output()
                .expect("unmt runs");
            process.push(t.elapsed().as_secs_f64());
            assert!(out.status.success());
        }
    }
    let gbps = total as f64 / 1e9 / hash_s;
    println!("| measure | value | target |");
    println!("| --- | --- | --- |");
    let size = total as f64 / 1e9;
    println!(
        "| first hash of {size:.2} GB in {FILES} files (cold memo) | {gbps:.2} GB/s ({hash_s:.2} s) | >= 1 GB/s |"
    );
    println!(
        "| no-op rerun, 50 nodes, in-process (median of 7) | {:.1} ms | < 100 ms |",
        median(&mut inproc) * 1e3
    );
    if !process.is_empty() {
        println!(
            "| no-op rerun, 50 nodes, `unmt run` process (median of 7) | {:.1} ms | < 100 ms |",
            median(&mut process) * 1e3
        );
    }
    println!(
        "\ncores: {}",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Writes `FILES` text files of `bytes` each (reused across runs when the size matches).
fn make_inputs(dir: &Path, bytes: u64) -> Vec<PathBuf> {
    (0..FILES)
        .map(|i| {
            let path = dir.join(format!("input{i}.txt"));
            if std::fs::metadata(&path).map(|m| m.len()).ok() != Some(bytes) {
                let mut w =
                    std::io::BufWriter::new(std::fs::File::create(&path).expect("create input"));
                let mut x = 0x9e37_79b9_7f4a_7c15_u64 ^ i as u64;
                let mut written = 0u64;
                let mut line = Vec::with_capacity(128);
                while written < bytes {
                    line.clear();
                    for _ in 0..12 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        line.extend_from_slice(WORDS[(x % WORDS.len() as u64) as usize].as_bytes());
                        line.push(b' ');
                    }
                    line.push(b'\n');
                    let take = line
                        .len()
                        .min(usize::try_from(bytes - written).unwrap_or(usize::MAX));
                    w.write_all(&line[..take]).expect("write input");
                    written += take as u64;
                }
            }
            path
        })
        .collect()
}

const WORDS: &[&str] = &[
    "the",
    "of",
    "translation",
    "unsupervised",
    "на",
    "и",
    "македонски",
    "model",
    "data",
    "beam",
];

fn recipe_text(files: &[PathBuf]) -> String {
    let mut s = String::from("[files]\n");
    for (i, f) in files.iter().enumerate() {
        let abs = std::fs::canonicalize(f).expect("input exists");
        s.push_str(&format!("f{i} = {:?}\n", abs.display().to_string()));
    }
    for i in 0..files.len() {
        s.push_str(&format!(
            "\n[nodes.head{i}]\nstage = \"command\"\ninputs = {{ text = \"files.f{i}\" }}\nparams = {{ run = [\"head\", \"-c\", \"4096\", \"{{in.text}}\"], stdout = \"out\" }}\n"
        ));
        for j in 0..4 {
            let parent = if j == 0 {
                format!("head{i}")
            } else {
                format!("step{i}_{}", j - 1)
            };
            s.push_str(&format!(
                "\n[nodes.step{i}_{j}]\nstage = \"command\"\ninputs = {{ x = \"{parent}.out\" }}\nparams = {{ run = [\"wc\", \"-c\", \"{{in.x}}\"], stdout = \"out\" }}\n"
            ));
        }
    }
    s
}

/// The first hash should read from disk: drop the page cache when allowed (root), else say
/// that the figure may be CPU-bound.
fn drop_page_cache_hint(_files: &[PathBuf]) {
    let _ = std::process::Command::new("sync").status();
    if std::fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok() {
        eprintln!("note: page cache dropped; the first hash reads from disk");
    } else {
        eprintln!(
            "note: cannot drop the page cache (not root); the inputs were just written, so the hash figure may be CPU-bound"
        );
    }
}
