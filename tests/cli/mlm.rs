//! The `mlm` stage through the engine: a run killed mid-training resumes from its last epoch
//! checkpoint when the same node reruns; one interrupted resumes from the step it stopped at.

use crate::common::{Env, stdout};

fn recipe() -> String {
    let text = format!(
        "{}/examples/data/en.setimes.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    format!(
        r#"[files]
text = "{text}"

[nodes.vocab]
stage = "vocab"
inputs = {{ text = ["files.text"] }}

[nodes.data]
stage = "binarize"
inputs = {{ text = "files.text", vocab = "vocab.vocab" }}

[nodes.mlm]
stage = "mlm"
inputs = {{ train = ["data.data"], valid = ["data.data"], vocab = "vocab.vocab" }}
params = {{ langs = ["en"], dim = 16, n_layers = 1, n_heads = 2, bptt = 16, batch_size = 8, epoch_size = 2400, max_epochs = 3, eval_batch = 64 }}
"#
    )
}

#[test]
fn killed_mlm_resumes_from_its_last_epoch() {
    let env = Env::new();
    env.write("r.toml", &recipe());
    env.kill_run_after_first_checkpoint("r.toml", 120);

    let s = env.run("r.toml", &[], 0);
    assert!(s.executed.iter().any(|n| n == "mlm"), "{s:?}");
    let show: serde_json::Value =
        serde_json::from_str(&stdout(&env.unmt(&["show", "mlm", "--json"]))).expect("json");
    let path = show["path"].as_str().expect("path");
    let log = std::fs::read_to_string(std::path::Path::new(path).join("log.txt")).expect("log");
    assert!(log.contains("resuming after epoch"), "{log}");
    assert_eq!(show["metrics"]["epochs"].as_f64(), Some(3.0), "{show}");
}

/// `unmt train-mlm` takes the stage's own parameter struct: `--params FILE` and `--set`.
#[test]
fn train_mlm_takes_the_stage_params() {
    let env = Env::new();
    env.write(
        "r.toml",
        &recipe().replace("[nodes.mlm]", "[nodes.unused_mlm]"),
    );
    let s = env.run("r.toml", &["--plan", "baseline"], 0);
    assert!(s.failed.is_empty(), "{s:?}");
    let output = |node: &str, name: &str| {
        let rec: serde_json::Value =
            serde_json::from_str(&stdout(&env.unmt(&["show", node, "--json"]))).expect("json");
        format!("{}/out/{name}", rec["path"].as_str().expect("path"))
    };
    let (data, vocab) = (output("data", "data"), output("vocab", "vocab"));
    env.write(
        "p.toml",
        "dim = 16\nn_layers = 1\nn_heads = 2\nbptt = 16\nbatch_size = 8\n",
    );
    let args = |extra: &[&str]| {
        let mut a = vec![
            "train-mlm",
            "--train",
            &data,
            "--valid",
            &data,
            "--vocab",
            &vocab,
            "--out",
            "o",
            "--params",
            "p.toml",
            "--set",
            "langs=[\"en\"]",
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        env.unmt(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let bad = run(&["--set", "n_heads=3"]);
    assert_eq!(bad.status.code(), Some(2));
    let text = crate::common::stderr(&bad);
    assert!(
        text.contains("invalid parameter `n_heads`: must divide dim (16), got 3"),
        "{text}"
    );
    let unknown = run(&["--set", "dimm=3"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        crate::common::stderr(&unknown).contains("dimm"),
        "{}",
        crate::common::stderr(&unknown)
    );
    let ok = run(&[
        "--set",
        "epoch_size=800",
        "--set",
        "max_epochs=1",
        "--set",
        "eval_batch=64",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", crate::common::stderr(&ok));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("o/config.json")).expect("config"))
            .expect("json");
    assert_eq!(
        (config["dim"].as_u64(), config["n_layers"].as_u64()),
        (Some(16), Some(1)),
        "{config}"
    );
}

/// Ctrl-C (here SIGINT to unmt alone, as a supervisor sends it) during training: the loop
/// finishes its step, writes a checkpoint inside the epoch and unmt exits 130; the rerun
/// continues from that update and publishes the bytes an uninterrupted run publishes.
#[test]
fn interrupted_mlm_checkpoints_inside_the_epoch_and_resumes_to_the_same_bytes() {
    interrupted_mlm_resumes(&[]);
}

/// The same with the node in its own `unmt exec-node` process: it gets the stop request
/// from `unmt run` and checkpoints as a thread does.
#[test]
fn interrupted_mlm_in_a_subprocess_checkpoints_and_resumes_to_the_same_bytes() {
    interrupted_mlm_resumes(&["--executor", "subprocess"]);
}

fn interrupted_mlm_resumes(executor: &[&str]) {
    let whole = Env::new();
    whole.write("r.toml", &recipe());
    whole.run("r.toml", &[], 0);
    let record = |env: &Env| -> serde_json::Value {
        serde_json::from_str(&stdout(&env.unmt(&["show", "mlm", "--json"]))).expect("json")
    };

    let env = Env::new();
    env.write("r.toml", &recipe());
    let mut args = vec!["run", "r.toml"];
    args.extend_from_slice(executor);
    let child = env
        .command(&args)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = std::time::Instant::now();
    let state = loop {
        let found = crate::common::list(&env.path("cache/partial"))
            .into_iter()
            .map(|d| d.join("checkpoints/state.json"))
            .find(|p| p.exists());
        if let Some(p) = found {
            break p;
        }
        assert!(
            started.elapsed().as_secs() < 120,
            "no epoch checkpoint appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let out = child.wait_with_output().expect("wait");
    let err = crate::common::stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("stop after the current step and write a checkpoint"),
        "{err}"
    );
    assert!(
        err.contains("checkpoint written; rerun to continue"),
        "{err}"
    );
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).expect("state")).expect("json");
    assert!(
        saved.get("partial").is_some(),
        "a checkpoint inside an epoch: {saved}"
    );
    assert!(env.objects().len() < 3, "mlm was not published");

    let s = env.run("r.toml", &[], 0);
    assert_eq!(s.executed, vec!["mlm".to_owned()], "{s:?}");
    let rec = record(&env);
    let log = std::fs::read_to_string(
        std::path::Path::new(rec["path"].as_str().expect("path")).join("log.txt"),
    )
    .expect("log");
    assert!(log.contains("resuming inside epoch"), "{log}");
    let reference = record(&whole);
    for output in ["best", "last", "history", "embeddings", "config"] {
        assert!(
            rec["outputs"][output]["hash"].is_string(),
            "{output}: {rec}"
        );
        assert_eq!(
            rec["outputs"][output]["hash"], reference["outputs"][output]["hash"],
            "{output}"
        );
    }
}

/// A mistyped `dim` would make Burn's allocations abort the process (and every node beside
/// it); the job estimates the training memory first and fails its node with the knobs to lower.
#[test]
fn a_model_too_large_for_memory_fails_its_node_with_what_to_lower() {
    let env = Env::new();
    let big = recipe().replace("dim = 16, n_layers = 1", "dim = 1048576, n_layers = 64");
    env.write("r.toml", &big);
    let out = env.unmt(&["run", "r.toml", "--keep-going"]);
    let err = crate::common::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("needs at least"), "{err}");
    assert!(err.contains("lower `dim` or `n_layers`"), "{err}");
}
