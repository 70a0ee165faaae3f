//! A temporary project directory and helpers to run `unmt` in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A temporary directory with its own cache.
pub struct Env {
    pub dir: tempfile::TempDir,
}

/// The node lists of `run --json`'s summary line.
#[derive(Debug, PartialEq)]
pub struct Summary {
    pub executed: Vec<String>,
    pub reused: Vec<String>,
    pub failed: Vec<String>,
    pub blocked: Vec<String>,
}

impl Env {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) -> &Self {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, text).expect("write");
        self
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_unmt"));
        c.args(args)
            .current_dir(self.dir.path())
            .env("UNMT_CACHE", self.path("cache"))
            .env("NO_COLOR", "1");
        c
    }

    pub fn unmt(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("unmt runs")
    }

    /// Starts `unmt run RECIPE` in its own process group and SIGKILLs the group as soon as a
    /// training node has written an epoch checkpoint (`cache/partial/*/checkpoints/state.json`),
    /// failing after `within_s` seconds without one.
    pub fn kill_run_after_first_checkpoint(&self, recipe: &str, within_s: u64) {
        let mut cmd = self.command(&["run", recipe]);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().expect("spawn");
        let pid = child.id();
        let started = std::time::Instant::now();
        while !list(&self.path("cache/partial"))
            .into_iter()
            .any(|d| d.join("checkpoints/state.json").exists())
        {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(within_s),
                "no epoch checkpoint appeared"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let killed = Command::new("kill")
            .args(["-9", "--", &format!("-{pid}")])
            .status()
            .expect("kill");
        assert!(killed.success());
        let _ = child.wait_with_output();
    }

    /// `unmt run --json RECIPE`, asserting the exit code, returning the summary.
    pub fn run(&self, recipe: &str, extra: &[&str], code: i32) -> Summary {
        let mut args = vec!["run", recipe, "--json"];
        args.extend_from_slice(extra);
        let out = self.unmt(&args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "stderr: {}\nstdout: {}",
            stderr(&out),
            stdout(&out)
        );
        summary(&stdout(&out))
    }

    /// Published object directories in the cache.
    pub fn objects(&self) -> Vec<PathBuf> {
        list(&self.path("cache/objects"))
    }
}

pub fn list(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn summary(json_lines: &str) -> Summary {
    let last = json_lines.lines().last().expect("a summary line");
    let v: Value = serde_json::from_str(last).expect("json");
    let names = |k: &str| -> Vec<String> {
        let mut n: Vec<String> = v["summary"][k]
            .as_array()
            .unwrap_or_else(|| panic!("summary.{k} in {last}"))
            .iter()
            .map(|x| x.as_str().expect("string").to_owned())
            .collect();
        n.sort();
        n
    };
    Summary {
        executed: names("executed"),
        reused: names("reused"),
        failed: names("failed"),
        blocked: names("blocked"),
    }
}

pub fn names(v: &[&str]) -> Vec<String> {
    let mut n: Vec<String> = v.iter().map(|s| (*s).to_owned()).collect();
    n.sort();
    n
}
