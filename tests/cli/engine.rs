//! Incremental reruns, early cutoff, sweeps, explain, plan, show, gc, concurrency.

use crate::common::{Env, names, stdout};

/// Two independent chains: corpus_a -> sort_a and corpus_b -> sort_b.
fn recipe(a_params: &str) -> String {
    format!(
        r#"[files]
a = "a.txt"
b = "b.txt"

[nodes.corpus_a]
stage = "corpus"
inputs = {{ text = "files.a" }}
params = {{ {a_params} }}

[nodes.sort_a]
stage = "command"
inputs = {{ text = "corpus_a.train" }}
params = {{ run = ["sort", "{{in.text}}"], stdout = "sorted" }}

[nodes.corpus_b]
stage = "corpus"
inputs = {{ text = "files.b" }}

[nodes.sort_b]
stage = "command"
inputs = {{ text = "corpus_b.train" }}
params = {{ run = ["sort", "{{in.text}}"], stdout = "sorted" }}
"#
    )
}

fn env() -> Env {
    let env = Env::new();
    let lines: String = (0..50).map(|i| format!("line {} of a\n", 50 - i)).collect();
    env.write("a.txt", &lines)
        .write("b.txt", "b 2\nb 1\n\nb 1\n");
    env
}

#[test]
fn a_parameter_change_reruns_exactly_its_downstream_nodes() {
    let env = env();
    env.write("r.toml", &recipe("valid = 10"));
    let first = env.run("r.toml", &[], 0);
    assert_eq!(
        first.executed,
        names(&["corpus_a", "corpus_b", "sort_a", "sort_b"])
    );
    let noop = env.run("r.toml", &[], 0);
    assert!(noop.executed.is_empty());
    assert_eq!(noop.reused.len(), 4);

    env.write("r.toml", &recipe("valid = 20"));
    let second = env.run("r.toml", &[], 0);
    assert_eq!(second.executed, names(&["corpus_a", "sort_a"]));
    assert_eq!(second.reused, names(&["corpus_b", "sort_b"]));
    let sorted = std::fs::read_to_string(
        serde_json::from_str::<serde_json::Value>(&stdout(
            &env.unmt(&["show", "sort_a", "--json"]),
        ))
        .expect("json")["path"]
            .as_str()
            .map(|p| std::path::Path::new(p).join("out/sorted"))
            .expect("path"),
    )
    .expect("read");
    assert_eq!(sorted.lines().count(), 30, "50 lines minus 20 held out");
}

#[test]
fn identical_parent_output_cuts_off_reruns() {
    let env = env();
    env.write("r.toml", &recipe("seed = 1"));
    env.run("r.toml", &[], 0);
    // With no held-out lines the seed changes the key but not the output.
    env.write("r.toml", &recipe("seed = 2"));
    let s = env.run("r.toml", &[], 0);
    assert_eq!(s.executed, names(&["corpus_a"]));
    assert_eq!(s.reused, names(&["corpus_b", "sort_a", "sort_b"]));
}

#[test]
fn writing_a_default_out_changes_no_key() {
    let env = env();
    env.write("r.toml", &recipe(""));
    env.run("r.toml", &[], 0);
    env.write("r.toml", &recipe("dedup = false, min_words = 1"));
    assert!(env.run("r.toml", &[], 0).executed.is_empty());
}

