//! `unmt run --executor slurm` on a real single-node cluster (`.ci/slurm-up` starts one on
//! localhost): the same keys and bytes as threads, a cancelled job fails its node and the
//! rerun completes, Ctrl-C cancels the run's jobs, and two submitters never run one key.
//!
//! Without a cluster these tests say so and pass, except when `UNMT_REQUIRE_SLURM` is set
//! (CI sets it), where a missing cluster fails them.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Env, stderr, stdout, summary};
use crate::executors::{recipe, results};

fn slurm_up() -> bool {
    let answer = Command::new("sinfo").args(["-h", "-o", "%T"]).output();
    let up = answer.as_ref().is_ok_and(|o| {
        o.status.success()
            && String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|s| ["idle", "mixed", "allocated", "mix", "alloc"].contains(&s.trim()))
    });
    if !up {
        let why = match &answer {
            Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
            Err(e) => format!("`sinfo` not found: {e}"),
        };
        assert!(
            std::env::var_os("UNMT_REQUIRE_SLURM").is_none(),
            "UNMT_REQUIRE_SLURM is set but no Slurm cluster answers `sinfo`: {why}"
        );
        eprintln!("skipped: no Slurm cluster answers `sinfo` ({why}); `.ci/slurm-up` starts one");
    }
    up
}

/// Job ids of `squeue` entries named `name`, with their states.
fn queued(name: &str) -> Vec<(String, String)> {
    let o = Command::new("squeue")
        .args(["-h", "-n", name, "-o", "%i %T"])
        .output()
        .expect("squeue");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(i, s)| (i.to_owned(), s.to_owned()))
        .collect()
}

fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(t0.elapsed() < within, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn spawn_run(env: &Env, recipe: &str) -> Child {
    env.command(&["run", recipe, "--json", "--executor", "slurm"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

/// A command node that sleeps until cancelled the first time and succeeds afterwards.
fn slow_recipe(node: &str, marker: &std::path::Path) -> String {
    let m = marker.display();
    format!(
        r#"[nodes.{node}]
stage = "command"
params = {{ run = ["sh", "-c", "test -e {m} || (touch {m}; sleep 120); echo done"], stdout = "out" }}
"#
    )
}

#[test]
fn slurm_results_are_byte_identical_to_threads_results() {
    if !slurm_up() {
        return;
    }
    let threads = Env::new();
    threads
        .write("r.toml", &recipe())
        .write("same.txt", ", ,\n. .\n");
    let a = threads.run("r.toml", &["-j", "2"], 0);
    let slurm = Env::new();
    slurm
        .write("r.toml", &recipe())
        .write("same.txt", ", ,\n. .\n");
    let out = slurm.unmt(&["run", "r.toml", "--json", "-j", "2", "--executor", "slurm"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stderr(&out),
        stdout(&out)
    );
    let events = stdout(&out);
    assert_eq!(a, summary(&events));
    assert_eq!(results(&threads), results(&slurm));
    // The warning a job's stage raised reached the submitter.
    assert!(
        events.contains(r#""event":"warning","node":"bli_same""#),
        "{events}"
    );
}

#[test]
fn a_cancelled_job_fails_its_node_and_the_rerun_completes() {
    if !slurm_up() {
        return;
    }
    let env = Env::new();
    let node = "cancelled_mid_way";
    env.write("r.toml", &slow_recipe(node, &env.path("marker")));
    let run = spawn_run(&env, "r.toml");
    let name = format!("unmt-{node}");
    wait_until("the job runs", Duration::from_secs(60), || {
        env.path("marker").exists() && queued(&name).iter().any(|(_, s)| s == "RUNNING")
    });
    for (id, _) in queued(&name) {
        assert!(
            Command::new("scancel")
                .arg(&id)
                .status()
                .expect("scancel")
                .success()
        );
    }
    let out = run.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let events = stdout(&out);
    let failed = events
        .lines()
        .find(|l| l.contains(r#""event":"failed""#))
        .unwrap_or_else(|| panic!("no failed event: {events}"));
    assert!(failed.contains("CANCELLED"), "{failed}");
    let again = env.run("r.toml", &["--executor", "slurm"], 0);
    assert_eq!(again.executed, [node]);
}

#[test]
fn ctrl_c_cancels_the_runs_jobs() {
    if !slurm_up() {
        return;
    }
    let env = Env::new();
    let node = "interrupted_by_ctrl_c";
    env.write("r.toml", &slow_recipe(node, &env.path("marker")));
    let run = spawn_run(&env, "r.toml");
    let name = format!("unmt-{node}");
    wait_until("the job runs", Duration::from_secs(60), || {
        queued(&name).iter().any(|(_, s)| s == "RUNNING")
    });
    // SAFETY: signalling a child process we started.
    unsafe {
        libc::kill(run.id() as i32, libc::SIGINT);
    }
    let out = run.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    wait_until("the job left the queue", Duration::from_secs(30), || {
        queued(&name).is_empty()
    });
    assert!(
        crate::common::list(&env.path("cache/objects")).is_empty(),
        "nothing published"
    );
}

#[test]
fn two_submitters_never_run_one_key() {
    if !slurm_up() {
        return;
    }
    let env = Env::new();
    let runs = env.path("runs.txt");
    env.write(
        "r.toml",
        &format!(
            r#"[nodes.run_once]
stage = "command"
params = {{ run = ["sh", "-c", "echo ran >> {}; sleep 3; echo done"], stdout = "out" }}
"#,
            runs.display()
        ),
    );
    let (a, b) = (spawn_run(&env, "r.toml"), spawn_run(&env, "r.toml"));
    let (a, b) = (
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    );
    for o in [&a, &b] {
        assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    }
    let (sa, sb) = (summary(&stdout(&a)), summary(&stdout(&b)));
    let mut executed = [sa.executed.len(), sb.executed.len()];
    executed.sort_unstable();
    assert_eq!(executed, [0, 1], "{sa:?} {sb:?}");
    assert_eq!(
        std::fs::read_to_string(&runs)
            .expect("runs")
            .lines()
            .count(),
        1,
        "the command ran once"
    );
}
