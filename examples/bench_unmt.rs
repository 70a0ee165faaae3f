//! Benchmark: UNMT training and generation throughput and peak memory, side by side with the
//! PyTorch port of XLM (`examples/xlm_reference.py bench-unmt`), same shapes, same device.
//!
//! Per configuration, on one synthetic batch of `tokens_per_batch` tokens (sentences of
//! `slen` tokens, both `</s>` included), with fresh XLM-initialised weights:
//! - **AE step**: `train::unmt::mt_loss` (encode the source, decode the target causally with
//!   cross-attention, tied-output cross-entropy), backward, global-norm clipping at 5 and one
//!   Adam update, exactly the update `Updater::update` makes in training. The denoising noise
//!   is left out on both sides (host-side integer shuffling, negligible next to the model), so
//!   source = target. Tokens = source + target tokens.
//! - **BT step**: `train::unmt::bt_loss` (greedy generation with the inference model through
//!   the K/V cache, then the update on (generated, original)). Tokens = source + generated.
//! - **beam 5**: `generate_beam` (length penalty 1, no early stopping) at validation's
//!   `max_len`, `int(1.5 * slen + 10)`, in sentences/s (every hypothesis runs to `max_len`).
//! - **greedy**: `generate_greedy` alone at BT's `max_len`, in sentences/s; and the time per
//!   generated position at `max_len` 16, 32, 64 and 128 (linear-time generation means this
//!   stays about flat: each step feeds one position through the cache).
//!
//! `</s>` gets a -1e4 output bias in both implementations so every generation runs to its
//! `max_len` and the two do identical work (a random model's first `</s>` is otherwise a
//! matter of chance). Each configuration runs in a child process of its own, so its peak RSS
//! (`VmHWM`; on CUDA PyTorch reports `max_memory_allocated`, we report host RSS) is its own.
//! Timings exclude one warm-up step; the figure is the mean over `steps` steps.
//!
//! ```sh
//! cargo run --release --example bench_unmt                       # quickstart + small
//! cargo run --release --example bench_unmt -- --torch python3    # ... beside PyTorch
//! cargo run --release --example bench_unmt -- --paper            # adds 1024-d, 6 layers
//! cargo run --release --features cuda --example bench_unmt -- --device cuda:0 --paper --torch python3
//! ```
//!
//! Not a test: it asserts nothing.

use std::process::Command;
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use unmt::backend::DeviceSpec;
use unmt::model::TransformerConfig;
use unmt::text::dictionary::EOS_INDEX;
use unmt::train::optim::{Adam, AdamConfig, clip_coefficient, global_grad_norm};
use unmt::train::unmt::{
    BeamConfig, EncoderDecoder, bt_loss, bt_max_len, generate_beam, generate_greedy, mt_loss,
};

/// One configuration; `key` is its name in `xlm_reference.py bench-unmt`.
#[derive(Debug, Clone, Copy)]
struct Case {
    key: &'static str,
    name: &'static str,
    n_words: usize,
    dim: usize,
    layers: usize,
    heads: usize,
    tokens_per_batch: usize,
    slen: usize,
    steps: usize,
}

const CASES: [Case; 3] = [
    Case {
        key: "quickstart",
        name: "quickstart (64-d, 2 layers)",
        n_words: 2_217,
        dim: 64,
        layers: 2,
        heads: 4,
        tokens_per_batch: 400,
        slen: 20,
        steps: 10,
    },
    Case {
        key: "small",
        name: "small (256-d, 4 layers)",
        n_words: 10_000,
        dim: 256,
        layers: 4,
        heads: 8,
        tokens_per_batch: 1000,
        slen: 25,
        steps: 4,
    },
    Case {
        key: "paper",
        name: "paper (1024-d, 6 layers)",
        n_words: 32_000,
        dim: 1024,
        layers: 6,
        heads: 8,
        tokens_per_batch: 1000,
        slen: 25,
        steps: 2,
    },
];

/// What one configuration measured (also the JSON the PyTorch side prints).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Measured {
    ae_tokens_per_s: f64,
    bt_tokens_per_s: f64,
    greedy_sentences_per_s: f64,
    /// Beam search (beam 5, length penalty 1) at validation's `max_len`.
    beam5_sentences_per_s: f64,
    /// (max_len, milliseconds per generated position).
    ms_per_position: Vec<(usize, f64)>,
    peak_mib: f64,
}

struct Args {
    device: DeviceSpec,
    torch: Option<String>,
    paper: bool,
    child: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        device: DeviceSpec::Cpu,
        torch: None,
        paper: false,
        child: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--device" => args.device = value()?.parse()?,
            "--torch" => args.torch = Some(value()?),
            "--paper" => args.paper = true,
            "--child" => args.child = Some(value()?),
            _ => {
                return Err(format!(
                    "unknown argument {a}; expected --device, --torch, --paper"
                ));
            }
        }
    }
    Ok(args)
}

