//! Recipe variables and node templates, expanded after `extends` is merged and before
//! validation, so the rest of the engine only ever sees resolved values (and node keys are
//! computed from resolved values alone: a templated recipe has the keys of its hand-written
//! expansion).
//!
//! ```toml
//! [vars]
//! lmr = "mk"                           # overridable by a child recipe or `--set vars.lmr=sq`
//! sides = { en = "en", lmr = "${lmr}" }
//!
//! [nodes."tok_${key}"]                 # one node per entry of `sides` (DVC's `foreach`)
//! foreach = "${sides}"
//! stage = "tokenize"
//! inputs = { text = "corpus_${key}.train" }
//! params = { lang = "${item}" }
//! ```
//!
//! `${name}` is replaced in node names, input references, parameter values (nested ones too),
//! file paths and sweep values. A string that is exactly one `${name}` takes the variable's
//! value with its type (`dim = "${dim}"` is an integer); inside a longer string, a scalar is
//! written as text. In a `foreach` node, `${item}` is the element (`${item.field}` for a table
//! element) and `${key}` its key (table) or index (list). `$${` writes a literal `${`.
//! Variables may use other variables; a cycle is an error.

use std::borrow::Cow;
use std::collections::BTreeMap;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use super::error::{RecipeError, did_you_mean};
use super::raw::{RawFile, RawNode, Value};
use super::source::Span;

/// `name = value` in `[vars]` (or from `--set vars.name=value`).
#[derive(Debug, Clone)]
pub struct RawVar {
    /// The name and its span.
    pub name: Spanned<String>,
    /// The value and its span.
    pub value: Value,
}

/// Where a resolved value used a variable: errors found later at `use_span` also point at
/// the variable's definition.
#[derive(Debug, Clone)]
pub struct VarUse {
    /// The string that used the variable.
    pub use_span: Span,
    /// The variable's definition.
    pub def_span: Span,
    /// Its name.
    pub name: String,
}

/// Sets `[vars]` entries from `vars.NAME=VALUE` arguments (`--set`). VALUE is read as a TOML
/// value, or as a string when it is not one (`vars.lmr=sq`). Each argument becomes a source
/// named `--set`, so errors in what it sets point at it.
pub fn set_from_args(
    raw: &mut RawFile,
    set: &[String],
    sources: &mut super::source::Sources,
    errors: &mut Vec<RecipeError>,
) {
    for arg in set {
        let Some((name, value)) = arg
            .strip_prefix("vars.")
            .and_then(|rest| rest.split_once('='))
        else {
            errors.push(
                RecipeError::global(format!("`--set {arg}` does not set a recipe variable"))
                    .help("for a recipe, `--set` takes `vars.NAME=VALUE`"),
            );
            continue;
        };
        let name = name.trim();
        if !raw.vars.iter().any(|v| v.name.get_ref() == name) {
            let defined: Vec<&str> = raw.vars.iter().map(|v| v.name.get_ref().as_str()).collect();
            errors.push(
                RecipeError::global(format!(
                    "`--set vars.{name}`: the recipe has no variable `{name}`"
                ))
                .help(did_you_mean(name, defined.iter().copied()).unwrap_or_else(
                    || {
                        if defined.is_empty() {
                            "the recipe has no `[vars]`".to_owned()
                        } else {
                            format!("its variables: {}", defined.join(", "))
                        }
                    },
                )),
            );
            continue;
        }
        let line = if DeTable::parse(&format!("x = {value}")).is_ok() {
            format!("{name} = {value}")
        } else {
            format!("{name} = {}", toml::Value::String(value.to_owned()))
        };
        let (padded, _) = sources.add("--set".into(), line);
        let padded: &'static str = Box::leak(padded.into_boxed_str());
        let Ok(doc) = DeTable::parse(padded) else {
            errors.push(RecipeError::global(format!(
                "`--set {arg}`: `{name}` is not a plain variable name"
            )));
            continue;
        };
        for (k, v) in doc.get_ref() {
            raw.vars
                .retain(|x| x.name.get_ref() != k.get_ref().as_ref());
            raw.vars.push(RawVar {
                name: Spanned::new(k.span(), k.get_ref().to_string()),
                value: v.clone(),
            });
        }
    }
}

/// Adds "`NAME` is defined here" to each error located in a value that used a variable
/// defined in the same file.
pub fn point_at_definitions(
    errors: Vec<RecipeError>,
    uses: &[VarUse],
    sources: &super::source::Sources,
) -> Vec<RecipeError> {
    let file = |s: &Span| sources.file_at(s.start).map(|f| f.offset);
    errors
        .into_iter()
        .map(|mut e| {
            let Some(span) = e.span.clone() else {
                return e;
            };
            for u in uses {
                let inside = u.use_span.start <= span.start && span.end <= u.use_span.end;
                if inside && file(&u.def_span) == file(&span) {
                    e = e.also(u.def_span.clone(), format!("`{}` is defined here", u.name));
                }
            }
            e
        })
        .collect()
}

