//! `unmt stages [KIND] [--json]`: every stage kind (or one) with its code version, input
//! slots, outputs and parameters (type, default, and the doc comment of the params struct's
//! field, extracted at build time). Slots and outputs are those of the default
//! parameters; where they depend on parameters (`mlm`'s `vectors`, `command`'s outputs) the
//! stage's doc says how.

use crate::error::Error;
use crate::stages::{Arity, DynStage};

/// One stage kind as `--json` prints it.
fn describe(s: &dyn DynStage) -> serde_json::Value {
    let empty = toml::Spanned::new(0..0, toml::de::DeValue::Table(toml::de::DeTable::new()));
    // Some stages have required parameters (`command`'s `run`): no defaults, no signature.
    let resolved = s.resolve(empty).ok();
    let signature = resolved.as_ref().map(|p| s.signature(p));
    let params: serde_json::Map<String, serde_json::Value> = s
        .param_fields()
        .iter()
        .map(|f| {
            let default = resolved
                .as_ref()
                .and_then(|p| p.full.get(*f).cloned())
                .unwrap_or(serde_json::Value::Null);
            let (ty, doc) = s.param_doc(f).unwrap_or(("", ""));
            (
                f.to_string(),
                serde_json::json!({
                    "type": ty,
                    "default": default,
                    "required": resolved.is_none(),
                    "doc": doc
                }),
            )
        })
        .collect();
    let inputs: Vec<serde_json::Value> = signature
        .iter()
        .flat_map(|sig| &sig.inputs)
        .map(|slot| {
            let arity = match slot.arity {
                Arity::One => "one",
                Arity::Optional => "optional",
                Arity::Many => "many",
                Arity::Unused => "unused",
            };
            serde_json::json!({"name": slot.name, "arity": arity})
        })
        .collect();
    let outputs: Vec<serde_json::Value> = signature
        .iter()
        .flat_map(|sig| &sig.outputs)
        .map(|o| serde_json::json!({"name": o.name, "kind": o.kind}))
        .collect();
    serde_json::json!({
        "kind": s.kind(),
        "code_version": s.code_version(),
        "summary": s.summary(),
        "any_inputs": signature.as_ref().is_some_and(|sig| sig.any_inputs),
        "inputs": inputs,
        "outputs": outputs,
        "params": params,
    })
}

/// Prints the stage list (or one stage), as text or JSON.
pub fn run(kind: Option<&str>, json: bool) -> Result<i32, Error> {
    let all = crate::stages::registry();
    let chosen: Vec<&dyn DynStage> = match kind {
        None => all.to_vec(),
        Some(k) => match all.iter().find(|s| s.kind() == k) {
            Some(s) => vec![*s],
            None => {
                return Err(Error::UnknownStage {
                    kind: k.to_owned(),
                    help: crate::recipe::did_you_mean(k, all.iter().map(|s| s.kind())).or_else(
                        || {
                            let kinds: Vec<&str> = all.iter().map(|s| s.kind()).collect();
                            Some(format!("stage kinds: {}", kinds.join(", ")))
                        },
                    ),
                });
            }
        },
    };
    let described: Vec<serde_json::Value> = chosen.iter().map(|s| describe(*s)).collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&described)?);
        return Ok(0);
    }
    for d in &described {
        println!(
            "{} (code version {}): {}",
            d["kind"].as_str().unwrap_or(""),
            d["code_version"],
            d["summary"].as_str().unwrap_or("")
        );
        let list = |key: &str, field: &str| -> String {
            d[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| {
                            format!(
                                "{} ({})",
                                x["name"].as_str().unwrap_or(""),
                                x[field].as_str().unwrap_or("")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        if d["any_inputs"].as_bool() == Some(true) {
            println!("  inputs: any slot names, each any number of references");
        } else {
            println!("  inputs: {}", list("inputs", "arity"));
        }
        println!("  outputs: {}", list("outputs", "kind"));
        if let Some(params) = d["params"].as_object() {
            println!("  params:");
            for (k, v) in params {
                let ty = v["type"].as_str().unwrap_or("");
                match (&v["default"], v["required"].as_bool()) {
                    (_, Some(true)) => println!("    {k}: {ty} (required)"),
                    (serde_json::Value::Null, _) => println!("    {k}: {ty} = none"),
                    (default, _) => println!("    {k}: {ty} = {default}"),
                }
                if let Some(doc) = v["doc"].as_str().filter(|d| !d.is_empty()) {
                    println!("        {doc}");
                }
            }
        }
    }
    Ok(0)
}
