//! `skipgram`: fastText skip-gram subword embeddings of one corpus (or, given several, of
//! their concatenation: the paper's "joint fastText" baseline).

use super::StageCtx;
use super::error::StageError;
use super::facts::{Facts, InputFacts};
use super::signature::{Arity, Signature};
use super::stage::Stage;
use crate::embed::skipgram::{self, SkipgramParams};

/// The `skipgram` stage. Outputs the fastText `.vec` text file and the same vectors as
/// safetensors (tensor `vectors`, words in the metadata) for fast reloading.
///
/// With `thread` other than 1, training is Hogwild (lock-free) as in fastText, so reruns give
/// slightly different vectors; the cache makes every downstream node use one run's result.
pub struct SkipgramStage;

impl Stage for SkipgramStage {
    const KIND: &'static str = "skipgram";
    const CODE_VERSION: u32 = 1;
    const SUMMARY: &'static str =
        "fastText skip-gram with character n-gram subwords (.vec + safetensors)";
    type Params = SkipgramParams;

    fn signature(_: &SkipgramParams) -> Signature {
        Signature::default()
            .input("text", Arity::Many)
            .file("vec")
            .file("vectors")
    }

    fn output_facts(p: &SkipgramParams, inputs: &InputFacts, _: &str) -> Facts {
        Facts {
            dim: Some(p.dim),
            ..Facts::inherited(inputs)
        }
    }

    fn run(p: &SkipgramParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError> {
        let inputs = ctx.inputs("text").to_vec();
        let model = {
            let progress = ctx.progress_fn();
            skipgram::train(&inputs, p, &progress)?
        };
        model.write_vec(&ctx.output("vec"))?;
        model.write_safetensors(&ctx.output("vectors"))?;
        let stats = model.stats();
        ctx.log(format!("{stats:?}"));
        ctx.metric("words", model.words().len() as f64);
        Ok(())
    }
}