/// Names in scope while expanding one value.
struct Scope<'a> {
    vars: &'a BTreeMap<String, Value>,
    item: Option<(&'a Value, &'a str)>,
}

/// What went wrong in one interpolation (turned into a spanned [`RecipeError`]).
enum Problem {
    Unknown(String),
    NotScalar(String),
    Unclosed,
    Cycle(String),
}

/// Resolves every variable and template of `raw` in place. Errors go to `errors`.
pub fn expand(raw: &mut RawFile, errors: &mut Vec<RecipeError>) -> Vec<VarUse> {
    let mut uses = Vec::new();
    let defined: BTreeMap<String, Value> = raw
        .vars
        .iter()
        .map(|v| (v.name.get_ref().clone(), v.value.clone()))
        .collect();
    let mut vars = BTreeMap::new();
    for v in &raw.vars {
        let mut stack = vec![v.name.get_ref().clone()];
        match resolve_var(&v.value, &defined, &mut stack) {
            Ok(value) => {
                vars.insert(v.name.get_ref().clone(), value);
            }
            Err(p) => errors.push(problem_error(p, v.value.span(), &defined)),
        }
    }
    if !errors.is_empty() {
        return uses;
    }
    for v in &mut raw.vars {
        if let Some(resolved) = vars.get(v.name.get_ref()) {
            v.value = resolved.clone();
        }
    }
    let defs: BTreeMap<&str, Span> = raw
        .vars
        .iter()
        .map(|v| (v.name.get_ref().as_str(), v.name.span()))
        .collect();
    let top = Scope {
        vars: &vars,
        item: None,
    };
    let mut ctx = Ctx {
        defs: &defs,
        uses: &mut uses,
        errors,
    };
    for f in &mut raw.files {
        let text = f.path.get_ref().to_string_lossy().into_owned();
        if let Some(s) = ctx.string(&text, f.path.span(), &top) {
            f.path = Spanned::new(f.path.span(), s.into());
        }
    }
    let mut nodes = Vec::with_capacity(raw.nodes.len());
    for node in std::mem::take(&mut raw.nodes) {
        match node.foreach.clone() {
            None => nodes.push(ctx.node(node, &top)),
            Some(list) => {
                let items = match ctx.value(&list, &top) {
                    Some(v) => v,
                    None => continue,
                };
                let entries: Vec<(String, Value)> = match items.get_ref() {
                    DeValue::Array(a) => a
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (i.to_string(), v.clone()))
                        .collect(),
                    DeValue::Table(t) => t
                        .iter()
                        .map(|(k, v)| (k.get_ref().to_string(), v.clone()))
                        .collect(),
                    other => {
                        ctx.errors.push(RecipeError::at(
                            list.span(),
                            format!(
                                "`foreach` of node `{}` is {}, not a list or table",
                                node.name.get_ref(),
                                other.type_str()
                            ),
                            "expected a list, a table, or `\"${name}\"` naming one",
                        ));
                        continue;
                    }
                };
                if !node.name.get_ref().contains("${") {
                    ctx.errors.push(
                        RecipeError::at(
                            node.name.span(),
                            format!(
                                "template node `{}` would make {} nodes of one name",
                                node.name.get_ref(),
                                entries.len()
                            ),
                            "this name uses no `${key}` or `${item}`",
                        )
                        .help("name the nodes after their element: `[nodes.\"tok_${key}\"]`"),
                    );
                    continue;
                }
                for (key, item) in &entries {
                    let scope = Scope {
                        vars: &vars,
                        item: Some((item, key)),
                    };
                    let mut copy = node.clone();
                    copy.foreach = None;
                    nodes.push(ctx.node(copy, &scope));
                }
            }
        }
    }
    raw.nodes = nodes;
    // A template's copies repeat each error at the same place: report it once.
    let mut seen = std::collections::HashSet::new();
    ctx.errors
        .retain(|e| seen.insert((e.span.clone(), e.message.clone())));
    for axis in &mut raw.sweep {
        for v in &mut axis.values {
            if let Some(x) = ctx.value(v, &top) {
                *v = x;
            }
        }
    }
    for table in &mut raw.report {
        if let Some(x) = ctx.value(&table.value, &top) {
            table.value = x;
        }
    }
    uses
}

struct Ctx<'a, 'b> {
    defs: &'a BTreeMap<&'a str, Span>,
    uses: &'b mut Vec<VarUse>,
    errors: &'b mut Vec<RecipeError>,
}

