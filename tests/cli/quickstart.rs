//! The shipped recipes run end to end, and a second language pair reuses the shared nodes.

use crate::common::{Env, stdout};

fn repo(rel: &str) -> String {
    format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn quickstart_runs_and_a_new_pair_reuses_the_english_side() {
    let env = Env::new();
    let first = env.run(&repo("recipes/quickstart.toml"), &["-j", "2"], 0);
    assert!(
        first.failed.is_empty() && first.reused.is_empty(),
        "{first:?}"
    );
    assert!(first.executed.iter().any(|n| n == "data_lmr"), "{first:?}");
    for n in [
        "mlm",
        "mlm[mlm.init=random]",
        "mlm[mlm.freeze_embeddings=true]",
        "bli_mlm",
        "bli_mlm[mlm.init=random]",
        "unmt",
        "unmt[mlm.init=random]",
        "unmt[mlm.freeze_embeddings=true]",
    ] {
        assert!(
            first.executed.iter().any(|x| x == n),
            "{n} should run: {first:?}"
        );
    }
    let mlm: serde_json::Value =
        serde_json::from_str(&stdout(&env.unmt(&["show", "mlm", "--json"]))).expect("json");
    let m = &mlm["metrics"];
    assert!(m["init_coverage"].as_f64().unwrap_or(0.0) > 0.9, "{mlm}");
    let ppl = m["valid_mk_mlm_ppl"].as_f64().unwrap_or(f64::NAN);
    assert!(ppl.is_finite() && ppl > 1.0, "{mlm}");
    let bli: serde_json::Value =
        serde_json::from_str(&stdout(&env.unmt(&["show", "bli_mlm", "--json"]))).expect("json");
    assert!(
        bli["metrics"]["coverage"].as_f64().unwrap_or(0.0) > 0.9,
        "{bli}"
    );

    let unmt: serde_json::Value =
        serde_json::from_str(&stdout(&env.unmt(&["show", "unmt", "--json"]))).expect("json");
    let m = &unmt["metrics"];
    for d in ["en-mk", "mk-en"] {
        for k in ["bleu", "sacrebleu", "chrf", "acc", "empty"] {
            let v = m[format!("valid_{d}_mt_{k}")].as_f64().unwrap_or(f64::NAN);
            assert!((0.0..=100.0).contains(&v), "valid_{d}_mt_{k} = {v}: {unmt}");
        }
        let ppl = m[format!("valid_{d}_mt_ppl")].as_f64().unwrap_or(f64::NAN);
        assert!(ppl.is_finite() && ppl > 1.0, "{unmt}");
    }
    let dir = unmt["path"].as_str().expect("path");
    let hyps = std::fs::read_to_string(format!("{dir}/out/hypotheses/mk-en.txt")).expect("hyps");
    assert_eq!(
        hyps.lines().count(),
        200,
        "one translation per validation line"
    );

    let pair = env.run(&repo("recipes/en-sq.toml"), &["-j", "2"], 0);
    for shared in ["corpus_en", "tok_en", "tok_en_valid"] {
        assert!(
            pair.reused.iter().any(|n| n == shared),
            "{shared} should be reused: {pair:?}"
        );
    }
    for changed in ["corpus_lmr", "tok_lmr", "bpe", "data_en"] {
        assert!(
            pair.executed.iter().any(|n| n == changed),
            "{changed} should run: {pair:?}"
        );
    }
    let show: serde_json::Value =
        serde_json::from_str(&stdout(&env.unmt(&["show", "data_lmr", "--json"]))).expect("json");
    assert!(
        show["metrics"]["n_sentences"].as_f64().unwrap_or(0.0) > 300.0,
        "{show}"
    );
}
