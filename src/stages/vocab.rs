//! `vocab`: token counts of BPE-segmented corpora (fastBPE `getvocab`), optionally extended
//! RE-LM style with a second language's vocabulary.

use serde::{Deserialize, Serialize};

use super::StageCtx;
use super::error::StageError;
use super::params::{InvalidParam, Validate};
use super::signature::{Arity, Signature};
use super::stage::Stage;
use crate::text::bpe::{self, Vocab};
use crate::text::dictionary;

/// Parameters of `vocab`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VocabParams {}

impl Validate for VocabParams {
    fn validate(&self) -> Result<(), InvalidParam> {
        Ok(())
    }
}

/// The `vocab` stage.
///
/// Without `extend`: the pooled vocabulary of `text`. With `extend` (a vocabulary of the
/// high-resource language, e.g. the English MLM's): RE-LM's extension, the `extend` entries
/// first (their ids unchanged) followed by the new entries of `text`; the number of new
/// entries is the `new_entries` metric and the `new_entries` output (one number).
pub struct VocabStage;

impl Stage for VocabStage {
    const KIND: &'static str = "vocab";
    const CODE_VERSION: u32 = 1;
    const SUMMARY: &'static str = "vocabulary of BPE-segmented corpora, sorted by count (fastBPE getvocab); RE-LM extension via `extend`";
    type Params = VocabParams;

    fn signature(_: &VocabParams) -> Signature {
        Signature::default()
            .input("text", Arity::Many)
            .input("extend", Arity::Optional)
            .file("vocab")
            .file("new_entries")
    }

    fn run(_: &VocabParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError> {
        let text = ctx.inputs("text").to_vec();
        let vocab = {
            let progress = ctx.progress_fn();
            bpe::get_vocab(&text, &progress)?
        };
        let (vocab, new) = match ctx.inputs("extend") {
            [hmr] => {
                let hmr = Vocab::read(hmr)?;
                dictionary::extend(&hmr, &vocab)
            }
            _ => {
                let n = vocab.len();
                (vocab, n)
            }
        };
        vocab.write(&ctx.output("vocab"))?;
        let path = ctx.output("new_entries");
        std::fs::write(&path, format!("{new}\n")).map_err(|e| StageError::io("write", &path, e))?;
        {
            ctx.metric("entries", vocab.len() as f64);
            ctx.metric("new_entries", new as f64);
        }
        Ok(())
    }
}
