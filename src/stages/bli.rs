//! `bli`: bilingual lexicon induction P@1/5/10 (NN and CSLS) by the MUSE protocol.

use super::StageCtx;
use super::error::{StageError, write_json};
use super::facts::{self, InputFacts, Mismatch};
use super::signature::{Arity, Signature};
use super::stage::Stage;
use crate::embed::bli::{self, BliParams};
use crate::embed::vec_format::read_vec;
use crate::text::bpe::Codes;

/// The `bli` stage on two `.vec` files (e.g. a `vecmap` node's `src` and `trg`). Words are
/// looked up as they are in the files; pairs with an out-of-vocabulary word are dropped and
/// the coverage is reported.
///
/// With a `codes` input (BPE codes), `src` and `trg` are subword embeddings (e.g. an `mlm`
/// node's `embeddings`, given as both): each dictionary word is segmented in isolation and
/// its vector is the mean of its subwords' rows (the lexical paper's BLI on the MLM's
/// embedding layer). The target search space is then every target word of the dictionary
/// file (a subword model has no word vocabulary of its own); words with no known subword are
/// out of vocabulary.
pub struct BliStage;

impl Stage for BliStage {
    const KIND: &'static str = "bli";
    /// 2: also the `*_cross` figures (identical-string pairs left out) beside MUSE's.
    /// 3: no covered pair is an error (the `*_cross` figures: a warning), not zeros.
    const CODE_VERSION: u32 = 3;
    const SUMMARY: &'static str =
        "bilingual lexicon induction P@1/5/10 with NN and CSLS (MUSE protocol)";
    type Params = BliParams;

    fn signature(_: &BliParams) -> Signature {
        Signature::default()
            .input("src", Arity::One)
            .input("trg", Arity::One)
            .input("dictionary", Arity::One)
            .input("codes", Arity::Optional)
            .file("report")
    }

    fn check_facts(_: &BliParams, inputs: &InputFacts) -> Vec<Mismatch> {
        facts::check_same_dim(inputs, "src", "trg")
            .into_iter()
            .collect()
    }

    /// The dictionary is read before anything runs: a malformed or empty one fails `check`,
    /// not every `bli` node after hours of training.
    fn check_file(_: &BliParams, slot: &str, path: &std::path::Path) -> Result<(), StageError> {
        if slot == "dictionary" {
            bli::read_dictionary(path)?;
        }
        Ok(())
    }

    fn run(p: &BliParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError> {
        let limit = (p.max_vocab > 0).then_some(p.max_vocab);
        let dict = bli::read_dictionary(ctx.input("dictionary")?)?;
        let (src, trg) = match ctx.inputs("codes") {
            [codes] => {
                let codes = Codes::read(codes)?;
                let sub_src = read_vec(ctx.input("src")?, None)?;
                let sub_trg = read_vec(ctx.input("trg")?, None)?;
                let sides =
                    bli::dictionary_vectors_from_subwords(&sub_src, &sub_trg, &dict, &codes);
                for (slot, emb, missing) in [
                    ("src", &sides.src, sides.src_missing),
                    ("trg", &sides.trg, sides.trg_missing),
                ] {
                    ctx.log(format!(
                        "{slot}: {} dictionary words embedded from subwords, {missing} without any known subword",
                        emb.words.len()
                    ));
                }
                (sides.src, sides.trg)
            }
            _ => (
                read_vec(ctx.input("src")?, limit)?,
                read_vec(ctx.input("trg")?, limit)?,
            ),
        };
        let report = bli::evaluate(&src, &trg, &dict, p)?;
        let path = ctx.output("report");
        write_json(&path, &report)?;
        for (k, v) in report.metrics() {
            ctx.metric(&k, v);
        }
        // MUSE's protocol keeps pairs like `world world`, which a shared embedding table
        // (an MLM's) finds trivially: report the figures without them beside it, so a high
        // P@1 that is only string identity shows as such.
        if !p.skip_identical {
            let cross = BliParams {
                skip_identical: true,
                ..p.clone()
            };
            match bli::evaluate(&src, &trg, &dict, &cross) {
                Ok(r) => {
                    for (k, v) in r.metrics() {
                        ctx.metric(&format!("{k}_cross"), v);
                    }
                }
                Err(e) => ctx.warn(&format!(
                    "no figures without identical-string pairs: {}",
                    super::error_chain(&e)
                )),
            }
        }
        Ok(())
    }
}
