//! Benchmark: masked-LM training throughput (tokens/s) and peak memory on the CPU backend.
//!
//! Trains XLM's MLM objective (stream batches, 15% masking, Adam, global clipping) on
//! synthetic token streams for a fixed number of updates per configuration, in this process,
//! and prints tokens/s (positions fed per second; XLM's `processed_w` counts only the 15%
//! targets), seconds per update and achieved GFLOP/s (model FLOPs: 6 per parameter per
//! token in the layers, 6 x targets x vocabulary x dim for the output projection and
//! 12 x layers x tokens x bptt x dim for attention scores; embedding lookups not counted).
//! Peak RSS is the process high-water mark
//! (`VmHWM`) after each configuration, so it only grows down the table.
//!
//! With `--torch PYTHON`, every configuration is also run by `examples/xlm_reference.py`
//! (XLM's PyTorch model and MLM step, eager mode) on the same device with the same shapes,
//! and the table gains its tokens/s, peak memory and the ratio unmt / PyTorch. unmt's figure
//! counts every update of its one-epoch run (the first included); PyTorch's excludes one
//! warm-up update.
//!
//! ```sh
//! cargo run --release --example bench_mlm                       # tiny + small configs
//! cargo run --release --example bench_mlm -- --torch python3    # ... side by side with PyTorch
//! cargo run --release --example bench_mlm -- --paper            # adds the paper config (slow)
//! cargo run --release --example bench_mlm -- --peers 2          # ... and on 2 data-parallel peers
//! cargo run --release --features cuda --example bench_mlm -- --device cuda:0 --paper \
//!     --torch python3 --peak-tflops 989                          # GPU, with MFU
//! ```
//!
//! Not a test: it asserts nothing.

use std::process::Command;

use burn::backend::Autodiff;
use burn::tensor::backend::AutodiffBackend;
use unmt::backend::{Cpu, DeviceSpec};
use unmt::model::TransformerConfig;
use unmt::train::masking::MaskConfig;
use unmt::train::mlm::{Language, MlmSettings, ModelInit, train};
use unmt::train::optim::AdamConfig;
use unmt::train::scaffold::{RunFiles, TrainEvent};
use unmt::train::stream::Stream;

struct Case {
    /// The configuration's name in `examples/xlm_reference.py`.
    key: &'static str,
    name: &'static str,
    n_words: usize,
    dim: usize,
    layers: usize,
    heads: usize,
    bptt: usize,
    streams: usize,
    updates: u64,
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

struct Args {
    device: DeviceSpec,
    torch: Option<String>,
    paper: bool,
    peak_tflops: Option<f64>,
    /// Also run every configuration on this many data-parallel peers (`mlm.peers`).
    peers: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        device: DeviceSpec::Cpu,
        torch: None,
        paper: std::env::var_os("BENCH_MLM_PAPER").is_some(),
        peak_tflops: None,
        peers: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--device" => args.device = value()?.parse()?,
            "--torch" => args.torch = Some(value()?),
            "--paper" => args.paper = true,
            "--peers" => args.peers = value()?.parse().map_err(|e| format!("--peers: {e}"))?,
            "--peak-tflops" => {
                args.peak_tflops = Some(value()?.parse().map_err(|e| format!("{e}"))?);
            }
            _ => {
                return Err(format!(
                    "unknown argument {a}; expected --device, --torch, --paper, --peak-tflops, --peers"
                ));
            }
        }
    }
    Ok(args)
}

/// What one run measured.
struct Measured {
    tokens_per_s: f64,
    steps: u64,
    peak_mib: f64,
}

fn main() {
    // As the `unmt` binary does, so the figures are what a training node sees.
    unmt::backend::tune_cpu_allocator();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench_mlm: {e}");
            std::process::exit(2);
        }
    };
    let mut cases = vec![
        Case {
            key: "quickstart",
            name: "quickstart (64-d, 2 layers)",
            n_words: 2_217,
            dim: 64,
            layers: 2,
            heads: 4,
            bptt: 64,
            streams: 16,
            updates: 40,
        },
        Case {
            key: "small",
            name: "small (256-d, 4 layers)",
            n_words: 10_000,
            dim: 256,
            layers: 4,
            heads: 8,
            bptt: 128,
            streams: 32,
            updates: 10,
        },
    ];
    if args.paper {
        cases.push(Case {
            key: "paper",
            name: "paper (1024-d, 6 layers)",
            n_words: 32_000,
            dim: 1024,
            layers: 6,
            heads: 8,
            bptt: 256,
            streams: 32,
            updates: 2,
        });
    }
    println!("device: {}", args.device);
    print!(
        "| config | peers | params | batch (streams x bptt) | updates | tokens/s | s/update | GFLOP/s |"
    );
    if args.peak_tflops.is_some() {
        print!(" MFU |");
    }
    print!(" peak RSS MiB |");
    if args.torch.is_some() {
        // PyTorch's peak is its process's RSS on the CPU, `max_memory_allocated` on CUDA.
        print!(" PyTorch tokens/s | PyTorch peak MiB | unmt / PyTorch |");
    }
    println!();
    let columns =
        9 + usize::from(args.peak_tflops.is_some()) + 3 * usize::from(args.torch.is_some());
    println!("|{}", "---|".repeat(columns));
    let peer_counts: Vec<usize> = if args.peers > 1 {
        vec![1, args.peers]
    } else {
        vec![1]
    };
    for (c, peers) in cases
        .iter()
        .flat_map(|c| peer_counts.iter().map(move |&p| (c, p)))
    {
        let ours = match args.device {
            DeviceSpec::Cpu => run_unmt::<Autodiff<Cpu>>(c, peers, &Default::default()),
            #[cfg(feature = "cuda")]
            DeviceSpec::Cuda(i) => run_unmt::<Autodiff<unmt::backend::Cuda>>(
                c,
                peers,
                &burn::backend::cuda::CudaDevice::new(i),
            ),
            #[cfg(not(feature = "cuda"))]
            DeviceSpec::Cuda(_) => {
                eprintln!("bench_mlm: this build has no CUDA backend (--features cuda)");
                std::process::exit(2);
            }
        };
        let tokens = (c.streams * c.bptt) as f64;
        let s_per_update = tokens / ours.tokens_per_s;
        let flops = model_flops(c);
        let n_params = TransformerConfig::new(c.n_words, 2, c.dim, c.layers, c.heads).n_params();
        print!(
            "| {} | {} | {:.1}M | {} x {} | {} | {:.0} | {:.3} | {:.1} |",
            c.name,
            peers,
            n_params as f64 / 1e6,
            c.streams,
            c.bptt,
            ours.steps,
            ours.tokens_per_s,
            s_per_update,
            flops / s_per_update / 1e9,
        );
        if let Some(peak) = args.peak_tflops {
            print!(" {:.1}% |", 100.0 * flops / s_per_update / (peak * 1e12));
        }
        print!(" {:.0} |", ours.peak_mib);
        if let Some(python) = args.torch.as_ref().filter(|_| peers == 1) {
            match run_torch(python, c, &args) {
                Ok((tps, peak)) => {
                    print!(" {tps:.0} | {peak:.0} | {:.2}x |", ours.tokens_per_s / tps)
                }
                Err(e) => print!(" failed: {e} | | |"),
            }
        } else if args.torch.is_some() {
            print!(" (1 peer only) | | |");
        }
        println!();
    }
}

