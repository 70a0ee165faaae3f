//! Dumps what `tests/parity/unmt_parity.py` compares against the PyTorch port of XLM's UNMT
//! in `examples/xlm_reference.py`: an MLM, the encoder-decoder built from it, XLM's noise on
//! injected draws, greedy generations, and the AE and BT losses with every parameter's
//! gradient.
//!
//! Every number comes from the code UNMT training uses: `TransformerConfig::init` (the MLM),
//! `train::unmt::from_mlm`, `train::noise::{draw, add_noise}`, `train::unmt::{mt_loss,
//! generate_greedy, bt_loss}` and `train::optim::named_gradients`, on the CPU backend.
//!
//! ```sh
//! cargo run --example unmt_parity_dump -- spec.json OUT_DIR
//! ```
//!
//! `spec.json`: `{"config": TransformerConfig, "mlm_seed", "model_seed",
//! "reinit_lang_embeddings", "mlm_linear_scale", "eos_biases": [..],
//! "noise": {"config": NoiseConfig, "batch", "python_draws": Draws, "seed"},
//! "ae": {"lang", "sentences", "noise": NoiseConfig, "seed"},
//! "bt": {"src_lang", "tgt_lang", "sentences"}, "beams": [..]}` (sentences in XLM's layout
//! `[1, w.., 1]`, unpadded). Writes into `OUT_DIR`:
//! - `mlm.safetensors`: the MLM's tensors (unmt names): XLM's initialisation from `mlm_seed`
//!   with every linear weight multiplied by `mlm_linear_scale` (see `scale_linear_weights`);
//! - `model_init.safetensors`: the encoder-decoder as `from_mlm` returns it
//!   (`encoder.<param>`, `decoder.<param>`);
//! - `model.safetensors`: the same after adding the chosen `eos_bias` to the decoder's output
//!   bias of `</s>` (the first of `eos_biases` with which the BT batch's greedy translations
//!   both end by `</s>` and get `</s>` forced at `max_len`; the last one tried if none does),
//!   the weights every later output is computed with;
//! - `grads.safetensors`: `ae.<param>` and `bt.<param>`, the gradients of the AE and BT losses;
//! - `outputs.json`: the noise outputs (`python_draws` replayed; our own draws from a ChaCha
//!   stream seeded `noise.seed` and their output), the AE step's draws, noised batch and
//!   loss, the greedy translations (BT's `max_len`, and validation's `int(1.5 * len + 10)` in
//!   the other direction) and the BT loss with its translations; and per `beams` entry
//!   (`{"beam_size", "length_penalty", "early_stopping"}`) the beam-search translations of the
//!   BT batch at validation's `max_len` with their scores (`generate_beam`).

use std::collections::HashMap;
use std::error::Error;
use std::path::{Path, PathBuf};

