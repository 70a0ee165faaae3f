//! `score`: SacreBLEU-exact BLEU / chrF of a hypothesis file against references, with the
//! hypothesis post-processed as configured (BPE removed, Moses-detokenized).

use serde::{Deserialize, Serialize};

use super::StageCtx;
use super::error::{IoContext, StageError, write_json};
use super::params::{InvalidParam, Validate};
use super::signature::{Arity, Signature};
use super::stage::Stage;
use crate::metrics::{self, BleuParams, ChrfParams, MetricName, MetricsError, ScoreOptions};
use crate::text::bpe::undo_bpe;
use crate::text::moses::{MosesDetokenizer, MosesParams};

/// Parameters of `score`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoreParams {
    /// Metrics to compute. Default: `["bleu", "chrf"]`.
    pub metrics: Vec<MetricName>,
    /// BLEU options (`tokenize`, `smooth_method`, `lowercase`, ...). Default: SacreBLEU's.
    pub bleu: BleuParams,
    /// chrF options (`word_order = 2` for chrF++, ...). Default: SacreBLEU's.
    pub chrf: ChrfParams,
    /// Remove BPE continuation markers (`@@ `) from the hypothesis first. Default: `false`.
    pub undo_bpe: bool,
    /// Moses-detokenize the hypothesis with this language's rules first (SacreBLEU expects
    /// detokenized text). Default: unset (score the hypothesis as is).
    pub detokenize: Option<String>,
}

impl Default for ScoreParams {
    fn default() -> Self {
        let o = ScoreOptions::default();
        Self {
            metrics: o.metrics,
            bleu: o.bleu,
            chrf: o.chrf,
            undo_bpe: false,
            detokenize: None,
        }
    }
}

impl ScoreParams {
    fn options(&self) -> ScoreOptions {
        ScoreOptions {
            metrics: self.metrics.clone(),
            bleu: self.bleu.clone(),
            chrf: self.chrf.clone(),
        }
    }
}

impl Validate for ScoreParams {
    fn validate(&self) -> Result<(), InvalidParam> {
        self.options().validate()?;
        if let Some(lang) = &self.detokenize {
            MosesParams::for_language(lang)
                .validate()
                .map_err(|e| InvalidParam::new("detokenize", e.message))?;
        }
        Ok(())
    }
}

/// The `score` stage.
pub struct ScoreStage;

impl Stage for ScoreStage {
    const KIND: &'static str = "score";
    const CODE_VERSION: u32 = 1;
    const SUMMARY: &'static str = "BLEU / chrF / chrF++ exactly as SacreBLEU 2.6 computes them";
    type Params = ScoreParams;

    fn signature(_: &ScoreParams) -> Signature {
        Signature::default()
            .input("hyp", Arity::One)
            .input("refs", Arity::Many)
            .file("report")
            .file("hypothesis")
    }

    fn run(p: &ScoreParams, ctx: &mut StageCtx<'_>) -> Result<(), StageError> {
        let hyp_in = ctx.input("hyp")?.to_path_buf();
        let refs = ctx.inputs("refs").to_vec();
        let text = std::fs::read(&hyp_in).ctx("read", &hyp_in)?;
        let text = String::from_utf8(text).map_err(|e| {
            let line = text_line(e.as_bytes(), e.utf8_error().valid_up_to());
            StageError::InvalidUtf8 {
                path: hyp_in.clone(),
                line,
            }
        })?;
        let detok = p.detokenize.as_deref().map(MosesDetokenizer::new);
        let mut scored = String::with_capacity(text.len());
        for line in text.lines() {
            let mut l = if p.undo_bpe {
                undo_bpe(line)
            } else {
                line.to_owned()
            };
            if let Some(d) = &detok {
                l = d.detokenize_line(&l);
            }
            scored.push_str(&l);
            scored.push('\n');
        }
        let hyp = ctx.output("hypothesis");
        std::fs::write(&hyp, &scored).ctx("write", &hyp)?;
        // Errors about the hypothesis name the node's input, not the processed copy.
        let report = metrics::score_files(&hyp, &refs, &p.options()).map_err(|e| match e {
            MetricsError::LineCountMismatch {
                hyp_lines,
                reference,
                ref_lines,
                ..
            } => MetricsError::LineCountMismatch {
                hyp: hyp_in.clone(),
                hyp_lines,
                reference,
                ref_lines,
            },
            MetricsError::EmptyFile { path } if path == hyp => MetricsError::EmptyFile {
                path: hyp_in.clone(),
            },
            other => other,
        })?;
        let out = ctx.output("report");
        write_json(&out, &report)?;
        for (name, value) in report.headline() {
            ctx.metric(&name, value);
        }
        if let Some(b) = &report.bleu {
            ctx.log(&b.signature);
        }
        Ok(())
    }
}

fn text_line(bytes: &[u8], at: usize) -> usize {
    bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1
}
