//! `unmt gc`: the default recipe set (`recipes/**/*.toml`), `--keep-last`, corrupt objects.

use std::path::PathBuf;

use crate::common::{Env, names, stderr, stdout};

/// corpus -> sort, reading `text.txt` from the project root; `depth` is how many directories
/// below the root the recipe lives.
fn recipe(depth: usize, valid: u32) -> String {
    format!(
        r#"[files]
text = "{}text.txt"

[nodes.corpus]
stage = "corpus"
inputs = {{ text = "files.text" }}
params = {{ valid = {valid} }}

[nodes.sort]
stage = "command"
inputs = {{ text = "corpus.train" }}
params = {{ run = ["sort", "{{in.text}}"], stdout = "sorted" }}
"#,
        "../".repeat(depth)
    )
}

fn env() -> Env {
    let env = Env::new();
    let lines: String = (0..30).map(|i| format!("line {}\n", 30 - i)).collect();
    env.write("text.txt", &lines);
    env
}

/// `unmt ARGS`, asserting exit 0, returning stdout.
fn ok(env: &Env, args: &[&str]) -> String {
    let out = env.unmt(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}\nstdout: {}",
        stderr(&out),
        stdout(&out)
    );
    stdout(&out)
}

/// The (action, node) rows of `unmt plan --json`.
fn plan(env: &Env, recipe: &str) -> Vec<(String, String)> {
    let plan: serde_json::Value =
        serde_json::from_str(&ok(env, &["plan", recipe, "--json"])).expect("json");
    plan.as_array()
        .expect("array")
        .iter()
        .map(|n| {
            (
                n["action"].as_str().expect("action").to_owned(),
                n["node"].as_str().expect("node").to_owned(),
            )
        })
        .collect()
}

fn all(action: &str, nodes: &[&str]) -> Vec<(String, String)> {
    nodes
        .iter()
        .map(|n| (action.to_owned(), (*n).to_owned()))
        .collect()
}

fn key_of(dir: &std::path::Path) -> String {
    dir.file_name()
        .and_then(|n| n.to_str())
        .expect("key")
        .to_owned()
}

#[test]
fn gc_default_set_keeps_results_of_recipes_in_subfolders() {
    let env = env();
    env.write("recipes/sub/x.toml", &recipe(2, 5))
        .write("other.toml", &recipe(0, 7))
        // Dot files are skipped, as by the shell glob (editor lock and swap files).
        .write("recipes/.#x.toml", "not a recipe");
    env.run("recipes/sub/x.toml", &[], 0);
    let kept = env.objects();
    assert_eq!(kept.len(), 2);
    // A recipe outside `recipes/`: its results are what the default gc deletes.
    env.run("other.toml", &[], 0);
    assert_eq!(env.objects().len(), 4);

    // It ran just now: the default keeps it for `--keep-days` (7).
    let out = ok(&env, &["gc"]);
    assert!(out.starts_with("deleted 0 objects"), "{out}");
    assert!(
        out.contains("kept 2 results that recipes outside the set used in the last 7 days"),
        "{out}"
    );
    let out = ok(&env, &["gc", "--keep-days", "0"]);
    assert!(
        out.starts_with("deleted 2 objects") && out.contains("kept 2 reached by 1 recipes"),
        "{out}"
    );
    assert_eq!(env.objects(), kept);
    assert!(env.run("recipes/sub/x.toml", &[], 0).executed.is_empty());
}

#[test]
fn gc_keep_last_keeps_the_variant_before_a_param_edit() {
    let env = env();
    env.write("recipes/r.toml", &recipe(1, 5));
    env.run("recipes/r.toml", &[], 0);
    let before: Vec<PathBuf> = env.objects();
    env.write("recipes/r.toml", &recipe(1, 10));
    let s = env.run("recipes/r.toml", &[], 0);
    assert_eq!(s.executed, names(&["corpus", "sort"]));
    assert_eq!(env.objects().len(), 4);

    let dry = ok(&env, &["gc", "--keep-last", "1", "--dry-run"]);
    assert!(dry.starts_with("would delete 0 objects"), "{dry}");
    let out = ok(&env, &["gc", "--keep-last", "1"]);
    assert!(out.starts_with("deleted 0 objects"), "{out}");
    assert!(
        out.contains("kept 2 earlier results, up to 1 per node name"),
        "{out}"
    );
    assert_eq!(env.objects().len(), 4);
    for dir in &before {
        assert!(
            dir.exists(),
            "the previous variant's {} is kept",
            dir.display()
        );
    }
    // Reverting the edit finds the previous variant's results.
    env.write("recipes/r.toml", &recipe(1, 5));
    assert_eq!(
        plan(&env, "recipes/r.toml"),
        all("reuse", &["corpus", "sort"])
    );

    // Without the flag gc deletes them.
    env.write("recipes/r.toml", &recipe(1, 10));
    let out = ok(&env, &["gc"]);
    assert!(out.starts_with("deleted 2 objects"), "{out}");
    assert!(!out.contains("--keep-last"), "{out}");
    assert_eq!(env.objects().len(), 2);
    assert!(before.iter().all(|d| !d.exists()));
    env.write("recipes/r.toml", &recipe(1, 5));
    assert_eq!(
        plan(&env, "recipes/r.toml")[0],
        ("run".into(), "corpus".into())
    );
}

