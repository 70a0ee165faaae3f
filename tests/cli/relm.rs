//! RE-LM end to end on tiny data: an English MLM, the vocabulary extension, fine-tuning from
//! the English model (plain and lexically aligned), and UNMT from it (`recipes/relm.toml`,
//! shrunk).

use crate::common::{Env, stderr, stdout};

fn repo(rel: &str) -> String {
    format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"))
}

fn show(env: &Env, node: &str) -> serde_json::Value {
    let out = env.unmt(&["show", node, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("json")
}

#[test]
fn relm_pipeline_extends_fine_tunes_and_trains_unmt() {
    let env = Env::new();
    env.write(
        "r.toml",
        &format!(
            r#"extends = "{}"

[nodes.mlm_hmr.params]
epoch_size = 320
max_epochs = 1

[nodes.mlm.params]
epoch_size = 320
max_epochs = 1

[nodes.mlm_adapters.params]
epoch_size = 320
max_epochs = 1

[nodes.unmt.params]
epoch_size = 200
max_epochs = 1

[nodes.unmt_adapters.params]
epoch_size = 200
max_epochs = 1

[nodes.skipgram_lmr.params]
epoch = 1
"#,
            repo("recipes/relm.toml")
        ),
    );
    let s = env.run("r.toml", &["-j", "2"], 0);
    for n in [
        "mlm_hmr",
        "vocab_ext",
        "mlm",
        "mlm[mlm.init=aligned]",
        "unmt",
    ] {
        assert!(s.executed.iter().any(|x| x == n), "{n}: {s:?}");
    }
    let ext = show(&env, "vocab_ext");
    let new = ext["metrics"]["new_entries"].as_f64().expect("new_entries");
    assert!(new > 0.0, "{ext}");
    // Fine-tuned on the LMR only: English is validated, the criterion is the LMR's.
    let m = &show(&env, "mlm")["metrics"];
    assert!(m["valid_en_mlm_ppl"].as_f64().is_some(), "{m}");
    assert_eq!(m["valid_mlm_ppl"], m["valid_mk_mlm_ppl"], "{m}");
    // Lexically aligned: only the new rows take vectors, so coverage is at most their share.
    let a = &show(&env, "mlm[mlm.init=aligned]")["metrics"];
    let total = show(&env, "vocab_ext")["metrics"]["entries"]
        .as_f64()
        .expect("entries");
    let coverage = a["init_coverage"].as_f64().expect("coverage");
    assert!(
        coverage > 0.0 && coverage <= (new + 14.0) / (total + 14.0),
        "{a}"
    );
    for node in ["unmt", "unmt_adapters"] {
        let u = &show(&env, node)["metrics"];
        assert!(u["valid_mk-en_mt_bleu"].as_f64().is_some(), "{node}: {u}");
    }
    // Adapter fine-tuning adds 2 adapters per layer to the English model's parameters.
    let (plain, adapted) = (
        show(&env, "mlm")["metrics"]["n_params"]
            .as_f64()
            .expect("n_params"),
        show(&env, "mlm_adapters")["metrics"]["n_params"]
            .as_f64()
            .expect("n_params"),
    );
    assert_eq!(
        adapted - plain,
        (2 * 2 * (64 * 16 + 16 + 16 * 64 + 64)) as f64
    );
}

#[test]
fn fine_tuning_needs_the_pretrained_models_architecture() {
    let env = Env::new();
    env.write(
        "r.toml",
        &format!(
            "extends = \"{}\"\n\n[nodes.mlm.params]\ndim = 32\n",
            repo("recipes/relm.toml")
        ),
    );
    let out = env.unmt(&["check", "r.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        err.contains("`mlm_hmr.best` is 64-dimensional but `dim` is 32"),
        "{err}"
    );
}
