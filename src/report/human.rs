//! Progress bars on a terminal (nodes done/total plus one bar per running node), plain
//! lines otherwise.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::exec::{Event, RunSummary};

/// The human reporter (stderr).
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
                let m: Vec<String> = metrics
                    .iter()
                    .take(6)
                    .map(|(k, v)| format!("{k}={}", short(*v)))
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

    /// Clears the bars and prints the summary.
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
        eprintln!("{line}");
    }
}

fn short(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}
