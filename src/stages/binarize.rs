//! `binarize`: BPE-segmented text -> XLM token ids, memory-mapped by the training stages.

use super::StageCtx;
use super::error::StageError;
use super::signature::{Arity, Signature};
use super::stage::Stage;
use crate::text::binarized::{self, BinarizeParams};
use crate::text::bpe::Vocab;
use crate::text::dictionary::Dictionary;

/// Parameters of `binarize`: the library's own ([`BinarizeParams`]).
pub type BinarizeStageParams = BinarizeParams;

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
        let vocab = Vocab::read(ctx.input("vocab")?)?;
        let dico = Dictionary::from_vocab(&vocab)?;
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
            )?
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
