//! Translating text with a trained encoder-decoder: what the `translate` stage and
//! `unmt translate` run.
//!
//! Input lines are BPE-segmented, Moses-tokenized sentences (as the `valid` inputs of `unmt`).
//! Each becomes `</s> ids </s>`; lines longer than the model's positions are cut (counted),
//! empty lines give empty output without reaching the model. Lines are sorted by length and
//! cut into batches of at most `tokens_per_batch` source tokens, translated with XLM's
//! search (greedy for `beam_size = 1`, as XLM's `translate.py` and evaluator do, else
//! [`generate_beam`]) up to `int(1.5 * longest + 10)` tokens, and written back in input order:
//! BPE removed (the tokenized hypothesis) and Moses-detokenized.

use std::path::{Path, PathBuf};

use burn::tensor::backend::{AutodiffBackend, Backend};
use serde::{Deserialize, Serialize};

use super::beam::{BeamConfig, generate_beam};
use super::data::{subword_text, with_boundaries};
use super::model::EncoderDecoder;
use super::steps::{StepError, generate_greedy};
use crate::backend::DeviceSpec;
use crate::model::TransformerConfig;
use crate::model::checkpoint::{self, CheckpointError, load_parameters};
use crate::text::bpe::undo_bpe;
use crate::text::dictionary::{Dictionary, DictionaryError};
use crate::text::moses::MosesDetokenizer;
use crate::train::device::{NoCuda, OnDevice, dispatch};
use crate::validate::{InvalidParam, Validate};

/// The metadata format of UNMT checkpoints.
pub const FORMAT: &str = "unmt-encoder-decoder";

/// Parameters of a translation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TranslateParams {
    /// Source language: one of the model's `langs` (its checkpoint metadata). Required.
    pub src: String,
    /// Target language. Required.
    pub tgt: String,
    /// Hypotheses kept per sentence; 1 is greedy search. Default: 5 (the paper's test scores).
    pub beam_size: usize,
    /// Exponent of the hypothesis-length normalisation. Default: 1.
    pub length_penalty: f64,
    /// End a sentence at its first `beam_size` finished hypotheses. Default: `false`.
    pub early_stopping: bool,
    /// Source tokens per batch (both `</s>` included). Default: 2000.
    pub tokens_per_batch: usize,
    /// `"cpu"` or `"cuda:N"`. Default: `"cpu"`.
    pub device: DeviceSpec,
}

impl Default for TranslateParams {
    fn default() -> Self {
        Self {
            src: String::new(),
            tgt: String::new(),
            beam_size: 5,
            length_penalty: 1.0,
            early_stopping: false,
            tokens_per_batch: 2000,
            device: DeviceSpec::Cpu,
        }
    }
}

impl Validate for TranslateParams {
    fn validate(&self) -> Result<(), InvalidParam> {
        for (name, lang) in [("src", &self.src), ("tgt", &self.tgt)] {
            if lang.is_empty() {
                return Err(InvalidParam::new(
                    name,
                    "is required (a language of the model)",
                ));
            }
        }
        if self.src == self.tgt {
            return Err(InvalidParam::new("tgt", "must differ from `src`"));
        }
        // Every sentence holds `beam_size` hypotheses and their K/V caches: a mistyped size
        // would allocate that many copies.
        if self.beam_size == 0 || self.beam_size > 1024 {
            return Err(InvalidParam::new(
                "beam_size",
                format!("must be in 1..=1024, got {}", self.beam_size),
            ));
        }
        if !self.length_penalty.is_finite() {
            return Err(InvalidParam::new("length_penalty", "must be finite"));
        }
        if self.tokens_per_batch == 0 {
            return Err(InvalidParam::new("tokens_per_batch", "must be positive"));
        }
        Ok(())
    }
}

impl TranslateParams {
    /// The beam search settings.
    pub fn beam(&self) -> BeamConfig {
        BeamConfig {
            beam_size: self.beam_size,
            length_penalty: self.length_penalty,
            early_stopping: self.early_stopping,
        }
    }
}

