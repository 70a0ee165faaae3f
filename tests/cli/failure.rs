//! Crashes, kills and failing nodes never leave anything that looks complete.

use std::time::{Duration, Instant};

use crate::common::{Env, list, names, stdout};

const SLOW: &str = r#"[nodes.slow]
stage = "command"
params = { run = ["sh", "-c", "echo partial > \"$0\"; [ -e fast.flag ] || sleep 30; echo done >> \"$0\"", "{out.x}"], outputs = ["x"] }

[nodes.after]
stage = "command"
inputs = { x = "slow.x" }
params = { run = ["cat", "{in.x}"], stdout = "copy" }
"#;

#[test]
fn sigkill_mid_node_leaves_no_result_and_the_next_run_completes() {
    let env = Env::new();
    env.write("r.toml", SLOW);
    let mut cmd = env.command(&["run", "r.toml"]);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().expect("spawn");
    let pid = child.id();
    // Wait until the node has written part of its output inside its attempt directory.
    let started = Instant::now();
    let partial = loop {
        let found = attempt_output(&env, "x");
        if let Some(p) = found {
            break p;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "node never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let killed = std::process::Command::new("kill")
        .args(["-9", "--", &format!("-{pid}")])
        .status()
        .expect("kill");
    assert!(killed.success());
    let _ = child.wait_with_output();
    assert!(env.objects().is_empty(), "nothing may be published");
    assert!(
        !partial
            .parent()
            .and_then(|p| p.parent())
            .expect("work dir")
            .join("record.json")
            .exists()
    );

    env.write("fast.flag", "");
    let s = env.run("r.toml", &[], 0);
    assert_eq!(s.executed, names(&["after", "slow"]));
    let out = stdout(&env.unmt(&["show", "after", "--json"]));
    let path = serde_json::from_str::<serde_json::Value>(&out).expect("json")["path"]
        .as_str()
        .expect("path")
        .to_owned();
    assert_eq!(
        std::fs::read_to_string(std::path::Path::new(&path).join("out/copy")).expect("read"),
        "partial\ndone\n"
    );
}

/// `cache/partial/<key>/work-*/out/NAME` of a running attempt, if there is one.
fn attempt_output(env: &Env, name: &str) -> Option<std::path::PathBuf> {
    list(&env.path("cache/partial"))
        .into_iter()
        .flat_map(|d| list(&d))
        .filter(|w| {
            w.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("work-"))
        })
        .map(|w| w.join("out").join(name))
        .find(|p| p.exists())
}

const ORPHAN: &str = r#"[nodes.slow]
stage = "command"
params = { run = ["sh", "-c", "echo start >> \"$0\"; sleep 3; echo end >> \"$0\"", "{out.o}"], outputs = ["o"] }
"#;

#[test]
fn sigterm_ends_a_command_nodes_program_and_the_rerun_publishes_only_its_own_output() {
    let env = Env::new();
    env.write("r.toml", ORPHAN);
    // Not in its own group: the signal goes to unmt's PID only, as a supervisor sends it.
    let child = env.command(&["run", "r.toml"]).spawn().expect("spawn");
    let started = Instant::now();
    let first = loop {
        if let Some(p) = attempt_output(&env, "o") {
            break p;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "node never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        crate::common::stderr(&out)
    );
    // Had the program outlived unmt, it would write `end` 3 s after it started.
    std::thread::sleep(Duration::from_millis(3500));
    let left = std::fs::read_to_string(&first).unwrap_or_default();
    assert!(!left.contains("end"), "the program outlived unmt: {left:?}");

    let s = env.run("r.toml", &[], 0);
    assert_eq!(s.executed, names(&["slow"]));
    let show = stdout(&env.unmt(&["show", "slow", "--json"]));
    let path = serde_json::from_str::<serde_json::Value>(&show).expect("json")["path"]
        .as_str()
        .expect("path")
        .to_owned();
    assert_eq!(
        std::fs::read_to_string(std::path::Path::new(&path).join("out/o")).expect("read"),
        "start\nend\n",
        "exactly one attempt's lines"
    );
}

const FAILING: &str = r#"[files]
a = "a.txt"

[nodes.bad]
stage = "command"
params = { run = ["sh", "-c", "echo about to fail; echo oops >&2; exit 3"], stdout = "x" }

[nodes.after_bad]
stage = "command"
inputs = { x = "bad.x" }
params = { run = ["cat", "{in.x}"], stdout = "y" }

[nodes.good]
stage = "corpus"
inputs = { text = "files.a" }
"#;

#[test]
fn a_failed_node_keeps_its_log_and_independent_nodes_are_published() {
    let env = Env::new();
    env.write("a.txt", "hello\n").write("r.toml", FAILING);
    let s = env.run("r.toml", &["--keep-going"], 1);
    assert_eq!(s.failed, names(&["bad"]));
    assert_eq!(s.blocked, names(&["after_bad"]));
    assert_eq!(s.executed, names(&["good"]));
    let failed = list(&env.path("cache/failed"));
    assert_eq!(failed.len(), 1);
    let log = std::fs::read_to_string(failed[0].join("log.txt")).expect("log kept");
    assert!(log.contains("oops"), "{log}");
    assert_eq!(env.objects().len(), 1, "only `good` is published");
    // Without --keep-going the run stops scheduling after the failure, and still exits 1.
    let env2 = Env::new();
    env2.write("a.txt", "hello\n").write("r.toml", FAILING);
    let s2 = env2.run("r.toml", &[], 1);
    assert_eq!(s2.failed, names(&["bad"]));
}

#[test]
fn invalid_utf8_lines_are_dropped_and_counted() {
    let env = Env::new();
    std::fs::write(
        env.path("a.txt"),
        b"good line\n\xff\xfe bad\n\nanother good line\n",
    )
    .expect("write");
    env.write(
        "r.toml",
        "[files]\na = \"a.txt\"\n[nodes.c]\nstage = \"corpus\"\ninputs = { text = \"files.a\" }\n",
    );
    env.run("r.toml", &[], 0);
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&env.unmt(&["show", "c", "--json"]))).expect("json");
    assert_eq!(v["metrics"]["invalid_utf8"], 1.0);
    assert_eq!(v["metrics"]["empty"], 1.0);
    assert_eq!(v["metrics"]["train"], 2.0);
    let log = std::fs::read_to_string(
        std::path::Path::new(v["path"].as_str().expect("path")).join("log.txt"),
    )
    .expect("log");
    assert!(log.contains("line 2: invalid UTF-8"), "{log}");
}

