//! `translate`: a trained UNMT model over a file (beam search, BPE removed, detokenized).

use super::StageCtx;
use super::error::StageError;
use super::facts::{self, Facts, InputFacts, Mismatch};
use super::resources::Resources;
use super::signature::{Arity, Signature};
use super::stage::Stage;
use crate::train::unmt::translate::{TranslateFiles, TranslateParams, translate_file};

/// The `translate` stage.
///
/// Inputs: `model` (a `unmt` node's `best` or `last`), `vocab` (its vocabulary) and `text`
/// (BPE-segmented, Moses-tokenized source sentences, one per line: a `bpe_apply` node with
/// the vocabulary). Outputs: `text` (the translations, Moses-detokenized, one line per input
/// line; an empty line for an empty one) and `tokenized` (the same before detokenizing, BPE
/// removed), ready for a `score` node (BLEU, chrF, 1-gram precision).
pub struct TranslateStage;

impl Stage for TranslateStage {
    const KIND: &'static str = "translate";
    const CODE_VERSION: u32 = 1;
    const SUMMARY: &'static str = "translate a file with a UNMT model (XLM's beam search)";
    type Params = TranslateParams;

    fn signature(_: &TranslateParams) -> Signature {
        Signature::default()
            .input("model", Arity::One)
            .input("vocab", Arity::One)
            .input("text", Arity::One)
            .file("text")
            .file("tokenized")
    }

    const PLACEMENT: &'static [&'static str] = &["device"];

    fn resources(p: &TranslateParams) -> Resources {
        Resources::for_device(p.device)
    }

    fn output_facts(p: &TranslateParams, _: &InputFacts, _: &str) -> Facts {
        Facts::lang(&p.tgt)
    }

    /// `src` and `tgt` must be languages of the model; the text must be `src` text.
    fn check_facts(p: &TranslateParams, inputs: &InputFacts) -> Vec<Mismatch> {
        let mut out = Vec::new();
        if let Some(model) = facts::input(inputs, "model", 0)
            && let Some(langs) = &model.facts.langs
        {
            for (param, lang) in [("src", &p.src), ("tgt", &p.tgt)] {
                if !langs.contains(lang) {
                    out.push(Mismatch {
                        slot: "model".to_owned(),
                        index: 0,
                        param: Some(param.to_owned()),
                        message: format!(
                            "`{param}` is `{lang}` but `{}` knows only {langs:?}",
                            model.source
                        ),
                    });
                }
            }
        }
        out.extend(facts::check_langs_per_input(
            inputs,
            &["text"],
            std::slice::from_ref(&p.src),
            "src",
        ));
        out
    }

    fn run(p: &TranslateParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError> {
        let placed = TranslateParams {
            device: ctx.device(p.device),
            ..p.clone()
        };
        let p = &placed;
        let files = TranslateFiles {
            model: ctx.input("model")?.to_path_buf(),
            vocab: ctx.input("vocab")?.to_path_buf(),
            text: ctx.input("text")?.to_path_buf(),
            out_text: ctx.output("text"),
            out_tokenized: ctx.output("tokenized"),
        };
        let threads = ctx.threads();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|source| StageError::ThreadPool { threads, source })?;
        let summary = {
            let progress = ctx.progress_fn();
            pool.install(|| {
                translate_file(p, &files, &mut |done, total| {
                    progress(done as u64, total as u64);
                })
            })?
        };
        if summary.lines == summary.empty_inputs {
            // Nothing reached the model: every score downstream is of empty text.
            ctx.warn(&format!(
                "the source text has no non-empty line ({} lines): nothing was translated",
                summary.lines
            ));
        }
        if summary.truncated > 0 {
            ctx.warn(&format!(
                "{} of {} lines were longer than the model's positions and were cut",
                summary.truncated, summary.lines
            ));
        }
        if summary.empty_outputs > 0 {
            // Scores of such output are meaningless, not merely low: say so where it shows.
            ctx.warn(&format!(
                "{} of {} non-empty lines were translated to nothing (the model ends every hypothesis at once: undertrained?)",
                summary.empty_outputs,
                summary.lines - summary.empty_inputs
            ));
        }
        let translated = summary.lines - summary.empty_inputs;
        if summary.repeated_outputs * 10 > translated {
            ctx.warn(&format!(
                "{} of {} translations are one token repeated (the model emits its commonest token: undertrained?); their scores say nothing about the method",
                summary.repeated_outputs, translated
            ));
        }
        ctx.metric("lines", summary.lines as f64);
        ctx.metric("truncated", summary.truncated as f64);
        ctx.metric("empty_inputs", summary.empty_inputs as f64);
        ctx.metric("empty_outputs", summary.empty_outputs as f64);
        ctx.metric("repeated_outputs", summary.repeated_outputs as f64);
        Ok(())
    }
}
