//! Stage failures as the user sees them (snapshots): each names the file and, where it
//! applies, the line, and shows its cause once.

use crate::common::{Env, stderr, stdout};

/// One failing node per stage kind, each on a small external file.
const BAD_INPUTS: &str = r#"[files]
bad_text = "bad.txt"
bad_vec = "bad.vec"
good_vec = "good.vec"
short = "short.txt"
bad_codes = "codes.txt"
bad_vocab = "vocab.txt"
good_vocab = "good_vocab.txt"
hyp = "hyp.txt"

[nodes.corpus_too_short]
stage = "corpus"
inputs = { text = "files.short" }
params = { valid = 5, test = 5 }

[nodes.command_exits_1]
stage = "command"
inputs = { text = "files.short" }
params = { run = ["sh", "-c", "echo 'no such column' >&2; exit 3", "{in.text}"], stdout = "out" }

[nodes.detokenize_invalid_utf8]
stage = "detokenize"
inputs = { text = "files.bad_text" }

[nodes.bpe_learn_invalid_utf8]
stage = "bpe_learn"
inputs = { corpora = ["files.bad_text"] }
params = { merges = 10 }

[nodes.bpe_apply_bad_codes]
stage = "bpe_apply"
inputs = { text = "files.short", codes = "files.bad_codes" }

[nodes.vocab_invalid_utf8]
stage = "vocab"
inputs = { text = ["files.bad_text"] }

[nodes.binarize_bad_vocab]
stage = "binarize"
inputs = { text = "files.short", vocab = "files.bad_vocab" }

[nodes.skipgram_empty_vocabulary]
stage = "skipgram"
inputs = { text = ["files.short"] }
params = { min_count = 1000, dim = 8 }

[nodes.mlm_vectors_of_another_dim]
stage = "mlm"
inputs = { train = ["files.short"], valid = ["files.short"], vocab = "files.good_vocab", vectors = "files.good_vec" }
params = { langs = ["en"], init = "aligned", dim = 16, n_heads = 2, n_layers = 1 }

[nodes.score_line_counts_differ]
stage = "score"
inputs = { hyp = "files.hyp", refs = "files.short" }

[nodes.tokenize_invalid_utf8]
stage = "tokenize"
inputs = { text = "files.bad_text" }
params = { lang = "en" }

[nodes.vecmap_bad_vec]
stage = "vecmap"
inputs = { src = "files.bad_vec", trg = "files.good_vec" }
"#;
// A malformed dictionary is refused before anything runs (by `check`, and by `run` building
// its plan): `diagnostics::dictionary_with_a_bad_line_is_found_by_check`.

fn env_with_bad_inputs() -> Env {
    let env = Env::new();
    env.write("r.toml", BAD_INPUTS)
        .write("bad.vec", "2 3\na 1 2 3\nb 1 x 3\n")
        .write("good.vec", "2 3\na 1 2 3\nb 1 2 3\n")
        .write("dict.txt", "a b\nc d e\n")
        .write("short.txt", "one line\ntwo line\n")
        .write("codes.txt", "o n 3\nl i\n")
        .write("vocab.txt", "one 2\nline two\n")
        .write("good_vocab.txt", "line 2\none 1\ntwo 1\n")
        .write("hyp.txt", "one line\n");
    std::fs::write(env.path("bad.txt"), b"ok line\nbad \xff line\n").expect("write");
    env
}

#[test]
fn stage_failures_name_the_file_and_line() {
    let env = env_with_bad_inputs();
    let out = env.unmt(&["run", "r.toml", "--keep-going", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let mut failed: Vec<String> = stdout(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "failed")
        .map(|v| {
            format!(
                "{}: {}",
                v["node"].as_str().unwrap_or("?"),
                v["error"].as_str().unwrap_or("?")
            )
        })
        .collect();
    failed.sort();
    insta::assert_snapshot!(failed.join("\n"));
}

#[test]
fn the_node_log_ends_with_the_same_message() {
    let env = env_with_bad_inputs();
    let out = env.unmt(&["run", "r.toml", "--keep-going", "--json"]);
    let event = stdout(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "failed" && v["node"] == "vecmap_bad_vec")
        .expect("a failed event");
    let log = std::fs::read_to_string(env.path(event["log"].as_str().expect("log path")))
        .expect("the log is kept");
    let last = log.lines().last().expect("a line");
    assert_eq!(
        last,
        format!("error: {}", event["error"].as_str().expect("message"))
    );
}

#[test]
fn a_missing_input_file_shows_its_os_error_once() {
    let env = Env::new();
    env.write("good.vec", "1 2\na 1 2\n");
    let out = env.unmt(&[
        "bli",
        "--src-emb",
        "good.vec",
        "--trg-emb",
        "good.vec",
        "--dict",
        "nope.txt",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert_eq!(text.matches("os error 2").count(), 1, "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn a_bad_vec_file_on_the_command_line_names_file_and_line() {
    let env = env_with_bad_inputs();
    let out = env.unmt(&[
        "bli",
        "--src-emb",
        "bad.vec",
        "--trg-emb",
        "good.vec",
        "--dict",
        "dict.txt",
    ]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&out));
}
