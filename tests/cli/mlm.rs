//! The `mlm` stage through the engine: a run killed mid-training resumes from its last epoch
//! checkpoint when the same node reruns.

use std::time::{Duration, Instant};

use crate::common::{Env, list, stdout};

fn recipe() -> String {
    let text = format!(
        "{}/examples/data/en.setimes.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    format!(
        r#"[files]
text = "{text}"

[nodes.vocab]
stage = "vocab"
inputs = {{ text = ["files.text"] }}

[nodes.data]
stage = "binarize"
inputs = {{ text = "files.text", vocab = "vocab.vocab" }}

[nodes.mlm]
stage = "mlm"
inputs = {{ train = ["data.data"], valid = ["data.data"], vocab = "vocab.vocab" }}
params = {{ langs = ["en"], dim = 16, n_layers = 1, n_heads = 2, bptt = 16, batch_size = 8, epoch_size = 2400, max_epochs = 3, eval_batch = 64 }}
"#
    )
}

#[test]
fn killed_mlm_resumes_from_its_last_epoch() {
    let env = Env::new();
    env.write("r.toml", &recipe());
    let mut cmd = env.command(&["run", "r.toml"]);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().expect("spawn");
    let pid = child.id();
    let started = Instant::now();
    loop {
        let done_epoch = list(&env.path("cache/partial"))
            .into_iter()
            .any(|d| d.join("checkpoints/state.json").exists());
        if done_epoch {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no epoch checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = std::process::Command::new("kill")
        .args(["-9", "--", &format!("-{pid}")])
        .status()
        .expect("kill");
    assert!(killed.success());
    let _ = child.wait_with_output();

    let s = env.run("r.toml", &[], 0);
    assert!(s.executed.iter().any(|n| n == "mlm"), "{s:?}");
    let show: serde_json::Value =
        serde_json::from_str(&stdout(&env.unmt(&["show", "mlm", "--json"]))).expect("json");
    let path = show["path"].as_str().expect("path");
    let log = std::fs::read_to_string(std::path::Path::new(path).join("log.txt")).expect("log");
    assert!(log.contains("resuming after epoch"), "{log}");
    assert_eq!(show["metrics"]["epochs"].as_f64(), Some(3.0), "{show}");
}
