//! Benchmark: `unmt score` vs the `sacrebleu` CLI on a 3K-sentence set.
//!
//! Scores `$SHARED/data/mk-en/valid.en` (default `../shared` beside the repository) against perturbed copies this
//! program writes (deterministic), for BLEU+chrF and for a paired bootstrap test with 1000
//! resamples, and prints wall time (median of 3 runs) and peak RSS (`/usr/bin/time -v`).
//! The unmt binary comes from env `UNMT` (default `target/release/unmt`), sacrebleu from
//! env `SACREBLEU` (default `sacrebleu` on PATH). Not a test: it asserts nothing.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Deterministic perturbation: drop, swap or re-case words with a small LCG.
fn perturb(lines: &[String], seed: u64) -> Vec<String> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    lines
        .iter()
        .map(|l| {
            let mut w: Vec<String> = l.split_whitespace().map(str::to_owned).collect();
            for _ in 0..(w.len() / 4).max(1) {
                if w.len() < 2 {
                    break;
                }
                let i = next() % w.len();
                match next() % 3 {
                    0 => {
                        w.remove(i);
                    }
                    1 => {
                        let j = (i + 1) % w.len();
                        w.swap(i, j);
                    }
                    _ => w[i] = w[i].to_uppercase(),
                }
            }
            w.join(" ")
        })
        .collect()
}

/// Run a command 3 times; return (median seconds, peak RSS KiB from /usr/bin/time -v).
fn measure(cmd: &[String]) -> Result<(f64, Option<u64>), String> {
    let mut times = Vec::new();
    let mut rss = None;
    for _ in 0..3 {
        let use_time = Path::new("/usr/bin/time").exists();
        let mut c = if use_time {
            let mut c = Command::new("/usr/bin/time");
            c.arg("-v").args(cmd);
            c
        } else {
            let mut c = Command::new(&cmd[0]);
            c.args(&cmd[1..]);
            c
        };
        let t = Instant::now();
        let out = c
            .output()
            .map_err(|e| format!("cannot run {}: {e}", cmd[0]))?;
        times.push(t.elapsed().as_secs_f64());
        if !out.status.success() {
            return Err(format!(
                "{} failed: {}",
                cmd.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let err = String::from_utf8_lossy(&out.stderr);
        rss = err
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("Maximum resident set size (kbytes): ")
            })
            .and_then(|v| v.trim().parse().ok())
            .or(rss);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[1], rss))
}

fn s(x: &[&str]) -> Vec<String> {
    x.iter().map(|v| v.to_string()).collect()
}

fn main() -> Result<(), String> {
    let shared = std::env::var("SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared").into());
    let unmt = std::env::var("UNMT").unwrap_or_else(|_| "target/release/unmt".into());
    let sacrebleu = std::env::var("SACREBLEU").unwrap_or_else(|_| "sacrebleu".into());
    let src = PathBuf::from(shared).join("data/mk-en/valid.en");
    let text = std::fs::read_to_string(&src).map_err(|e| format!("read {}: {e}", src.display()))?;
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let write = |name: &str, l: &[String]| -> Result<String, String> {
        let p = dir.path().join(name);
        std::fs::write(&p, l.join("\n") + "\n").map_err(|e| e.to_string())?;
        Ok(p.display().to_string())
    };
    let r = write("ref.en", &lines)?;
    let h1 = write("hyp1.en", &perturb(&lines, 1))?;
    let h2 = write("hyp2.en", &perturb(&lines, 2))?;
    println!(
        "{} segments; unmt = {unmt}; sacrebleu = {sacrebleu}",
        lines.len()
    );

    let cases: Vec<(&str, Vec<String>, Vec<String>)> = vec![
        (
            "BLEU+chrF",
            [
                vec![unmt.clone()],
                s(&["score", "-r", &r, "-i", &h1, "-m", "bleu", "chrf"]),
            ]
            .concat(),
            [
                vec![sacrebleu.clone()],
                s(&[&r, "-i", &h1, "-m", "bleu", "chrf", "-f", "text"]),
            ]
            .concat(),
        ),
        (
            "paired-bs 1000 (BLEU+chrF)",
            [
                vec![unmt.clone()],
                s(&[
                    "score",
                    "-r",
                    &r,
                    "-i",
                    &h1,
                    &h2,
                    "-m",
                    "bleu",
                    "chrf",
                    "--paired-bs",
                ]),
            ]
            .concat(),
            [
                vec![sacrebleu.clone()],
                s(&[
                    &r,
                    "-i",
                    &h1,
                    &h2,
                    "-m",
                    "bleu",
                    "chrf",
                    "--paired-bs",
                    "-f",
                    "text",
                ]),
            ]
            .concat(),
        ),
    ];
    println!(
        "{:<28} {:>10} {:>13} {:>8} {:>12} {:>15}",
        "case", "unmt s", "sacrebleu s", "ratio", "unmt MiB", "sacrebleu MiB"
    );
    for (name, ours, theirs) in cases {
        let (t_ours, m_ours) = measure(&ours)?;
        let (t_ref, m_ref) = measure(&theirs)?;
        let mib = |m: Option<u64>| {
            m.map_or_else(|| "n/a".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0))
        };
        println!(
            "{name:<28} {t_ours:>10.3} {t_ref:>13.3} {:>7.1}x {:>12} {:>15}",
            t_ref / t_ours,
            mib(m_ours),
            mib(m_ref)
        );
    }
    Ok(())
}
