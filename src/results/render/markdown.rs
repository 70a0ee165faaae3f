//! The report as Markdown: a heading per table, GitHub pipe tables, notes below.

use std::fmt::Write as _;

use super::{Cell, Report, cell_text, missing_notes, p_text};

/// Markdown text. `figures`: the names of figures written beside it as
/// `plots/NAME.svg`, linked in; `None` when printed (no files to link).
pub fn markdown(report: &Report, figures: Option<&[String]>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Results: `{}` (plan `{}`)\n\n{} of {} nodes have results.",
        report.recipe, report.plan, report.done, report.nodes
    );
    for table in &report.tables {
        let _ = writeln!(out, "\n## {}\n", table.title);
        let _ = write!(
            out,
            "| {} |",
            escape(if table.baseline.is_some() { "" } else { "node" })
        );
        for c in &table.columns {
            let _ = write!(out, " {} |", escape(c));
        }
        out.push_str("\n|---|");
        for _ in &table.columns {
            out.push_str("---|");
        }
        out.push('\n');
        for row in &table.rows {
            let _ = write!(out, "| {} |", escape(&row.label));
            for cell in &row.cells {
                let mut text = cell_text(cell);
                if let Cell::Value {
                    p_value: Some(p), ..
                } = cell
                {
                    text = format!("{text} ({})", p_text(*p));
                }
                let _ = write!(out, " {} |", escape(&text));
            }
            out.push('\n');
        }
        let notes: Vec<String> = table
            .notes
            .iter()
            .cloned()
            .chain(missing_notes(table))
            .collect();
        if !notes.is_empty() {
            out.push('\n');
            for n in notes {
                let _ = writeln!(out, "- {n}");
            }
        }
    }
    if let Some(figures) = figures {
        for plot in report.plots.iter().filter(|p| figures.contains(&p.name)) {
            let _ = writeln!(
                out,
                "\n## {}\n\n![{}](plots/{}.svg)",
                plot.title, plot.title, plot.name
            );
        }
    }
    if !report.missing.is_empty() {
        let _ = writeln!(
            out,
            "\n## Not run ({})\n\n| node | why | command |\n|---|---|---|",
            report.missing.len()
        );
        for m in &report.missing {
            let _ = writeln!(
                out,
                "| {} | {} | `{}` |",
                escape(&m.node),
                escape(&m.why()),
                escape(&m.command)
            );
        }
    }
    if !report.warnings.is_empty() {
        out.push_str("\n## Warnings\n\n");
        for w in &report.warnings {
            let _ = writeln!(out, "- {w}");
        }
    }
    out
}

/// A table cell's text with the pipe escaped.
fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
