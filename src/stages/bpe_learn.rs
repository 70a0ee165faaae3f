//! `bpe_learn`: joint BPE merges over one or more corpora (fastBPE `learnbpe`).

use serde::{Deserialize, Serialize};

use super::error::StageError;
use super::params::{InvalidParam, Validate};
use super::signature::{Arity, Signature};
use super::stage::Stage;
use crate::exec::StageCtx;
use crate::text::bpe::{self, LearnParams};

/// Parameters of `bpe_learn`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BpeLearnParams {
    /// Number of merges. Default: `32000` (RE-LM / lexical XLM; XLM uses 60000).
    pub merges: usize,
}

impl Default for BpeLearnParams {
    fn default() -> Self {
        Self {
            merges: LearnParams::default().merges,
        }
    }
}

impl Validate for BpeLearnParams {
    fn validate(&self) -> Result<(), InvalidParam> {
        LearnParams {
            merges: self.merges,
        }
        .validate()
        .map_err(|e| match e {
            bpe::BpeError::InvalidParams(m) => InvalidParam::new("merges", m),
            other => InvalidParam::new("merges", other.to_string()),
        })
    }
}

/// The `bpe_learn` stage.
pub struct BpeLearnStage;

impl Stage for BpeLearnStage {
    const KIND: &'static str = "bpe_learn";
    const CODE_VERSION: u32 = 1;
    const SUMMARY: &'static str =
        "learn joint BPE codes over tokenized corpora (fastBPE-compatible)";
    type Params = BpeLearnParams;

    fn signature(_: &BpeLearnParams) -> Signature {
        Signature::default()
            .input("corpora", Arity::Many)
            .file("codes")
    }

    fn run(p: &BpeLearnParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError> {
        let corpora = ctx.inputs("corpora").to_vec();
        let codes = {
            let progress = ctx.progress_fn();
            bpe::learn_bpe(&corpora, &LearnParams { merges: p.merges }, &progress)
                .map_err(StageError::library)?
        };
        let out = ctx.output("codes");
        codes.write(&out).map_err(StageError::library)?;
        #[allow(clippy::cast_precision_loss)]
        ctx.metric("merges", codes.merges.len() as f64);
        if codes.merges.len() < p.merges {
            ctx.log(format!(
                "stopped after {} merges: no pair left to merge",
                codes.merges.len()
            ));
        }
        Ok(())
    }
}
