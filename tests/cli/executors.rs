//! Runners: nodes run as `unmt exec-node` subprocesses give the keys and bytes that threads
//! give, report progress and failures the same way, and a refused job file says why.

use crate::common::{Env, stderr, stdout};

/// Most stage kinds on the small samples, tiny models: corpus, tokenize, BPE, vocab,
/// binarize, skip-gram, VecMap, BLI, the MLM, and a command.
pub fn recipe() -> String {
    let data = format!("{}/examples/data", env!("CARGO_MANIFEST_DIR"));
    format!(
        r#"[files]
en = "{data}/en.setimes.txt"
mk = "{data}/mk.setimes.txt"
dict = "{data}/dict.en-mk.txt"
same = "same.txt"

[nodes.corpus_en]
stage = "corpus"
inputs = {{ text = "files.en" }}
params = {{ max_words = 60, valid = 50, seed = 1 }}

[nodes.corpus_mk]
stage = "corpus"
inputs = {{ text = "files.mk" }}
params = {{ max_words = 60, valid = 50, seed = 1 }}

[nodes.tok_en]
stage = "tokenize"
inputs = {{ text = "corpus_en.train" }}
params = {{ lang = "en" }}

[nodes.tok_mk]
stage = "tokenize"
inputs = {{ text = "corpus_mk.train" }}
params = {{ lang = "mk" }}

[nodes.bpe]
stage = "bpe_learn"
inputs = {{ corpora = ["tok_en.text", "tok_mk.text"] }}
params = {{ merges = 300 }}

[nodes.bpe_en]
stage = "bpe_apply"
inputs = {{ text = "tok_en.text", codes = "bpe.codes" }}

[nodes.bpe_mk]
stage = "bpe_apply"
inputs = {{ text = "tok_mk.text", codes = "bpe.codes" }}

[nodes.vocab]
stage = "vocab"
inputs = {{ text = ["bpe_en.text", "bpe_mk.text"] }}

[nodes.data_en]
stage = "binarize"
inputs = {{ text = "bpe_en.text", vocab = "vocab.vocab" }}

[nodes.data_mk]
stage = "binarize"
inputs = {{ text = "bpe_mk.text", vocab = "vocab.vocab" }}

[nodes.sg_en]
stage = "skipgram"
inputs = {{ text = "bpe_en.text" }}
params = {{ dim = 16, epoch = 2, min_count = 2, bucket = 2000, thread = 1 }}

[nodes.sg_mk]
stage = "skipgram"
inputs = {{ text = "bpe_mk.text" }}
params = {{ dim = 16, epoch = 2, min_count = 2, bucket = 2000, thread = 1 }}

[nodes.vecmap]
stage = "vecmap"
inputs = {{ src = "sg_en.vec", trg = "sg_mk.vec" }}

[nodes.bli]
stage = "bli"
inputs = {{ src = "vecmap.src", trg = "vecmap.trg", dictionary = "files.dict" }}

# Only identical-string pairs: the figures without them cannot be computed, a warning.
[nodes.bli_same]
stage = "bli"
inputs = {{ src = "vecmap.src", trg = "vecmap.trg", dictionary = "files.same" }}

[nodes.mlm]
stage = "mlm"
inputs = {{ train = ["data_en.data", "data_mk.data"], valid = ["data_en.data", "data_mk.data"], vocab = "vocab.vocab", vectors = "vecmap.joint" }}
params = {{ langs = ["en", "mk"], init = "aligned", dim = 16, n_layers = 1, n_heads = 2, bptt = 16, batch_size = 8, epoch_size = 400, max_epochs = 2, eval_batch = 64 }}

[nodes.count]
stage = "command"
inputs = {{ text = "bpe_en.text" }}
params = {{ run = ["head", "-n", "3", "{{in.text}}"], stdout = "lines" }}
"#
    )
}

/// Each published object's key and its outputs' content hashes.
pub fn results(env: &Env) -> Vec<(String, serde_json::Value)> {
    env.objects()
        .iter()
        .map(|dir| {
            let record: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join("record.json")).expect("record"),
            )
            .expect("json");
            let hashes: serde_json::Map<String, serde_json::Value> = record["outputs"]
                .as_object()
                .expect("outputs")
                .iter()
                .map(|(name, o)| (name.clone(), o["hash"].clone()))
                .collect();
            let key = dir
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (key, serde_json::Value::Object(hashes))
        })
        .collect()
}

#[test]
fn subprocess_results_are_byte_identical_to_threads_results() {
    let threads = Env::new();
    threads
        .write("r.toml", &recipe())
        .write("same.txt", ", ,\n. .\n");
    let a = threads.run("r.toml", &["-j", "2"], 0);
    let sub = Env::new();
    sub.write("r.toml", &recipe())
        .write("same.txt", ", ,\n. .\n");
    let out = sub.unmt(&[
        "run",
        "r.toml",
        "--json",
        "-j",
        "2",
        "--executor",
        "subprocess",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let events = stdout(&out);
    let b = crate::common::summary(&events);
    assert_eq!(a, b);
    assert_eq!(a.executed.len(), 17, "{a:?}");
    assert_eq!(results(&threads), results(&sub));
    // Messages cross the process boundary: the stage's warning is an event of the run.
    let warnings: Vec<serde_json::Value> = events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "warning")
        .collect();
    assert_eq!(warnings.len(), 1, "{events}");
    assert_eq!(warnings[0]["node"], "bli_same");
    // A rerun under the other runner reuses everything: the keys are the runner's business.
    let again = sub.run("r.toml", &[], 0);
    assert!(again.executed.is_empty(), "{again:?}");
}

#[test]
fn a_failing_node_in_a_subprocess_fails_as_in_threads() {
    let failing = r#"[nodes.boom]
stage = "command"
params = { run = ["sh", "-c", "echo to-stderr >&2; exit 3"], stdout = "out" }
"#;
    let mut errors = Vec::new();
    for executor in ["threads", "subprocess"] {
        let env = Env::new();
        env.write("r.toml", failing);
        let out = env.unmt(&["run", "r.toml", "--json", "--executor", executor]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let failed: serde_json::Value = stdout(&out)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|e| e["event"] == "failed")
            .expect("a failed event");
        let log = std::fs::read_to_string(failed["log"].as_str().expect("log")).expect("read");
        assert!(log.contains("to-stderr"), "{executor}: {log}");
        errors.push(failed["error"].clone());
    }
    assert_eq!(errors[0], errors[1]);
}

#[test]
fn exec_node_refuses_a_job_of_another_code_version() {
    let env = Env::new();
    env.write("r.toml", &recipe()).write("same.txt", ", ,\n");
    env.run("r.toml", &["vocab"], 0);
    // A job as the scheduler writes it, for a stage whose code has moved on.
    let job = serde_json::json!({
        "format": 1, "node": "vocab", "key": "k", "stage": "vocab", "code_version": 9999,
        "params": {}, "inputs": {}, "out_dir": env.path("o").to_str(),
        "checkpoint_dir": env.path("c").to_str(), "log": env.path("l").to_str(),
        "resources": { "gpus": 0, "cpus": null }, "placement": { "threads": 1, "gpu": null }
    });
    env.write("job.json", &job.to_string());
    let out = env.unmt(&["exec-node", "job.json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("the job was written for 9999"), "{err}");
    assert!(
        stdout(&out).is_empty(),
        "no message for a job that never started"
    );
}
