//! `mlm`: the (lexically aligned) cross-lingual masked LM, trained as XLM does.

use super::StageCtx;
use super::error::StageError;
use super::facts::{self, Facts, InputFacts, Mismatch};
use super::params::InvalidParam;
use super::resources::Resources;
use super::signature::{Arity, Signature};
use super::stage::Stage;
use super::training::train_in_pool;
use crate::train::job::{self, Init, MlmInputs, MlmOutputs, MlmParams};

/// The `mlm` stage.
///
/// Inputs: `train` and `valid` (binarized, one per language in `langs` order), `vocab`, and
/// `vectors` (a `.vec`, for `init = "aligned"`). Outputs: `best` and `last` (safetensors),
/// `config` (JSON), `embeddings` (the best model's token embeddings as `.vec`, for `bli`),
/// `history` (per-epoch JSON). Checkpoints go to the node's checkpoint directory after every
/// epoch; a rerun of the same node after a crash resumes from the last one.
pub struct MlmStage;

impl Stage for MlmStage {
    const KIND: &'static str = "mlm";
    /// 2: every parameter is initialised right after seeding (Burn's lazy initialisation
    /// drew some at the first forward pass), so initial weights, and results, changed.
    /// 3: dropout masks from `model::dropout`'s counter-based streams; the `peers` param.
    const CODE_VERSION: u32 = 3;
    const SUMMARY: &'static str =
        "XLM masked LM (stream batches, 80/10/10 masking), random or aligned embedding init";
    type Params = MlmParams;

    fn signature(p: &MlmParams) -> Signature {
        let sig = Signature::default()
            .input("train", Arity::Many)
            .input("valid", Arity::Many)
            .input("vocab", Arity::One);
        let sig = sig
            .input("reload", Arity::Optional)
            .input("reload_vocab", Arity::Optional);
        let sig = if p.init == Init::Aligned {
            sig.input("vectors", Arity::One)
        } else {
            sig.input("vectors", Arity::Unused)
        };
        sig.file("best")
            .file("last")
            .file("config")
            .file("embeddings")
            .file("history")
    }

    const PLACEMENT: &'static [&'static str] = &["device"];

    fn resources(p: &MlmParams) -> Resources {
        Resources::for_device(p.device)
    }

    fn output_facts(p: &MlmParams, _: &InputFacts, _: &str) -> Facts {
        Facts {
            lang: None,
            dim: Some(p.dim),
            langs: Some(p.langs.clone()),
        }
    }

    /// `langs[i]` names the data of `train[i]` and `valid[i]`; aligned vectors must have the
    /// model's dimension.
    fn check_facts(p: &MlmParams, inputs: &InputFacts) -> Vec<Mismatch> {
        let mut out = facts::check_langs_per_input(inputs, &["train", "valid"], &p.langs, "langs");
        if p.init == Init::Aligned {
            out.extend(facts::check_dim(inputs, "vectors", p.dim, "dim"));
        }
        out.extend(facts::check_dim(inputs, "reload", p.dim, "dim"));
        out
    }

    /// `reload` (a pretrained model) needs `reload_vocab` (its vocabulary), and back.
    fn check_wiring(_: &MlmParams, wired: &[&str]) -> Result<(), InvalidParam> {
        match (wired.contains(&"reload"), wired.contains(&"reload_vocab")) {
            (true, false) => Err(InvalidParam::new(
                "reload",
                "needs a `reload_vocab` input too (the vocabulary the pretrained model was trained with)",
            )),
            (false, true) => Err(InvalidParam::new(
                "reload_vocab",
                "is wired without a `reload` input (the pretrained model)",
            )),
            _ => Ok(()),
        }
    }

    fn run(p: &MlmParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError> {
        let placed = MlmParams {
            device: ctx.device(p.device),
            ..p.clone()
        };
        let p = &placed;
        let inputs = MlmInputs {
            train: ctx.inputs("train").to_vec(),
            valid: ctx.inputs("valid").to_vec(),
            vocab: ctx.input("vocab")?.to_path_buf(),
            vectors: ctx.inputs("vectors").first().cloned(),
            reload: match (ctx.inputs("reload"), ctx.inputs("reload_vocab")) {
                ([m], [v]) => Some((m.clone(), v.clone())),
                _ => None,
            },
        };
        let outputs = MlmOutputs {
            best: ctx.output("best"),
            last: ctx.output("last"),
            config: ctx.output("config"),
            embeddings: ctx.output("embeddings"),
            history: ctx.output("history"),
        };
        let checkpoint_dir = ctx.checkpoint_dir().to_path_buf();
        let summary = train_in_pool(ctx, |on_event| {
            job::run(p, &inputs, &outputs, &checkpoint_dir, on_event)
        })?;
        let Some(best) = summary
            .history
            .get(summary.best_epoch.saturating_sub(1))
            .or(summary.history.last())
        else {
            return Err(StageError::NoEpoch);
        };
        for s in &best.valid.langs {
            ctx.metric(&format!("valid_{}_mlm_ppl", s.lang), s.ppl);
            ctx.metric(&format!("valid_{}_mlm_acc", s.lang), s.acc);
        }
        ctx.metric("valid_mlm_ppl", best.valid.valid_mlm_ppl);
        {
            ctx.metric("best_epoch", summary.best_epoch as f64);
            ctx.metric("epochs", summary.history.len() as f64);
            ctx.metric(
                "steps",
                summary.history.last().map_or(0, |h| h.steps) as f64,
            );
            ctx.metric("n_params", summary.n_params as f64);
            let tps: f64 = summary.history.iter().map(|h| h.tokens_per_s).sum::<f64>()
                / summary.history.len().max(1) as f64;
            ctx.metric("tokens_per_s", tps);
        }
        if let Some(c) = summary.init_coverage {
            ctx.metric("init_coverage", c);
        }
        Ok(())
    }
}
