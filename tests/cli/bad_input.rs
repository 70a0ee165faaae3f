//! Inputs that once aborted the process or gave a result without meaning now fail with an
//! error that names the file (and line), or warn; outputs cannot point outside the cache
//! (#17, items 4 and 5).

use crate::common::{Env, stderr};

#[test]
fn a_vec_header_announcing_billions_of_dimensions_is_an_error_not_an_abort() {
    let env = Env::new();
    env.write("a.vec", "2 99999999999\na 1\nb 2\n")
        .write("b.vec", "2 1\na 1\nb 2\n")
        .write("d.txt", "a a\nb b\n");
    let out = env.unmt(&[
        "bli",
        "--src-emb",
        "a.vec",
        "--trg-emb",
        "b.vec",
        "--dict",
        "d.txt",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("announces 99999999999 dimensions"), "{err}");
}

#[test]
fn non_finite_vectors_are_refused_with_their_line() {
    let env = Env::new();
    env.write("a.vec", "2 2\na 1 2\nb nan 1\n")
        .write("b.vec", "2 2\na 1 2\nb 2 1\n")
        .write("d.txt", "a a\nb b\n");
    let out = env.unmt(&[
        "bli",
        "--src-emb",
        "a.vec",
        "--trg-emb",
        "b.vec",
        "--dict",
        "d.txt",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("line 3: non-finite value \"nan\""), "{err}");
}

#[test]
fn a_deep_extends_chain_is_an_error_not_a_stack_overflow() {
    let env = Env::new();
    env.write("r0.toml", "[files]\nx = \"x.txt\"\n");
    for i in 1..200 {
        env.write(
            &format!("r{i}.toml"),
            &format!("extends = \"r{}.toml\"\n", i - 1),
        );
    }
    let out = env.unmt(&["check", "r199.toml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`extends` chain deeper than 64 files"),
        "{err}"
    );
}

#[test]
fn a_recipe_without_nodes_warns() {
    let env = Env::new();
    env.write("r.toml", "[vars]\nx = 1\n");
    let out = env.unmt(&["plan", "r.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("defines no nodes"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_huge_vec_header_fails_its_node_while_a_parallel_node_completes() {
    let env = Env::new();
    env.write("a.vec", "2 99999999999\na 1\nb 2\n")
        .write("b.vec", "2 1\na 1\nb 2\n")
        .write("d.txt", "a a\nb b\n")
        .write("t.txt", "Hello, world.\n")
        .write(
            "r.toml",
            r#"
[files]
a = "a.vec"
b = "b.vec"
d = "d.txt"
t = "t.txt"

[nodes.bli]
stage = "bli"
inputs = { src = "files.a", trg = "files.b", dictionary = "files.d" }

[nodes.tok]
stage = "tokenize"
inputs = { text = "files.t" }
params = { lang = "en" }
"#,
        );
    let s = env.run("r.toml", &["-j", "2", "--keep-going"], 1);
    assert_eq!(s.failed, ["bli"], "{s:?}");
    assert_eq!(s.executed, ["tok"], "{s:?}");
}

#[test]
fn outputs_written_as_symbolic_links_are_refused() {
    let env = Env::new();
    env.write("outside.txt", "mutable\n");
    let outside = env.path("outside.txt");
    let recipe = format!(
        r#"
[nodes.link]
stage = "command"
params = {{ run = ["ln", "-s", "{}", "{{out.o}}"], outputs = ["o"] }}

[nodes.tree]
stage = "command"
params = {{ run = ["sh", "-c", "mkdir -p $0 && echo x > $0/f && ln -s / $0/root", "{{out.d}}"], dirs = ["d"] }}
"#,
        outside.display()
    );
    env.write("r.toml", &recipe);
    let out = env.unmt(&["run", "r.toml", "--keep-going"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("wrote its output `o` as a symbolic link"),
        "{err}"
    );
    assert!(
        err.contains("wrote its output `d` as a symbolic link"),
        "{err}"
    );
    assert!(env.objects().is_empty(), "nothing published");
}