#[test]
fn plan_lists_every_node_with_action_and_reason() {
    let env = env();
    env.write("r.toml", &recipe("valid = 10"));
    env.run("r.toml", &[], 0);
    env.write("r.toml", &recipe("valid = 20"));
    let out = env.unmt(&["plan", "r.toml", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json array");
    let rows: Vec<(String, String, String)> = plan
        .as_array()
        .expect("array")
        .iter()
        .map(|n| {
            (
                n["node"].as_str().expect("node").to_owned(),
                n["action"].as_str().expect("action").to_owned(),
                n["reason"].as_str().expect("reason").to_owned(),
            )
        })
        .collect();
    insta::assert_debug_snapshot!(rows);
    let text = stdout(&env.unmt(&["plan", "r.toml"]));
    insta::assert_snapshot!(
        text.lines()
            .map(|l| l.split("cached ").next().unwrap_or(l).trim_end())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn explain_prints_field_level_differences() {
    let env = env();
    env.write("r.toml", &recipe("valid = 10"));
    env.run("r.toml", &[], 0);
    env.write("r.toml", &recipe("valid = 20, dedup = true"));
    let own = stdout(&env.unmt(&["explain", "r.toml", "corpus_a"]));
    let child = stdout(&env.unmt(&["explain", "r.toml", "sort_a"]));
    let same = stdout(&env.unmt(&["explain", "r.toml", "sort_b"]));
    let redact = |s: String| {
        s.lines()
            .filter(|l| !l.contains("key:") && !l.contains("last run:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    insta::assert_snapshot!(format!(
        "{}\n---\n{}\n---\n{}",
        redact(own),
        redact(child),
        same.split(" (key").next().unwrap_or_default()
    ));
    // After running, the child's explanation names the changed input.
    env.write("r.toml", &recipe("valid = 10"));
    env.run("r.toml", &[], 0);
    env.write("r.toml", &recipe("valid = 10, test = 5"));
    env.run("r.toml", &["--plan", "baseline"], 0);
    env.write("r.toml", &recipe("valid = 10"));
    let back = stdout(&env.unmt(&["explain", "r.toml", "sort_a"]));
    assert!(back.contains("up to date"), "{back}");
}

#[test]
fn sweeps_share_upstream_nodes_and_name_variants() {
    let env = env();
    let mut text = recipe("valid = 10");
    text.push_str("\n[sweep]\n\"corpus_a.valid\" = [5]\n\"sort_b.version\" = [\"2\"]\n\n[plans.full]\ncross = [\"corpus_a.valid\", \"sort_b.version\"]\n");
    env.write("r.toml", &text);
    let s = env.run("r.toml", &[], 0);
    assert_eq!(
        s.executed,
        names(&[
            "corpus_a",
            "corpus_a[corpus_a.valid=5]",
            "corpus_b",
            "sort_a",
            "sort_a[corpus_a.valid=5]",
            "sort_b",
            "sort_b[sort_b.version=2]",
        ])
    );
    // The full cross adds no new work: every combination is already cached.
    let full = env.run("r.toml", &["--plan", "full"], 0);
    assert!(full.executed.is_empty(), "{full:?}");
    assert_eq!(full.reused.len(), 7);
    let out = env.unmt(&["run", "r.toml", "--plan", "ful"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(crate::common::stderr(&out).contains("did you mean `full`?"));
}

#[test]
fn graph_renders_dot_and_mermaid() {
    let env = env();
    env.write("r.toml", &recipe("valid = 10"));
    insta::assert_snapshot!(stdout(&env.unmt(&["graph", "r.toml"])));
    insta::assert_snapshot!(stdout(
        &env.unmt(&["graph", "r.toml", "--format", "mermaid"])
    ));
}

#[test]
fn show_and_gc() {
    let env = env();
    env.write(
        "recipes/r.toml",
        &recipe("valid = 10")
            .replace("\"a.txt\"", "\"../a.txt\"")
            .replace("\"b.txt\"", "\"../b.txt\""),
    );
    env.run("recipes/r.toml", &[], 0);
    let show = stdout(&env.unmt(&["show", "corpus_a"]));
    assert!(
        show.contains("valid = 10") && show.contains("train:") && show.contains("kept = 50"),
        "{show}"
    );
    env.write(
        "recipes/r.toml",
        &recipe("valid = 20")
            .replace("\"a.txt\"", "\"../a.txt\"")
            .replace("\"b.txt\"", "\"../b.txt\""),
    );
    env.run("recipes/r.toml", &[], 0);
    assert_eq!(env.objects().len(), 6);
    let dry = stdout(&env.unmt(&["gc", "--dry-run"]));
    assert!(dry.starts_with("would delete 2 objects"), "{dry}");
    assert_eq!(env.objects().len(), 6);
    let real = stdout(&env.unmt(&["gc"]));
    assert!(real.starts_with("deleted 2 objects"), "{real}");
    assert_eq!(env.objects().len(), 4);
    assert!(env.run("recipes/r.toml", &[], 0).executed.is_empty());
}

#[test]
fn two_concurrent_runs_on_one_cache_run_each_node_once() {
    let env = Env::new();
    env.write(
        "r.toml",
        r#"[nodes.slow]
stage = "command"
params = { run = ["sh", "-c", "echo ran >> counter.txt; sleep 1; echo ok > \"$0\"", "{out.x}"], outputs = ["x"] }
"#,
    );
    let a = env
        .command(&["run", "r.toml", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let b = env
        .command(&["run", "r.toml", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let (a, b) = (
        a.wait_with_output().expect("wait"),
        b.wait_with_output().expect("wait"),
    );
    assert!(a.status.success() && b.status.success());
    let (sa, sb) = (
        crate::common::summary(&stdout(&a)),
        crate::common::summary(&stdout(&b)),
    );
    assert_eq!(sa.executed.len() + sb.executed.len(), 1, "{sa:?} {sb:?}");
    assert_eq!(sa.reused.len() + sb.reused.len(), 1);
    assert_eq!(
        std::fs::read_to_string(env.path("counter.txt")).expect("counter"),
        "ran\n"
    );
}

/// A diamond chain 12 deep: every node reads both outputs of its parent, so nesting each
/// producer's explanation would double its length per level.
#[test]
fn plan_reasons_name_root_causes_and_stay_short_in_deep_graphs() {
    let env = env();
    let mut r = String::from(
        "[files]\na = \"a.txt\"\n\n[nodes.n0]\nstage = \"corpus\"\ninputs = { text = \"files.a\" }\nparams = { valid = 5 }\n",
    );
    for i in 1..12 {
        r.push_str(&format!(
            "\n[nodes.n{i}]\nstage = \"command\"\ninputs = {{ a = \"n{p}.{x}\", b = \"n{p}.{y}\" }}\nparams = {{ run = [\"cat\", \"{{in.a}}\", \"{{in.b}}\"], outputs = [\"o\"], stdout = \"s\" }}\n",
            p = i - 1,
            x = if i == 1 { "train" } else { "o" },
            y = if i == 1 { "valid" } else { "s" },
        ));
    }
    env.write("r.toml", &r);
    let out = stdout(&env.unmt(&["plan", "r.toml", "--json"]));
    let plan: serde_json::Value = serde_json::from_str(&out).expect("json");
    let last = plan
        .as_array()
        .expect("array")
        .iter()
        .find(|n| n["node"] == "n11")
        .expect("n11 planned");
    assert_eq!(
        last["reason"],
        "input `n10.o`, `n10.s` will be recomputed (because `n0`: never run)"
    );
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    use std::io::Read;
    let env = Env::new();
    // Far more output than a pipe buffers, so writing continues after the reader is gone.
    let text: String = (0..100_000)
        .map(|i| format!("line {i}, of text.\n"))
        .collect();
    env.write("big.txt", &text);
    let mut child = env
        .command(&["tokenize", "--lang", "en"])
        .stdin(std::fs::File::open(env.path("big.txt")).expect("open"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = [0u8; 16];
    child
        .stdout
        .take()
        .expect("stdout")
        .read_exact(&mut first)
        .expect("read");
    // The read end is dropped here, as `| head` does.
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.is_empty(), "{err}");
    assert!(
        !matches!(out.status.code(), Some(c) if c != 0),
        "{:?}",
        out.status
    );
}

#[test]
fn stages_lists_slots_outputs_and_defaults() {
    let env = Env::new();
    let out = env.unmt(&["stages", "unmt", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    let unmt = &v[0];
    assert_eq!(unmt["kind"], "unmt");
    let slots: Vec<&str> = unmt["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(slots, ["model", "vocab", "train", "valid", "refs"]);
    assert_eq!(unmt["params"]["tokens_per_batch"]["default"], 1000);
    assert_eq!(unmt["params"]["tokens_per_batch"]["type"], "usize");
    let doc = unmt["params"]["tokens_per_batch"]["doc"]
        .as_str()
        .expect("doc");
    assert!(doc.starts_with("Tokens per training batch"), "{doc}");
    assert!(
        unmt["outputs"]
            .as_array()
            .expect("outputs")
            .iter()
            .any(|o| o["name"] == "hypotheses" && o["kind"] == "dir"),
        "{unmt}"
    );
    let all: serde_json::Value =
        serde_json::from_str(&stdout(&env.unmt(&["stages", "--json"]))).expect("json");
    assert!(all.as_array().expect("stages").len() >= 15);
    let bad = env.unmt(&["stages", "mlx"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(crate::common::stderr(&bad).contains("did you mean `mlm`"));
}
