//! `unmt config RECIPE`: the recipe as the engine reads it, after `extends`, `[vars]`,
//! `--set` and `foreach` templates, each value followed by where it was written (as
//! `git config --show-origin`): what a node means when several files and templates made it.

use std::fmt::Write as _;

use toml::de::DeValue;

use crate::error::Error;
use crate::recipe::{Recipe, Sources};

/// Prints the resolved recipe as TOML with `# file:line` origins.
pub fn run(arg: &super::RecipeArg) -> Result<i32, Error> {
    let recipe = crate::recipe::load_with(&arg.recipe, &arg.set)?;
    print!("{}", render(&recipe));
    Ok(0)
}

/// The resolved recipe as TOML; every line ends with its origin.
pub fn render(recipe: &Recipe) -> String {
    let src = &recipe.sources;
    let at = |offset: usize| origin(src, offset);
    let mut out = String::new();
    if !recipe.vars.is_empty() {
        out.push_str("[vars]\n");
        for (name, value) in &recipe.vars {
            let line = format!("{} = {}", key(name.get_ref()), value_text(value.get_ref()));
            let _ = writeln!(out, "{line:<48} # {}", at(name.span().start));
        }
        out.push('\n');
    }
    out.push_str("[files]\n");
    for (name, f) in &recipe.files {
        let line = format!("{} = {}", key(name), string(&f.path.display().to_string()));
        let _ = writeln!(out, "{line:<48} # {}", at(f.span.start));
    }
    for node in &recipe.nodes {
        let _ = writeln!(
            out,
            "\n{:<48} # {}",
            format!("[nodes.{}]", key(&node.name)),
            at(node.span.start)
        );
        let _ = writeln!(out, "stage = {}", string(node.stage.kind()));
        for (slot, refs) in &node.inputs {
            let texts: Vec<String> = refs.iter().map(|r| string(&r.text())).collect();
            let value = if texts.len() == 1
                && !node
                    .signature
                    .slot(slot)
                    .is_some_and(|s| matches!(s.arity, crate::stages::Arity::Many))
            {
                texts[0].clone()
            } else {
                format!("[{}]", texts.join(", "))
            };
            let line = format!("inputs.{} = {value}", key(slot));
            let first = refs.first().map_or(node.span.start, |r| r.span.start);
            let _ = writeln!(out, "{line:<48} # {}", at(first));
        }
        for p in &node.raw_params {
            let line = format!(
                "params.{} = {}",
                key(p.key.get_ref()),
                value_text(p.value.get_ref())
            );
            let _ = writeln!(out, "{line:<48} # {}", at(p.value.span().start));
        }
    }
    if !recipe.axes.is_empty() {
        out.push_str("\n[sweep]\n");
        for axis in &recipe.axes {
            let values: Vec<String> = axis
                .values
                .iter()
                .map(|v| value_text(v.value.get_ref()))
                .collect();
            let line = format!("{} = [{}]", string(&axis.path), values.join(", "));
            let _ = writeln!(out, "{line:<48} # {}", at(axis.span.start));
        }
    }
    out
}

fn origin(sources: &Sources, offset: usize) -> String {
    sources.origin(offset).unwrap_or_else(|| "?".to_owned())
}

/// A TOML key: bare when it can be, else quoted.
fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_owned()
    } else {
        string(k)
    }
}

fn string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// A value in TOML syntax (inline).
fn value_text(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => string(s),
        DeValue::Integer(i) => i.as_str().to_owned(),
        DeValue::Float(f) => f.as_str().to_owned(),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        DeValue::Array(a) => format!(
            "[{}]",
            a.iter()
                .map(|x| value_text(x.get_ref()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        DeValue::Table(t) => format!(
            "{{ {} }}",
            t.iter()
                .map(|(k, x)| format!("{} = {}", key(k.get_ref()), value_text(x.get_ref())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
