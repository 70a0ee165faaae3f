//! The contract every stage kind implements, and its type-erased form for the registry.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::DeValue;

use super::context::StageCtx;
use super::error::StageError;
use super::facts::{Facts, InputFacts, Mismatch};
use super::params::InvalidParam;
use super::params::{self, ParamsError, Validate};
use super::resources::{Resources, placement_free};
use super::signature::Signature;

/// A stage kind: typed parameters, a declared code version, and a run over explicit inputs.
///
/// `run` must only read the input paths the context hands out and only write below the
/// output directory (and the checkpoint directory): that is what makes its result a pure
/// function of the node key.
pub trait Stage: Sync + 'static {
    /// The name used in recipes (`stage = "corpus"`).
    const KIND: &'static str;
    /// Bumped whenever the stage's output for the same inputs and parameters changes.
    /// It is part of every node key of this kind.
    const CODE_VERSION: u32;
    /// One line for `unmt stages` and error messages.
    const SUMMARY: &'static str;
    /// The parameters; `Default` must be the documented defaults.
    type Params: DeserializeOwned + Serialize + Default + Validate + Send + Sync + 'static;

    /// Input slots and outputs for these parameters.
    fn signature(params: &Self::Params) -> Signature;

    /// Parameters that say where the node runs, not what it computes (`device`): the key
    /// sees only their device class (see [`super::resources`]).
    const PLACEMENT: &'static [&'static str] = &[];

    /// What a node needs (the scheduler runs at most `--gpus` GPU nodes at once and assigns
    /// each its GPU).
    fn resources(_params: &Self::Params) -> Resources {
        Resources::default()
    }

    /// Runs the stage.
    fn run(params: &Self::Params, ctx: &mut StageCtx<'_>) -> Result<(), StageError>;

    /// Checks the parameters against the input slots the recipe wires (`wired`), before
    /// anything runs: for stages whose parameters name inputs (`command`'s `{in.SLOT}`).
    fn check_wiring(_params: &Self::Params, _wired: &[&str]) -> Result<(), InvalidParam> {
        Ok(())
    }

    /// What these parameters and the inputs' facts say about `output` (see [`Facts`]).
    /// Default: the language all inputs agree on.
    fn output_facts(_params: &Self::Params, inputs: &InputFacts, _output: &str) -> Facts {
        Facts::inherited(inputs)
    }

    /// Where the inputs' facts contradict the parameters (or each other), before anything runs.
    fn check_facts(_params: &Self::Params, _inputs: &InputFacts) -> Vec<Mismatch> {
        Vec::new()
    }

    /// Reads an external file wired to `slot` before anything runs, for inputs whose errors
    /// would otherwise surface once per node at run time (`bli`'s dictionary).
    fn check_file(
        _params: &Self::Params,
        _slot: &str,
        _path: &std::path::Path,
    ) -> Result<(), StageError> {
        Ok(())
    }
}

/// Validated parameters of one node.
#[derive(Clone)]
pub struct ResolvedParams {
    /// Every field, defaults included.
    pub full: serde_json::Map<String, serde_json::Value>,
    /// Only the non-default fields: what the node key hashes.
    pub canonical: std::collections::BTreeMap<String, serde_json::Value>,
    typed: Arc<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for ResolvedParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedParams")
            .field("canonical", &self.canonical)
            .finish_non_exhaustive()
    }
}