impl Ctx<'_, '_> {
    fn node(&mut self, mut node: RawNode, scope: &Scope<'_>) -> RawNode {
        if let Some(name) = self.string(node.name.get_ref(), node.name.span(), scope) {
            node.name = Spanned::new(node.name.span(), name);
        }
        for input in &mut node.inputs {
            for r in &mut input.refs {
                if let Some(s) = self.string(r.get_ref(), r.span(), scope) {
                    *r = Spanned::new(r.span(), s);
                }
            }
        }
        for p in &mut node.params {
            if let Some(v) = self.value(&p.value, scope) {
                p.value = v;
            }
        }
        node
    }

    /// `value` with every string in it interpolated.
    fn value(&mut self, value: &Value, scope: &Scope<'_>) -> Option<Value> {
        let span = value.span();
        match value.get_ref() {
            DeValue::String(s) => {
                if let Some(name) = whole_reference(s) {
                    let found = lookup(name, scope).map_err(|p| self.fail(p, span.clone()));
                    let found = found.ok()?;
                    self.record(name, span.clone());
                    return Some(Spanned::new(span, found.get_ref().clone()));
                }
                let text = self.string(s, span.clone(), scope)?;
                Some(Spanned::new(span, DeValue::String(Cow::Owned(text))))
            }
            DeValue::Array(items) => {
                let mut out = DeArray::new();
                for item in items.iter() {
                    out.push(self.value(item, scope)?);
                }
                Some(Spanned::new(span, DeValue::Array(out)))
            }
            DeValue::Table(t) => {
                let mut out = DeTable::new();
                for (k, v) in t.iter() {
                    out.insert(k.clone(), self.value(v, scope)?);
                }
                Some(Spanned::new(span, DeValue::Table(out)))
            }
            _ => Some(value.clone()),
        }
    }

    /// `text` with every `${name}` replaced by a scalar's text.
    fn string(&mut self, text: &str, span: Span, scope: &Scope<'_>) -> Option<String> {
        match interpolate(text, &mut |name| {
            let v = lookup(name, scope)?;
            let s = scalar_text(v.get_ref()).ok_or_else(|| Problem::NotScalar(name.to_owned()))?;
            Ok(s)
        }) {
            Ok((s, names)) => {
                for n in names {
                    self.record(&n, span.clone());
                }
                Some(s)
            }
            Err(p) => {
                self.fail(p, span);
                None
            }
        }
    }

    fn record(&mut self, name: &str, use_span: Span) {
        let root = name.split('.').next().unwrap_or(name);
        if let Some(def) = self.defs.get(root) {
            self.uses.push(VarUse {
                use_span,
                def_span: def.clone(),
                name: root.to_owned(),
            });
        }
    }

    fn fail(&mut self, p: Problem, span: Span) {
        let names: Vec<&str> = self.defs.keys().copied().collect();
        self.errors.push(problem_error_names(p, span, &names));
    }
}

/// A variable's value with the variables it uses resolved.
fn resolve_var(
    value: &Value,
    defined: &BTreeMap<String, Value>,
    stack: &mut Vec<String>,
) -> Result<Value, Problem> {
    let span = value.span();
    let get = |name: &str, stack: &mut Vec<String>| -> Result<Value, Problem> {
        let root = name.split('.').next().unwrap_or(name);
        if stack.iter().any(|s| s == root) {
            return Err(Problem::Cycle(root.to_owned()));
        }
        let v = defined
            .get(root)
            .ok_or_else(|| Problem::Unknown(name.to_owned()))?;
        stack.push(root.to_owned());
        let r = resolve_var(v, defined, stack);
        stack.pop();
        let r = r?;
        field(&r, name)
    };
    match value.get_ref() {
        DeValue::String(s) => {
            if let Some(name) = whole_reference(s) {
                let v = get(name, stack)?;
                return Ok(Spanned::new(span, v.get_ref().clone()));
            }
            let (text, _) = interpolate(s, &mut |name| {
                let v = get(name, stack)?;
                scalar_text(v.get_ref()).ok_or_else(|| Problem::NotScalar(name.to_owned()))
            })?;
            Ok(Spanned::new(span, DeValue::String(Cow::Owned(text))))
        }
        DeValue::Array(items) => {
            let mut out = DeArray::new();
            for item in items.iter() {
                out.push(resolve_var(item, defined, stack)?);
            }
            Ok(Spanned::new(span, DeValue::Array(out)))
        }
        DeValue::Table(t) => {
            let mut out = DeTable::new();
            for (k, v) in t.iter() {
                out.insert(k.clone(), resolve_var(v, defined, stack)?);
            }
            Ok(Spanned::new(span, DeValue::Table(out)))
        }
        _ => Ok(value.clone()),
    }
}

