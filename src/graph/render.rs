//! `unmt graph`: the plan's DAG as Graphviz dot or Mermaid, coloured by planned action.

use std::fmt::Write;

use super::build::{Graph, Source};

/// Output syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Graphviz `dot`.
    Dot,
    /// Mermaid `flowchart`.
    Mermaid,
}

/// Renders `graph`; `status(i)` gives each node's planned action ("run", "reuse", "blocked").
pub fn render(graph: &Graph, format: Format, status: &dyn Fn(usize) -> &'static str) -> String {
    let mut out = String::new();
    let colour = |s: &str| match s {
        "reuse" => "#b7e1b0",
        "run" => "#ffd59e",
        _ => "#d0d0d0",
    };
    match format {
        Format::Dot => {
            out.push_str("digraph unmt {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"sans-serif\"];\n");
            let mut files: Vec<&str> = Vec::new();
            for (i, n) in graph.nodes.iter().enumerate() {
                let s = status(i);
                let _ = writeln!(
                    out,
                    "  n{i} [label=\"{}\\n{} ({s})\", fillcolor=\"{}\"];",
                    esc(&n.name),
                    n.stage.kind(),
                    colour(s)
                );
                for (slot, sources) in &n.inputs {
                    for src in sources {
                        match src {
                            Source::Node { index, output } => {
                                let _ = writeln!(
                                    out,
                                    "  n{index} -> n{i} [label=\"{}→{}\"];",
                                    esc(output),
                                    esc(slot)
                                );
                            }
                            Source::File { name, .. } => {
                                if !files.contains(&name.as_str()) {
                                    files.push(name);
                                    let _ = writeln!(
                                        out,
                                        "  \"file:{0}\" [label=\"{0}\", shape=note, style=filled, fillcolor=\"#ffffff\"];",
                                        esc(name)
                                    );
                                }
                                let _ = writeln!(
                                    out,
                                    "  \"file:{}\" -> n{i} [label=\"{}\"];",
                                    esc(name),
                                    esc(slot)
                                );
                            }
                        }
                    }
                }
            }
            out.push_str("}\n");
        }
        Format::Mermaid => {
            out.push_str("flowchart LR\n");
            let mut files: Vec<&str> = Vec::new();
            for (i, n) in graph.nodes.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "  n{i}[\"{}<br/>{} ({})\"]:::{}",
                    mer(&n.name),
                    n.stage.kind(),
                    status(i),
                    status(i)
                );
                for (slot, sources) in &n.inputs {
                    for src in sources {
                        match src {
                            Source::Node { index, output } => {
                                let _ = writeln!(
                                    out,
                                    "  n{index} -->|{}→{}| n{i}",
                                    mer(output),
                                    mer(slot)
                                );
                            }
                            Source::File { name, .. } => {
                                let id = format!(
                                    "f_{}",
                                    name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
                                );
                                if !files.contains(&name.as_str()) {
                                    files.push(name);
                                    let _ = writeln!(out, "  {id}[/\"{}\"/]", mer(name));
                                }
                                let _ = writeln!(out, "  {id} -->|{}| n{i}", mer(slot));
                            }
                        }
                    }
                }
            }
            for s in ["reuse", "run", "blocked"] {
                let _ = writeln!(out, "  classDef {s} fill:{}", colour(s));
            }
        }
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn mer(s: &str) -> String {
    s.replace('"', "#quot;").replace('|', "#124;")
}
