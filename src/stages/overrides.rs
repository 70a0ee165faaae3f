//! A stage's parameter struct from a TOML file and `KEY=VALUE` overrides: how plain commands
//! (`unmt train-mlm --params FILE --set dim=256`) fill the same struct, with the same
//! validation, that a recipe's `params` table fills.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::validate::{InvalidParam, Validate};

/// Why command-line parameters were rejected.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ParamsArgError {
    /// The `--params` file could not be read.
    #[error("failed to read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The `--params` file is not a TOML table.
    #[error("failed to parse `{path}` as a TOML table of parameters")]
    Parse {
        /// The file.
        path: PathBuf,
        /// toml's error.
        #[source]
        source: toml::de::Error,
    },
    /// A `--set` argument without `=`.
    #[error("failed to parse `--set {arg}`: expected KEY=VALUE")]
    #[diagnostic(help(
        "values are TOML: --set dim=256 --set device='\"cuda:0\"' --set langs='[\"en\",\"mk\"]'"
    ))]
    Set {
        /// The argument.
        arg: String,
    },
    /// The parameters do not fit the struct (unknown key, wrong type).
    #[error("failed to apply the parameters")]
    #[diagnostic(help("`unmt stages` lists every stage's parameters and defaults"))]
    Shape {
        /// toml's error (names the key).
        #[source]
        source: toml::de::Error,
    },
    /// A value is out of range.
    #[error(transparent)]
    Invalid(#[from] InvalidParam),
}

/// Builds `P` from its defaults, then `implied` (command-specific defaults such as
/// `init = "aligned"` when vectors are given), then the `file` table, then each `KEY=VALUE`
/// of `sets` in order (dotted keys reach nested tables), and validates it.
pub fn params_from_args<P>(
    implied: toml::Table,
    file: Option<&Path>,
    sets: &[String],
) -> Result<P, ParamsArgError>
where
    P: DeserializeOwned + Validate,
{
    let mut table = implied;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| ParamsArgError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let from_file: toml::Table = text.parse().map_err(|source| ParamsArgError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        table.extend(from_file);
    }
    for arg in sets {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(ParamsArgError::Set { arg: arg.clone() });
        };
        let path: Vec<&str> = key.trim().split('.').collect();
        set(&mut table, &path, toml_value(value.trim()));
    }
    let params: P = toml::Value::Table(table)
        .try_into()
        .map_err(|source| ParamsArgError::Shape { source })?;
    params.validate()?;
    Ok(params)
}

/// `value` as a TOML value; anything that does not parse as one is a string (`--set
/// init=aligned` needs no quotes).
fn toml_value(value: &str) -> toml::Value {
    format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()))
}

fn set(table: &mut toml::Table, path: &[&str], value: toml::Value) {
    match path {
        [] => {}
        [last] => {
            table.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let entry = table
                .entry((*first).to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(inner) = entry {
                set(inner, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::job::{Init, MlmParams};

    fn sets(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn sets_override_defaults_with_toml_values() {
        let p: MlmParams = params_from_args(
            toml::Table::new(),
            None,
            &sets(&[
                "dim=64",
                "n_heads=4",
                "init=aligned",
                "langs=[\"en\", \"mk\"]",
                "lr=3e-4",
            ]),
        )
        .expect("valid");
        assert_eq!((p.dim, p.n_heads, p.init), (64, 4, Init::Aligned));
        assert_eq!(p.langs, ["en", "mk"]);
        assert!((p.lr - 3e-4).abs() < 1e-12);
        assert_eq!(p.attention_dropout, MlmParams::default().attention_dropout);
    }

    #[test]
    fn unknown_keys_and_ranges_are_errors_naming_the_field() {
        let e = params_from_args::<MlmParams>(toml::Table::new(), None, &sets(&["dimm=64"]))
            .expect_err("unknown");
        let chain = format!(
            "{e}: {}",
            std::error::Error::source(&e)
                .map(ToString::to_string)
                .unwrap_or_default()
        );
        assert!(chain.contains("dimm"), "{chain}");
        let e = params_from_args::<MlmParams>(
            toml::Table::new(),
            None,
            &sets(&["n_heads=3", "dim=64"]),
        )
        .expect_err("range");
        assert!(
            matches!(e, ParamsArgError::Invalid(InvalidParam { ref field, .. }) if field == "n_heads")
        );
        assert!(matches!(
            params_from_args::<MlmParams>(toml::Table::new(), None, &sets(&["dim"])),
            Err(ParamsArgError::Set { .. })
        ));
    }

    #[test]
    fn the_file_comes_first_and_sets_win() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("p.toml");
        std::fs::write(&f, "dim = 128\nn_layers = 3\n").expect("write");
        let p: MlmParams = params_from_args(
            toml::Table::new(),
            Some(&f),
            &sets(&["dim=32", "n_heads=4"]),
        )
        .expect("valid");
        assert_eq!((p.dim, p.n_layers), (32, 3));
    }
}