/// Why a translation could not run.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum TranslateError {
    /// The checkpoint is unreadable.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The vocabulary is unreadable.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Dictionary(#[from] DictionaryError),
    /// The checkpoint is not a UNMT model of this vocabulary.
    #[error("failed to load `{path}`: {reason}")]
    Model {
        /// The checkpoint.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// `src` or `tgt` is not a language of the model.
    #[error("failed to translate: `{lang}` is not a language of the model (it has {langs:?})")]
    #[diagnostic(help("`src` and `tgt` are names from the `langs` of the `unmt` node"))]
    Language {
        /// The name given.
        lang: String,
        /// The model's languages.
        langs: Vec<String>,
    },
    /// Decoding failed (a bug if the checks above passed).
    #[error(transparent)]
    Step(#[from] StepError),
    /// `device = "cuda:N"` in a build without CUDA.
    #[error(transparent)]
    #[diagnostic(transparent)]
    NoCuda(#[from] NoCuda),
    /// A parameter is out of range.
    #[error(transparent)]
    Params(#[from] InvalidParam),
    /// Reading the source or writing the translations failed.
    #[error("failed to {action} `{path}`")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Files of [`translate_file`].
#[derive(Debug, Clone)]
pub struct TranslateFiles {
    /// UNMT checkpoint.
    pub model: PathBuf,
    /// Its vocabulary.
    pub vocab: PathBuf,
    /// BPE-segmented, tokenized source text, one sentence per line.
    pub text: PathBuf,
    /// Detokenized translations, one per line.
    pub out_text: PathBuf,
    /// Tokenized translations (BPE removed), one per line.
    pub out_tokenized: PathBuf,
}

/// Figures of [`translate_file`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranslateSummary {
    /// Lines translated (empty ones included).
    pub lines: usize,
    /// Lines cut to the model's positions.
    pub truncated: usize,
    /// Empty input lines.
    pub empty_inputs: usize,
    /// Non-empty inputs whose translation came out empty.
    pub empty_outputs: usize,
    /// Translations that are one token repeated ([`is_one_token_repeated`]).
    pub repeated_outputs: usize,
}

/// Three or more tokens, all the same (`, , , ,`): what an undertrained model emits when it
/// has learned only the commonest token.
pub fn is_one_token_repeated(tokenized: &str) -> bool {
    let mut tokens = tokenized.split_whitespace();
    let Some(first) = tokens.next() else {
        return false;
    };
    let mut n = 1;
    for t in tokens {
        if t != first {
            return false;
        }
        n += 1;
    }
    n >= 3
}

/// Lines per call of [`Translator::translate`] (progress granularity; batches are cut
/// inside each chunk, so a chunk holds many batches).
const CHUNK: usize = 1000;

/// Translates a file on the device `params` names; `progress(done, total)` after each chunk.
pub fn translate_file(
    params: &TranslateParams,
    files: &TranslateFiles,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<TranslateSummary, TranslateError> {
    params.validate()?;
    let text = std::fs::read_to_string(&files.text).map_err(|source| TranslateError::Io {
        action: "read",
        path: files.text.clone(),
        source,
    })?;
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let work = FileWork {
        params,
        files,
        lines: &lines,
        progress,
    };
    let out = dispatch(params.device, work)??;
    let summary = TranslateSummary {
        lines: lines.len(),
        truncated: out.truncated,
        empty_inputs: out.empty_inputs,
        empty_outputs: out
            .tokenized
            .iter()
            .zip(&lines)
            .filter(|(o, i)| o.is_empty() && !i.trim().is_empty())
            .count(),
        repeated_outputs: out
            .tokenized
            .iter()
            .filter(|o| is_one_token_repeated(o))
            .count(),
    };
    for (path, lines) in [
        (&files.out_text, &out.detokenized),
        (&files.out_tokenized, &out.tokenized),
    ] {
        let mut body = lines.join("\n");
        if !lines.is_empty() {
            body.push('\n');
        }
        crate::io::write_atomic(path, body.as_bytes()).map_err(|source| TranslateError::Io {
            action: "write",
            path: path.clone(),
            source,
        })?;
    }
    Ok(summary)
}

struct FileWork<'a> {
    params: &'a TranslateParams,
    files: &'a TranslateFiles,
    lines: &'a [String],
    progress: &'a mut (dyn FnMut(usize, usize) + Send),
}

impl OnDevice for FileWork<'_> {
    type Output = Result<Translations, TranslateError>;

    fn run<B: AutodiffBackend>(self, device: &B::Device) -> Self::Output {
        let t = Translator::<B::InnerBackend>::load(
            &self.files.model,
            &self.files.vocab,
            self.params,
            device,
        )?;
        let mut all = Translations::default();
        for chunk in self.lines.chunks(CHUNK) {
            let out = t.translate(chunk)?;
            all.tokenized.extend(out.tokenized);
            all.detokenized.extend(out.detokenized);
            all.truncated += out.truncated;
            all.empty_inputs += out.empty_inputs;
            (self.progress)(all.tokenized.len(), self.lines.len());
        }
        Ok(all)
    }
}

/// A loaded model ready to translate between two of its languages.
#[derive(Debug)]
pub struct Translator<B: Backend> {
    model: EncoderDecoder<B>,
    dico: Dictionary,
    config: TransformerConfig,
    src: usize,
    tgt: usize,
    tgt_name: String,
    detok: MosesDetokenizer,
    params: TranslateParams,
    device: B::Device,
}

/// What a batch of lines became.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Translations {
    /// Hypotheses with BPE removed, Moses-tokenized; one per input line.
    pub tokenized: Vec<String>,
    /// The same, Moses-detokenized.
    pub detokenized: Vec<String>,
    /// Input lines cut to the model's positions.
    pub truncated: usize,
    /// Input lines that were empty (their output is empty).
    pub empty_inputs: usize,
}

impl<B: Backend> Translator<B> {
    /// Loads a UNMT checkpoint (`best`/`last` of a `unmt` node) and its vocabulary.
    pub fn load(
        model: &Path,
        vocab: &Path,
        params: &TranslateParams,
        device: &B::Device,
    ) -> Result<Self, TranslateError> {
        let bad = |reason: String| TranslateError::Model {
            path: model.to_path_buf(),
            reason,
        };
        let (tensors, meta) = checkpoint::read_safetensors(model)?;
        if meta.get("format").map(String::as_str) != Some(FORMAT) {
            return Err(bad(format!(
                "not a UNMT encoder-decoder (metadata `format` is {:?}, expected `{FORMAT}`)",
                meta.get("format")
            )));
        }
        let config: TransformerConfig = meta
            .get("config")
            .and_then(|c| serde_json::from_str(c).ok())
            .ok_or_else(|| bad("no model `config` in the metadata".into()))?;
        let langs: Vec<String> = meta
            .get("langs")
            .and_then(|l| serde_json::from_str(l).ok())
            .ok_or_else(|| {
                bad("no `langs` in the metadata (written by an older unmt: rerun the node)".into())
            })?;
        let dico = Dictionary::read(vocab)?;
        if dico.len() != config.n_words {
            return Err(bad(format!(
                "the model has {} words, the vocabulary `{}` {}",
                config.n_words,
                vocab.display(),
                dico.len()
            )));
        }
        let index = |lang: &str| {
            langs
                .iter()
                .position(|l| l == lang)
                .ok_or_else(|| TranslateError::Language {
                    lang: lang.to_owned(),
                    langs: langs.clone(),
                })
        };
        let (src, tgt) = (index(&params.src)?, index(&params.tgt)?);
        let part = |prefix: &str| {
            tensors
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_owned(), v.clone())))
                .collect()
        };
        let encoder = load_parameters(config.init::<B>(device), &part("encoder."))
            .map_err(|e| bad(format!("encoder: {e}")))?;
        let decoder = load_parameters(config.init_decoder::<B>(device), &part("decoder."))
            .map_err(|e| bad(format!("decoder: {e}")))?;
        Ok(Self {
            model: EncoderDecoder { encoder, decoder },
            dico,
            config,
            src,
            tgt,
            tgt_name: params.tgt.clone(),
            detok: MosesDetokenizer::new(&params.tgt),
            params: params.clone(),
            device: device.clone(),
        })
    }

    /// Translates BPE-segmented lines; one output per line, in order.
    pub fn translate(&self, lines: &[String]) -> Result<Translations, TranslateError> {
        let limit = self.config.max_positions;
        let mut out = Translations {
            tokenized: vec![String::new(); lines.len()],
            detokenized: vec![String::new(); lines.len()],
            ..Translations::default()
        };
        let mut sentences: Vec<(usize, Vec<u32>)> = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let mut ids: Vec<u32> = line
                .split_whitespace()
                .map(|w| self.dico.index(w))
                .collect();
            if ids.is_empty() {
                out.empty_inputs += 1;
                continue;
            }
            if ids.len() + 2 > limit {
                ids.truncate(limit - 2);
                out.truncated += 1;
            }
            sentences.push((i, with_boundaries(&ids)));
        }
        sentences.sort_by_key(|(_, s)| s.len());
        let mut start = 0;
        while start < sentences.len() {
            let mut end = start + 1;
            // Sorted by length: the batch costs `count * its last (longest) sentence` tokens.
            while end < sentences.len()
                && (end + 1 - start) * sentences[end].1.len() <= self.params.tokens_per_batch
            {
                end += 1;
            }
            let batch: Vec<Vec<u32>> = sentences[start..end]
                .iter()
                .map(|(_, s)| s.clone())
                .collect();
            let longest = batch.iter().map(Vec::len).max().unwrap_or(2);
            let max_len = ((1.5 * longest as f64 + 10.0) as usize).min(limit + 1);
            let hyps = if self.params.beam_size == 1 {
                generate_greedy(
                    &self.model,
                    &batch,
                    self.src,
                    self.tgt,
                    max_len,
                    &self.device,
                )?
            } else {
                generate_beam(
                    &self.model,
                    &batch,
                    self.src,
                    self.tgt,
                    max_len,
                    &self.params.beam(),
                    &self.device,
                )?
                .into_iter()
                .map(|h| h.tokens)
                .collect()
            };
            for ((i, _), h) in sentences[start..end].iter().zip(hyps) {
                let tokenized = undo_bpe(&subword_text(&self.dico, &h));
                out.detokenized[*i] = self.detok.detokenize_line(&tokenized);
                out.tokenized[*i] = tokenized;
            }
            start = end;
        }
        Ok(out)
    }

    /// The target language's name.
    pub fn target(&self) -> &str {
        &self.tgt_name
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::backend::Cpu;
    use crate::model::checkpoint::{named_parameters, write_safetensors};

    #[test]
    fn one_token_repeated_is_three_or_more_of_one_token() {
        assert!(is_one_token_repeated(", , , ,"));
        assert!(is_one_token_repeated("the the the"));
        assert!(!is_one_token_repeated("the the"));
        assert!(!is_one_token_repeated(", , , a"));
        assert!(!is_one_token_repeated(""));
    }

    /// A random 2-language model over a 30-word vocabulary, saved as `unmt` saves it.
    fn saved(dir: &Path, langs: Option<&str>) -> (PathBuf, PathBuf) {
        let mut c = TransformerConfig::new(14 + 16, 2, 16, 1, 2);
        c.max_positions = 12;
        let device = Default::default();
        let model = EncoderDecoder::<Cpu> {
            encoder: c.init(&device),
            decoder: c.init_decoder(&device),
        };
        let mut meta = HashMap::from([
            ("format".to_owned(), FORMAT.to_owned()),
            (
                "config".to_owned(),
                serde_json::to_string(&c).expect("json"),
            ),
        ]);
        if let Some(l) = langs {
            meta.insert("langs".to_owned(), l.to_owned());
        }
        let path = dir.join("model");
        write_safetensors(&path, &named_parameters(&model), meta).expect("write");
        let vocab = dir.join("vocab");
        let words: String = (0..16).map(|i| format!("w{i} {}\n", 100 - i)).collect();
        std::fs::write(&vocab, words).expect("vocab");
        (path, vocab)
    }

    fn params(beam_size: usize) -> TranslateParams {
        TranslateParams {
            src: "en".into(),
            tgt: "mk".into(),
            beam_size,
            tokens_per_batch: 12,
            ..TranslateParams::default()
        }
    }

    #[test]
    fn every_line_gets_an_output_in_order_and_long_lines_are_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (model, vocab) = saved(dir.path(), Some(r#"["en","mk"]"#));
        let lines: Vec<String> = [
            "w1 w2 w3",
            "",
            "w4",
            "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13",
            "w5 w6@@ w7",
        ]
        .map(str::to_owned)
        .to_vec();
        for beam in [1, 3] {
            let t = Translator::<Cpu>::load(&model, &vocab, &params(beam), &Default::default())
                .expect("loads");
            let out = t.translate(&lines).expect("translates");
            assert_eq!(out.tokenized.len(), 5);
            assert_eq!(out.detokenized.len(), 5);
            assert_eq!((out.truncated, out.empty_inputs), (1, 1));
            assert_eq!(out.tokenized[1], "");
            // Each line alone gives what it gave in the batch.
            for (i, line) in lines.iter().enumerate() {
                let alone = t.translate(std::slice::from_ref(line)).expect("alone");
                assert_eq!(
                    alone.tokenized[0], out.tokenized[i],
                    "line {i}, beam {beam}"
                );
            }
        }
    }

    #[test]
    fn unknown_languages_and_old_checkpoints_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (model, vocab) = saved(dir.path(), Some(r#"["en","mk"]"#));
        let mut p = params(2);
        p.tgt = "sq".into();
        let err = Translator::<Cpu>::load(&model, &vocab, &p, &Default::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to translate: `sq` is not a language of the model (it has [\"en\", \"mk\"])"
        );
        let (model, vocab) = saved(dir.path(), None);
        let err =
            Translator::<Cpu>::load(&model, &vocab, &params(2), &Default::default()).unwrap_err();
        assert!(
            err.to_string().contains("no `langs` in the metadata"),
            "{err}"
        );
    }
}
