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
    /// one expanded to nothing and cached the result), `{out.NAME}` a declared output. An
    /// unclosed `{` is left to [`expand`], which reports it when the node runs.
    fn check_wiring(p: &CommandParams, wired: &[&str]) -> Result<(), InvalidParam> {
        for arg in &p.run {
            let Ok(found) = placeholders(arg) else {
                continue;
            };
            for (_, name) in found {
                let problem = match Placeholder::parse(name) {
                    Some(Placeholder::In(slot)) if !wired.contains(&slot) => format!(
                        "uses `{{{name}}}`, but the node wires no input `{slot}` (inputs: {})",
                        if wired.is_empty() {
                            "none".to_owned()
                        } else {
                            wired.join(", ")
                        }
                    ),
                    Some(Placeholder::Out(out))
                        if !p.file_outputs().chain(&p.dirs).any(|o| o == out) =>
                    {
                        format!(
                            "uses `{{{name}}}`, but `{out}` is not in `outputs`, `dirs` or `stdout`"
                        )
                    }
                    Some(_) => continue,
                    None => format!("uses {}", unknown_placeholder(name)),
                };
                return Err(InvalidParam::new("run", problem));
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
        match &out_path {
            Some(path) => {
                let f = File::create(path).ctx("create", path)?;
                cmd.stdout(f).stderr(Stdio::piped());
            }
            None => {
                cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            }
        }
        let output = super::children::spawn(&mut cmd)
            .and_then(super::children::Running::wait_with_output)
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

/// What a `{...}` in a `run` argument names.
enum Placeholder<'a> {
    In(&'a str),
    Out(&'a str),
    Checkpoints,
    Threads,
}

impl<'a> Placeholder<'a> {
    fn parse(name: &'a str) -> Option<Self> {
        if let Some(slot) = name.strip_prefix("in.") {
            Some(Self::In(slot))
        } else if let Some(out) = name.strip_prefix("out.") {
            Some(Self::Out(out))
        } else {
            match name {
                "checkpoints" => Some(Self::Checkpoints),
                "threads" => Some(Self::Threads),
                _ => None,
            }
        }
    }
}

fn unknown_placeholder(name: &str) -> String {
    format!("unknown placeholder `{{{name}}}` (use in.SLOT, out.NAME, checkpoints, threads)")
}

/// The `{name}` placeholders of `arg`: each one's byte range (braces included) and name;
/// `Err(())` for an unclosed `{`. Shared by the check before running and the expansion.
fn placeholders(arg: &str) -> Result<Vec<(std::ops::Range<usize>, &str)>, ()> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(start) = arg[at..].find('{').map(|i| at + i) {
        let end = arg[start..].find('}').ok_or(())? + start;
        found.push((start..end + 1, &arg[start + 1..end]));
        at = end + 1;
    }
    Ok(found)
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
    let bad = |reason: String| StageError::Placeholder {
        arg: arg.to_owned(),
        reason,
    };
    let found = placeholders(arg).map_err(|()| bad("unclosed `{`".into()))?;
    let mut out = String::new();
    let mut copied = 0;
    for (range, name) in found {
        out.push_str(&arg[copied..range.start]);
        let value = match Placeholder::parse(name) {
            Some(Placeholder::In(slot)) => ctx
                .inputs(slot)
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" "),
            Some(Placeholder::Out(o)) => ctx.output(o).display().to_string(),
            Some(Placeholder::Checkpoints) => ctx.checkpoint_dir().display().to_string(),
            Some(Placeholder::Threads) => ctx.threads().to_string(),
            None => return Err(bad(unknown_placeholder(name))),
        };
        out.push_str(&value);
        copied = range.end;
    }
    out.push_str(&arg[copied..]);
    Ok(vec![out])
}

#[cfg(test)]
mod tests {
    use super::{Placeholder, placeholders};

    #[test]
    fn placeholders_are_found_with_their_ranges() {
        let found = placeholders("a{in.x}b{threads}").expect("closed");
        assert_eq!(found, [(1..7, "in.x"), (8..17, "threads")]);
        assert!(matches!(
            Placeholder::parse("in.x"),
            Some(Placeholder::In("x"))
        ));
        assert!(Placeholder::parse("input").is_none());
        assert!(placeholders("a{in.x").is_err());
        assert!(placeholders("plain").expect("none").is_empty());
    }
}
