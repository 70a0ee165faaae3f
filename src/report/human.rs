//! Progress bars on a terminal (nodes done/total plus one bar per running node), plain
//! lines otherwise, all on stderr; the final summary line is the command's result and goes
//! to stdout (`unmt run R > summary.txt` keeps it, `2>/dev/null` drops only the progress).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::exec::{Event, RunSummary};

/// The human reporter: progress on stderr, the summary on stdout.
pub struct Human {
    multi: MultiProgress,
    overall: ProgressBar,
    bars: Mutex<HashMap<String, ProgressBar>>,
    tty: bool,
}

impl Default for Human {
    fn default() -> Self {
        Self::new()
    }
}

impl Human {
    /// Draws on stderr when it is a terminal.
    pub fn new() -> Self {
        let tty = std::io::stderr().is_terminal();
        let target = if tty {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let multi = MultiProgress::with_draw_target(target);
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template(
                "{prefix:>8} [{bar:30}] {pos}/{len} nodes  {elapsed_precise}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        overall.set_prefix("unmt");
        Self {
            multi,
            overall,
            bars: Mutex::new(HashMap::new()),
            tty,
        }
    }

    fn line(&self, s: String) {
        if self.tty {
            let _ = self.multi.println(s);
        } else {
            eprintln!("{s}");
        }
    }

    fn bars(&self) -> std::sync::MutexGuard<'_, HashMap<String, ProgressBar>> {
        self.bars
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Renders one event.
    pub fn event(&self, e: &Event) {
        match e {
            Event::Begin { total } => self.overall.set_length(*total as u64),
            Event::Reused { node, key } => {
                self.overall.inc(1);
                self.line(format!("   reuse  {node}  ({})", &key[..12]));
            }
            Event::Waiting { node, .. } => self.line(format!(
                "    wait  {node}  (another unmt process is running it)"
            )),
            Event::Started { node, stage, .. } => {
                let bar = self.multi.add(ProgressBar::new(0));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>8} {spinner} {msg} [{bar:25}] {percent:>3}% eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_prefix("run");
                bar.set_message(format!("{node} ({stage})"));
                bar.enable_steady_tick(Duration::from_millis(200));
                self.bars().insert(node.clone(), bar);
                if !self.tty {
                    self.line(format!("     run  {node}  ({stage})"));
                }
            }
            Event::Status { node, message } => {
                if let Some(bar) = self.bars().get(node) {
                    bar.set_message(format!("{node}  {message}"));
                }
            }
            Event::Progress { node, done, total } => {
                if let Some(bar) = self.bars().get(node) {
                    if *total > 0 {
                        bar.set_length(*total);
                    }
                    bar.set_position(*done);
                }
            }
            Event::Finished {
                node,
                seconds,
                metrics,
                ..
            } => {
                if let Some(bar) = self.bars().remove(node) {
                    bar.finish_and_clear();
                }
                self.overall.inc(1);
                let m: Vec<String> = headline(metrics.iter().map(|(k, v)| (k.as_str(), *v)))
                    .into_iter()
                    .take(6)
                    .map(|(k, v)| format!("{k}={}", short(v)))
                    .collect();
                let m = if m.is_empty() {
                    String::new()
                } else {
                    format!("  {}", m.join(" "))
                };
                self.line(format!("    done  {node}  {seconds:.1}s{m}"));
            }
            Event::Warning { node, message } => {
                self.line(format!(" warning  {node}: {message}"));
            }
            Event::Failed { node, error, log } => {
                if let Some(bar) = self.bars().remove(node) {
                    bar.finish_and_clear();
                }
                self.overall.inc(1);
                self.line(format!("  FAILED  {node}: {error}"));
                if let Some(log) = log {
                    self.line(format!("          log: {}", log.display()));
                }
            }
            Event::Blocked { node, reason } => {
                self.overall.inc(1);
                self.line(format!(" blocked  {node}: {reason}"));
            }
        }
    }

    /// Clears the bars and prints the summary line on stdout.
    pub fn summary(&self, s: &RunSummary) {
        self.overall.finish_and_clear();
        let mut line = format!(
            "{} executed, {} reused, {} failed",
            s.executed.len(),
            s.reused.len(),
            s.failed.len()
        );
        if !s.blocked.is_empty() {
            line.push_str(&format!(", {} not run", s.blocked.len()));
        }
        println!("{line}");
    }
}

/// Metric-name parts in the order a `done` line shows them: what a researcher looks at first
/// (validation perplexity, translation scores, BLI precision), before the counters.
const HEADLINE: &[&str] = &[
    "valid_mlm_ppl",
    "mt_sacrebleu",
    "mt_chrf",
    "bleu",
    "chrf",
    "csls_p1",
    "nn_p1",
    "coverage",
    "best_epoch",
];

/// `metrics` with the ones matching [`HEADLINE`] first (in its order), then the rest by name.
fn headline<'a>(metrics: impl Iterator<Item = (&'a str, f64)>) -> Vec<(&'a str, f64)> {
    let rank = |k: &str| {
        HEADLINE
            .iter()
            .position(|h| k.contains(h))
            .unwrap_or(HEADLINE.len())
    };
    let mut v: Vec<(&str, f64)> = metrics.collect();
    v.sort_by(|a, b| rank(a.0).cmp(&rank(b.0)).then(a.0.cmp(b.0)));
    v
}

fn short(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::headline;

    #[test]
    fn done_lines_lead_with_the_metrics_that_matter() {
        let m = [
            ("best_epoch", 2.0),
            ("epochs", 2.0),
            ("n_params", 6e6),
            ("steps", 240.0),
            ("valid_en_mlm_acc", 3.0),
            ("valid_mlm_ppl", 1400.0),
        ];
        let names: Vec<&str> = headline(m.into_iter())
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(names[..2], ["valid_mlm_ppl", "best_epoch"]);
        let m = [
            ("coverage", 1.0),
            ("csls_p1", 40.0),
            ("csls_p1_cross", 5.0),
            ("csls_p10", 50.0),
            ("nn_p1", 30.0),
        ];
        let names: Vec<&str> = headline(m.into_iter())
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(names[..3], ["csls_p1", "csls_p10", "csls_p1_cross"]);
    }
}
