//! Reading recipe files, following `extends`, and merging them.
//!
//! Merge rules (child over base): `[files]` entries, `[plans]` and `[report]` tables replace
//! by name; a node defined in both keeps the base's `stage`/`inputs` unless the child sets
//! them, input slots replace by slot name, and `params` merge key by key; sweep axes and
//! `[vars]` replace by name. Variables and templates are expanded after merging
//! ([`super::vars`]), so a child's `[vars]` reach its base's nodes.

use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::DeTable;

use super::error::RecipeError;
use super::raw::{self, RawFile, RawNode};
use super::source::Sources;

/// How many files an `extends` chain may hold: loading recurses once per file, and a
/// generated chain thousands deep would otherwise overflow the stack.
pub const MAX_EXTENDS_DEPTH: usize = 64;

/// Reads `path` and everything it extends. Errors are collected, never thrown, so a caller
/// can report them all with the sources loaded so far.
pub fn load(path: &Path, sources: &mut Sources, errors: &mut Vec<RecipeError>) -> Option<RawFile> {
    let mut chain: Vec<PathBuf> = Vec::new();
    load_one(path, None, sources, errors, &mut chain)
}

fn load_one(
    path: &Path,
    from: Option<&Spanned<PathBuf>>,
    sources: &mut Sources,
    errors: &mut Vec<RecipeError>,
    chain: &mut Vec<PathBuf>,
) -> Option<RawFile> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            let msg = format!("cannot read recipe `{}`: {e}", path.display());
            errors.push(match from {
                Some(ext) => RecipeError::at(ext.span(), msg, "extended here"),
                None => RecipeError::global(msg),
            });
            return None;
        }
    };
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if chain.contains(&canonical) {
        if let Some(ext) = from {
            errors.push(RecipeError::at(
                ext.span(),
                format!("`extends` cycle: `{}` extends itself", path.display()),
                "this file is already being loaded",
            ));
        }
        return None;
    }
    if chain.len() >= MAX_EXTENDS_DEPTH {
        let msg = format!(
            "`extends` chain deeper than {MAX_EXTENDS_DEPTH} files (at `{}`)",
            path.display()
        );
        errors.push(match from {
            Some(ext) => RecipeError::at(ext.span(), msg, "extended here"),
            None => RecipeError::global(msg),
        });
        return None;
    }
    chain.push(canonical);
    let (padded, _) = sources.add(path.to_path_buf(), text);
    // Recipe texts are small and live for the whole process; leaking them lets the spanned
    // document borrow from them as `'static` without copying every string.
    let padded: &'static str = Box::leak(padded.into_boxed_str());
    let doc = match DeTable::parse(padded) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            errors.push(RecipeError::at(
                span,
                format!("invalid TOML: {}", e.message()),
                "here",
            ));
            chain.pop();
            return None;
        }
    };
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut file = raw::walk(&doc, &dir, errors);
    let merged = match file.extends.take() {
        Some(base_path) => {
            let base = load_one(
                base_path.get_ref(),
                Some(&base_path),
                sources,
                errors,
                chain,
            );
            base.map_or(file.clone(), |base| merge(base, file))
        }
        None => file,
    };
    chain.pop();
    Some(merged)
}

fn merge(mut base: RawFile, child: RawFile) -> RawFile {
    for v in child.vars {
        base.vars.retain(|b| b.name.get_ref() != v.name.get_ref());
        base.vars.push(v);
    }
    for f in child.files {
        base.files.retain(|b| b.name.get_ref() != f.name.get_ref());
        base.files.push(f);
    }
    for node in child.nodes {
        match base
            .nodes
            .iter_mut()
            .find(|b| b.name.get_ref() == node.name.get_ref())
        {
            Some(b) => merge_node(b, node),
            None => base.nodes.push(node),
        }
    }
    for axis in child.sweep {
        base.sweep
            .retain(|b| b.path.get_ref() != axis.path.get_ref());
        base.sweep.push(axis);
    }
    for plan in child.plans {
        base.plans
            .retain(|b| b.name.get_ref() != plan.name.get_ref());
        base.plans.push(plan);
    }
    for table in child.report {
        base.report
            .retain(|b| b.name.get_ref() != table.name.get_ref());
        base.report.push(table);
    }
    base
}

/// Merges nodes of one name after template expansion (a node written after a template's
/// node of the same name overrides it key by key, as a child recipe's node does).
pub fn merge_duplicate_nodes(raw: &mut RawFile) {
    let mut merged: Vec<RawNode> = Vec::with_capacity(raw.nodes.len());
    for node in std::mem::take(&mut raw.nodes) {
        match merged
            .iter_mut()
            .find(|b| b.name.get_ref() == node.name.get_ref())
        {
            Some(b) => merge_node(b, node),
            None => merged.push(node),
        }
    }
    raw.nodes = merged;
}

fn merge_node(base: &mut RawNode, child: RawNode) {
    base.name = child.name;
    if child.stage.is_some() {
        base.stage = child.stage;
    }
    if child.foreach.is_some() {
        base.foreach = child.foreach;
    }
    for input in child.inputs {
        base.inputs
            .retain(|b| b.slot.get_ref() != input.slot.get_ref());
        base.inputs.push(input);
    }
    for p in child.params {
        base.params.retain(|b| b.key.get_ref() != p.key.get_ref());
        base.params.push(p);
    }
    base.params_span = child.params_span;
}
