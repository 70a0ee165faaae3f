//! The `unmt` stage through the engine: a node killed mid-training resumes from its last
//! epoch checkpoint and ends with the weights of an uninterrupted run.

use std::path::PathBuf;

use crate::common::{Env, stdout};

/// A tiny MLM on the two quickstart corpora, and (with `with_unmt`) UNMT from it, validated
/// on the first lines of the SETIMES pairs (words as tokens: no BPE).
fn recipe(with_unmt: bool) -> String {
    let data = format!("{}/examples/data", env!("CARGO_MANIFEST_DIR"));
    let mut r = format!(
        r#"[files]
en = "{data}/en.setimes.txt"
mk = "{data}/mk.setimes.txt"
valid_en = "{data}/valid.mk-en.en"
valid_mk = "{data}/valid.mk-en.mk"

[nodes.vocab]
stage = "vocab"
inputs = {{ text = ["files.en", "files.mk"] }}

[nodes.data_en]
stage = "binarize"
inputs = {{ text = "files.en", vocab = "vocab.vocab" }}

[nodes.data_mk]
stage = "binarize"
inputs = {{ text = "files.mk", vocab = "vocab.vocab" }}

[nodes.mlm]
stage = "mlm"
inputs = {{ train = ["data_en.data", "data_mk.data"], valid = ["data_en.data", "data_mk.data"], vocab = "vocab.vocab" }}
params = {{ langs = ["en", "mk"], dim = 16, n_layers = 1, n_heads = 2, bptt = 16, batch_size = 8, epoch_size = 160, max_epochs = 1, eval_batch = 64 }}

[nodes.head_en]
stage = "command"
inputs = {{ text = "files.valid_en" }}
params = {{ run = ["head", "-n", "20", "{{in.text}}"], stdout = "text" }}

[nodes.head_mk]
stage = "command"
inputs = {{ text = "files.valid_mk" }}
params = {{ run = ["head", "-n", "20", "{{in.text}}"], stdout = "text" }}
"#
    );
    if with_unmt {
        r.push_str(
            r#"
[nodes.unmt]
stage = "unmt"
inputs = { model = "mlm.best", vocab = "vocab.vocab", train = ["data_en.data", "data_mk.data"], valid = ["head_en.text", "head_mk.text"], refs = ["head_en.text", "head_mk.text"] }
params = { langs = ["en", "mk"], stopping_criterion = "valid_mk-en_mt_bleu", tokens_per_batch = 300, max_len = 60, epoch_size = 96, max_epochs = 3, lr = 0.001, warmup_updates = 10, eval_batch_size = 20 }
"#,
        );
    }
    r
}

/// The published `unmt` node's output `name`.
fn output(env: &Env, name: &str) -> PathBuf {
    let show: serde_json::Value =
        serde_json::from_str(&stdout(&env.unmt(&["show", "unmt", "--json"]))).expect("json");
    PathBuf::from(show["path"].as_str().expect("path"))
        .join("out")
        .join(name)
}

#[test]
fn killed_unmt_resumes_and_ends_like_an_uninterrupted_run() {
    // The uninterrupted reference.
    let whole = Env::new();
    whole.write("r.toml", &recipe(true));
    let s = whole.run("r.toml", &[], 0);
    assert!(s.failed.is_empty(), "{s:?}");

    // The MLM first, so the only training checkpoint written next is UNMT's.
    let env = Env::new();
    env.write("r.toml", &recipe(false));
    env.run("r.toml", &[], 0);
    env.write("r.toml", &recipe(true));
    env.kill_run_after_first_checkpoint("r.toml", 180);

    let s = env.run("r.toml", &[], 0);
    assert_eq!(s.executed, ["unmt"], "{s:?}");
    let log = std::fs::read_to_string(output(&env, "../log.txt")).expect("log");
    assert!(log.contains("resuming after epoch"), "{log}");
    for name in ["last", "best"] {
        let a = std::fs::read(output(&env, name)).expect("resumed output");
        let b = std::fs::read(output(&whole, name)).expect("uninterrupted output");
        assert!(
            a == b,
            "`{name}` differs between the resumed and the uninterrupted run"
        );
    }
    // Every figure of the history but the measured speed.
    let history = |env: &Env| {
        let text = std::fs::read_to_string(output(env, "history")).expect("history");
        let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
        for epoch in v.as_array_mut().expect("epochs") {
            epoch.as_object_mut().expect("epoch").remove("tokens_per_s");
        }
        v
    };
    assert_eq!(history(&env), history(&whole));
}
