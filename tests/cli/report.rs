//! `unmt report`: declared tables with p-values, per-stage tables, what is missing.

use crate::common::{Env, stderr, stdout};

/// The first `n` test sentences, and three systems made from them: words dropped at two
/// rates, and every other line reversed.
fn systems(n: usize) -> (String, [String; 3]) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/test.mk-en.en"
    ))
    .expect("test sentences");
    let lines: Vec<&str> = text.lines().take(n).collect();
    let drop_every = |k: usize| -> String {
        lines
            .iter()
            .map(|l| {
                let words: Vec<&str> = l
                    .split(' ')
                    .enumerate()
                    .filter(|(i, _)| (i + 1) % k != 0)
                    .map(|(_, w)| w)
                    .collect();
                words.join(" ") + "\n"
            })
            .collect()
    };
    let reversed: String = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i % 2 == 0 {
                let mut w: Vec<&str> = l.split(' ').collect();
                w.reverse();
                w.join(" ") + "\n"
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    // Close to the first system: its lines, but every twentieth one from the reference.
    let first = drop_every(3);
    let close: String = first
        .lines()
        .zip(&lines)
        .enumerate()
        .map(|(i, (a, r))| format!("{}\n", if i % 20 == 0 { r } else { a }))
        .collect();
    let reference = lines.iter().map(|l| format!("{l}\n")).collect();
    (reference, [first, close, reversed])
}

const RECIPE: &str = r#"
[files]
ref = "ref.txt"
a = "a.txt"
b = "b.txt"
c = "c.txt"

[nodes.s_a]
stage = "score"
inputs = { hyp = "files.a", refs = ["files.ref"] }

[nodes.s_b]
stage = "score"
inputs = { hyp = "files.b", refs = ["files.ref"] }

[nodes.s_c]
stage = "score"
inputs = { hyp = "files.c", refs = ["files.ref"] }

[sweep]
"s_a.bleu.lowercase" = [true]

[report.systems]
title = "Three systems against the first"
rows = ["a", "b", "c"]
baseline = "a"
columns = [
  { label = "BLEU", node = "s_{row}", metric = "bleu" },
  { label = "chrF", node = "s_{row}", metric = "chrf" },
  { label = "P1", node = "s_{row}", metric = "bleu_p1" },
]
"#;

fn env() -> Env {
    let env = Env::new();
    let (reference, [a, b, c]) = systems(40);
    env.write("ref.txt", &reference)
        .write("a.txt", &a)
        .write("b.txt", &b)
        .write("c.txt", &c)
        .write("r.toml", RECIPE);
    env
}

#[test]
fn a_report_before_anything_ran_lists_what_is_missing() {
    let env = env();
    let out = env.unmt(&["report", "r.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("4 of 4 nodes have no result yet"),
        "{}",
        stderr(&out)
    );
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn declared_tables_carry_sacrebleu_paired_bootstrap_p_values() {
    let env = env();
    env.run("r.toml", &[], 0);
    let md = env.unmt(&["report", "r.toml"]);
    assert_eq!(md.status.code(), Some(0), "{}", stderr(&md));
    // Run times vary: the last column of the stage table.
    let seconds = regex::Regex::new(r"(?m)^(\| s_.*\| )[0-9.]+ \|$").expect("regex");
    insta::assert_snapshot!("report_md", seconds.replace_all(&stdout(&md), "$1<s> |"));
    let csv = env.unmt(&["report", "r.toml", "--format", "csv"]);
    let seconds = regex::Regex::new(r"(?m)^(stage\.score,[^,]+,run s,)[0-9.e-]+").expect("regex");
    insta::assert_snapshot!("report_csv", seconds.replace_all(&stdout(&csv), "$1<s>"));

    // The p-value of each row is what `unmt score --paired-bs` gives for the same files.
    let score = env.unmt(&[
        "score",
        "--json",
        "--paired-bs",
        "-m",
        "bleu",
        "chrf",
        "-r",
        "ref.txt",
        "-i",
        "a.txt",
        "b.txt",
        "c.txt",
    ]);
    assert_eq!(score.status.code(), Some(0), "{}", stderr(&score));
    let json: serde_json::Value = serde_json::from_str(&stdout(&score)).expect("score json");
    let report: serde_json::Value = serde_json::from_str(&stdout(
        &env.unmt(&["report", "r.toml", "--format", "json"]),
    ))
    .expect("report json");
    let table = &report["tables"][0];
    for (row, system) in [(1, "b.txt"), (2, "c.txt")] {
        for (col, metric) in [(0, "BLEU"), (1, "chrF2")] {
            let ours = table["rows"][row]["cells"][col]["p_value"].as_f64();
            let theirs = find_p_value(&json, system, metric);
            assert_eq!(ours, theirs, "{system} {metric}: {json}");
        }
    }

    // Everything written at once, the figures included.
    let out = env.unmt(&["report", "r.toml", "--out", "rep"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for f in ["report.md", "report.csv", "report.json", "report.html"] {
        assert!(env.path("rep").join(f).is_file(), "{f}: {}", stdout(&out));
    }
}

/// The p-value `unmt score --paired-bs --json` reports for `system` and `metric`.
fn find_p_value(json: &serde_json::Value, system: &str, metric: &str) -> Option<f64> {
    let systems = json["systems"].as_array()?;
    let s = systems
        .iter()
        .find(|s| s["system"].as_str().is_some_and(|n| n.ends_with(system)))?;
    s[metric]["p_value"].as_f64()
}
