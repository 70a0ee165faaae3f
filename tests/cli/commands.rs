//! Command-line conventions (issue #14) and the plain commands that mirror stages: `run`'s
//! summary on stdout, `--cache` only where a cache is used, `unmt binarize` (the stage's bytes,
//! read by `train-mlm`), and `unmt bli --codes / --skip-identical / --csls-k` (the stage's
//! figures).

use crate::common::{Env, stderr, stdout};

const SORT: &str = r#"[files]
a = "a.txt"

[nodes.sorted]
stage = "command"
inputs = { text = "files.a" }
params = { run = ["sort", "{in.text}"], stdout = "sorted" }
"#;

#[test]
fn run_prints_its_summary_on_stdout_and_progress_on_stderr() {
    let env = Env::new();
    env.write("a.txt", "b\na\n").write("r.toml", SORT);
    let first = env.unmt(&["run", "r.toml"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(stdout(&first), "1 executed, 0 reused, 0 failed\n");
    let err = stderr(&first);
    assert!(err.contains("run  sorted  (command)"), "{err}");
    assert!(err.contains("done  sorted"), "{err}");
    assert!(!err.contains("executed"), "{err}");

    let again = env.unmt(&["run", "r.toml"]);
    assert_eq!(stdout(&again), "0 executed, 1 reused, 0 failed\n");
    assert!(
        stderr(&again).contains("reuse  sorted"),
        "{}",
        stderr(&again)
    );

    env.write(
        "fail.toml",
        &SORT.replace(
            r#"["sort", "{in.text}"]"#,
            r#"["sh", "-c", "exit 3", "{in.text}"]"#,
        ),
    );
    let failed = env.unmt(&["run", "fail.toml"]);
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert_eq!(stdout(&failed), "0 executed, 0 reused, 1 failed\n");
    assert!(
        stderr(&failed).contains("FAILED  sorted"),
        "{}",
        stderr(&failed)
    );
}

#[test]
fn cache_is_an_option_of_the_commands_that_use_one() {
    let env = Env::new();
    env.write("a.txt", "b\na\n").write("r.toml", SORT);
    let tokenize = env.unmt(&["tokenize", "--cache", "x", "--lang", "en"]);
    assert_eq!(tokenize.status.code(), Some(2));
    assert!(
        stderr(&tokenize).contains("unexpected argument '--cache'"),
        "{}",
        stderr(&tokenize)
    );
    // Before the subcommand it is not an option of `unmt` any more.
    let before = env.unmt(&["--cache", "elsewhere", "run", "r.toml"]);
    assert_eq!(before.status.code(), Some(2), "{}", stderr(&before));
    assert!(!env.path("elsewhere").exists());

    // After it, it overrides `UNMT_CACHE` for the commands that open a cache.
    let run = env.unmt(&["run", "r.toml", "--cache", "elsewhere"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(!crate::common::list(&env.path("elsewhere/objects")).is_empty());
    assert!(env.objects().is_empty(), "{:?}", env.objects());
    for args in [
        &["show", "sorted", "--cache", "elsewhere"][..],
        &["plan", "r.toml", "--cache", "elsewhere"],
        &["explain", "r.toml", "sorted", "--cache", "elsewhere"],
        &["graph", "r.toml", "--cache", "elsewhere"],
    ] {
        let out = env.unmt(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }
    let plan = env.unmt(&["plan", "r.toml", "--cache", "elsewhere"]);
    assert!(stdout(&plan).contains("reuse"), "{}", stdout(&plan));
    let missing = env.unmt(&["show", "sorted"]);
    assert_eq!(missing.status.code(), Some(2), "{}", stdout(&missing));
}

/// The directory of a cached output: `cache/objects/KEY/out/NAME`.
fn output(env: &Env, node: &str, name: &str) -> String {
    let show = env.unmt(&["show", node, "--json"]);
    assert_eq!(show.status.code(), Some(0), "{}", stderr(&show));
    let rec: serde_json::Value = serde_json::from_str(&stdout(&show)).expect("json");
    format!("{}/out/{name}", rec["path"].as_str().expect("path"))
}

fn metrics(env: &Env, node: &str) -> serde_json::Value {
    let show = env.unmt(&["show", node, "--json"]);
    assert_eq!(show.status.code(), Some(0), "{}", stderr(&show));
    let rec: serde_json::Value = serde_json::from_str(&stdout(&show)).expect("json");
    rec["metrics"].clone()
}

#[test]
fn binarize_writes_the_stage_output_and_train_mlm_reads_it() {
    let env = Env::new();
    let text = format!(
        "{}/examples/data/en.setimes.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    env.write(
        "r.toml",
        &format!(
            r#"[files]
text = "{text}"

[nodes.codes]
stage = "bpe_learn"
inputs = {{ corpora = ["files.text"] }}
params = {{ merges = 200 }}

[nodes.bpe]
stage = "bpe_apply"
inputs = {{ text = "files.text", codes = "codes.codes" }}

[nodes.vocab]
stage = "vocab"
inputs = {{ text = ["bpe.text"] }}

[nodes.data]
stage = "binarize"
inputs = {{ text = "bpe.text", vocab = "vocab.vocab" }}
params = {{ max_len = 40 }}
"#
        ),
    );
    let s = env.run("r.toml", &[], 0);
    assert!(s.failed.is_empty(), "{s:?}");
    let (bpe, vocab) = (output(&env, "bpe", "text"), output(&env, "vocab", "vocab"));
    let staged = std::fs::read(output(&env, "data", "data")).expect("stage output");
    let stage_metrics = metrics(&env, "data");
    assert!(
        stage_metrics["n_dropped_too_long"].as_f64() > Some(0.0),
        "max_len should drop some lines: {stage_metrics}"
    );

    let out = env.unmt(&[
        "binarize",
        "--vocab",
        &vocab,
        "-i",
        &bpe,
        "-o",
        "en.bin",
        "--max-len",
        "40",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read(env.path("en.bin")).expect("en.bin"), staged);
    let line = stdout(&out);
    let kept = stage_metrics["n_sentences"].as_f64().expect("n_sentences");
    assert!(
        line.starts_with(&format!("en.bin: {kept} sentences")),
        "{line}"
    );

    // From stdin: the same bytes.
    let mut cmd = env.command(&[
        "binarize",
        "--vocab",
        &vocab,
        "-o",
        "stdin.bin",
        "--max-len",
        "40",
    ]);
    cmd.stdin(std::fs::File::open(&bpe).expect("open"));
    let piped = cmd.output().expect("binarize");
    assert_eq!(piped.status.code(), Some(0), "{}", stderr(&piped));
    assert_eq!(
        std::fs::read(env.path("stdin.bin")).expect("stdin.bin"),
        staged
    );

    let train = env.unmt(&[
        "train-mlm",
        "--train",
        "en.bin",
        "--valid",
        "en.bin",
        "--vocab",
        &vocab,
        "--out",
        "mlm",
        "--set",
        "langs=[\"en\"]",
        "--set",
        "dim=16",
        "--set",
        "n_layers=1",
        "--set",
        "n_heads=2",
        "--set",
        "bptt=16",
        "--set",
        "batch_size=8",
        "--set",
        "epoch_size=400",
        "--set",
        "max_epochs=1",
        "--set",
        "eval_batch=64",
    ]);
    assert_eq!(train.status.code(), Some(0), "{}", stderr(&train));
    assert!(env.path("mlm/best.safetensors").exists());
    assert!(env.path("mlm/embeddings.vec").exists());
}

#[test]
fn binarize_reports_a_bad_vocabulary_with_its_line() {
    let env = Env::new();
    env.write("vocab.txt", "one 2\nline two\n")
        .write("t.txt", "one line\n");
    let out = env.unmt(&[
        "binarize",
        "--vocab",
        "vocab.txt",
        "-i",
        "t.txt",
        "-o",
        "o.bin",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("vocab.txt") && err.contains("line 2"), "{err}");
}

/// The report `unmt bli ARGS --json` writes.
fn bli(env: &Env, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["bli"];
    all.extend_from_slice(args);
    all.extend(["--json", "report.json"]);
    let out = env.unmt(&all);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    serde_json::from_str(&std::fs::read_to_string(env.path("report.json")).expect("report"))
        .expect("json")
}

fn close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if (x - y).abs() < 1e-9)
}

/// Two small 2-d spaces where CSLS with k = 1 and with k = 10 (all 4 sources) rank differently,
/// and a shared subword table whose words come from BPE codes.
fn bli_env() -> Env {
    let env = Env::new();
    env.write("s.vec", "4 2\na 4 -2\nb -6 -3\nc 1 -7\nd -6 -2\n")
        .write("t.vec", "3 2\nx 4 2\ny 7 -6\nz -4 -8\n")
        .write("d.txt", "a x\nb y\nc z\n")
        // `hello` -> `hel@@ lo`, `helo` -> `hel@@ o`, `lo` -> `lo`, `xyz`: no known subword.
        .write("codes", "h e 5\nhe l 4\nl o</w> 3\n")
        .write("sub.vec", "3 2\nhel@@ 1 0\nlo 0 1\no 1 0.2\n")
        .write("words.txt", "hello lo\nlo lo\nhelo hello\nxyz lo\n")
        .write(
            "r.toml",
            r#"[files]
s = "s.vec"
t = "t.vec"
d = "d.txt"
sub = "sub.vec"
words = "words.txt"
codes = "codes"

[nodes.csls1]
stage = "bli"
inputs = { src = "files.s", trg = "files.t", dictionary = "files.d" }
params = { csls_k = 1 }

[nodes.subwords]
stage = "bli"
inputs = { src = "files.sub", trg = "files.sub", dictionary = "files.words", codes = "files.codes" }
"#,
        );
    env
}

#[test]
fn bli_csls_k_sets_the_neighbourhood_as_the_stage_param_does() {
    let env = bli_env();
    let k1 = bli(
        &env,
        &[
            "--src-emb",
            "s.vec",
            "--trg-emb",
            "t.vec",
            "--dict",
            "d.txt",
            "--csls-k",
            "1",
        ],
    );
    let k10 = bli(
        &env,
        &[
            "--src-emb",
            "s.vec",
            "--trg-emb",
            "t.vec",
            "--dict",
            "d.txt",
        ],
    );
    // NN does not depend on k; CSLS does (worked out by hand: 1 of 3 right with k = 1,
    // none with every source in the neighbourhood).
    assert_eq!(k1["nn"], k10["nn"]);
    assert!(
        (k1["csls"]["p1"].as_f64().unwrap() - 100.0 / 3.0).abs() < 1e-6,
        "{k1}"
    );
    assert_eq!(k10["csls"]["p1"].as_f64(), Some(0.0), "{k10}");
    let text = stdout(&env.unmt(&[
        "bli",
        "--src-emb",
        "s.vec",
        "--trg-emb",
        "t.vec",
        "--dict",
        "d.txt",
        "--csls-k",
        "1",
    ]));
    assert!(text.contains("csls_knn_1: P@1  33.33"), "{text}");

    let s = env.run("r.toml", &["csls1"], 0);
    assert!(s.failed.is_empty(), "{s:?}");
    let m = metrics(&env, "csls1");
    assert!(close(&m["csls_p1"], &k1["csls"]["p1"]), "{m} vs {k1}");
    assert!(close(&m["nn_p1"], &k1["nn"]["p1"]), "{m} vs {k1}");
}

#[test]
fn bli_codes_and_skip_identical_give_the_stage_figures() {
    let env = bli_env();
    let base = [
        "--src-emb",
        "sub.vec",
        "--trg-emb",
        "sub.vec",
        "--dict",
        "words.txt",
    ];
    // Without codes the table's subwords are words: only `lo lo` is in vocabulary.
    let words = bli(&env, &base);
    assert_eq!(words["pairs_kept"].as_u64(), Some(1), "{words}");

    let mut with_codes = base.to_vec();
    with_codes.extend(["--codes", "codes"]);
    let out = env.unmt(&[&["bli"][..], &with_codes].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "source: 3 dictionary words embedded from subwords, 1 without any known subword"
        ),
        "{err}"
    );
    let sub = bli(&env, &with_codes);
    // hello = (hel@@ + lo) / 2 finds itself, not `lo`; `lo lo` and `helo hello` are right.
    assert_eq!(
        (
            sub["pairs_kept"].as_u64(),
            sub["src_words_total"].as_u64(),
            sub["trg_vocab"].as_u64()
        ),
        (Some(3), Some(4), Some(2)),
        "{sub}"
    );
    assert!(
        (sub["nn"]["p1"].as_f64().unwrap() - 200.0 / 3.0).abs() < 1e-6,
        "{sub}"
    );

    with_codes.push("--skip-identical");
    let cross = bli(&env, &with_codes);
    assert_eq!(cross["src_words_total"].as_u64(), Some(3), "{cross}");
    assert_eq!(cross["nn"]["p1"].as_f64(), Some(50.0), "{cross}");

    let s = env.run("r.toml", &["subwords"], 0);
    assert!(s.failed.is_empty(), "{s:?}");
    let m = metrics(&env, "subwords");
    for (metric, report, field) in [
        ("nn_p1", &sub, "nn"),
        ("csls_p5", &sub, "csls"),
        ("nn_p1_cross", &cross, "nn"),
        ("csls_p5_cross", &cross, "csls"),
    ] {
        let p = if metric.starts_with("csls_p5") {
            "p5"
        } else {
            "p1"
        };
        assert!(
            close(&m[metric], &report[field][p]),
            "{metric}: {m} vs {report}"
        );
    }
    assert!(close(&m["coverage"], &sub["coverage"]), "{m} vs {sub}");
    assert!(
        close(&m["coverage_cross"], &cross["coverage"]),
        "{m} vs {cross}"
    );
}

/// `unmt vecmap --unsupervised` between two vocabularies without a shared string: the
/// target is the source rotated, neighbouring rows swapped and renamed. The seed, written by
/// `--seed-out` in VecMap's union order, pairs most words with their planted translation.
#[test]
fn vecmap_unsupervised_finds_a_seed_without_shared_strings() {
    let (n, dim) = (120usize, 8usize);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let x: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..dim).map(|d| uniform() * (1 + dim - d) as f64).collect())
        .collect();
    let (c, s) = (0.6, 0.8);
    let rotate = |r: &[f64]| {
        let mut o = r.to_vec();
        o[0] = c * r[0] - s * r[1];
        o[1] = s * r[0] + c * r[1];
        o
    };
    let vec_file = |rows: Vec<(String, Vec<f64>)>| {
        let mut t = format!("{} {dim}\n", rows.len());
        for (w, r) in rows {
            let v: Vec<String> = r.iter().map(|x| format!("{x:.6}")).collect();
            t.push_str(&format!("{w} {}\n", v.join(" ")));
        }
        t
    };
    let src = vec_file((0..n).map(|i| (format!("s{i}"), x[i].clone())).collect());
    let trg = vec_file(
        (0..n)
            .map(|j| (format!("t{j}"), rotate(&x[j ^ 1])))
            .collect(),
    );
    let env = Env::new();
    env.write("a.vec", &src).write("b.vec", &trg);
    let (a, b) = (env.path("a.vec"), env.path("b.vec"));
    let (ao, bo, seed) = (env.path("ao.vec"), env.path("bo.vec"), env.path("seed.txt"));
    let identical = env.unmt(&[
        "vecmap",
        "--identical",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        ao.to_str().unwrap(),
        bo.to_str().unwrap(),
    ]);
    assert_eq!(identical.status.code(), Some(2), "{}", stderr(&identical));
    assert!(
        stderr(&identical).contains("seed dictionary"),
        "{}",
        stderr(&identical)
    );
    let out = env.unmt(&[
        "vecmap",
        "--unsupervised",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        ao.to_str().unwrap(),
        bo.to_str().unwrap(),
        "--seed-out",
        seed.to_str().unwrap(),
        "--unsupervised-vocab",
        "100",
        "--vocabulary-cutoff",
        "100",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&seed).expect("seed");
    let pairs: Vec<(usize, usize)> = text
        .lines()
        .map(|l| {
            let (s, t) = l.split_once(' ').expect("pair");
            (s[1..].parse().expect("s"), t[1..].parse().expect("t"))
        })
        .collect();
    assert_eq!(pairs.len(), 200, "{text}");
    assert_eq!(pairs[0].0, 0);
    assert_eq!(pairs[100].1, 0);
    let right = pairs.iter().filter(|&&(i, j)| j == i ^ 1).count();
    assert!(right >= 160, "{right} of 200 seed pairs right");
    assert!(
        std::fs::read_to_string(&ao)
            .expect("out")
            .starts_with("120 8\n")
    );
}
