//! Report benchmark: `unmt report` on a cache of 300 published nodes.
//!
//! 200 `tokenize` nodes and 100 `score` nodes (100 systems scored on 100 test sentences),
//! with a declared table of the 100 systems, so the report also runs the paired bootstrap
//! (1000 resamples) of 99 systems against the first for BLEU and chrF. Target: well under
//! a second. Beside it, `unmt plan` on the same recipe: planning is the floor any report
//! pays (it is how a report finds the nodes' results), so the ratio is the report's own cost.
//!
//! ```sh
//! cargo build --release && cargo run --release --example bench_report   # data in target/bench-report
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use unmt::cache::Cache;
use unmt::exec::{RunOptions, execute};
use unmt::graph::{PlanChoice, build};
use unmt::results::{ReportInput, render};

const TOKENIZE: usize = 200;
const SYSTEMS: usize = 100;

fn main() {
    let dir = PathBuf::from("target/bench-report");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create bench dir");
    let recipe = write_inputs(&dir);
    let cache_dir = dir.join("cache");

    let recipe_v = unmt::recipe::load(&recipe).expect("valid recipe");
    let graph = build(&recipe_v, &PlanChoice::Default).expect("graph");
    let cache = Cache::open(&cache_dir).expect("cache");
    let opts = RunOptions {
        jobs: 2,
        ..RunOptions::default()
    };
    let s = execute(&graph, &cache, &opts, &|_| {}).expect("run");
    assert!(s.failed.is_empty(), "{s:?}");
    let nodes = graph.nodes.len();

    let mut inproc = Vec::new();
    let mut cells = 0;
    for _ in 0..7 {
        let t = Instant::now();
        let recipe_v = unmt::recipe::load(&recipe).expect("valid recipe");
        let graph = build(&recipe_v, &PlanChoice::Default).expect("graph");
        let cache = Cache::open(&cache_dir).expect("cache");
        let report = unmt::results::build(&ReportInput {
            recipe: &recipe_v,
            graph: &graph,
            cache: &cache,
            plan: "default",
            run_command: "unmt run r.toml",
        })
        .expect("report");
        let md = render::render(&report, render::Format::Md).expect("md");
        inproc.push(t.elapsed().as_secs_f64());
        assert_eq!(report.done, nodes, "every node has a result");
        assert!(md.contains("(p="), "p-values computed");
        cells = report
            .tables
            .iter()
            .map(|t| t.rows.len() * t.columns.len())
            .sum();
    }
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(|d| d.join("unmt")))
        .filter(|e| e.exists());
    let time = |args: &[&str]| -> Option<f64> {
        let exe = exe.as_ref()?;
        let mut v = Vec::new();
        for _ in 0..7 {
            let t = Instant::now();
            let out = std::process::Command::new(exe)
                .args(args)
                .arg(&recipe)
                .arg("--cache")
                .arg(&cache_dir)
                .output()
                .expect("unmt runs");
            v.push(t.elapsed().as_secs_f64());
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Some(median(&mut v))
    };
    let report_s = time(&["report"]);
    let plan_s = time(&["plan"]);
    println!("| measure ({nodes} published nodes, {cells} cells) | value | target |");
    println!("| --- | --- | --- |");
    println!(
        "| report in-process, load + plan + tables + p-values + Markdown (median of 7) | {:.0} ms | < 1000 ms |",
        median(&mut inproc) * 1e3
    );
    if let (Some(r), Some(p)) = (report_s, plan_s) {
        println!(
            "| `unmt report` process (median of 7) | {:.0} ms | < 1000 ms |",
            r * 1e3
        );
        println!(
            "| `unmt plan` process, the floor (median of 7) | {:.0} ms | |",
            p * 1e3
        );
        println!("| report / plan | {:.2}x | |", r / p);
    } else {
        println!("(build the binary first, `cargo build --release`, for the process figures)");
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

/// Writes the texts and the recipe; returns the recipe's path.
fn write_inputs(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/test.mk-en.en"
    ))
    .expect("test sentences");
    let lines: Vec<&str> = text.lines().collect();
    let write = |name: &str, body: &str| std::fs::write(dir.join(name), body).expect("write");
    write("ref.txt", &(lines.join("\n") + "\n"));
    let mut recipe = String::from("[files]\nref = \"ref.txt\"\n");
    for i in 0..TOKENIZE {
        let start = i % lines.len();
        let body: String = lines
            .iter()
            .cycle()
            .skip(start)
            .take(20)
            .map(|l| format!("{l}\n"))
            .collect();
        write(&format!("t{i}.txt"), &body);
        let _ = writeln!(recipe, "t{i} = \"t{i}.txt\"");
    }
    for s in 0..SYSTEMS {
        // System s drops every (s % 7 + 2)-th word of the lines it does not copy.
        let k = s % 7 + 2;
        let body: String = lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                if (i + s) % 5 == 0 {
                    format!("{l}\n")
                } else {
                    let w: Vec<&str> = l
                        .split(' ')
                        .enumerate()
                        .filter(|(j, _)| (j + 1) % k != 0)
                        .map(|(_, w)| w)
                        .collect();
                    w.join(" ") + "\n"
                }
            })
            .collect();
        write(&format!("h{s}.txt"), &body);
        let _ = writeln!(recipe, "h{s} = \"h{s}.txt\"");
    }
    for i in 0..TOKENIZE {
        let _ = writeln!(
            recipe,
            "\n[nodes.tok{i}]\nstage = \"tokenize\"\ninputs = {{ text = \"files.t{i}\" }}\nparams = {{ lang = \"en\" }}"
        );
    }
    for s in 0..SYSTEMS {
        let _ = writeln!(
            recipe,
            "\n[nodes.s{s}]\nstage = \"score\"\ninputs = {{ hyp = \"files.h{s}\", refs = [\"files.ref\"] }}"
        );
    }
    let rows: Vec<String> = (0..SYSTEMS).map(|s| format!("\"{s}\"")).collect();
    let _ = writeln!(
        recipe,
        "\n[report.systems]\nrows = [{}]\nbaseline = \"0\"\ncolumns = [\n  {{ label = \"BLEU\", node = \"s{{row}}\", metric = \"bleu\" }},\n  {{ label = \"chrF\", node = \"s{{row}}\", metric = \"chrf\" }},\n]",
        rows.join(", ")
    );
    let path = dir.join("r.toml");
    std::fs::write(&path, recipe).expect("write recipe");
    path
}
