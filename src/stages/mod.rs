//! Stage kinds: the units of work a recipe's nodes run.
//!
//! Each kind lives in its own module with its `Params` (documented defaults), a
//! `CODE_VERSION`, and a `run` over explicit inputs. [`registry`] is the single list of kinds.

mod binarize;
mod bli;
mod bpe_apply;
mod bpe_learn;
pub mod children;
mod command;
mod context;
mod corpus;
mod error;
pub mod facts;
mod mlm;
mod overrides;
mod param_docs;
pub mod params;
pub mod resources;
mod score;
mod signature;
mod skipgram;
mod stage;
pub mod text_io;
mod tokenize;
mod training;
mod translate;
mod unmt;
mod vecmap;
mod vocab;

pub use binarize::{BinarizeStage, BinarizeStageParams};
pub use bli::BliStage;
pub use bpe_apply::{BpeApplyParams, BpeApplyStage};
pub use bpe_learn::{BpeLearnParams, BpeLearnStage};
pub use command::{CommandParams, CommandStage};
pub use context::{ProgressSink, StageCtx, StatusSink};
pub use corpus::{CorpusParams, CorpusStage};
pub use error::{IoContext, StageError, error_chain, write_json};
pub use mlm::MlmStage;
pub use overrides::{ParamsArgError, params_from_args};
pub use params::{InvalidParam, ParamsError, Validate};
pub use resources::{Placement, Resources};
pub use score::{ScoreParams, ScoreStage};
pub use signature::{Arity, InputSlot, OutputDecl, OutputKind, Signature};
pub use skipgram::SkipgramStage;
pub use stage::{DynStage, Registered, ResolvedParams, Stage};
pub use tokenize::{DetokenizeParams, DetokenizeStage, TokenizeStage};
pub use translate::TranslateStage;
pub use unmt::UnmtStage;
pub use vecmap::VecmapStage;
pub use vocab::{VocabParams, VocabStage};

/// Every stage kind, in the order `unmt stages` lists them.
pub fn registry() -> &'static [&'static dyn DynStage] {
    static CORPUS: Registered<CorpusStage> = Registered::new();
    static COMMAND: Registered<CommandStage> = Registered::new();
    static TOKENIZE: Registered<TokenizeStage> = Registered::new();
    static DETOKENIZE: Registered<DetokenizeStage> = Registered::new();
    static BPE_LEARN: Registered<BpeLearnStage> = Registered::new();
    static BPE_APPLY: Registered<BpeApplyStage> = Registered::new();
    static VOCAB: Registered<VocabStage> = Registered::new();
    static BINARIZE: Registered<BinarizeStage> = Registered::new();
    static SKIPGRAM: Registered<SkipgramStage> = Registered::new();
    static VECMAP: Registered<VecmapStage> = Registered::new();
    static BLI: Registered<BliStage> = Registered::new();
    static MLM: Registered<MlmStage> = Registered::new();
    static UNMT: Registered<UnmtStage> = Registered::new();
    static TRANSLATE: Registered<TranslateStage> = Registered::new();
    static SCORE: Registered<ScoreStage> = Registered::new();
    static ALL: [&dyn DynStage; 15] = [
        &CORPUS,
        &COMMAND,
        &TOKENIZE,
        &DETOKENIZE,
        &BPE_LEARN,
        &BPE_APPLY,
        &VOCAB,
        &BINARIZE,
        &SKIPGRAM,
        &VECMAP,
        &BLI,
        &MLM,
        &UNMT,
        &TRANSLATE,
        &SCORE,
    ];
    &ALL
}

/// The stage kind called `kind`.
pub fn find(kind: &str) -> Option<&'static dyn DynStage> {
    registry().iter().copied().find(|s| s.kind() == kind)
}
