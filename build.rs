//! Extracts the doc comments of every `Deserialize` struct's fields under `src/` into
//! `$OUT_DIR/param_docs.rs`, so `unmt stages` prints each parameter's documentation from the
//! params struct itself (one copy, the rustdoc one). A line scanner is enough: the structs are
//! rustfmt-formatted, one field per line.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=src");
    let mut files = Vec::new();
    collect(Path::new("src"), &mut files);
    files.sort();
    let mut out = String::from(
        "/// `(module::path::Struct, field, type, doc)` for every field of a `Deserialize` struct.\n\
         pub static PARAM_DOCS: &[(&str, &str, &str, &str)] = &[\n",
    );
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let module = module_path(&file);
        for (name, field, ty, doc) in scan(&text) {
            let path = if module.is_empty() {
                name
            } else {
                format!("{module}::{name}")
            };
            let _ = writeln!(out, "    ({path:?}, {field:?}, {ty:?}, {doc:?}),");
        }
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("param_docs.rs");
    std::fs::write(dest, out).expect("write param_docs.rs");
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/train/unmt/params.rs` -> `train::unmt::params`; `mod.rs`, `lib.rs`, `main.rs` name
/// their directory.
fn module_path(file: &Path) -> String {
    let rel = file.strip_prefix("src").unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|l| l == "mod" || l == "lib" || l == "main")
    {
        parts.pop();
    }
    parts.join("::")
}

/// `(struct, field, type, doc)` for the fields of each braced struct after a derive that
/// names `Deserialize`. The doc is the field's first paragraph on one line, without the
/// `Default: ...` sentence (`stages` prints the default itself).
fn scan(text: &str) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    let mut deserialize = false;
    let mut current: Option<String> = None;
    let mut doc: Vec<String> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        match &current {
            None => {
                if t.starts_with("#[derive(") && t.contains("Deserialize") {
                    deserialize = true;
                } else if let Some(rest) = t.strip_prefix("pub struct ") {
                    if deserialize && t.ends_with('{') {
                        let name: String = rest
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        current = Some(name);
                        doc.clear();
                    }
                    deserialize = false;
                } else if !(t.starts_with("#[") || t.starts_with("///") || t.is_empty()) {
                    deserialize = false;
                }
            }
            Some(name) => {
                if t == "}" {
                    current = None;
                } else if let Some(d) = t.strip_prefix("///") {
                    doc.push(d.trim().to_owned());
                } else if t.starts_with("#[") || t.is_empty() {
                } else if let Some((field, ty)) = t
                    .strip_prefix("pub ")
                    .unwrap_or(t)
                    .strip_suffix(',')
                    .and_then(|f| f.split_once(": "))
                {
                    out.push((
                        name.clone(),
                        field.trim().to_owned(),
                        ty.trim().to_owned(),
                        one_line(&doc),
                    ));
                    doc.clear();
                } else {
                    doc.clear();
                }
            }
        }
    }
    out
}

fn one_line(doc: &[String]) -> String {
    let para: Vec<&str> = doc
        .iter()
        .map(String::as_str)
        .take_while(|l| !l.is_empty())
        .collect();
    let text = para.join(" ");
    match text.find("Default:") {
        Some(i) => text[..i].trim_end().to_owned(),
        None => text,
    }
}