#[test]
fn gc_removes_corrupt_objects_and_exits_zero() {
    let env = env();
    env.write("recipes/r.toml", &recipe(1, 5));
    env.run("recipes/r.toml", &[], 0);
    let show: serde_json::Value =
        serde_json::from_str(&ok(&env, &["show", "sort", "--json"])).expect("json");
    let sort_dir = PathBuf::from(show["path"].as_str().expect("path"));
    let sort_key = key_of(&sort_dir);
    // A truncated record, and an object directory without one.
    let record = sort_dir.join("record.json");
    let text = std::fs::read(&record).expect("read");
    std::fs::write(&record, &text[..text.len() / 3]).expect("truncate");
    let bare = "ab".repeat(32);
    env.write(&format!("cache/objects/{bare}/out/x"), "x");

    let dry = ok(&env, &["gc", "--dry-run"]);
    let mut corrupt = [sort_key[..12].to_owned(), bare[..12].to_owned()];
    corrupt.sort();
    let listed = corrupt.join(", ");
    assert!(dry.starts_with("would delete 0 objects"), "{dry}");
    assert!(
        dry.contains(&format!("would remove 2 corrupt objects: {listed}")),
        "{dry}"
    );
    assert_eq!(env.objects().len(), 3, "a dry run deletes nothing");

    let out = ok(&env, &["gc"]);
    assert!(
        out.starts_with("deleted 0 objects (0 B), kept 1 reached by 1 recipes"),
        "{out}"
    );
    assert!(
        out.contains(&format!("removed 2 corrupt objects: {listed}")),
        "{out}"
    );
    assert_eq!(env.objects().len(), 1);
    assert!(!sort_dir.exists());
    assert_eq!(env.run("recipes/r.toml", &[], 0).executed, names(&["sort"]));
    let again = ok(&env, &["gc"]);
    assert!(!again.contains("corrupt"), "{again}");
}