/// `item`, `item.field`, `key`, or a variable (`name`, `name.field`).
fn lookup(name: &str, scope: &Scope<'_>) -> Result<Value, Problem> {
    let root = name.split('.').next().unwrap_or(name);
    if let Some((item, key)) = scope.item {
        match root {
            "item" => return field(item, name),
            "key" if root == name => {
                return Ok(Spanned::new(
                    0..0,
                    DeValue::String(Cow::Owned(key.to_owned())),
                ));
            }
            _ => {}
        }
    }
    let v = scope
        .vars
        .get(root)
        .ok_or_else(|| Problem::Unknown(name.to_owned()))?;
    field(v, name)
}

/// The value at the dotted `path` (its first part names `value` itself).
fn field(value: &Value, path: &str) -> Result<Value, Problem> {
    let mut v = value;
    for part in path.split('.').skip(1) {
        v = match v.get_ref() {
            DeValue::Table(t) => t
                .get(part)
                .ok_or_else(|| Problem::Unknown(path.to_owned()))?,
            _ => return Err(Problem::Unknown(path.to_owned())),
        };
    }
    Ok(v.clone())
}

/// The name in a string that is exactly `${name}`.
fn whole_reference(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("${")?.strip_suffix('}')?;
    (!inner.contains(['{', '}', '$'])).then_some(inner)
}

/// Replaces each `${name}` in `text` by `value(name)`; `$${` is a literal `${`. Returns the
/// text and the names used.
fn interpolate(
    text: &str,
    value: &mut dyn FnMut(&str) -> Result<String, Problem>,
) -> Result<(String, Vec<String>), Problem> {
    let mut out = String::with_capacity(text.len());
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail.find('}').ok_or(Problem::Unclosed)?;
            let name = tail[..end].trim();
            out.push_str(&value(name)?);
            names.push(name.to_owned());
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok((out, names))
}

fn scalar_text(v: &DeValue<'_>) -> Option<String> {
    match v {
        DeValue::String(s) => Some(s.to_string()),
        DeValue::Integer(i) => Some(i.as_str().to_owned()),
        DeValue::Float(f) => Some(f.as_str().to_owned()),
        DeValue::Boolean(b) => Some(b.to_string()),
        DeValue::Datetime(d) => Some(d.to_string()),
        DeValue::Array(_) | DeValue::Table(_) => None,
    }
}

fn problem_error(p: Problem, span: Span, defined: &BTreeMap<String, Value>) -> RecipeError {
    let names: Vec<&str> = defined.keys().map(String::as_str).collect();
    problem_error_names(p, span, &names)
}

fn problem_error_names(p: Problem, span: Span, names: &[&str]) -> RecipeError {
    match p {
        Problem::Unknown(name) => {
            let mut candidates: Vec<&str> = names.to_vec();
            candidates.extend(["item", "key"]);
            let help = did_you_mean(&name, candidates).unwrap_or_else(|| {
                if names.is_empty() {
                    "define it in `[vars]`".to_owned()
                } else {
                    format!("defined variables: {}", names.join(", "))
                }
            });
            RecipeError::at(span, format!("unknown variable `${{{name}}}`"), "used here").help(help)
        }
        Problem::NotScalar(name) => RecipeError::at(
            span,
            format!("variable `${{{name}}}` is a list or table inside a longer string"),
            "used here",
        )
        .help("a list or table can only be the whole value: `x = \"${name}\"`"),
        Problem::Unclosed => RecipeError::at(span, "unclosed `${` in a string", "here")
            .help("write `${name}`, or `$${` for a literal `${`"),
        Problem::Cycle(name) => RecipeError::at(
            span,
            format!("variable `{name}` is defined in terms of itself"),
            "this value leads back to it",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Result<(String, Vec<String>), String> {
        interpolate(value, &mut |name| match name {
            "a" => Ok("x".into()),
            "n" => Ok("3".into()),
            other => Err(Problem::Unknown(other.into())),
        })
        .map_err(|p| match p {
            Problem::Unknown(n) => format!("unknown {n}"),
            Problem::Unclosed => "unclosed".into(),
            _ => "other".into(),
        })
    }

    #[test]
    fn strings_are_interpolated_and_dollars_kept() {
        assert_eq!(text("tok_${a}_${n}").map(|t| t.0), Ok("tok_x_3".into()));
        assert_eq!(
            text("cat \"$0\" $1").map(|t| t.0),
            Ok("cat \"$0\" $1".into())
        );
        assert_eq!(text("$${a}").map(|t| t.0), Ok("${a}".into()));
        assert_eq!(text("${ a }").map(|t| t.1), Ok(vec!["a".to_owned()]));
        assert_eq!(text("${b}"), Err("unknown b".into()));
        assert_eq!(text("x ${a"), Err("unclosed".into()));
        assert_eq!(whole_reference("${a}"), Some("a"));
        assert_eq!(whole_reference("${a}${b}"), None);
        assert_eq!(whole_reference("x${a}"), None);
    }
}
