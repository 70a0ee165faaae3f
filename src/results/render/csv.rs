//! The report as long-format CSV: one line per cell (`table,row,column,value,p_value,node,
//! status,note`), which pandas' `pivot` or R's `pivot_wider` turn back into tables.

use std::fmt::Write as _;

use super::{Cell, Report};

/// CSV text (RFC 4180 quoting).
pub fn csv(report: &Report) -> String {
    let mut out = String::from("table,row,column,value,p_value,node,status,note\n");
    for table in &report.tables {
        for row in &table.rows {
            for (column, cell) in table.columns.iter().zip(&row.cells) {
                let (value, p, node, status, note) = match cell {
                    Cell::Value {
                        value,
                        p_value,
                        node,
                    } => (
                        value.to_string(),
                        p_value.map(|p| p.to_string()).unwrap_or_default(),
                        node.as_str(),
                        "value",
                        "",
                    ),
                    Cell::Text { text } => (text.clone(), String::new(), "", "text", ""),
                    Cell::Missing { node, why } => (
                        String::new(),
                        String::new(),
                        node.as_str(),
                        "missing",
                        why.as_str(),
                    ),
                };
                let fields = [
                    table.name.as_str(),
                    &row.label,
                    column,
                    &value,
                    &p,
                    node,
                    status,
                    note,
                ];
                let line: Vec<String> = fields.iter().map(|f| quote(f)).collect();
                let _ = writeln!(out, "{}", line.join(","));
            }
        }
    }
    out
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn fields_with_separators_are_quoted() {
        assert_eq!(quote("mlm"), "mlm");
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"x\""), "\"say \"\"x\"\"\"");
    }
}
