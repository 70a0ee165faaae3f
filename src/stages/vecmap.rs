//! `vecmap`: map two languages' embeddings into one space (VecMap `--identical`,
//! `--unsupervised`, or `--supervised` with a dictionary input).

use super::StageCtx;
use super::error::{StageError, write_json};
use super::facts::{self, Facts, InputFacts, Mismatch};
use super::signature::{Arity, Signature};
use super::stage::Stage;
use crate::embed::bli::read_dictionary;
use crate::embed::vec_format::{concat_first_wins, read_vec, write_vec};
use crate::embed::vecmap::{self, Mode, VecmapParams};

/// The `vecmap` stage.
///
/// Outputs both mapped `.vec` files, `joint` (source first, then the target words the
/// source lacks: the file the lexically aligned MLM's embedding layer is initialised from,
/// duplicates resolved to the first = source vector, as XLM's loader does), and `summary`
/// (iterations, objective, the seed's size and first pairs).
pub struct VecmapStage;

impl Stage for VecmapStage {
    const KIND: &'static str = "vecmap";
    const CODE_VERSION: u32 = 1;
    const SUMMARY: &'static str = "VecMap cross-lingual mapping seeded by identical tokens, similarity distributions (unsupervised) or a dictionary";
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

    /// `src` and `trg` are the inputs mapped (same language and dimension); `joint` holds
    /// both languages.
    fn output_facts(_: &VecmapParams, inputs: &InputFacts, output: &str) -> Facts {
        let side = |slot| facts::input(inputs, slot, 0).map(|i| i.facts.clone());
        match output {
            "src" | "trg" => side(output).unwrap_or_default(),
            "joint" => Facts {
                dim: side("src").and_then(|f| f.dim),
                ..Facts::default()
            },
            _ => Facts::default(),
        }
    }

    /// A supervised dictionary is read before anything runs.
    fn check_file(_: &VecmapParams, slot: &str, path: &std::path::Path) -> Result<(), StageError> {
        if slot == "dictionary" {
            read_dictionary(path)?;
        }
        Ok(())
    }

    /// The orthogonal mapping needs both sides in one dimension.
    fn check_facts(_: &VecmapParams, inputs: &InputFacts) -> Vec<Mismatch> {
        facts::check_same_dim(inputs, "src", "trg")
            .into_iter()
            .collect()
    }

    fn run(p: &VecmapParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError> {
        let src = read_vec(ctx.input("src")?, None)?;
        let trg = read_vec(ctx.input("trg")?, None)?;
        let dict = match (p.mode, ctx.inputs("dictionary")) {
            (Mode::Supervised, [d]) => Some(read_dictionary(d)?),
            (Mode::Supervised, _) => {
                return Err(StageError::MissingInput {
                    slot: "dictionary",
                    requirement: "mode = \"supervised\"",
                });
            }
            (Mode::Identical | Mode::Unsupervised, _) => None,
        };
        let result = {
            let progress = ctx.progress_fn();
            vecmap::map(&src, &trg, p, dict.as_deref(), &progress)?
        };
        write_vec(&ctx.output("src"), &result.src)?;
        write_vec(&ctx.output("trg"), &result.trg)?;
        let joint = concat_first_wins(&result.src, &result.trg)?;
        write_vec(&ctx.output("joint"), &joint)?;
        let s = &result.summary;
        let path = ctx.output("summary");
        write_json(&path, s)?;
        let sample = s.seed_preview(20);
        ctx.log(format!("seed: {} pairs, e.g. {}", s.seed_size, sample));
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
