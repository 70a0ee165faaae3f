//! Recipes: TOML files describing a pipeline as named nodes.
//!
//! ```toml
//! extends = "base.toml"                 # optional; this file overrides the base
//!
//! [files]                               # external inputs, relative to this file
//! en = "../examples/data/en.setimes.txt"
//!
//! [nodes.corpus_en]
//! stage = "corpus"
//! inputs = { text = "files.en" }
//! params = { valid = 100, seed = 1 }
//!
//! [sweep]                               # axes: alternative values of one parameter
//! "corpus_en.dedup" = [true]
//!
//! [plans.full]                          # named plans cross axes fully
//! cross = ["corpus_en.dedup"]
//! ```
//!
//! Loading is two passes: [`raw`] walks each file's spanned TOML (following `extends`),
//! [`validate`] checks the merged result and produces a [`Recipe`]. Errors from both passes
//! are collected and rendered together by [`RecipeDiagnostics`].

mod error;
mod load;
pub mod raw;
mod source;
mod validate;

use std::path::Path;

pub use error::{RecipeDiagnostics, RecipeError, did_you_mean};
pub use source::{SourceFile, Sources, Span};
pub use validate::{
    Axis, AxisValue, FILES, FileInput, NodeSpec, Recipe, Ref, Target, params_error, resolve,
};

/// Loads and validates the recipe at `path`.
pub fn load(path: &Path) -> Result<Recipe, RecipeDiagnostics> {
    let mut sources = Sources::default();
    let mut errors = Vec::new();
    let raw = load::load(path, &mut sources, &mut errors);
    let name = path.display().to_string();
    match raw {
        Some(raw) if errors.is_empty() => validate::validate(path.to_path_buf(), raw, sources)
            .map_err(|(errors, sources)| RecipeDiagnostics::new(&name, &errors, &sources)),
        _ => Err(RecipeDiagnostics::new(&name, &errors, &sources)),
    }
}
