//! Dumps what `tests/parity/xlm_parity.py` compares against the PyTorch port of XLM in
//! `examples/xlm_reference.py`: a model's initial weights, a padded forward pass (hidden
//! states and tied-output scores), and a few MLM training updates on one stream batch
//! (losses, the first update's gradients and gradient norm, the weights after it), and a
//! decoder over the padded batch's encoder states, run whole (causal) and one position at a
//! time through its key/value cache.
//!
//! Every number comes from the code `unmt run` trains with: `TransformerConfig::init`,
//! `Transformer::forward/predict`, `train::mlm::mlm_loss`, `global_grad_norm`,
//! `clip_coefficient` and XLM's `Adam`, on the CPU backend.
//!
//! ```sh
//! cargo run --example xlm_parity_dump -- spec.json out.safetensors
//! ```
//!
//! `spec.json`: `{"config": TransformerConfig, "seed", "lr", "clip", "steps",
//! "mlm": {"bs", "len", "lang", "input", "positions", "targets"},
//! "padded": {"bs", "len", "lang", "tokens", "lengths"},
//! "decoder": {"bs", "len", "lang", "tokens"}}` (token arrays flat, batch-first; the decoder
//! batch has the padded batch's rows). Output tensor names: `w0.<param>`, `w1.<param>`,
//! `g0.<param>`, `grad_norm0`, `losses`, `padded.hidden`, `padded.scores`, `dec.w.<param>`,
//! `dec.hidden`, `dec.incremental`.

use std::collections::HashMap;
use std::path::PathBuf;

use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::tensor::{Bool, ElementConversion, Int, Tensor, TensorData};
use serde::Deserialize;
use unmt::backend::Cpu;
use unmt::model::checkpoint::{HostTensor, NamedTensors, named_parameters, write_safetensors};
use unmt::model::layer::Memory;
use unmt::model::{Batch, DecoderCache, TransformerConfig, TransformerInput};
use unmt::train::masking::Masked;
use unmt::train::mlm::mlm_loss;
use unmt::train::optim::{Adam, AdamConfig, clip_coefficient, global_grad_norm, named_gradients};

type B = Autodiff<Cpu>;

#[derive(Deserialize)]
struct Spec {
    config: TransformerConfig,
    seed: u64,
    lr: f64,
    clip: f64,
    steps: usize,
    mlm: MlmCase,
    padded: PaddedCase,
    decoder: DecoderCase,
}

#[derive(Deserialize)]
struct DecoderCase {
    bs: usize,
    len: usize,
    lang: i64,
    tokens: Vec<i64>,
}

#[derive(Deserialize)]
struct MlmCase {
    bs: usize,
    len: usize,
    lang: usize,
    input: Vec<u32>,
    positions: Vec<usize>,
    targets: Vec<u32>,
}

#[derive(Deserialize)]
struct PaddedCase {
    bs: usize,
    len: usize,
    lang: i64,
    tokens: Vec<i64>,
    lengths: Vec<usize>,
}

fn prefixed(prefix: &str, tensors: NamedTensors, out: &mut NamedTensors) {
    out.extend(
        tensors
            .into_iter()
            .map(|(k, v)| (format!("{prefix}{k}"), v)),
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [spec_path, out_path] = args.as_slice() else {
        return Err("usage: xlm_parity_dump SPEC.json OUT.safetensors".into());
    };
    let spec: Spec = serde_json::from_str(&std::fs::read_to_string(spec_path)?)?;
    spec.config.validate()?;
    let device = Default::default();
    <B as burn::tensor::backend::Backend>::seed(&device, spec.seed);
    let mut model = spec.config.init::<B>(&device);
    let mut out = NamedTensors::new();
    prefixed("w0.", named_parameters(&model), &mut out);

    // A padded batch through the inference copy of the model.
    let p = &spec.padded;
    let inference = model.valid();
    let pad: Vec<bool> = (0..p.bs * p.len)
        .map(|i| i % p.len >= p.lengths[i / p.len])
        .collect();
    let batch = Batch {
        tokens: Tensor::<Cpu, 2, Int>::from_data(
            TensorData::new(p.tokens.clone(), [p.bs, p.len]),
            &device,
        ),
        langs: Some(Tensor::full([p.bs, p.len], p.lang, &device)),
        padding: Some(Tensor::<Cpu, 2, Bool>::from_data(
            TensorData::new(pad, [p.bs, p.len]),
            &device,
        )),
    };
    let hidden = inference.forward(TransformerInput::encoder(&batch));
    let scores = inference.predict(hidden.clone().reshape([p.bs * p.len, spec.config.dim]));
    out.insert("padded.hidden".into(), HostTensor::from_tensor(&hidden));
    out.insert("padded.scores".into(), HostTensor::from_tensor(&scores));

    // A decoder over that batch's encoder states: the whole target at once (causal), and
    // one position at a time through the K/V cache.
    let d = &spec.decoder;
    let decoder = spec.config.init_decoder::<Cpu>(&device);
    prefixed("dec.w.", named_parameters(&decoder), &mut out);
    let memory = Memory {
        states: hidden,
        padding: batch.padding.clone(),
    };
    let tokens =
        Tensor::<Cpu, 2, Int>::from_data(TensorData::new(d.tokens.clone(), [d.bs, d.len]), &device);
    let langs = Tensor::<Cpu, 2, Int>::full([d.bs, d.len], d.lang, &device);
    let target = Batch {
        tokens: tokens.clone(),
        langs: Some(langs.clone()),
        padding: None,
    };
    let full = decoder.forward(TransformerInput::decoder(&target, &memory));
    out.insert("dec.hidden".into(), HostTensor::from_tensor(&full));
    let mut cache = DecoderCache::new();
    let steps: Vec<_> = (0..d.len)
        .map(|t| {
            decoder.forward_incremental(
                tokens.clone().slice([0..d.bs, t..t + 1]),
                Some(langs.clone().slice([0..d.bs, t..t + 1])),
                Some(&memory),
                &mut cache,
            )
        })
        .collect();
    out.insert(
        "dec.incremental".into(),
        HostTensor::from_tensor(&Tensor::cat(steps, 1)),
    );

    // MLM updates on one stream batch, as the training loop makes them.
    let m = &spec.mlm;
    let masked = Masked {
        input: m.input.clone(),
        positions: m.positions.clone(),
        targets: m.targets.clone(),
    };
    let mut adam = Adam::new(AdamConfig {
        lr: spec.lr,
        ..AdamConfig::default()
    });
    let mut losses = Vec::new();
    for step in 0..spec.steps {
        let loss = mlm_loss(
            &model,
            &masked,
            m.lang,
            spec.config.n_langs,
            m.bs,
            m.len,
            &device,
        );
        losses.push(loss.clone().into_scalar().elem::<f32>());
        let mut grads = GradientsParams::from_grads(loss.backward(), &model);
        let norm = global_grad_norm(&model, &grads);
        if step == 0 {
            prefixed("g0.", named_gradients(&model, &grads), &mut out);
            let norm32 = norm as f32;
            out.insert(
                "grad_norm0".into(),
                HostTensor {
                    shape: vec![1],
                    values: vec![norm32],
                },
            );
        }
        model = adam.step(model, &mut grads, clip_coefficient(norm, spec.clip));
        if step == 0 {
            prefixed("w1.", named_parameters(&model), &mut out);
        }
    }
    out.insert(
        "losses".into(),
        HostTensor {
            shape: vec![losses.len()],
            values: losses,
        },
    );
    write_safetensors(out_path, &out, HashMap::new())?;
    Ok(())
}
