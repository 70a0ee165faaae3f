//! `unmt explain RECIPE NODE`: why a node (re)runs, rendered from [`plan::explain`].

use std::io::Write;
use std::path::Path;

use crate::cache::{Cache, NodeKey};
use crate::error::Error;
use crate::plan::{self, Explanation};

/// Prints the explanation of one node.
pub fn run(
    cache_dir: &Path,
    recipe: &super::RecipeArg,
    node: &str,
    plan: Option<&str>,
) -> Result<i32, Error> {
    let (_, graph) = super::load(recipe, plan)?;
    let i = super::find_node(&graph, node)?;
    let cache = Cache::open(cache_dir)?;
    let explanation = plan::explain(&graph, i, &cache)?;
    let _ = cache.hasher().save();
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{}", render(node, &explanation));
    Ok(0)
}

/// The text `explain` prints.
fn render(node: &str, e: &Explanation) -> String {
    let mut s = String::new();
    match e {
        Explanation::UpToDate { key } => {
            let key = key.as_ref().map_or("?", NodeKey::short);
            s.push_str(&format!("{node}: up to date (key {key})\n"));
        }
        Explanation::Blocked { reason } => s.push_str(&format!("{node}: blocked: {reason}\n")),
        Explanation::Runs { key, last } => {
            s.push_str(&format!("{node}: will run\n"));
            s.push_str(&format!("  key:      {} (not in the cache)\n", key.short()));
            match last {
                Some(last) => {
                    match &last.recipe {
                        Some(r) => s.push_str(&format!(
                            "  last run: {} (in recipe `{r}`; never run in this one)\n",
                            last.key.short()
                        )),
                        None => s.push_str(&format!("  last run: {}\n", last.key.short())),
                    }
                    if last.changes.is_empty() {
                        s.push_str(
                            "  no difference in key material: the result was removed from the cache\n",
                        );
                    } else {
                        s.push_str("  changes:\n");
                        for c in &last.changes {
                            s.push_str(&format!("    {c}\n"));
                        }
                    }
                }
                None => s.push_str("  never run under this name\n"),
            }
        }
        Explanation::Waits { reason, upstream } => {
            s.push_str(&format!("{node}: will run: {reason}\n"));
            for (name, why) in upstream {
                s.push_str(&format!("  upstream {name}: {why}\n"));
            }
        }
    }
    s
}
