//! The report as one self-contained HTML page: tables, the figures as inline SVG, what is
//! missing and the warnings. No scripts and nothing fetched, so it opens from a cluster's
//! file system, an e-mail attachment or a CI artifact alike.

use std::fmt::Write as _;

use super::{Cell, Report, cell_text, missing_notes, p_text, svg};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;padding:0 1.5em;max-width:80em;color:#222}\
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}\
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}td.missing{color:#999}\
td .p{color:#666;font-size:.85em}td.text{text-align:left}figure{margin:1em 0}\
.notes{color:#555;font-size:.9em}.scroll{overflow-x:auto}code{font-size:.9em}.warn{color:#a40}";

/// HTML text.
pub fn html(report: &Report) -> String {
    let mut out = String::new();
    let title = format!("Results: {} (plan {})", report.recipe, report.plan);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p>{} of {} nodes have results.</p>\n",
        esc(&title),
        esc(&title),
        report.done,
        report.nodes
    );
    for table in &report.tables {
        let _ = write!(
            out,
            "<section class=\"table\" id=\"{}\">\n<h2>{}</h2>\n<div class=\"scroll\"><table>\n<tr><th>{}</th>",
            esc(&table.name),
            code(&table.title),
            if table.baseline.is_some() { "" } else { "node" }
        );
        for c in &table.columns {
            let _ = write!(out, "<th>{}</th>", esc(c));
        }
        out.push_str("</tr>\n");
        for row in &table.rows {
            let _ = write!(out, "<tr><td>{}</td>", esc(&row.label));
            for cell in &row.cells {
                match cell {
                    Cell::Value { p_value, node, .. } => {
                        let _ =
                            write!(out, "<td title=\"{}\">{}", esc(node), esc(&cell_text(cell)));
                        if let Some(p) = p_value {
                            let _ = write!(out, " <span class=\"p\">({})</span>", p_text(*p));
                        }
                        out.push_str("</td>");
                    }
                    Cell::Text { text } => {
                        let _ = write!(out, "<td class=\"text\">{}</td>", esc(text));
                    }
                    Cell::Missing { node, why } => {
                        let _ = write!(
                            out,
                            "<td class=\"missing\" title=\"{}: {}\">—</td>",
                            esc(node),
                            esc(why)
                        );
                    }
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table></div>\n");
        let notes: Vec<String> = table
            .notes
            .iter()
            .cloned()
            .chain(missing_notes(table))
            .collect();
        if !notes.is_empty() {
            out.push_str("<ul class=\"notes\">");
            for n in notes {
                let _ = write!(out, "<li>{}</li>", code(&n));
            }
            out.push_str("</ul>\n");
        }
        out.push_str("</section>\n");
    }
    for plot in &report.plots {
        let _ = writeln!(
            out,
            "<figure class=\"plot\" id=\"plot-{}\">",
            esc(&plot.name)
        );
        match svg(plot) {
            Ok(s) => out.push_str(s.trim_start_matches(|c| c != '<')),
            Err(e) => {
                let _ = write!(out, "<p class=\"warn\">figure not drawn: {}</p>", esc(&e));
            }
        }
        let _ = write!(
            out,
            "\n<figcaption>{}</figcaption>\n</figure>\n",
            esc(&plot.title)
        );
    }
    if !report.missing.is_empty() {
        let _ = write!(
            out,
            "<section id=\"missing\">\n<h2>Not run ({})</h2>\n<table>\n<tr><th>node</th><th>why</th><th>command</th></tr>\n",
            report.missing.len()
        );
        for m in &report.missing {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"text\">{}</td><td class=\"text\"><code>{}</code></td></tr>",
                esc(&m.node),
                esc(&m.why()),
                esc(&m.command)
            );
        }
        out.push_str("</table>\n</section>\n");
    }
    if !report.warnings.is_empty() {
        out.push_str("<section id=\"warnings\">\n<h2>Warnings</h2>\n<ul>");
        for w in &report.warnings {
            let _ = write!(out, "<li class=\"warn\">{}</li>", code(w));
        }
        out.push_str("</ul>\n</section>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// Escaped text with Markdown's `code` spans as `<code>`.
fn code(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in esc(s).split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(part);
            out.push_str("</code>");
        } else {
            out.push_str(part);
        }
    }
    if s.matches('`').count() % 2 == 1 {
        return esc(s);
    }
    out
}

/// Text escaped for HTML content and attribute values.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
