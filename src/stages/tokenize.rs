//! `tokenize` and `detokenize`: the Moses chain XLM runs before BPE, and its inverse (to
//! score detokenized output with SacreBLEU).

use serde::{Deserialize, Serialize};

use super::StageCtx;
use super::error::StageError;
use super::facts::{Facts, InputFacts};
use super::params::{InvalidParam, Validate};
use super::signature::{Arity, Signature};
use super::stage::Stage;
use crate::text::moses::{self, MosesDetokenizer, MosesParams, MosesPipeline};

/// The `tokenize` stage: replace unicode punctuation, normalize punctuation, remove
/// non-printing characters, Moses tokenizer with `-no-escape` (XLM's `get-data-nmt.sh`).
pub struct TokenizeStage;

impl Stage for TokenizeStage {
    const KIND: &'static str = "tokenize";
    const CODE_VERSION: u32 = 1;
    const SUMMARY: &'static str =
        "Moses normalization + tokenization as XLM runs it (sacremoses-exact)";
    type Params = MosesParams;

    fn signature(_: &MosesParams) -> Signature {
        Signature::default().input("text", Arity::One).file("text")
    }

    fn output_facts(p: &MosesParams, _: &InputFacts, _: &str) -> Facts {
        Facts::lang(&p.lang)
    }

    fn run(p: &MosesParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError> {
        let pipeline = MosesPipeline::from_params(p)?;
        let input = ctx.input("text")?.to_path_buf();
        let out = ctx.output("text");
        let stats = {
            let progress = ctx.progress_fn();
            moses::tokenize_file(&input, &out, &pipeline, &progress)?
        };
        ctx.metric("lines", stats.lines as f64);
        Ok(())
    }
}

/// Parameters of `detokenize`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetokenizeParams {
    /// Language code (selects the language-specific rules). Default: `"en"`.
    pub lang: String,
}

impl Default for DetokenizeParams {
    fn default() -> Self {
        Self {
            lang: "en".to_owned(),
        }
    }
}

impl Validate for DetokenizeParams {
    fn validate(&self) -> Result<(), InvalidParam> {
        MosesParams::for_language(&self.lang).validate()
    }
}

/// The `detokenize` stage: the Moses detokenizer matching `tokenize`.
pub struct DetokenizeStage;

impl Stage for DetokenizeStage {
    const KIND: &'static str = "detokenize";
    const CODE_VERSION: u32 = 1;
    const SUMMARY: &'static str =
        "Moses detokenizer (sacremoses-exact), e.g. before SacreBLEU scoring";
    type Params = DetokenizeParams;

    fn signature(_: &DetokenizeParams) -> Signature {
        Signature::default().input("text", Arity::One).file("text")
    }

    fn output_facts(p: &DetokenizeParams, _: &InputFacts, _: &str) -> Facts {
        Facts::lang(&p.lang)
    }

    fn run(p: &DetokenizeParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError> {
        let detok = MosesDetokenizer::new(&p.lang);
        let input = ctx.input("text")?.to_path_buf();
        let out = ctx.output("text");
        let stats = {
            let progress = ctx.progress_fn();
            moses::detokenize_file(&input, &out, &detok, &progress)?
        };
        ctx.metric("lines", stats.lines as f64);
        Ok(())
    }
}
