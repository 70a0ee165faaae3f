//! Every kind of recipe error, rendered as the user sees it (snapshots).

use crate::common::{Env, stderr};

fn check(files: &[(&str, &str)]) -> String {
    let env = Env::new();
    env.write("a.txt", "one line\n");
    for (name, text) in files {
        env.write(name, text);
    }
    let out = env.unmt(&["check", files[0].0]);
    assert_eq!(out.status.code(), Some(2), "expected a recipe error");
    stderr(&out)
}

const OK_NODE: &str = "[files]\na = \"a.txt\"\n\n[nodes.corpus_a]\nstage = \"corpus\"\ninputs = { text = \"files.a\" }\n";

#[test]
fn unknown_top_level_key() {
    insta::assert_snapshot!(check(&[("r.toml", "[node.x]\nstage = \"corpus\"\n")]));
}

#[test]
fn unknown_parameter_with_suggestion() {
    insta::assert_snapshot!(check(&[(
        "r.toml",
        &format!("{OK_NODE}params = {{ dedupe = true }}\n")
    )]));
}

#[test]
fn wrong_parameter_type() {
    insta::assert_snapshot!(check(&[(
        "r.toml",
        &format!("{OK_NODE}params = {{ valid = \"ten\" }}\n")
    )]));
}

#[test]
fn out_of_range_parameter() {
    insta::assert_snapshot!(check(&[(
        "r.toml",
        &format!("{OK_NODE}params = {{ min_words = 0 }}\n")
    )]));
}

#[test]
fn unknown_stage_kind() {
    insta::assert_snapshot!(check(&[("r.toml", "[nodes.c]\nstage = \"corpra\"\n")]));
}

#[test]
fn dangling_references() {
    insta::assert_snapshot!(check(&[(
        "r.toml",
        &format!(
            "{OK_NODE}\n[nodes.sorted]\nstage = \"command\"\ninputs = {{ text = \"corpus_a.trian\", more = \"corpus_b.train\", file = \"files.b\" }}\nparams = {{ run = [\"sort\", \"{{in.text}}\"], stdout = \"sorted\" }}\n"
        )
    )]));
}

#[test]
fn dependency_cycle() {
    let node = |name: &str, input: &str| {
        format!(
            "[nodes.{name}]\nstage = \"command\"\ninputs = {{ x = \"{input}.out\" }}\nparams = {{ run = [\"true\"], stdout = \"out\" }}\n\n"
        )
    };
    insta::assert_snapshot!(check(&[("r.toml", &(node("a", "b") + &node("b", "a")))]));
}

#[test]
fn missing_input_file() {
    insta::assert_snapshot!(check(&[("r.toml", "[files]\nen = \"data/missing.txt\"\n")]));
}

#[test]
fn sweep_axis_matching_no_parameter() {
    insta::assert_snapshot!(check(&[(
        "r.toml",
        &format!("{OK_NODE}\n[sweep]\n\"corpus_a.dedupe\" = [true]\n\"corpus_b.seed\" = [1]\n")
    )]));
}

#[test]
fn unquoted_sweep_axis() {
    insta::assert_snapshot!(check(&[(
        "r.toml",
        &format!("{OK_NODE}\n[sweep]\ncorpus_a.seed = [1]\n")
    )]));
}

#[test]
fn missing_stage_and_input_slot() {
    insta::assert_snapshot!(check(&[(
        "r.toml",
        "[nodes.c]\nparams = {}\n\n[nodes.d]\nstage = \"corpus\"\n"
    )]));
}

#[test]
fn invalid_toml() {
    insta::assert_snapshot!(check(&[("r.toml", "[nodes.c\nstage = 1\n")]));
}

#[test]
fn errors_in_an_extended_file_point_into_that_file() {
    insta::assert_snapshot!(check(&[
        (
            "pair.toml",
            "extends = \"base.toml\"\n\n[files]\na = \"a.txt\"\n"
        ),
        (
            "base.toml",
            "[nodes.corpus_a]\nstage = \"corpus\"\ninputs = { text = \"files.a\" }\nparams = { seed = -1 }\n"
        ),
    ]));
}

const MLM_NODE: &str = "[files]\na = \"a.txt\"\n\n[nodes.m]\nstage = \"mlm\"\ninputs = { train = [\"files.a\"], valid = [\"files.a\"], vocab = \"files.a\" }\n";

