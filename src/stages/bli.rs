//! `bli`: bilingual lexicon induction P@1/5/10 (NN and CSLS) by the MUSE protocol.

use super::error::{IoContext, StageError};
use super::params::{InvalidParam, Validate};
use super::signature::{Arity, Signature};
use super::stage::Stage;
use crate::embed::bli::{self, BliError, BliParams};
use crate::embed::vec_format::read_vec;
use crate::exec::StageCtx;

impl Validate for BliParams {
    fn validate(&self) -> Result<(), InvalidParam> {
        BliParams::validate(self).map_err(|e| match e {
            BliError::Params(m) => InvalidParam::new("csls_k", m),
            other => InvalidParam::new("csls_k", other.to_string()),
        })
    }
}

/// The `bli` stage on two `.vec` files (e.g. a `vecmap` node's `src` and `trg`). Words are
/// looked up as they are in the files; pairs with an out-of-vocabulary word are dropped and
/// the coverage is reported.
pub struct BliStage;

impl Stage for BliStage {
    const KIND: &'static str = "bli";
    const CODE_VERSION: u32 = 1;
    const SUMMARY: &'static str =
        "bilingual lexicon induction P@1/5/10 with NN and CSLS (MUSE protocol)";
    type Params = BliParams;

    fn signature(_: &BliParams) -> Signature {
        Signature::default()
            .input("src", Arity::One)
            .input("trg", Arity::One)
            .input("dictionary", Arity::One)
            .file("report")
    }

    fn run(p: &BliParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError> {
        let limit = (p.max_vocab > 0).then_some(p.max_vocab);
        let src = read_vec(ctx.input("src")?, limit).map_err(StageError::library)?;
        let trg = read_vec(ctx.input("trg")?, limit).map_err(StageError::library)?;
        let dict = bli::read_dictionary(ctx.input("dictionary")?).map_err(StageError::library)?;
        let report = bli::evaluate(&src, &trg, &dict, p).map_err(StageError::library)?;
        let path = ctx.output("report");
        let json = serde_json::to_vec_pretty(&report).map_err(StageError::library)?;
        std::fs::write(&path, json).ctx("write", &path)?;
        for (k, v) in report.metrics() {
            ctx.metric(&k, v);
        }
        Ok(())
    }
}