#[test]
fn gc_keeps_what_a_default_set_recipe_that_does_not_load_last_used() {
    let env = env();
    env.write("recipes/r.toml", &recipe(1, 5));
    env.run("recipes/r.toml", &[], 0);
    env.write("recipes/r.toml", &recipe(1, 10));
    env.run("recipes/r.toml", &[], 0);
    // Not a recipe, and never run: nothing of it to keep.
    env.write("recipes/notes/todo.toml", "title = \"ideas\"\n");
    assert_eq!(env.objects().len(), 4);
    let out = env.unmt(&["gc", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("recipes/notes/todo.toml"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).starts_with("would delete 2 objects"),
        "{}",
        stdout(&out)
    );
    // A recipe that ran and then stopped loading (its input moved away) keeps its results.
    let text = std::fs::read_to_string(env.path("recipes/r.toml")).expect("read");
    env.write("recipes/r.toml", &text.replace("text.txt", "text.moved"));
    let out = env.unmt(&["gc"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("recipes/r.toml"), "{}", stderr(&out));
    assert_eq!(env.objects().len(), 2, "{}", stdout(&out));
    // A named recipe that does not load is an error.
    let out = env.unmt(&["gc", "recipes/notes/todo.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(env.objects().len(), 2);
}

#[test]
fn gc_during_a_run_refuses_and_the_run_completes() {
    let env = env();
    // `slow` reuses `corpus` and reads it only after the flag appears.
    let slow = format!(
        "{}\n[nodes.slow]\nstage = \"command\"\ninputs = {{ text = \"corpus.train\" }}\n\
         params = {{ run = [\"sh\", \"-c\", \"while [ ! -e go.flag ]; do sleep 0.1; done; cat \\\"$0\\\"\", \"{{in.text}}\"], stdout = \"copy\" }}\n",
        recipe(1, 5)
    );
    env.write("recipes/r.toml", &recipe(1, 5));
    env.run("recipes/r.toml", &[], 0);
    env.write("recipes/r.toml", &slow);
    // The recipe gc reads no longer has `sort`: its result is not reached.
    env.write("recipes/gc.toml", "");
    let child = env
        .command(&["run", "recipes/r.toml"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = std::time::Instant::now();
    while !env
        .path("cache/partial")
        .read_dir()
        .is_ok_and(|mut d| d.next().is_some())
    {
        assert!(
            started.elapsed().as_secs() < 20,
            "the run never started `slow`"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = env.unmt(&["gc", "recipes/gc.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("is in use by a running `unmt run`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.objects().len(), 2, "nothing deleted");
    // `--wait` waits for the run, then deletes what no recipe reaches.
    let waiting = env
        .command(&["gc", "recipes/gc.toml", "--wait"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(std::time::Duration::from_millis(300));
    env.write("go.flag", "");
    let run = child.wait_with_output().expect("wait");
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let gc = waiting.wait_with_output().expect("wait");
    assert_eq!(gc.status.code(), Some(0), "{}", stderr(&gc));
    assert!(
        stdout(&gc).starts_with("deleted 3 objects"),
        "{}",
        stdout(&gc)
    );
}

#[test]
fn gc_keeps_the_results_below_a_missing_cheap_parent() {
    let env = env();
    env.write("recipes/r.toml", &recipe(1, 5));
    env.run("recipes/r.toml", &[], 0);
    let show: serde_json::Value =
        serde_json::from_str(&ok(&env, &["show", "corpus", "--json"])).expect("json");
    std::fs::remove_dir_all(show["path"].as_str().expect("path")).expect("rm");
    // `sort`'s key cannot be computed until `corpus` runs again; its last result stays.
    let out = ok(&env, &["gc"]);
    assert!(out.starts_with("deleted 0 objects"), "{out}");
    assert_eq!(env.objects().len(), 1);
    let s = env.run("recipes/r.toml", &[], 0);
    assert_eq!(s.executed, names(&["corpus"]));
    assert_eq!(s.reused, names(&["sort"]));
}

#[test]
fn gc_only_reports_when_it_would_delete_most_of_the_cache() {
    let env = env();
    let many: String = (0..12)
        .map(|i| {
            format!(
                "[nodes.n{i}]\nstage = \"command\"\nparams = {{ run = [\"echo\", \"{i}\"], stdout = \"o\" }}\n"
            )
        })
        .collect();
    env.write("recipes/r.toml", &many);
    env.run("recipes/r.toml", &[], 0);
    env.write("recipes/r.toml", &recipe(1, 5));
    env.run("recipes/r.toml", &[], 0);
    let out = env.unmt(&["gc"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).starts_with("would delete 12 objects"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("nothing deleted: that is 12 of the 14 cached objects"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.objects().len(), 14);
    let out = ok(&env, &["gc", "--yes"]);
    assert!(out.starts_with("deleted 12 objects"), "{out}");
    assert_eq!(env.objects().len(), 2);
}

#[test]
fn gc_reclaims_quarantine_failed_logs_and_stale_attempts_but_not_a_resumable_one() {
    let env = env();
    let failing = format!(
        "{}\n[nodes.bad]\nstage = \"command\"\nparams = {{ run = [\"false\"], stdout = \"o\" }}\n",
        recipe(1, 5)
    );
    env.write("recipes/r.toml", &failing);
    env.run("recipes/r.toml", &[], 1);
    // Debris: a quarantined object, a crashed attempt's work directory, a temp file.
    env.write("cache/quarantine/abc-1/out/x", "x");
    env.write(
        &format!("cache/partial/{}/work-1-2/out/x", "cd".repeat(32)),
        "x",
    );
    env.write("cache/refs/.x.json.999999999.0.1.tmp", "{}");
    let failed = env.path("cache/failed");
    assert_eq!(crate::common::list(&failed).len(), 1);

    // `bad` would run again: its failure log and attempt directory stay.
    let out = ok(&env, &["gc", "--keep-days", "0"]);
    assert!(
        out.contains("reclaimed 1 stale attempts and checkpoints in partial/"),
        "{out}"
    );
    assert!(out.contains("reclaimed 1 quarantined objects"), "{out}");
    assert!(out.contains("reclaimed 1 stale temporary files"), "{out}");
    assert!(!out.contains("failed/"), "{out}");
    assert_eq!(crate::common::list(&failed).len(), 1);
    assert!(!env.path("cache/quarantine/abc-1").exists());

    // Once no recipe runs it, its failure log and checkpoints go too.
    env.write("recipes/r.toml", &recipe(1, 5));
    let out = ok(&env, &["gc", "--keep-days", "0"]);
    assert!(out.contains("reclaimed 1 failure logs in failed/"), "{out}");
    assert!(
        out.contains("reclaimed 1 stale attempts and checkpoints in partial/"),
        "{out}"
    );
    assert!(crate::common::list(&failed).is_empty());
    assert!(crate::common::list(&env.path("cache/partial")).is_empty());
}
