//! Recipe variables and templates, `unmt config`, targets, `--force`, and inputs a node does
//! not read.

use crate::common::{Env, names, stderr, stdout};

/// Two corpora and a sorted copy of each, written once with `foreach`; the language is a
/// variable.
const TEMPLATED: &str = r#"[vars]
lmr = "b"
sides = ["a", "${lmr}"]

[files]
a = "a.txt"
b = "b.txt"
c = "c.txt"

[nodes."corpus_${item}"]
foreach = "${sides}"
stage = "corpus"
inputs = { text = "files.${item}" }
params = { valid = 1 }

[nodes."sort_${item}"]
foreach = "${sides}"
stage = "command"
inputs = { text = "corpus_${item}.train" }
params = { run = ["sort", "{in.text}"], stdout = "sorted" }
"#;

/// What `TEMPLATED` expands to, written by hand.
const BY_HAND: &str = r#"[files]
a = "a.txt"
b = "b.txt"

[nodes.corpus_a]
stage = "corpus"
inputs = { text = "files.a" }
params = { valid = 1 }

[nodes.corpus_b]
stage = "corpus"
inputs = { text = "files.b" }
params = { valid = 1 }

[nodes.sort_a]
stage = "command"
inputs = { text = "corpus_a.train" }
params = { run = ["sort", "{in.text}"], stdout = "sorted" }

[nodes.sort_b]
stage = "command"
inputs = { text = "corpus_b.train" }
params = { run = ["sort", "{in.text}"], stdout = "sorted" }
"#;

fn env() -> Env {
    let env = Env::new();
    env.write("a.txt", "a 3\na 1\na 2\n")
        .write("b.txt", "b 2\nb 1\nb 3\n")
        .write("c.txt", "c 1\nc 2\nc 3\n");
    env
}

