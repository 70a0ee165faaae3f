//! `command`: run any external program with declared inputs and outputs.
//!
//! The program is not hashed (it may be anything on `PATH`); bump `version` when it changes
//! behaviour, exactly as stage kinds bump their `CODE_VERSION`.

use std::collections::BTreeMap;
use std::fs::File;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::StageCtx;
use super::error::{IoContext, StageError};
use super::params::{InvalidParam, Validate};
use super::signature::{OutputKind, Signature};
use super::stage::Stage;

/// Parameters of `command`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommandParams {
    /// The program and its arguments (no shell). Placeholders: `{in.SLOT}` (every file bound
    /// to the slot; as a whole argument it expands to one argument per file), `{out.NAME}`,
    /// `{checkpoints}`, `{threads}`. Required.
    pub run: Vec<String>,
    /// Names of the file outputs the program writes. Default: none.
    pub outputs: Vec<String>,
    /// Names of the directory outputs the program writes. Default: none.
    pub dirs: Vec<String>,
    /// Capture the program's standard output into this output (added to the outputs).
    /// Default: unset (standard output goes to the node log).
    pub stdout: Option<String>,
    /// Extra environment variables. Default: none.
    pub env: BTreeMap<String, String>,
    /// Free-form version of the program; change it to invalidate cached results.
    /// Default: `""`.
    pub version: String,
}

impl CommandParams {
    fn file_outputs(&self) -> impl Iterator<Item = &String> {
        self.outputs.iter().chain(self.stdout.iter())
    }
}