fn main() {
    // As the `unmt` binary does, so the figures are what a training node sees.
    unmt::backend::tune_cpu_allocator();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench_unmt: {e}");
            std::process::exit(2);
        }
    };
    if let Some(key) = &args.child {
        let Some(case) = CASES.iter().find(|c| c.key == key) else {
            eprintln!("bench_unmt: no case {key}");
            std::process::exit(2);
        };
        let measured = match args.device {
            DeviceSpec::Cpu => {
                measure::<burn::backend::Autodiff<unmt::backend::Cpu>>(case, &Default::default())
            }
            #[cfg(feature = "cuda")]
            DeviceSpec::Cuda(i) => measure::<burn::backend::Autodiff<unmt::backend::Cuda>>(
                case,
                &burn::backend::cuda::CudaDevice::new(i),
            ),
            #[cfg(not(feature = "cuda"))]
            DeviceSpec::Cuda(_) => {
                eprintln!("bench_unmt: this build has no CUDA backend (--features cuda)");
                std::process::exit(2);
            }
        };
        println!(
            "{}",
            serde_json::to_string(&measured).expect("serialisable")
        );
        return;
    }
    let cases: Vec<&Case> = CASES
        .iter()
        .filter(|c| args.paper || c.key != "paper")
        .collect();
    println!("device: {}", args.device);
    for c in &cases {
        let ours = run_child(c, &args);
        let torch = args.torch.as_deref().map(|py| run_torch(py, c, &args));
        report(c, &ours, torch.as_ref());
    }
}

fn report(c: &Case, ours: &Result<Measured, String>, torch: Option<&Result<Measured, String>>) {
    let params = TransformerConfig::new(c.n_words, 2, c.dim, c.layers, c.heads).n_params();
    println!(
        "\n## {} ({:.1}M parameters per Transformer, {} sentences x {} tokens)\n",
        c.name,
        params as f64 / 1e6,
        c.tokens_per_batch / c.slen,
        c.slen
    );
    let ours = match ours {
        Ok(m) => m,
        Err(e) => {
            println!("unmt failed: {e}");
            return;
        }
    };
    let torch = torch.map(|t| t.as_ref());
    let header = match torch {
        Some(_) => "| measure | unmt | PyTorch | unmt / PyTorch |\n|---|---|---|---|",
        None => "| measure | unmt |\n|---|---|",
    };
    println!("{header}");
    // Ratios are unmt / PyTorch in every row: above 1 is faster for rates, larger for times
    // and memory.
    let row = |name: &str, ours: f64, theirs: Option<f64>| match torch {
        None => println!("| {name} | {ours:.1} |"),
        Some(Err(e)) => println!("| {name} | {ours:.1} | failed: {e} | |"),
        Some(Ok(_)) => {
            let t = theirs.unwrap_or(f64::NAN);
            println!("| {name} | {ours:.1} | {t:.1} | {:.2}x |", ours / t);
        }
    };
    let t = torch.and_then(Result::ok);
    row(
        "AE step tokens/s",
        ours.ae_tokens_per_s,
        t.map(|t| t.ae_tokens_per_s),
    );
    row(
        "BT step tokens/s",
        ours.bt_tokens_per_s,
        t.map(|t| t.bt_tokens_per_s),
    );
    row(
        "greedy sentences/s",
        ours.greedy_sentences_per_s,
        t.map(|t| t.greedy_sentences_per_s),
    );
    row(
        "beam-5 sentences/s",
        ours.beam5_sentences_per_s,
        t.map(|t| t.beam5_sentences_per_s),
    );
    for (i, &(len, ms)) in ours.ms_per_position.iter().enumerate() {
        let theirs = t.and_then(|t| t.ms_per_position.get(i)).map(|&(_, ms)| ms);
        row(
            &format!("ms per generated position, max_len {len}"),
            ms,
            theirs,
        );
    }
    row("peak MiB", ours.peak_mib, t.map(|t| t.peak_mib));
}

fn run_child(c: &Case, args: &Args) -> Result<Measured, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args(["--child", c.key, "--device", &args.device.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    parse_json(&out, "bench_unmt --child")
}

fn run_torch(python: &str, c: &Case, args: &Args) -> Result<Measured, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/xlm_reference.py");
    let out = Command::new(python)
        .args([script, "bench-unmt", "--case", c.key])
        .args(["--steps", &c.steps.to_string()])
        .args(["--device", &args.device.to_string()])
        .output()
        .map_err(|e| format!("{python}: {e}"))?;
    parse_json(&out, script)
}