#[test]
fn mlm_heads_must_divide_dim() {
    insta::assert_snapshot!(check(&[(
        "r.toml",
        &format!("{MLM_NODE}params = {{ dim = 30, n_heads = 4 }}\n")
    )]));
}

/// Every bad parameter of a node is reported, and nothing else: no second error for a
/// sweep axis or report table that names the node.
#[test]
fn every_bad_parameter_of_a_node_is_reported_once() {
    insta::assert_snapshot!(check(&[(
        "r.toml",
        &format!(
            "{MLM_NODE}params = {{ dim = 64, n_layers = 0, n_heads = 5, dropout = 2.0, bogus = 1 }}\n\n\
             [sweep]\n\"m.init\" = [\"random\"]\n\n\
             [report.t]\ncolumns = [{{ label = \"ppl\", node = \"m\", metric = \"valid_en_mlm_ppl\" }}]\n"
        )
    )]));
}

#[test]
fn aligned_mlm_needs_vectors() {
    insta::assert_snapshot!(check(&[(
        "r.toml",
        &format!("{MLM_NODE}params = {{ init = \"aligned\", dim = 32, n_heads = 4 }}\n")
    )]));
}

#[test]
fn empty_input_list() {
    insta::assert_snapshot!(check(&[(
        "r.toml",
        "[nodes.v]\nstage = \"vocab\"\ninputs = { text = [] }\n"
    )]));
}

#[test]
fn command_placeholder_for_an_unwired_slot() {
    insta::assert_snapshot!(check(&[(
        "r.toml",
        &format!(
            "{OK_NODE}\n[nodes.sorted]\nstage = \"command\"\ninputs = {{ text = \"corpus_a.train\" }}\nparams = {{ run = [\"sort\", \"{{in.txt}}\"], stdout = \"sorted\" }}\n"
        )
    )]));
}

#[test]
fn nan_parameter() {
    insta::assert_snapshot!(check(&[(
        "r.toml",
        "[nodes.s]\nstage = \"skipgram\"\ninputs = { text = \"files.a\" }\nparams = { lr = nan }\n\n[files]\na = \"a.txt\"\n"
    )]));
}

/// Albanian text tokenized with the Macedonian rules, embedded in 8 dimensions, feeding an
/// MLM of dimension 16 whose `langs` say Albanian.
const CONNECTED: &str = r#"[files]
a = "a.txt"

[nodes.tok_sq]
stage = "tokenize"
inputs = { text = "files.a" }
params = { lang = "mk" }

[nodes.sg]
stage = "skipgram"
inputs = { text = "tok_sq.text" }
params = { dim = 8 }

[nodes.vocab]
stage = "vocab"
inputs = { text = ["tok_sq.text"] }

[nodes.data_sq]
stage = "binarize"
inputs = { text = "tok_sq.text", vocab = "vocab.vocab" }

[nodes.mlm]
stage = "mlm"
inputs = { train = ["data_sq.data"], valid = ["data_sq.data"], vocab = "vocab.vocab", vectors = "sg.vec" }
"#;

#[test]
fn dimension_that_disagrees_with_the_vectors() {
    insta::assert_snapshot!(check(&[(
        "r.toml",
        &format!(
            "{CONNECTED}params = {{ langs = [\"mk\"], init = \"aligned\", dim = 16, n_heads = 4 }}\n"
        )
    )]));
}

#[test]
fn language_that_disagrees_with_the_data() {
    insta::assert_snapshot!(check(&[(
        "r.toml",
        &format!("{CONNECTED}params = {{ langs = [\"sq\"], dim = 16, n_heads = 4 }}\n")
    )]));
}

#[test]
fn dictionary_with_a_bad_line_is_found_by_check() {
    let env = Env::new();
    env.write("a.txt", "one line\n")
        .write("d.txt", "a b\nc d e\n")
        .write(
            "r.toml",
            "[files]\na = \"a.txt\"\nd = \"d.txt\"\n\n[nodes.sg]\nstage = \"skipgram\"\ninputs = { text = \"files.a\" }\n\n[nodes.bli]\nstage = \"bli\"\ninputs = { src = \"sg.vec\", trg = \"sg.vec\", dictionary = \"files.d\" }\n",
        );
    let out = env.unmt(&["check", "r.toml"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&out));
}
