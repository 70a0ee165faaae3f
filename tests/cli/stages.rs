//! Stage kinds through the engine: parameters, outputs and metrics in the node record.

use crate::common::{Env, stdout};

fn record(env: &Env, node: &str) -> serde_json::Value {
    serde_json::from_str(&stdout(&env.unmt(&["show", node, "--json"]))).expect("record json")
}

#[test]
fn score_undoes_bpe_detokenizes_and_records_metrics() {
    let env = Env::new();
    env.write("hyp.txt", "The cat@@ s sat on the mat .\nIt was n@@ ice .\n")
        .write("ref.txt", "The cats sat on the mat.\nIt was nice.\n")
        .write(
            "r.toml",
            r#"[files]
hyp = "hyp.txt"
ref = "ref.txt"

[nodes.raw]
stage = "score"
inputs = { hyp = "files.hyp", refs = "files.ref" }

[nodes.clean]
stage = "score"
inputs = { hyp = "files.hyp", refs = ["files.ref"] }
params = { undo_bpe = true, detokenize = "en", metrics = ["bleu", "chrf"], chrf = { word_order = 2 } }
"#,
        );
    let s = env.run("r.toml", &[], 0);
    assert_eq!(s.executed.len(), 2);
    let clean = record(&env, "clean");
    let bleu = clean["metrics"]["bleu"].as_f64().expect("bleu");
    assert!((bleu - 100.0).abs() < 1e-9, "{clean}");
    assert_eq!(clean["metrics"]["chrfpp"], 100.0, "{clean}");
    let raw = record(&env, "raw");
    assert!(
        raw["metrics"]["bleu"].as_f64().expect("bleu") < 50.0,
        "{raw}"
    );
}

#[test]
fn score_refuses_mismatched_line_counts() {
    let env = Env::new();
    env.write("hyp.txt", "a\nb\n").write("ref.txt", "a\n").write(
        "r.toml",
        "[files]\nhyp = \"hyp.txt\"\nref = \"ref.txt\"\n[nodes.s]\nstage = \"score\"\ninputs = { hyp = \"files.hyp\", refs = \"files.ref\" }\n",
    );
    let out = env.unmt(&["run", "r.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = crate::common::stderr(&out);
    assert!(
        err.contains("FAILED") && err.contains("2") && err.contains("1"),
        "{err}"
    );
}

const NESTED_SWEEP: &str = r#"[files]
hyp = "hyp.txt"
ref = "ref.txt"

[nodes.s]
stage = "score"
inputs = { hyp = "files.hyp", refs = "files.ref" }
params = { chrf = { word_order = 2 } }

[sweep]
"s.bleu.max_ngram_order" = [2]
"#;

#[test]
fn sweep_axes_address_nested_parameters() {
    let env = Env::new();
    env.write("hyp.txt", "a b c d\n")
        .write("ref.txt", "a b c e\n")
        .write("r.toml", NESTED_SWEEP);
    let s = env.run("r.toml", &[], 0);
    assert_eq!(s.executed, ["s", "s[s.bleu.max_ngram_order=2]"]);
    let base = record(&env, "s");
    let bigram = record(&env, "s[s.bleu.max_ngram_order=2]");
    assert_eq!(base["params"]["bleu"]["max_ngram_order"], 4, "{base}");
    assert_eq!(bigram["params"]["bleu"]["max_ngram_order"], 2, "{bigram}");
    // The override replaces one nested key; its siblings and the other tables stay.
    assert_eq!(bigram["params"]["chrf"]["word_order"], 2, "{bigram}");
    assert_eq!(bigram["params"]["bleu"]["tokenize"], "13a", "{bigram}");
    let (b4, b2) = (&base["metrics"]["bleu"], &bigram["metrics"]["bleu"]);
    assert!(
        b2.as_f64() > b4.as_f64(),
        "bigram BLEU {b2} should beat 4-gram BLEU {b4}"
    );
}

#[test]
fn a_nested_parameter_out_of_range_points_at_its_value() {
    let env = Env::new();
    env.write("hyp.txt", "a\n").write("ref.txt", "a\n").write(
        "r.toml",
        &NESTED_SWEEP.replace(
            "params = { chrf = { word_order = 2 } }",
            "params = { bleu = { max_ngram_order = 40 } }",
        ),
    );
    let out = env.unmt(&["check", "r.toml"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(crate::common::stderr(&out));
}