/// A stage kind behind a pointer, as the registry holds it.
pub trait DynStage: Sync {
    /// See [`Stage::KIND`].
    fn kind(&self) -> &'static str;
    /// See [`Stage::CODE_VERSION`].
    fn code_version(&self) -> u32;
    /// See [`Stage::SUMMARY`].
    fn summary(&self) -> &'static str;
    /// The parameter names (for sweep-axis checks and "did you mean").
    fn param_fields(&self) -> &'static [&'static str];
    /// A parameter's Rust type and the first paragraph of its doc comment, read from the
    /// params struct's source at build time (`build.rs`).
    fn param_doc(&self, field: &str) -> Option<(&'static str, &'static str)>;
    /// Deserializes and validates a spanned `params` table.
    fn resolve(&self, table: Spanned<DeValue<'static>>) -> Result<ResolvedParams, ParamsError>;
    /// See [`Stage::signature`].
    fn signature(&self, params: &ResolvedParams) -> Signature;
    /// Deserializes and validates the full parameters of a unit of work (`unmt exec-node`).
    fn resolve_json(
        &self,
        full: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<ResolvedParams, ParamsError>;
    /// See [`Stage::resources`].
    fn resources(&self, params: &ResolvedParams) -> Resources;
    /// Whether a node needs a GPU slot.
    fn needs_gpu(&self, params: &ResolvedParams) -> bool {
        self.resources(params).gpus > 0
    }
    /// See [`Stage::run`].
    fn run(&self, params: &ResolvedParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError>;
    /// See [`Stage::check_wiring`].
    fn check_wiring(&self, params: &ResolvedParams, wired: &[&str]) -> Result<(), InvalidParam>;
    /// See [`Stage::output_facts`].
    fn output_facts(&self, params: &ResolvedParams, inputs: &InputFacts, output: &str) -> Facts;
    /// See [`Stage::check_facts`].
    fn check_facts(&self, params: &ResolvedParams, inputs: &InputFacts) -> Vec<Mismatch>;
    /// See [`Stage::check_file`].
    fn check_file(
        &self,
        params: &ResolvedParams,
        slot: &str,
        path: &std::path::Path,
    ) -> Result<(), StageError>;
}

/// Both canonical forms of validated parameters, placement fields reduced to their class.
fn resolved<S: Stage>(typed: S::Params) -> Result<ResolvedParams, ParamsError> {
    let mut forms = params::canonicalize(&typed).map_err(|e| ParamsError::Type {
        message: format!("cannot encode parameters: {e}"),
        span: None,
    })?;
    placement_free(&mut forms.canonical, S::PLACEMENT);
    Ok(ResolvedParams {
        full: forms.full,
        canonical: forms.canonical,
        typed: Arc::new(typed),
    })
}

/// Adapts a [`Stage`] to [`DynStage`].
pub struct Registered<S>(PhantomData<S>);

impl<S> Registered<S> {
    /// The adapter (a zero-sized value, usable in statics).
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<S> Default for Registered<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Stage> Registered<S> {
    fn typed<'a>(&self, params: &'a ResolvedParams) -> &'a S::Params {
        params.typed.downcast_ref::<S::Params>().unwrap_or_else(|| {
            unreachable!("params of `{}` resolved by another stage kind", S::KIND)
        })
    }
}

impl<S: Stage> DynStage for Registered<S> {
    fn kind(&self) -> &'static str {
        S::KIND
    }
    fn code_version(&self) -> u32 {
        S::CODE_VERSION
    }
    fn summary(&self) -> &'static str {
        S::SUMMARY
    }
    fn param_fields(&self) -> &'static [&'static str] {
        params::struct_fields::<S::Params>()
    }
    fn param_doc(&self, field: &str) -> Option<(&'static str, &'static str)> {
        super::param_docs::lookup(std::any::type_name::<S::Params>(), field)
    }
    fn resolve(&self, table: Spanned<DeValue<'static>>) -> Result<ResolvedParams, ParamsError> {
        let typed: S::Params = params::deserialize(table)?;
        resolved::<S>(typed)
    }
    fn resolve_json(
        &self,
        full: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<ResolvedParams, ParamsError> {
        let typed: S::Params = serde_json::from_value(serde_json::Value::Object(full.clone()))
            .map_err(|e| ParamsError::Type {
                message: e.to_string(),
                span: None,
            })?;
        typed.validate().map_err(ParamsError::Invalid)?;
        resolved::<S>(typed)
    }
    fn signature(&self, params: &ResolvedParams) -> Signature {
        S::signature(self.typed(params))
    }
    fn resources(&self, params: &ResolvedParams) -> Resources {
        S::resources(self.typed(params))
    }
    fn run(&self, params: &ResolvedParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError> {
        S::run(self.typed(params), ctx)
    }
    fn check_wiring(&self, params: &ResolvedParams, wired: &[&str]) -> Result<(), InvalidParam> {
        S::check_wiring(self.typed(params), wired)
    }
    fn output_facts(&self, params: &ResolvedParams, inputs: &InputFacts, output: &str) -> Facts {
        S::output_facts(self.typed(params), inputs, output)
    }
    fn check_facts(&self, params: &ResolvedParams, inputs: &InputFacts) -> Vec<Mismatch> {
        S::check_facts(self.typed(params), inputs)
    }
    fn check_file(
        &self,
        params: &ResolvedParams,
        slot: &str,
        path: &std::path::Path,
    ) -> Result<(), StageError> {
        S::check_file(self.typed(params), slot, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::DeviceSpec;
    use crate::train::job::MlmParams;

    #[test]
    fn the_gpu_index_does_not_enter_the_key_but_the_device_class_does() {
        let on = |device| {
            resolved::<crate::stages::MlmStage>(MlmParams {
                device,
                ..MlmParams::default()
            })
            .expect("resolves")
        };
        let (a, b, cpu) = (
            on(DeviceSpec::Cuda(0)),
            on(DeviceSpec::Cuda(1)),
            on(DeviceSpec::Cpu),
        );
        assert_eq!(a.canonical, b.canonical);
        assert_eq!(a.canonical["device"], serde_json::json!("cuda"));
        assert_ne!(a.canonical, cpu.canonical);
        // The full form keeps what the recipe said (records, `explain`).
        assert_eq!(b.full["device"], serde_json::json!("cuda:1"));
    }
}
