//! Report renderers: Markdown (terminals, READMEs), CSV (long format, one cell per line,
//! for pandas or R), JSON (the [`Report`] as it is), HTML (one self-contained page: tables
//! and inline SVG figures, no scripts, no external files) and SVG figures.

mod csv;
mod html;
mod markdown;
mod svg;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use csv::csv;
pub use html::html;
pub use markdown::markdown;
pub use svg::svg;

use super::{Cell, Report, ResultsError};

/// An output format of `unmt report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Markdown tables.
    Md,
    /// Long-format CSV.
    Csv,
    /// The report as JSON.
    Json,
    /// A self-contained HTML page.
    Html,
}

/// Renders `report` as `format` (figures inline in HTML; Markdown without figures).
pub fn render(report: &Report, format: Format) -> Result<String, ResultsError> {
    Ok(match format {
        Format::Md => markdown(report, None),
        Format::Csv => csv(report),
        Format::Json => serde_json::to_string_pretty(report)? + "\n",
        Format::Html => html(report),
    })
}

/// Writes every format into `dir` (`report.md`, `report.csv`, `report.json`,
/// `report.html`, `plots/NAME.svg`), each through a temporary file renamed into place, and
/// returns the paths written.
pub fn write_all(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, ResultsError> {
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|source| ResultsError::Io {
        action: "create",
        path: plots.clone(),
        source,
    })?;
    let mut written = Vec::new();
    let mut write = |path: PathBuf, text: &str| -> Result<(), ResultsError> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|source| ResultsError::Io {
                action: "write",
                path: path.clone(),
                source,
            })?;
        written.push(path);
        Ok(())
    };
    let mut figures = Vec::new();
    for plot in &report.plots {
        if let Ok(text) = svg(plot) {
            write(plots.join(format!("{}.svg", plot.name)), &text)?;
            figures.push(plot.name.clone());
        }
    }
    write(dir.join("report.md"), &markdown(report, Some(&figures)))?;
    write(dir.join("report.csv"), &csv(report))?;
    write(dir.join("report.json"), &render(report, Format::Json)?)?;
    write(dir.join("report.html"), &html(report))?;
    Ok(written)
}

/// A figure as tables print it: integers as integers, else four significant decimals
/// below 1 (P@k, p-values), two below 100 (BLEU, chrF), one above (perplexities).
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let a = v.abs();
    if a < 1.0 {
        format!("{v:.4}")
    } else if a < 100.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1}")
    }
}

/// A cell's text, without p-value.
fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Value { value, .. } => number(*value),
        Cell::Text { text } => text.clone(),
        Cell::Missing { .. } => "—".to_owned(),
    }
}

/// A p-value as tables print it.
fn p_text(p: f64) -> String {
    format!("p={p:.4}")
}

/// Why cells of a table are empty, one line per node and reason.
fn missing_notes(table: &super::Table) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for row in &table.rows {
        for cell in &row.cells {
            if let Cell::Missing { node, why } = cell {
                let line = format!("— `{node}`: {why}");
                if !out.contains(&line) {
                    out.push(line);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn numbers_keep_the_digits_that_matter() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.123456), "0.1235");
        assert_eq!(number(12.3456), "12.35");
        assert_eq!(number(1474.26), "1474.3");
        assert_eq!(number(f64::NAN), "NaN");
    }
}