/// Model FLOPs of one update (see the module docs; `xlm_reference.py` counts the same).
fn model_flops(c: &Case) -> f64 {
    let tokens = (c.streams * c.bptt) as f64;
    let (d, h) = (c.dim as f64, 4.0 * c.dim as f64);
    let layer_params = 4.0 * (d * d + d) + (d * h + h) + (h * d + d);
    6.0 * c.layers as f64 * layer_params * tokens
        + 6.0 * 0.15 * tokens * c.n_words as f64 * d
        + 12.0 * c.layers as f64 * tokens * c.bptt as f64 * d
}

/// One epoch of `c.updates` updates (languages alternating) through `unmt::train::mlm::train`
/// on synthetic streams. Peak memory is the process's host RSS (on CUDA that is not the GPU's).
fn run_unmt<B: AutodiffBackend>(c: &Case, peers: usize, device: &B::Device) -> Measured {
    let mut state = 12345u64;
    let tokens: Vec<u32> = (0..c.streams * c.bptt * 8)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            14 + ((state >> 33) % (c.n_words as u64 - 14)) as u32
        })
        .collect();
    let lang = |name: &str| Language {
        name: name.to_owned(),
        train: Stream::new(&tokens, c.streams, c.bptt).expect("tokens"),
        valid: Stream::new(&tokens[..c.bptt * 2], 1, c.bptt).expect("tokens"),
    };
    let langs = [lang("en"), lang("mk")];
    let settings = MlmSettings {
        bptt: c.bptt,
        batch_size: c.streams,
        mask: MaskConfig {
            word_pred: 0.15,
            mask_keep_rand: [0.8, 0.1, 0.1],
            n_words: c.n_words as u32,
            sample_scores: None,
        },
        adam: AdamConfig::default(),
        clip_grad_norm: 5.0,
        epoch_size: c.updates * c.streams as u64,
        max_epochs: 1,
        patience: 10,
        seed: 0,
        freeze_embeddings: false,
        train_langs: vec![0, 1],
        eval_batch: 8,
        peers,
    };
    let init = ModelInit {
        config: TransformerConfig::new(c.n_words, 2, c.dim, c.layers, c.heads),
        reload: None,
        aligned: None,
        trainable: vec!["*".into()],
        row_masks: Vec::new(),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let files = RunFiles {
        dir: dir.path(),
        fingerprint: "bench",
        stop_after_epochs: None,
        stop_after_iterations: None,
    };
    let out = train::<B>(
        &settings,
        &langs,
        &init,
        &files,
        device,
        &mut |_: TrainEvent| {},
    )
    .expect("training");
    let r = &out.history[0];
    Measured {
        tokens_per_s: r.tokens_per_s,
        steps: r.steps,
        peak_mib: peak_rss_mib().unwrap_or(f64::NAN),
    }
}

/// The same configuration through `examples/xlm_reference.py bench`: (tokens/s, peak MiB).
fn run_torch(python: &str, c: &Case, args: &Args) -> Result<(f64, f64), String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/xlm_reference.py");
    let mut cmd = Command::new(python);
    cmd.args([script, "bench", "--json", "--warmup", "1", "--case", c.key])
        .args(["--updates", &c.updates.to_string()])
        .args(["--device", &args.device.to_string()]);
    if let Some(p) = args.peak_tflops {
        cmd.args(["--peak-tflops", &p.to_string()]);
    }
    let out = cmd.output().map_err(|e| format!("{python}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.lines().last().unwrap_or("no output").to_owned());
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value =
        serde_json::from_str(line.trim()).map_err(|e| format!("bad JSON from {script}: {e}"))?;
    let tps = v["tokens_per_s"].as_f64().ok_or("no tokens_per_s")?;
    let peak = v["peak_mem_mib"]
        .as_f64()
        .or(v["peak_rss_mib"].as_f64())
        .unwrap_or(f64::NAN);
    Ok((tps, peak))
}