fn parse_json(out: &std::process::Output, what: &str) -> Result<Measured, String> {
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.lines().last().unwrap_or("no output").to_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).map_err(|e| format!("bad JSON from {what}: {e}"))
}

fn peak_rss_mib() -> f64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return f64::NAN;
    };
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// The batch: `tokens_per_batch / slen` sentences `[</s>, w.., </s>]`, words drawn from an
/// LCG (the PyTorch side draws its own; only the shapes must agree).
fn sentences(c: &Case) -> Vec<Vec<u32>> {
    let mut state = 12345u64;
    (0..c.tokens_per_batch / c.slen)
        .map(|_| {
            let mut s = vec![EOS_INDEX];
            s.extend((0..c.slen - 2).map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                14 + ((state >> 33) % (c.n_words as u64 - 14)) as u32
            }));
            s.push(EOS_INDEX);
            s
        })
        .collect()
}

fn tokens(s: &[Vec<u32>]) -> usize {
    s.iter().map(Vec::len).sum()
}

/// One training update, as `train::scaffold::Updater::update` makes it.
fn update<B: AutodiffBackend>(
    model: EncoderDecoder<B>,
    loss: Tensor<B, 1>,
    adam: &mut Adam<B::InnerBackend>,
) -> EncoderDecoder<B> {
    let _: f32 = loss.clone().into_scalar().elem();
    let mut grads = GradientsParams::from_grads(loss.backward(), &model);
    let coef = clip_coefficient(global_grad_norm(&model, &grads), 5.0);
    adam.step(model, &mut grads, coef)
}

/// Mean seconds of `steps` calls of `f` after one warm-up call.
fn time<T>(steps: usize, mut f: impl FnMut() -> T) -> f64 {
    drop(f());
    let start = Instant::now();
    for _ in 0..steps {
        drop(f());
    }
    start.elapsed().as_secs_f64() / steps as f64
}

fn measure<B: AutodiffBackend>(c: &Case, device: &B::Device) -> Measured {
    let mut config = TransformerConfig::new(c.n_words, 2, c.dim, c.layers, c.heads);
    config.max_positions = 512;
    let mut model = EncoderDecoder {
        encoder: config.init::<B>(device),
        decoder: config.init_decoder::<B>(device),
    };
    let mut eos = vec![0.0f32; c.n_words];
    eos[EOS_INDEX as usize] = -1e4;
    let eos = Tensor::<B, 1>::from_data(TensorData::new(eos, [c.n_words]), device);
    model.decoder.pred_bias = model
        .decoder
        .pred_bias
        .map(|b| (b + eos).detach().require_grad());
    let batch = sentences(c);
    let mut adam = Adam::new(AdamConfig {
        beta2: 0.98,
        ..AdamConfig::default()
    });

    let mut slot = Some(model);
    let ae_s = time(c.steps, || {
        let m = slot.take().expect("model");
        let loss = mt_loss(&m, &batch, 0, &batch, 0, device).expect("AE loss");
        slot = Some(update(m, loss, &mut adam));
    });
    let generated_len = bt_max_len(&batch);
    let bt_s = time(c.steps, || {
        let m = slot.take().expect("model");
        let inference = m.valid();
        let bt = bt_loss(&m, &inference, &batch, 0, 1, device).expect("BT loss");
        assert!(bt.generated.iter().all(|s| s.len() == generated_len));
        slot = Some(update(m, bt.loss, &mut adam));
    });
    let inference = slot.take().expect("model").valid();
    let greedy = |max_len: usize| {
        time(c.steps, || {
            generate_greedy(&inference, &batch, 0, 1, max_len, device).expect("generation")
        })
    };
    let greedy_s = greedy(generated_len);
    let beam_len = (1.5 * c.slen as f64 + 10.0) as usize;
    let beam_s = time(c.steps, || {
        generate_beam(
            &inference,
            &batch,
            0,
            1,
            beam_len,
            &BeamConfig::default(),
            device,
        )
        .expect("beam search")
    });
    let ms_per_position = [16, 32, 64, 128]
        .into_iter()
        .map(|len| (len, 1e3 * greedy(len) / (len - 1) as f64))
        .collect();
    let n = batch.len() * generated_len;
    Measured {
        ae_tokens_per_s: (2 * tokens(&batch)) as f64 / ae_s,
        bt_tokens_per_s: (tokens(&batch) + n) as f64 / bt_s,
        greedy_sentences_per_s: batch.len() as f64 / greedy_s,
        beam5_sentences_per_s: batch.len() as f64 / beam_s,
        ms_per_position,
        peak_mib: peak_rss_mib(),
    }
}