impl Validate for CommandParams {
    fn validate(&self) -> Result<(), InvalidParam> {
        if self.run.is_empty() {
            return Err(InvalidParam::new(
                "run",
                "must name a program, e.g. `[\"sort\", \"{in.text}\"]`",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for name in self.file_outputs().chain(&self.dirs) {
            if name.is_empty() || name.contains(['/', '\\', '.']) {
                return Err(InvalidParam::new(
                    "outputs",
                    format!("output name `{name}` must be a plain name (no `/` or `.`)"),
                ));
            }
            if !seen.insert(name) {
                return Err(InvalidParam::new(
                    "outputs",
                    format!("output `{name}` is declared twice"),
                ));
            }
        }
        if seen.is_empty() {
            return Err(InvalidParam::new(
                "outputs",
                "declare at least one output (`outputs`, `dirs` or `stdout`)",
            ));
        }
        Ok(())
    }
}

/// The `command` stage.
pub struct CommandStage;

impl Stage for CommandStage {
    const KIND: &'static str = "command";
    const CODE_VERSION: u32 = 1;
    const SUMMARY: &'static str = "run an external program with declared inputs and outputs";
    type Params = CommandParams;

    /// Every placeholder of `run` must name something: `{in.SLOT}` a wired slot (an unknown
    /// one expanded to nothing and cached the result), `{out.NAME}` a declared output.
    fn check_wiring(p: &CommandParams, wired: &[&str]) -> Result<(), InvalidParam> {
        for arg in &p.run {
            let mut rest = arg.as_str();
            while let Some(start) = rest.find('{') {
                let Some(len) = rest[start..].find('}') else {
                    break;
                };
                let name = &rest[start + 1..start + len];
                rest = &rest[start + len + 1..];
                let known = if let Some(slot) = name.strip_prefix("in.") {
                    wired.contains(&slot)
                } else if let Some(out) = name.strip_prefix("out.") {
                    p.file_outputs().chain(&p.dirs).any(|o| o == out)
                } else {
                    matches!(name, "checkpoints" | "threads")
                };
                if !known {
                    let what = if let Some(slot) = name.strip_prefix("in.") {
                        format!(
                            "uses `{{{name}}}`, but the node wires no input `{slot}` (inputs: {})",
                            if wired.is_empty() {
                                "none".to_owned()
                            } else {
                                wired.join(", ")
                            }
                        )
                    } else if let Some(out) = name.strip_prefix("out.") {
                        format!(
                            "uses `{{{name}}}`, but `{out}` is not in `outputs`, `dirs` or `stdout`"
                        )
                    } else {
                        format!(
                            "uses unknown placeholder `{{{name}}}` (use in.SLOT, out.NAME, checkpoints, threads)"
                        )
                    };
                    return Err(InvalidParam::new("run", what));
                }
            }
        }
        Ok(())
    }

    fn signature(p: &CommandParams) -> Signature {
        let mut sig = Signature {
            any_inputs: true,
            ..Signature::default()
        };
        for name in p.file_outputs() {
            sig = sig.file(name);
        }
        for name in &p.dirs {
            sig = sig.dir(name);
        }
        sig
    }

    fn run(p: &CommandParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError> {
        let mut argv = Vec::new();
        for arg in &p.run {
            argv.extend(expand(arg, ctx)?);
        }
        let (program, args) = argv.split_first().ok_or_else(|| StageError::Command {
            program: String::new(),
            reason: "the command line is empty".into(),
        })?;
        ctx.log(format!("$ {}", argv.join(" ")));
        let mut cmd = Command::new(program);
        cmd.args(args)
            .envs(&p.env)
            .env("UNMT_THREADS", ctx.threads().to_string())
            .stdin(Stdio::null());
        let out_path = p.stdout.as_ref().map(|name| ctx.output(name));
        let output = match &out_path {
            Some(path) => {
                let f = File::create(path).ctx("create", path)?;
                cmd.stdout(f).output()
            }
            None => cmd.output(),
        }
        .map_err(|source| StageError::Spawn {
            program: program.clone(),
            source,
        })?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !text.is_empty() {
            ctx.log(text.trim_end());
        }
        let err = String::from_utf8_lossy(&output.stderr);
        if !err.is_empty() {
            ctx.log(err.trim_end());
        }
        if !output.status.success() {
            let last = err.lines().last().unwrap_or("").trim();
            return Err(StageError::Command {
                program: program.clone(),
                reason: format!(
                    "exited with {}{}",
                    output.status,
                    if last.is_empty() {
                        String::new()
                    } else {
                        format!(": {last}")
                    }
                ),
            });
        }
        for out in &Self::signature(p).outputs {
            let path = ctx.output(&out.name);
            let ok = match out.kind {
                OutputKind::File => path.is_file(),
                OutputKind::Dir => path.is_dir(),
            };
            if !ok {
                return Err(StageError::Command {
                    program: program.clone(),
                    reason: format!(
                        "it succeeded but did not create declared output `{}`",
                        out.name
                    ),
                });
            }
        }
        Ok(())
    }
}

/// Expands placeholders in one argument.
fn expand(arg: &str, ctx: &StageCtx<'_>) -> Result<Vec<String>, StageError> {
    if let Some(slot) = arg.strip_prefix("{in.").and_then(|s| s.strip_suffix('}'))
        && !slot.contains(['{', '}'])
    {
        return Ok(ctx
            .inputs(slot)
            .iter()
            .map(|p| p.display().to_string())
            .collect());
    }
    let mut out = String::new();
    let mut rest = arg;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .ok_or_else(|| StageError::Placeholder {
                arg: arg.to_owned(),
                reason: "unclosed `{`".into(),
            })?;
        let name = &rest[start + 1..start + end];
        let value = if let Some(slot) = name.strip_prefix("in.") {
            ctx.inputs(slot)
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        } else if let Some(o) = name.strip_prefix("out.") {
            ctx.output(o).display().to_string()
        } else if name == "checkpoints" {
            ctx.checkpoint_dir().display().to_string()
        } else if name == "threads" {
            ctx.threads().to_string()
        } else {
            return Err(StageError::Placeholder {
                arg: arg.to_owned(),
                reason: format!(
                    "unknown placeholder `{{{name}}}` (use in.SLOT, out.NAME, checkpoints, threads)"
                ),
            });
        };
        out.push_str(&value);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok(vec![out])
}
