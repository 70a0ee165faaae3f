//! `bpe_learn`: joint BPE merges over one or more corpora (fastBPE `learnbpe`).

use super::StageCtx;
use super::error::StageError;
use super::signature::{Arity, Signature};
use super::stage::Stage;
use crate::text::bpe::{self, LearnParams};

/// Parameters of `bpe_learn`: the library's own ([`LearnParams`]).
pub type BpeLearnParams = LearnParams;

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
            bpe::learn_bpe(&corpora, p, &progress)?
        };
        let out = ctx.output("codes");
        codes.write(&out)?;
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
