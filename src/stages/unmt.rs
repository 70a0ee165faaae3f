//! `unmt`: unsupervised NMT from a masked LM, trained as XLM does (denoising auto-encoding
//! and online back-translation on an encoder-decoder initialised from the MLM).

use super::StageCtx;
use super::error::StageError;
use super::facts::{self, Facts, InputFacts, Mismatch};
use super::resources::Resources;
use super::signature::{Arity, Signature};
use super::stage::Stage;
use super::training::train_in_pool;
use crate::train::unmt::{self, UnmtInputs, UnmtOutputs, UnmtParams};

/// The `unmt` stage.
///
/// Inputs: `model` (an `mlm` node's `best`), `vocab` (the MLM's), `train` (binarized
/// monolingual data, one per language in `langs` order), `valid` (BPE-segmented validation
/// text, one per language, line-aligned) and `refs` (the raw validation text, one per
/// language). Outputs: `best` and `last` (safetensors), `config` (JSON), `history` (per-epoch
/// JSON with the loss of every step kind, the learning rate and every validation metric), and
/// `hypotheses` (a directory: the best epoch's detokenized translations, `SRC-TGT.txt`).
/// Checkpoints go to the node's checkpoint directory after every epoch; a rerun resumes.
pub struct UnmtStage;

impl Stage for UnmtStage {
    const KIND: &'static str = "unmt";
    /// 4: dropout masks from `model::dropout`'s counter-based streams.
    const CODE_VERSION: u32 = 4;
    const SUMMARY: &'static str =
        "XLM UNMT from an MLM: denoising auto-encoding + online back-translation";
    type Params = UnmtParams;

    fn signature(_: &UnmtParams) -> Signature {
        Signature::default()
            .input("model", Arity::One)
            .input("vocab", Arity::One)
            .input("train", Arity::Many)
            .input("valid", Arity::Many)
            .input("refs", Arity::Many)
            .file("best")
            .file("last")
            .file("config")
            .file("history")
            .dir("hypotheses")
    }

    const PLACEMENT: &'static [&'static str] = &["device"];

    fn resources(p: &UnmtParams) -> Resources {
        Resources::for_device(p.device)
    }

    fn output_facts(p: &UnmtParams, _: &InputFacts, _: &str) -> Facts {
        Facts {
            langs: Some(p.langs.clone()),
            ..Facts::default()
        }
    }

    /// `langs[i]` names `train[i]` / `valid[i]`, and language ids are the MLM's: its `langs`
    /// must be these, in this order.
    fn check_facts(p: &UnmtParams, inputs: &InputFacts) -> Vec<Mismatch> {
        let mut out = facts::check_langs_per_input(inputs, &["train", "valid"], &p.langs, "langs");
        if let Some(model) = facts::input(inputs, "model", 0)
            && let Some(langs) = &model.facts.langs
            && langs != &p.langs
        {
            out.push(Mismatch {
                slot: "model".to_owned(),
                index: 0,
                param: Some("langs".to_owned()),
                message: format!(
                    "`{}` was trained with `langs = {langs:?}` but `langs` is {:?} (language ids must match)",
                    model.source, p.langs
                ),
            });
        }
        out
    }

    fn run(p: &UnmtParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError> {
        let placed = UnmtParams {
            device: ctx.device(p.device),
            ..p.clone()
        };
        let p = &placed;
        let inputs = UnmtInputs {
            model: ctx.input("model")?.to_path_buf(),
            vocab: ctx.input("vocab")?.to_path_buf(),
            train: ctx.inputs("train").to_vec(),
            valid: ctx.inputs("valid").to_vec(),
            refs: ctx.inputs("refs").to_vec(),
        };
        let outputs = UnmtOutputs {
            best: ctx.output("best"),
            last: ctx.output("last"),
            config: ctx.output("config"),
            history: ctx.output("history"),
            hypotheses: ctx.output("hypotheses"),
        };
        let checkpoint_dir = ctx.checkpoint_dir().to_path_buf();
        let summary = train_in_pool(ctx, |on_event| {
            unmt::run(p, &inputs, &outputs, &checkpoint_dir, on_event)
        })?;
        let Some(best) = summary
            .history
            .get(summary.best_epoch.saturating_sub(1))
            .or(summary.history.last())
        else {
            return Err(StageError::NoEpoch);
        };
        for (name, value) in &best.metrics {
            ctx.metric(name, *value);
        }
        ctx.metric("best_epoch", summary.best_epoch as f64);
        ctx.metric("epochs", summary.history.len() as f64);
        ctx.metric(
            "steps",
            summary.history.last().map_or(0, |h| h.steps) as f64,
        );
        ctx.metric("n_params", summary.n_params as f64);
        Ok(())
    }
}
