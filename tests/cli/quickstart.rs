//! The shipped recipes run end to end, and a second language pair reuses the shared nodes.

use crate::common::{Env, stdout};

fn repo(rel: &str) -> String {
    format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn quickstart_runs_and_a_new_pair_reuses_the_english_side() {
    let env = Env::new();
    let first = env.run(&repo("recipes/quickstart.toml"), &["-j", "2"], 0);
    // Within one run only a score of output identical to another variant's is reused (a
    // tiny model can translate every line to nothing in all variants).
    assert!(
        first.failed.is_empty() && first.reused.iter().all(|n| n.starts_with("test_")),
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
    // The quickstart is written with `[vars]` and `foreach`; its hand-written expansion (as
    // it was before templates) has the same keys: everything is reused.
    let by_hand = env.run(
        &repo("tests/cli/fixtures/quickstart-handwritten.toml"),
        &[],
        0,
    );
    assert!(by_hand.executed.is_empty(), "{by_hand:?}");
    assert_eq!(
        by_hand.reused.len(),
        first.executed.len() + first.reused.len(),
        "{by_hand:?}"
    );

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
    // Beside MUSE's figures, the same without identical-string pairs (fewer pairs kept).
    let kept = |k: &str| bli["metrics"][k].as_f64().unwrap_or(f64::NAN);
    assert!(kept("pairs_kept_cross") < kept("pairs_kept"), "{bli}");
    assert!(kept("csls_p1_cross").is_finite(), "{bli}");

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

    // Beam-5 test translations of every variant, scored.
    for n in [
        "translate_lmr_en",
        "translate_en_lmr[mlm.init=random]",
        "test_lmr_en",
        "test_en_lmr[mlm.freeze_embeddings=true]",
    ] {
        assert!(
            first.executed.iter().chain(&first.reused).any(|x| x == n),
            "{n} should run: {first:?}"
        );
    }
    let show = |node: &str| -> serde_json::Value {
        serde_json::from_str(&stdout(&env.unmt(&["show", node, "--json"]))).expect("json")
    };
    let test = show("test_en_lmr");
    for k in ["bleu", "bleu_p1", "chrf"] {
        let v = test["metrics"][k].as_f64().unwrap_or(f64::NAN);
        assert!((0.0..=100.0).contains(&v), "{k} = {v}: {test}");
    }
    let translated = show("translate_en_lmr");
    assert_eq!(
        translated["metrics"]["lines"].as_f64(),
        Some(100.0),
        "{translated}"
    );
    let out = |node: &str, name: &str| {
        format!("{}/out/{name}", show(node)["path"].as_str().expect("path"))
    };
    let text = std::fs::read_to_string(out("translate_en_lmr", "text")).expect("translations");
    assert_eq!(text.lines().count(), 100, "one translation per test line");

    // `unmt translate` from the cached node, from its exported model directory, and from
    // the bare files: raw text in, one line out per line in, the same translations.
    let input = "The government said on Monday.\n\nThe economy grows.\n";
    let from_node = translate(&env, &["--node", "unmt"], input);
    let lines: Vec<&str> = from_node.lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[1], "", "an empty line stays empty");
    let exported = env.path("exported");
    let export = env.unmt(&["export", "unmt", exported.to_str().expect("utf-8")]);
    assert_eq!(
        export.status.code(),
        Some(0),
        "{}",
        crate::common::stderr(&export)
    );
    assert!(exported.join("unmt-model.json").is_file());
    let dir = exported.to_str().expect("utf-8");
    assert_eq!(translate(&env, &["--model", dir], input), from_node);
    let (model, vocab, codes) = (
        out("unmt", "best"),
        out("vocab", "vocab"),
        out("bpe", "codes"),
    );
    let files = ["--model", &model, "--vocab", &vocab, "--codes", &codes];
    assert_eq!(translate(&env, &files, input), from_node);

    let refused = |args: &[&str], expected: &str| {
        let out = env.unmt(args);
        let err = crate::common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        // miette wraps long messages: compare word by word.
        let words = |s: &str| {
            s.split_whitespace()
                .filter(|w| *w != "│")
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert!(words(&err).contains(&words(expected)), "{args:?}: {err}");
    };
    refused(&["export", "unmt", dir], "it already exists");
    refused(
        &["export", "mlm", "elsewhere"],
        "is a `mlm` node, not a `unmt` node",
    );
    refused(
        &["translate", "--model", &model, "--src", "en", "--tgt", "mk"],
        "is a checkpoint file, not a model directory",
    );
    let mut wrong = vec!["translate"];
    wrong.extend(files);
    wrong.extend(["--src", "en", "--tgt", "sq"]);
    refused(&wrong, "`sq` is not a language of the model");

    report(&env);

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
    // An empty source file reaches no model: the node says so (and still writes its outputs).
    env.write("empty.txt", "");
    env.write(
        "child.toml",
        &format!(
            "extends = \"{}\"\n\n[files]\nempty = \"empty.txt\"\n\n[nodes.translate_empty]\nstage = \"translate\"\ninputs = {{ model = \"unmt.best\", vocab = \"vocab.vocab\", text = \"files.empty\" }}\nparams = {{ src = \"mk\", tgt = \"en\" }}\n",
            repo("recipes/quickstart.toml")
        ),
    );
    let out = env.unmt(&["run", "child.toml", "--json", "translate_empty"]);
    let events = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{events}");
    assert!(events.contains("nothing was translated"), "{events}");
    assert_eq!(
        crate::common::summary(&events).executed,
        ["translate_empty"],
        "{events}"
    );

    // One variable made the pair right: Albanian Moses rules, the en-sq dictionary, `sq`
    // in model languages and metric names.
    let config = stdout(&env.unmt(&["config", &repo("recipes/en-sq.toml")]));
    for expected in [
        "params.lang = \"sq\"",
        "dict.en-sq.txt",
        "valid.sq-en.sq",
        "params.stopping_criterion = \"valid_sq-en_mt_bleu\"",
    ] {
        assert!(config.contains(expected), "{expected}: {config}");
    }
    assert!(!config.contains("\"mk\""), "{config}");
    // The child recipe above ran last, so `unmt` alone names its (Macedonian) result.
    let en_sq = repo("recipes/en-sq.toml");
    let show = ["show", "unmt", "--recipe", &en_sq, "--json"];
    let unmt: serde_json::Value = serde_json::from_str(&stdout(&env.unmt(&show))).expect("json");
    assert!(unmt["metrics"]["valid_sq-en_mt_bleu"].is_number(), "{unmt}");
}

/// `unmt translate ARGS --src en --tgt mk --beam 2` with `input` on stdin; its stdout.
fn translate(env: &Env, args: &[&str], input: &str) -> String {
    let mut all = vec!["translate"];
    all.extend(args);
    all.extend(["--src", "en", "--tgt", "mk", "--beam", "2"]);
    let mut cmd = env.command(&all);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("write");
    }
    let done = child.wait_with_output().expect("translate");
    assert_eq!(
        done.status.code(),
        Some(0),
        "{args:?}: {}",
        crate::common::stderr(&done)
    );
    stdout(&done)
}

/// `recipes/pairs.toml`: English-Macedonian and English-Albanian in one plan. The English
/// monolingual side is one set of nodes; the Albanian pipeline, from its corpus to its test
/// scores and for every MLM variant, is labelled `[vars.lmr=sq]`.
#[test]
fn two_language_pairs_in_one_plan_share_the_english_side() {
    let env = Env::new();
    let out = env.unmt(&["plan", &repo("recipes/pairs.toml"), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::common::stderr(&out)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).expect("json");
    let names: Vec<&str> = rows.iter().filter_map(|r| r["node"].as_str()).collect();
    for shared in ["corpus_en", "tok_en", "tok_en_valid"] {
        assert_eq!(
            names.iter().filter(|n| **n == shared).count(),
            1,
            "{names:?}"
        );
        assert!(
            !names.contains(&format!("{shared}[vars.lmr=sq]").as_str()),
            "{names:?}"
        );
    }
    for alt in [
        "corpus_lmr[vars.lmr=sq]",
        "mlm[vars.lmr=sq]",
        "mlm[vars.lmr=sq,mlm.init=random]",
        "unmt[vars.lmr=sq,mlm.freeze_embeddings=true]",
        "test_lmr_en[vars.lmr=sq]",
    ] {
        assert!(names.contains(&alt), "{alt} missing: {names:?}");
    }
    // The Albanian alternative is the quickstart run with `--set vars.lmr=sq`: same keys.
    let set = env.unmt(&[
        "plan",
        &repo("recipes/quickstart.toml"),
        "--json",
        "--set",
        "vars.lmr=sq",
    ]);
    let set: Vec<serde_json::Value> = serde_json::from_str(&stdout(&set)).expect("json");
    let key = |rows: &[serde_json::Value], node: &str| {
        rows.iter()
            .find(|r| r["node"] == node)
            .map(|r| r["key"].clone())
            .unwrap_or_default()
    };
    // (Keys are known before running for nodes that read only files.)
    for node in ["corpus_lmr", "tok_lmr_par"] {
        let alt = key(&rows, &format!("{node}[vars.lmr=sq]"));
        assert!(alt.is_string(), "{node}: {alt}");
        assert_eq!(alt, key(&set, node));
        assert_ne!(alt, key(&rows, node));
    }
}

/// The paper's recipes check on stand-in files with the documented names (their data is
/// the user's), and plan every model of Tables 1-4 and 7 in one graph.
#[test]
fn the_paper_recipes_check_and_plan_every_method() {
    let env = Env::new();
    for f in [
        "mono.en", "mono.mk", "mono.sq", "valid.en", "valid.mk", "valid.sq", "test.en", "test.mk",
        "test.sq",
    ] {
        env.write(&format!("data/{f}"), "a b\n");
    }
    env.write("data/dict.en-mk.0-5000.txt", "a b\n")
        .write("data/dict.en-sq.0-5000.txt", "a b\n");
    let data = format!("vars.data={}", env.path("data").display());
    for pair in ["en-mk", "en-sq"] {
        let recipe = repo(&format!("recipes/paper/{pair}.toml"));
        let out = env.unmt(&["check", &recipe, "--set", &data]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{pair}: {}",
            crate::common::stderr(&out)
        );
        let out = env.unmt(&["plan", &recipe, "--set", &data, "--json"]);
        let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).expect("json");
        let names: Vec<&str> = rows.iter().filter_map(|r| r["node"].as_str()).collect();
        for model in [
            "xlm",
            "lex",
            "lex_frozen",
            "joint",
            "relm",
            "lex_relm",
            "relm_adapters",
        ] {
            for node in [
                format!("mlm_{model}"),
                format!("bli_{model}"),
                format!("unmt_{model}"),
                format!("test_{model}_lmr_en"),
                format!("test_{model}_en_lmr"),
            ] {
                assert!(names.contains(&node.as_str()), "{pair}: {node}");
            }
        }
        assert_eq!(names.iter().filter(|n| **n == "tok_en").count(), 1);
    }
}

/// `unmt report` of the quickstart: Markdown and CSV snapshots with the figures a run
/// computes replaced by `<n>` (training on another CPU may round differently) and without
/// p-values and warnings (whether two variants translate identically, and so get no
/// p-value, depends on those figures; `tests/cli/report.rs` checks p-values), and every
/// format with the figures written into `target/tmp/quickstart-report/`, where
/// `tests/report_html.py` opens the page in a browser.
fn report(env: &Env) {
    let recipe = repo("recipes/quickstart.toml");
    let md = env.unmt(&["report", &recipe]);
    assert_eq!(md.status.code(), Some(0), "{}", crate::common::stderr(&md));
    let md = stdout(&md).replace(env!("CARGO_MANIFEST_DIR"), "<repo>");
    let numeric = regex::Regex::new(r"^-?[0-9.]+(e-?[0-9]+)?$|^NaN$|^-?inf$").expect("regex");
    let cells = |line: &str, sep: char, skip: usize| -> String {
        line.split(sep)
            .enumerate()
            .map(|(i, c)| {
                let t = c.trim();
                let value = t.split_once(" (p=").map_or(t, |(v, _)| v);
                match (i >= skip && numeric.is_match(value), c.starts_with(' ')) {
                    (true, true) => " <n> ".to_owned(),
                    (true, false) => "<n>".to_owned(),
                    (false, _) => c.to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join(&sep.to_string())
    };
    let md = md.split("\n## Warnings").next().unwrap_or_default();
    let md: String = md
        .lines()
        .map(|l| if l.starts_with('|') { cells(l, '|', 2) } else { l.to_owned() } + "\n")
        .collect();
    insta::assert_snapshot!("quickstart_report_md", md);
    let csv = env.unmt(&["report", &recipe, "--format", "csv"]);
    let csv: String = stdout(&csv)
        .lines()
        .map(|l| {
            let mut f: Vec<String> = cells(l, ',', 3).split(',').map(str::to_owned).collect();
            if f.len() > 4 && f[4] != "p_value" {
                f[4] = "<p?>".to_owned();
            }
            f.join(",") + "\n"
        })
        .collect();
    insta::assert_snapshot!("quickstart_report_csv", csv);

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("quickstart-report");
    let _ = std::fs::remove_dir_all(&dir);
    let out = env.unmt(&["report", &recipe, "--out", dir.to_str().expect("utf-8")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::common::stderr(&out)
    );
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    for plot in ["mlm_ppl", "unmt_bleu", "bli", "mlm_loss", "unmt_loss"] {
        assert!(html.contains(&format!("id=\"plot-{plot}\"")), "{plot}");
        assert!(dir.join(format!("plots/{plot}.svg")).is_file(), "{plot}");
    }
}
