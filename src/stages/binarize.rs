//! `binarize`: BPE-segmented text -> XLM token ids, memory-mapped by the training stages.

use serde::{Deserialize, Serialize};

use super::error::StageError;
use super::params::{InvalidParam, Validate};
use super::signature::{Arity, Signature};
use super::stage::Stage;
use crate::exec::StageCtx;
use crate::text::binarized::{self, BinarizeParams};
use crate::text::bpe::Vocab;
use crate::text::dictionary::Dictionary;

/// Parameters of `binarize`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BinarizeStageParams {
    /// Longest kept sentence in subwords; longer and empty ones are dropped and counted.
    /// Default: `100` (XLM `--max_len`).
    pub max_len: usize,
}

impl Default for BinarizeStageParams {
    fn default() -> Self {
        Self {
            max_len: BinarizeParams::default().max_len,
        }
    }
}

impl Validate for BinarizeStageParams {
    fn validate(&self) -> Result<(), InvalidParam> {
        BinarizeParams {
            max_len: self.max_len,
        }
        .validate()
        .map_err(|e| match e {
            binarized::BinarizedError::InvalidParams(m) => InvalidParam::new("max_len", m),
            other => InvalidParam::new("max_len", other.to_string()),
        })
    }
}

/// The `binarize` stage.
pub struct BinarizeStage;

impl Stage for BinarizeStage {
    const KIND: &'static str = "binarize";
    const CODE_VERSION: u32 = 1;
    const SUMMARY: &'static str =
        "token ids (u16/u32) + sentence offsets with XLM's dictionary, memory-mappable";
    type Params = BinarizeStageParams;

    fn signature(_: &BinarizeStageParams) -> Signature {
        Signature::default()
            .input("text", Arity::One)
            .input("vocab", Arity::One)
            .file("data")
    }

    fn run(p: &BinarizeStageParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError> {
        let vocab = Vocab::read(ctx.input("vocab")?).map_err(StageError::library)?;
        let dico = Dictionary::from_vocab(&vocab).map_err(StageError::library)?;
        let input = ctx.input("text")?.to_path_buf();
        let out = ctx.output("data");
        let meta = {
            let progress = ctx.progress_fn();
            binarized::binarize_file(
                &input,
                &dico,
                &BinarizeParams { max_len: p.max_len },
                &out,
                &progress,
            )
            .map_err(StageError::library)?
        };
        let json = serde_json::to_value(&meta).unwrap_or_default();
        ctx.log(format!("{json}"));
        if let Some(obj) = json.as_object() {
            for (k, v) in obj.iter().filter(|(k, _)| k.starts_with("n_")) {
                if let Some(x) = v.as_f64() {
                    ctx.metric(k, x);
                }
            }
        }
        Ok(())
    }
}
