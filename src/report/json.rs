//! `--json`: one JSON object per event on stdout, then `{"summary": ...}`.

use std::io::Write;
use std::sync::Mutex;

use crate::exec::{Event, RunSummary};

/// Writes events as JSON lines.
#[derive(Debug, Default)]
pub struct JsonLines {
    out: Mutex<()>,
}

impl JsonLines {
    /// A reporter on stdout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Prints one event, skipping progress ticks and status lines (they are for bars, not logs).
    pub fn event(&self, e: &Event) {
        if matches!(e, Event::Progress { .. } | Event::Status { .. }) {
            return;
        }
        let _guard = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut stdout = std::io::stdout().lock();
        if let Ok(line) = serde_json::to_string(e) {
            let _ = writeln!(stdout, "{line}");
        }
    }

    /// Prints the final summary line.
    pub fn summary(&self, s: &RunSummary) {
        let _guard = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::json!({ "summary": s })
        );
    }
}
