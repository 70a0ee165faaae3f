//! Stage failures as the user sees them (snapshots): each names the file and, where it
//! applies, the line, and shows its cause once.

use crate::common::{Env, stderr, stdout};

const BAD_INPUTS: &str = r#"[files]
bad_text = "bad.txt"
bad_vec = "bad.vec"
good_vec = "good.vec"
bad_dict = "dict.txt"

[nodes.tokenize_invalid_utf8]
stage = "tokenize"
inputs = { text = "files.bad_text" }
params = { lang = "en" }

[nodes.vecmap_bad_vec]
stage = "vecmap"
inputs = { src = "files.bad_vec", trg = "files.good_vec" }

[nodes.bli_bad_dictionary_line]
stage = "bli"
inputs = { src = "files.good_vec", trg = "files.good_vec", dictionary = "files.bad_dict" }
"#;

fn env_with_bad_inputs() -> Env {
    let env = Env::new();
    env.write("r.toml", BAD_INPUTS)
        .write("bad.vec", "2 3\na 1 2 3\nb 1 x 3\n")
        .write("good.vec", "2 3\na 1 2 3\nb 1 2 3\n")
        .write("dict.txt", "a b\nc d e\n");
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
