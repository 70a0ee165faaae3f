//! `bpe_apply`: segment a tokenized corpus with BPE codes (fastBPE `applybpe`).

use serde::{Deserialize, Serialize};

use super::StageCtx;
use super::error::StageError;
use super::params::{InvalidParam, Validate};
use super::signature::{Arity, Signature};
use super::stage::Stage;
use crate::text::bpe::{self, BpeApplier, Codes, Vocab};

/// Parameters of `bpe_apply` (none yet: the codes and the optional vocabulary are inputs).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BpeApplyParams {}

impl Validate for BpeApplyParams {
    fn validate(&self) -> Result<(), InvalidParam> {
        Ok(())
    }
}

/// The `bpe_apply` stage.
pub struct BpeApplyStage;

impl Stage for BpeApplyStage {
    const KIND: &'static str = "bpe_apply";
    const CODE_VERSION: u32 = 1;
    const SUMMARY: &'static str = "apply BPE codes to a tokenized corpus, optionally restricted to a vocabulary (fastBPE applybpe)";
    type Params = BpeApplyParams;

    fn signature(_: &BpeApplyParams) -> Signature {
        Signature::default()
            .input("text", Arity::One)
            .input("codes", Arity::One)
            .input("vocab", Arity::Optional)
            .file("text")
    }

    fn run(_: &BpeApplyParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError> {
        let codes = Codes::read(ctx.input("codes")?)?;
        let vocab = match ctx.inputs("vocab") {
            [v] => Some(Vocab::read(v)?),
            _ => None,
        };
        let applier = BpeApplier::new(&codes, vocab.as_ref());
        let input = ctx.input("text")?.to_path_buf();
        let out = ctx.output("text");
        let stats = {
            let progress = ctx.progress_fn();
            bpe::apply_file(&applier, Some(&input), Some(&out), &progress)?
        };
        ctx.log(format!("{stats:?}"));
        Ok(())
    }
}