use burn::backend::Autodiff;
use burn::module::{AutodiffModule, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use unmt::backend::Cpu;
use unmt::model::TransformerConfig;
use unmt::model::checkpoint::{NamedTensors, named_parameters, write_safetensors};
use unmt::text::dictionary::EOS_INDEX;
use unmt::train::noise::{Draws, NoiseConfig, add_noise, draw};
use unmt::train::optim::named_gradients;
use unmt::train::unmt::{
    BeamConfig, EncoderDecoder, bt_loss, bt_max_len, from_mlm, generate_beam, generate_greedy,
    mt_loss,
};

type B = Autodiff<Cpu>;
type Device = <Cpu as burn::tensor::backend::BackendTypes>::Device;
type Sentences = Vec<Vec<u32>>;

#[derive(Deserialize)]
struct Spec {
    config: TransformerConfig,
    mlm_seed: u64,
    model_seed: u64,
    reinit_lang_embeddings: bool,
    mlm_linear_scale: f32,
    eos_biases: Vec<f32>,
    noise: NoiseCase,
    ae: AeCase,
    bt: BtCase,
    beams: Vec<BeamCase>,
}

/// Beam search of the BT batch into `bt.tgt_lang`, at validation's `max_len`.
#[derive(Deserialize)]
struct BeamCase {
    beam_size: usize,
    length_penalty: f64,
    early_stopping: bool,
}

#[derive(Deserialize)]
struct NoiseCase {
    config: NoiseConfig,
    batch: Sentences,
    python_draws: Draws,
    seed: u64,
}

#[derive(Deserialize)]
struct AeCase {
    lang: usize,
    sentences: Sentences,
    noise: NoiseConfig,
    seed: u64,
}

#[derive(Deserialize)]
struct BtCase {
    src_lang: usize,
    tgt_lang: usize,
    sentences: Sentences,
}

#[derive(Serialize)]
struct Outputs {
    noise: NoiseOut,
    ae: AeOut,
    greedy: GreedyOut,
    bt: BtOut,
    beams: Vec<BeamOut>,
}

#[derive(Serialize)]
struct BeamOut {
    max_len: usize,
    tokens: Sentences,
    scores: Vec<f64>,
}

#[derive(Serialize)]
struct NoiseOut {
    replayed: Sentences,
    draws: Draws,
    output: Sentences,
}

#[derive(Serialize)]
struct AeOut {
    draws: Draws,
    noisy: Sentences,
    loss: f32,
}

#[derive(Serialize)]
struct GreedyOut {
    eos_bias: f32,
    max_len: usize,
    generated: Sentences,
    valid_max_len: usize,
    valid_generated: Sentences,
}

#[derive(Serialize)]
struct BtOut {
    loss: f32,
    generated: Sentences,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [spec_path, out_dir] = args.as_slice() else {
        return Err("usage: unmt_parity_dump SPEC.json OUT_DIR".into());
    };
    let spec: Spec = serde_json::from_str(&std::fs::read_to_string(spec_path)?)?;
    spec.config.validate()?;
    std::fs::create_dir_all(out_dir)?;
    let device = Default::default();

    <Cpu as Backend>::seed(&device, spec.mlm_seed);
    let mut mlm = named_parameters(&spec.config.init::<Cpu>(&device));
    scale_linear_weights(&mut mlm, spec.mlm_linear_scale);
    write(out_dir, "mlm", &mlm)?;
    let model = from_mlm::<B>(
        &spec.config,
        &mlm,
        spec.reinit_lang_embeddings,
        spec.model_seed,
        &device,
    )?;
    write(out_dir, "model_init", &named_parameters(&model))?;
    let noise = noise_case(&spec.noise)?;
    let (model, greedy) = greedy_case(model, &spec, &device)?;
    write(out_dir, "model", &named_parameters(&model))?;

    let mut grads = NamedTensors::new();
    let ae = ae_case(&model, &spec.ae, &device, &mut grads)?;
    let bt = bt_case(&model, &spec.bt, &device, &mut grads)?;
    write(out_dir, "grads", &grads)?;
    let beams = beam_cases(&model.valid(), &spec, &device)?;
    let outputs = Outputs {
        noise,
        ae,
        greedy,
        bt,
        beams,
    };
    std::fs::write(
        out_dir.join("outputs.json"),
        serde_json::to_string(&outputs)?,
    )?;
    Ok(())
}

/// Multiplies every linear layer's weight by `scale`: with XLM's initialisation the residual
/// stream is dominated by the input embedding, so through the tied output layer a random
/// model's greedy translation repeats one token; larger layer outputs make it vary.
fn scale_linear_weights(tensors: &mut NamedTensors, scale: f32) {
    const LINEARS: [&str; 6] = ["q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"];
    for (name, t) in tensors.iter_mut() {
        let mut parts = name.rsplit('.');
        if parts.next() == Some("weight") && parts.next().is_some_and(|l| LINEARS.contains(&l)) {
            t.values.iter_mut().for_each(|v| *v *= scale);
        }
    }
}

fn write(dir: &Path, name: &str, tensors: &NamedTensors) -> Result<(), Box<dyn Error>> {
    let path = dir.join(format!("{name}.safetensors"));
    Ok(write_safetensors(&path, tensors, HashMap::new())?)
}

/// Python's draws replayed, and our own draws with their output.
fn noise_case(case: &NoiseCase) -> Result<NoiseOut, Box<dyn Error>> {
    let replayed = add_noise(&case.batch, &case.config, &case.python_draws)?;
    let draws = draw(
        &case.batch,
        &case.config,
        &mut ChaCha8Rng::seed_from_u64(case.seed),
    )?;
    let output = add_noise(&case.batch, &case.config, &draws)?;
    Ok(NoiseOut {
        replayed,
        draws,
        output,
    })
}

/// Picks the `</s>` bias (see the module docs), applies it to the training model, and
/// generates with the result.
fn greedy_case(
    mut model: EncoderDecoder<B>,
    spec: &Spec,
    device: &Device,
) -> Result<(EncoderDecoder<B>, GreedyOut), Box<dyn Error>> {
    let bt = &spec.bt;
    let max_len = bt_max_len(&bt.sentences);
    let base = model.decoder.pred_bias.val();
    let mut eos_bias = 0.0;
    for &bias in &spec.eos_biases {
        eos_bias = bias;
        let mut inference = model.valid();
        inference.decoder.pred_bias = Param::from_tensor(base.clone().inner() + eos(bias, spec));
        let generated = generate_greedy(
            &inference,
            &bt.sentences,
            bt.src_lang,
            bt.tgt_lang,
            max_len,
            device,
        )?;
        let early = generated.iter().filter(|s| s.len() < max_len).count();
        if 0 < early && early < generated.len() {
            break;
        }
    }
    let delta = Tensor::<B, 1>::from_inner(eos(eos_bias, spec));
    model.decoder.pred_bias = model
        .decoder
        .pred_bias
        .map(|b| (b + delta).detach().require_grad());
    let inference = model.valid();
    let generated = generate_greedy(
        &inference,
        &bt.sentences,
        bt.src_lang,
        bt.tgt_lang,
        max_len,
        device,
    )?;
    let longest = bt.sentences.iter().map(Vec::len).max().unwrap_or(0);
    let valid_max_len = (1.5 * longest as f64 + 10.0) as usize;
    let valid_generated = generate_greedy(
        &inference,
        &bt.sentences,
        bt.tgt_lang,
        bt.src_lang,
        valid_max_len,
        device,
    )?;
    let out = GreedyOut {
        eos_bias,
        max_len,
        generated,
        valid_max_len,
        valid_generated,
    };
    Ok((model, out))
}

fn beam_cases(
    model: &EncoderDecoder<Cpu>,
    spec: &Spec,
    device: &Device,
) -> Result<Vec<BeamOut>, Box<dyn Error>> {
    let bt = &spec.bt;
    let longest = bt.sentences.iter().map(Vec::len).max().unwrap_or(0);
    let max_len = (1.5 * longest as f64 + 10.0) as usize;
    spec.beams
        .iter()
        .map(|b| {
            let config = BeamConfig {
                beam_size: b.beam_size,
                length_penalty: b.length_penalty,
                early_stopping: b.early_stopping,
            };
            let hyps = generate_beam(
                model,
                &bt.sentences,
                bt.src_lang,
                bt.tgt_lang,
                max_len,
                &config,
                device,
            )?;
            Ok(BeamOut {
                max_len,
                scores: hyps.iter().map(|h| h.score).collect(),
                tokens: hyps.into_iter().map(|h| h.tokens).collect(),
            })
        })
        .collect()
}

/// `bias` at `</s>`, zero elsewhere.
fn eos(bias: f32, spec: &Spec) -> Tensor<Cpu, 1> {
    let mut values = vec![0.0f32; spec.config.n_words];
    values[EOS_INDEX as usize] = bias;
    Tensor::from_data(
        TensorData::new(values, [spec.config.n_words]),
        &Default::default(),
    )
}

fn loss_and_gradients(
    model: &EncoderDecoder<B>,
    loss: Tensor<B, 1>,
    prefix: &str,
    out: &mut NamedTensors,
) -> f32 {
    let value = loss.clone().into_scalar().elem::<f32>();
    let grads = GradientsParams::from_grads(loss.backward(), model);
    out.extend(
        named_gradients(model, &grads)
            .into_iter()
            .map(|(k, v)| (format!("{prefix}.{k}"), v)),
    );
    value
}

fn ae_case(
    model: &EncoderDecoder<B>,
    case: &AeCase,
    device: &Device,
    grads: &mut NamedTensors,
) -> Result<AeOut, Box<dyn Error>> {
    let clean = &case.sentences;
    let draws = draw(
        clean,
        &case.noise,
        &mut ChaCha8Rng::seed_from_u64(case.seed),
    )?;
    let noisy = add_noise(clean, &case.noise, &draws)?;
    let loss = mt_loss(model, &noisy, case.lang, clean, case.lang, device)?;
    let loss = loss_and_gradients(model, loss, "ae", grads);
    Ok(AeOut { draws, noisy, loss })
}

fn bt_case(
    model: &EncoderDecoder<B>,
    case: &BtCase,
    device: &Device,
    grads: &mut NamedTensors,
) -> Result<BtOut, Box<dyn Error>> {
    let bt = bt_loss(
        model,
        &model.valid(),
        &case.sentences,
        case.src_lang,
        case.tgt_lang,
        device,
    )?;
    let loss = loss_and_gradients(model, bt.loss, "bt", grads);
    Ok(BtOut {
        loss,
        generated: bt.generated,
    })
}