fn refused(env: &Env, args: &[&str]) -> String {
    let out = env.unmt(args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    stderr(&out)
}

#[test]
fn a_templated_recipe_has_the_keys_of_its_hand_written_expansion() {
    let env = env();
    env.write("t.toml", TEMPLATED).write("h.toml", BY_HAND);
    let s = env.run("t.toml", &[], 0);
    assert_eq!(
        s.executed,
        names(&["corpus_a", "corpus_b", "sort_a", "sort_b"])
    );
    let h = env.run("h.toml", &[], 0);
    assert!(h.executed.is_empty(), "{h:?}");
    assert_eq!(h.reused.len(), 4, "{h:?}");

    // Provenance: both recipes used the result; the external file it read, with its hash.
    let show = stdout(&env.unmt(&["show", "corpus_a"]));
    let dir = env.dir.path().display().to_string();
    for expected in [
        format!("{dir}/t.toml as `corpus_a`"),
        format!("{dir}/h.toml as `corpus_a`"),
        "text: files.a = a.txt (".to_owned(),
    ] {
        assert!(show.contains(&expected), "{expected}: {show}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&env.unmt(&["show", "corpus_a", "--json"]))).expect("json");
    assert_eq!(json["used_by"].as_array().map(Vec::len), Some(2), "{json}");

    // Another result under the same name in another recipe: `show` says so, `--recipe` picks.
    env.write("h2.toml", &BY_HAND.replace("valid = 1", "valid = 2"));
    env.run("h2.toml", &["corpus_a"], 0);
    let show = stdout(&env.unmt(&["show", "corpus_a", "--recipe", "t.toml"]));
    assert!(show.contains("valid = 1"), "{show}");
    let show = stdout(&env.unmt(&["show", "corpus_a"]));
    assert!(show.contains("valid = 2"), "{show}");
    assert!(show.contains("other recipes hold other results"), "{show}");
}

#[test]
fn set_overrides_a_variable_and_config_shows_where_values_come_from() {
    let env = env();
    env.write("t.toml", TEMPLATED);
    let s = env.run("t.toml", &["--set", "vars.lmr=c"], 0);
    assert_eq!(
        s.executed,
        names(&["corpus_a", "corpus_c", "sort_a", "sort_c"])
    );
    let out = env.unmt(&["config", "t.toml", "--set", "vars.lmr=c"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out).replace(&env.dir.path().display().to_string(), "$DIR");
    insta::assert_snapshot!(text);

    let err = refused(&env, &["check", "t.toml", "--set", "vars.lrm=c"]);
    assert!(err.contains("the recipe has no variable `lrm`"), "{err}");
    assert!(err.contains("its variables: lmr, sides"), "{err}");
    let err = refused(&env, &["check", "t.toml", "--set", "lmr=c"]);
    assert!(err.contains("does not set a recipe variable"), "{err}");
}

#[test]
fn variable_errors_point_at_the_use_and_the_definition() {
    let env = env();
    let unknown = TEMPLATED.replace("files.${item}", "files.${itme}");
    env.write("u.toml", &unknown);
    insta::assert_snapshot!("unknown_variable", refused(&env, &["check", "u.toml"]));

    // A bad value found by validation also points at the variable's definition.
    let bad = "[vars]\nn = \"ten\"\n\n[files]\na = \"a.txt\"\n\n[nodes.corpus_a]\nstage = \"corpus\"\ninputs = { text = \"files.a\" }\nparams = { valid = \"${n}\" }\n";
    env.write("v.toml", bad);
    insta::assert_snapshot!(
        "bad_value_from_a_variable",
        refused(&env, &["check", "v.toml"])
    );

    let cycle = "[vars]\na = \"${b}\"\nb = \"x${a}\"\n\n[files]\na = \"a.txt\"\n";
    env.write("c.toml", cycle);
    let err = refused(&env, &["check", "c.toml"]);
    assert!(err.contains("is defined in terms of itself"), "{err}");

    let one_name = TEMPLATED.replace("[nodes.\"sort_${item}\"]", "[nodes.sort]");
    env.write("n.toml", &one_name);
    let err = refused(&env, &["check", "n.toml"]);
    assert!(err.contains("would make 2 nodes of one name"), "{err}");
}

#[test]
fn a_child_recipe_sets_a_variable_and_overrides_a_template_node() {
    let env = env();
    env.write("t.toml", TEMPLATED).write(
        "child.toml",
        "extends = \"t.toml\"\n\n[vars]\nlmr = \"c\"\n\n[nodes.corpus_c.params]\nvalid = 2\n",
    );
    let out = env.unmt(&["config", "child.toml"]);
    let text = stdout(&out);
    assert!(text.contains("[nodes.corpus_c]"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("params.valid = 2") && l.contains("child.toml:7")),
        "{text}"
    );
    assert!(!text.contains("corpus_b"), "{text}");
}

#[test]
fn run_with_targets_runs_only_their_ancestors_and_force_reruns_a_node() {
    let env = env();
    env.write("h.toml", BY_HAND);
    let s = env.run("h.toml", &["sort_a"], 0);
    assert_eq!(s.executed, names(&["corpus_a", "sort_a"]));
    let s = env.run("h.toml", &["corpus_*"], 0);
    assert_eq!(s.executed, names(&["corpus_b"]));
    assert_eq!(s.reused, names(&["corpus_a"]));

    // A forced node reruns; its consumer does not, since the output is the same.
    let s = env.run("h.toml", &["--force", "corpus_a"], 0);
    assert_eq!(s.executed, names(&["corpus_a", "sort_b"]));
    assert_eq!(s.reused, names(&["corpus_b", "sort_a"]));

    let err = refused(&env, &["run", "h.toml", "sort_c"]);
    assert!(err.contains("no node named `sort_c`"), "{err}");
}

#[test]
fn an_input_a_node_does_not_read_is_left_out_of_its_key() {
    let env = Env::new();
    let data = format!("{}/examples/data", env!("CARGO_MANIFEST_DIR"));
    let recipe = |vec: &str| {
        format!(
            r#"[files]
en = "{data}/en.setimes.txt"
vec = "{vec}"

[nodes.vocab]
stage = "vocab"
inputs = {{ text = ["files.en"] }}

[nodes.data_en]
stage = "binarize"
inputs = {{ text = "files.en", vocab = "vocab.vocab" }}

[nodes.mlm]
stage = "mlm"
inputs = {{ train = ["data_en.data"], valid = ["data_en.data"], vocab = "vocab.vocab", vectors = "files.vec" }}
params = {{ langs = ["en"], init = "random", dim = 16, n_layers = 1, n_heads = 2, bptt = 16, batch_size = 8, epoch_size = 16, max_epochs = 1, eval_batch = 64 }}
"#
        )
    };
    env.write("a.vec", "1 2\nx 0.1 0.2\n")
        .write("b.vec", "1 2\nx 0.3 0.4\n");
    env.write("r.toml", &recipe("a.vec"));
    let out = env.unmt(&["check", "r.toml"]);
    assert!(
        stderr(&out).contains("`mlm` does not read its input `vectors`"),
        "{}",
        stderr(&out)
    );
    env.run("r.toml", &[], 0);
    env.write("r.toml", &recipe("b.vec"));
    let s = env.run("r.toml", &[], 0);
    assert!(s.executed.is_empty(), "{s:?}");
}

/// `TEMPLATED` with a node reading both sides, and the variable as a sweep axis.
fn var_swept(extra: &str) -> String {
    format!(
        r#"{TEMPLATED}
[nodes.both]
stage = "command"
inputs = {{ a = "sort_a.sorted", b = "sort_${{lmr}}.sorted" }}
params = {{ run = ["cat", "{{in.a}}", "{{in.b}}"], stdout = "joined" }}

[sweep]
"vars.lmr" = ["c"]
{extra}"#
    )
}

#[test]
fn a_variable_axis_runs_the_plan_per_value_and_shares_what_does_not_change() {
    let env = env();
    env.write("s.toml", &var_swept(""));
    let s = env.run("s.toml", &[], 0);
    // `corpus_a`/`sort_a` do not depend on `lmr`: one node for both values. `corpus_c` and
    // `sort_c` are new names; `both` differs under the same name, so it is labelled.
    assert_eq!(
        s.executed,
        names(&[
            "both",
            "both[vars.lmr=c]",
            "corpus_a",
            "corpus_b",
            "corpus_c",
            "sort_a",
            "sort_b",
            "sort_c",
        ])
    );
    // The alternative has the keys of the recipe run with `--set vars.lmr=c`.
    let set = env.run("s.toml", &["--set", "vars.lmr=c"], 0);
    assert!(set.executed.is_empty(), "{set:?}");
    let plan = stdout(&env.unmt(&["plan", "s.toml", "--plan", "baseline"]));
    assert!(!plan.contains("vars.lmr=c"), "{plan}");
}

#[test]
fn a_named_plan_crosses_a_variable_axis_with_a_parameter_axis() {
    let env = env();
    env.write(
        "s.toml",
        &var_swept("\"corpus_a.valid\" = [2]\n\n[plans.full]\ncross = [\"vars.lmr\", \"corpus_a.valid\"]\n"),
    );
    let out = env.unmt(&["plan", "s.toml", "--plan", "full", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).expect("json");
    let mut nodes: Vec<&str> = rows.iter().filter_map(|r| r["node"].as_str()).collect();
    nodes.sort_unstable();
    assert_eq!(
        nodes,
        [
            "both",
            "both[corpus_a.valid=2]",
            "both[vars.lmr=c,corpus_a.valid=2]",
            "both[vars.lmr=c]",
            "corpus_a",
            "corpus_a[corpus_a.valid=2]",
            "corpus_b",
            "corpus_c",
            "sort_a",
            "sort_a[corpus_a.valid=2]",
            "sort_b",
            "sort_c",
        ]
    );
}

#[test]
fn a_variable_axis_must_name_a_variable() {
    let env = env();
    env.write(
        "s.toml",
        &var_swept("").replace("\"vars.lmr\"", "\"vars.lmx\""),
    );
    let err = refused(&env, &["check", "s.toml"]);
    insta::assert_snapshot!(err);
}

#[test]
fn an_error_under_one_value_of_a_variable_axis_is_found_by_check() {
    let env = env();
    // `files.d` does not exist: only the alternative `lmr = "d"` refers to it.
    env.write(
        "s.toml",
        &var_swept("").replace("[\"c\"]", "[\"c\", \"d\"]"),
    );
    let err = refused(&env, &["check", "s.toml"]);
    let words = err.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("no file named `d`"), "{err}");
    assert!(
        words.contains("under the sweep alternative `vars.lmr=d`"),
        "{err}"
    );
}

#[test]
fn explain_in_a_child_recipe_compares_with_the_base_recipes_result() {
    let env = env();
    env.write("t.toml", TEMPLATED).write(
        "child.toml",
        "extends = \"t.toml\"\n\n[nodes.corpus_a.params]\nvalid = 2\n",
    );
    env.run("t.toml", &[], 0);
    let out = env.unmt(&["explain", "child.toml", "corpus_a"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("t.toml`; never run in this one"), "{text}");
    assert!(text.contains("valid"), "{text}");
}
