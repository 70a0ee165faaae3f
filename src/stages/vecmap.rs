//! `vecmap`: map two languages' embeddings into one space (VecMap `--identical`, or
//! `--supervised` with a dictionary input).

use super::error::{IoContext, StageError};
use super::params::{InvalidParam, Validate};
use super::signature::{Arity, Signature};
use super::stage::Stage;
use crate::embed::bli::read_dictionary;
use crate::embed::vec_format::{concat_first_wins, read_vec, write_vec};
use crate::embed::vecmap::{self, Mode, VecmapError, VecmapParams};
use crate::exec::StageCtx;

impl Validate for VecmapParams {
    fn validate(&self) -> Result<(), InvalidParam> {
        VecmapParams::validate(self).map_err(|e| match e {
            VecmapError::Params(m) => InvalidParam::new("mode", m),
            other => InvalidParam::new("mode", other.to_string()),
        })
    }
}

/// The `vecmap` stage.
///
/// Outputs both mapped `.vec` files, `joint` (source first, then the target words the
/// source lacks: the file the lexically aligned MLM's embedding layer is initialised from,
/// duplicates resolved to the first = source vector, as XLM's loader does), and `summary`
/// (iterations, objective, the identical-token seed).
pub struct VecmapStage;

impl Stage for VecmapStage {
    const KIND: &'static str = "vecmap";
    const CODE_VERSION: u32 = 1;
    const SUMMARY: &'static str =
        "VecMap cross-lingual mapping seeded by identical tokens (or a dictionary)";
    type Params = VecmapParams;

    fn signature(_: &VecmapParams) -> Signature {
        Signature::default()
            .input("src", Arity::One)
            .input("trg", Arity::One)
            .input("dictionary", Arity::Optional)
            .file("src")
            .file("trg")
            .file("joint")
            .file("summary")
    }

    fn run(p: &VecmapParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError> {
        let src = read_vec(ctx.input("src")?, None).map_err(StageError::library)?;
        let trg = read_vec(ctx.input("trg")?, None).map_err(StageError::library)?;
        let dict = match (p.mode, ctx.inputs("dictionary")) {
            (Mode::Supervised, [d]) => Some(read_dictionary(d).map_err(StageError::library)?),
            (Mode::Supervised, _) => {
                return Err(StageError::BadInput(
                    "mode = \"supervised\" needs a `dictionary` input".to_owned(),
                ));
            }
            (Mode::Identical, _) => None,
        };
        let result = {
            let progress = ctx.progress_fn();
            vecmap::map(&src, &trg, p, dict.as_deref(), &progress).map_err(StageError::library)?
        };
        write_vec(&ctx.output("src"), &result.src).map_err(StageError::library)?;
        write_vec(&ctx.output("trg"), &result.trg).map_err(StageError::library)?;
        let joint = concat_first_wins(&result.src, &result.trg).map_err(StageError::library)?;
        write_vec(&ctx.output("joint"), &joint).map_err(StageError::library)?;
        let s = &result.summary;
        let path = ctx.output("summary");
        let json = serde_json::to_vec_pretty(s).map_err(StageError::library)?;
        std::fs::write(&path, json).ctx("write", &path)?;
        let sample = s.seed_preview(20);
        ctx.log(format!("seed: {} pairs, e.g. {}", s.seed_size, sample));
        #[allow(clippy::cast_precision_loss)]
        {
            ctx.metric("iterations", s.iterations as f64);
            ctx.metric("objective", s.objective);
            ctx.metric("seed_size", s.seed_size as f64);
            ctx.metric("dictionary_size", s.final_dictionary_size as f64);
            ctx.metric("seconds", s.wall_time_s);
        }
        Ok(())
    }
}