const TWO: &str = r#"[files]
t = "t.txt"

[nodes.tok]
stage = "tokenize"
inputs = { text = "files.t" }
params = { lang = "en" }

[nodes.after]
stage = "command"
inputs = { x = "tok.text" }
params = { run = ["cat", "{in.x}"], stdout = "copy" }
"#;

/// Writes a published (read-only) file, as a hand edit or a tool run by root would.
fn overwrite(path: &std::path::Path, body: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::write(path, body).expect("write");
}

/// The object directory of `node`'s last result.
fn object_dir(env: &Env, node: &str) -> std::path::PathBuf {
    let show = stdout(&env.unmt(&["show", node, "--json"]));
    let v = serde_json::from_str::<serde_json::Value>(&show).expect("json");
    v["path"].as_str().expect("path").into()
}

#[test]
fn a_damaged_object_is_quarantined_and_rebuilt_with_its_children_reused() {
    for damage in [
        "delete record",
        "truncate record",
        "edit output",
        "delete output",
    ] {
        let env = Env::new();
        env.write("t.txt", "Hello, world.\n").write("r.toml", TWO);
        let first = env.run("r.toml", &[], 0);
        assert_eq!(first.executed.len(), 2, "{first:?}");
        let dir = object_dir(&env, "tok");
        let record = dir.join("record.json");
        let output = dir.join("out/text");
        match damage {
            "delete record" => std::fs::remove_file(&record).expect("rm"),
            "truncate record" => overwrite(&record, b"{\"format\": 1, \"ke"),
            "edit output" => overwrite(&output, b"Hello , world !\n"),
            _ => std::fs::remove_file(&output).expect("rm"),
        }
        let out = env.unmt(&["run", "r.toml", "--json"]);
        let err = crate::common::stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{damage}: {err}");
        assert!(err.contains("moved to"), "{damage}: {err}");
        let s = crate::common::summary(&stdout(&out));
        // The rebuilt output is the same: its consumer is reused (early cutoff).
        assert_eq!(s.executed, names(&["tok"]), "{damage}: {s:?}");
        assert_eq!(s.reused, names(&["after"]), "{damage}: {s:?}");
        assert_eq!(list(&env.path("cache/quarantine")).len(), 1, "{damage}");
        let verify = env.unmt(&["verify"]);
        assert_eq!(verify.status.code(), Some(0), "{damage}: {verify:?}");
    }
}

#[test]
fn verify_finds_a_flip_that_keeps_size_and_time_and_repair_makes_the_node_rerun() {
    let env = Env::new();
    env.write("t.txt", "Hello, world.\n").write("r.toml", TWO);
    env.run("r.toml", &[], 0);
    let output = object_dir(&env, "tok").join("out/text");
    let mtime = std::fs::metadata(&output)
        .and_then(|m| m.modified())
        .expect("mtime");
    let mut bytes = std::fs::read(&output).expect("read");
    bytes[0] ^= 0x20;
    overwrite(&output, &bytes);
    std::fs::File::options()
        .write(true)
        .open(&output)
        .and_then(|f| f.set_modified(mtime))
        .expect("keep mtime");

    // Reuse checks by stat, which a bit flip on disk keeps; a full verify re-hashes.
    let quick = env.unmt(&["verify", "--quick"]);
    assert_eq!(quick.status.code(), Some(0), "{quick:?}");
    let full = env.unmt(&["verify"]);
    assert_eq!(full.status.code(), Some(1), "{full:?}");
    let text = stdout(&full);
    assert!(
        text.contains("(node `tok`) has its output `text` changed since it was published"),
        "{text}"
    );
    assert!(text.contains("checked 2 objects"), "{text}");
    let repair = env.unmt(&["verify", "--repair", "--json"]);
    assert_eq!(repair.status.code(), Some(0), "{repair:?}");
    let v: serde_json::Value = serde_json::from_str(&stdout(&repair)).expect("json");
    assert_eq!(v["findings"][0]["problem"], "modified_output", "{v}");
    assert_eq!(v["repaired"].as_array().map(Vec::len), Some(1), "{v}");
    let again = env.run("r.toml", &[], 0);
    assert_eq!(again.executed, names(&["tok"]), "{again:?}");
    assert_eq!(again.reused, names(&["after"]), "{again:?}");
}
