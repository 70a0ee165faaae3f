//! The crate's layering, checked: each top-level module may import only the modules listed
//! for it here, and every listed module comes earlier in [`LAYERS`], so the import graph
//! between folders is acyclic and follows the data flow (ARCHITECTURE.md, "Layers").
//!
//! The check reads the source text (`crate::x` paths, including grouped `use crate::{..}`),
//! so it also catches fully qualified paths in function bodies. Comments are skipped.

/// Top-level modules, lowest layer first, each with the modules it may import.
const LAYERS: &[(&str, &[&str])] = &[
    ("io", &[]),
    ("validate", &[]),
    ("backend", &[]),
    ("glob", &[]),
    ("text", &["io", "validate"]),
    ("metrics", &["io", "validate", "text"]),
    ("embed", &["io", "validate", "text"]),
    ("model", &["io", "backend", "text"]),
    (
        "train",
        &[
            "io", "validate", "backend", "glob", "text", "metrics", "embed", "model",
        ],
    ),
    ("cache", &["io"]),
    (
        "stages",
        &[
            "io", "validate", "backend", "text", "metrics", "embed", "model", "train", "cache",
        ],
    ),
    ("recipe", &["stages"]),
    ("graph", &["glob", "recipe", "stages"]),
    // `train` and `text`: the model files of a cached `unmt` node (`plan::find_model`).
    ("plan", &["text", "train", "cache", "stages", "graph"]),
    // Reads the cache through a plan; runs nothing.
    (
        "results",
        &[
            "io", "metrics", "cache", "stages", "recipe", "graph", "plan",
        ],
    ),
    ("exec", &["io", "cache", "stages", "graph", "plan"]),
    ("report", &["exec"]),
    (
        "error",
        &[
            "io", "validate", "text", "metrics", "embed", "model", "train", "cache", "stages",
            "recipe", "plan", "results", "exec",
        ],
    ),
    (
        "cli",
        &[
            "io", "validate", "backend", "glob", "text", "metrics", "embed", "model", "train",
            "cache", "stages", "recipe", "graph", "plan", "results", "exec", "report", "error",
        ],
    ),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use super::LAYERS;

    /// The top-level modules named by `crate::` paths in `source`.
    fn imports(source: &str) -> BTreeSet<String> {
        let code: String = source
            .lines()
            .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
            .collect::<Vec<_>>()
            .join("\n");
        let mut found = BTreeSet::new();
        let mut rest = code.as_str();
        while let Some(i) = rest.find("crate::") {
            let before = rest[..i].chars().next_back();
            rest = &rest[i + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // `foo_crate::x`, not ours
            }
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a::b, c}`: the first identifier of each top-level item.
                let mut depth = 0usize;
                let mut item_start = true;
                for (j, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => item_start = true,
                        c if item_start && (c.is_alphabetic() || c == '_') => {
                            found.insert(ident(&group[j..]));
                            item_start = false;
                        }
                        _ => {}
                    }
                }
            } else {
                found.insert(ident(rest));
            }
        }
        found
    }

    fn ident(s: &str) -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("list src") {
            let path = entry.expect("read src entry").path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn layers_are_listed_in_dependency_order() {
        for (i, (module, allowed)) in LAYERS.iter().enumerate() {
            for dep in *allowed {
                let below = LAYERS[..i].iter().any(|(m, _)| m == dep);
                assert!(
                    below,
                    "`{module}` may import `{dep}`, which is not listed below it"
                );
            }
        }
    }

    #[test]
    fn no_module_imports_a_layer_above_it() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut violations = Vec::new();
        for file in files {
            let rel = file.strip_prefix(&src).expect("under src");
            let top = rel
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .map(|s| s.trim_end_matches(".rs").to_owned())
                .expect("a file name");
            if matches!(top.as_str(), "lib" | "main" | "layers") {
                continue; // the crate root and this check name every module
            }
            let Some((_, allowed)) = LAYERS.iter().find(|(m, _)| *m == top) else {
                violations.push(format!(
                    "{}: module `{top}` is not in LAYERS",
                    rel.display()
                ));
                continue;
            };
            let text = std::fs::read_to_string(&file).expect("read source");
            for dep in imports(&text) {
                if dep != top && !allowed.contains(&dep.as_str()) {
                    violations.push(format!("{}: `{top}` imports `crate::{dep}`", rel.display()));
                }
            }
        }
        assert!(
            violations.is_empty(),
            "imports against the layering (src/layers.rs, ARCHITECTURE.md):\n{}",
            violations.join("\n")
        );
    }

    #[test]
    fn the_scanner_sees_grouped_and_qualified_paths() {
        let found = imports(
            "use crate::{cache::{Cache, NodeKey}, stages};\n\
             fn f() { crate::plan::make(); } // crate::exec in a comment\n\
             use foo_crate::bar;",
        );
        let want: BTreeSet<String> = ["cache", "stages", "plan"].map(String::from).into();
        assert_eq!(found, want);
    }
}
