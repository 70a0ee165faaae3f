//! Numeric checks of the Burn modules against an independent f64 implementation written
//! straight from XLM's `transformer.py` (loops, no tensors), on the same parameters.

use std::collections::BTreeMap;

use burn::tensor::{Bool, Int, Tensor, TensorData};

use super::attention::AttentionMask;
use super::checkpoint::{HostTensor, named_parameters};
use super::{Batch, Transformer, TransformerConfig, TransformerInput};
use crate::backend::Cpu;

type P = BTreeMap<String, HostTensor>;

fn get<'a>(p: &'a P, name: &str) -> &'a HostTensor {
    p.get(name)
        .unwrap_or_else(|| panic!("no parameter {name}; have {:?}", p.keys()))
}

/// `x · W + b` with Burn's `[in, out]` weight layout.
fn linear(p: &P, name: &str, x: &[f64]) -> Vec<f64> {
    let w = get(p, &format!("{name}.weight"));
    let b = get(p, &format!("{name}.bias"));
    let (din, dout) = (w.shape[0], w.shape[1]);
    assert_eq!(x.len(), din);
    (0..dout)
        .map(|o| {
            f64::from(b.values[o])
                + (0..din)
                    .map(|i| x[i] * f64::from(w.values[i * dout + o]))
                    .sum::<f64>()
        })
        .collect()
}

fn layer_norm(p: &P, name: &str, x: &[f64]) -> Vec<f64> {
    let g = get(p, &format!("{name}.gamma"));
    let b = get(p, &format!("{name}.beta"));
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    x.iter()
        .enumerate()
        .map(|(i, v)| {
            (v - mean) / (var + 1e-12).sqrt() * f64::from(g.values[i]) + f64::from(b.values[i])
        })
        .collect()
}

/// Exact GELU from its definition, with `erf` by its Taylor series (|x| is small here).
fn gelu(x: f64) -> f64 {
    let z = x / std::f64::consts::SQRT_2;
    let mut term = z;
    let mut erf = 0.0;
    for n in 0..60 {
        erf += term / f64::from(2 * n + 1);
        term *= -z * z / f64::from(n + 1);
    }
    0.5 * x * (1.0 + erf * 2.0 / std::f64::consts::PI.sqrt())
}

fn row(t: &HostTensor, i: usize) -> Vec<f64> {
    let d = t.shape[1];
    t.values[i * d..(i + 1) * d]
        .iter()
        .map(|&v| f64::from(v))
        .collect()
}

/// Self-attention of one sequence `h` (`len x dim`) with `pad[j]` keys hidden.
fn attention(p: &P, name: &str, h: &[Vec<f64>], pad: &[bool], heads: usize) -> Vec<Vec<f64>> {
    let dim = h[0].len();
    let hd = dim / heads;
    let q: Vec<Vec<f64>> = h
        .iter()
        .map(|x| linear(p, &format!("{name}.q_lin"), x))
        .collect();
    let k: Vec<Vec<f64>> = h
        .iter()
        .map(|x| linear(p, &format!("{name}.k_lin"), x))
        .collect();
    let v: Vec<Vec<f64>> = h
        .iter()
        .map(|x| linear(p, &format!("{name}.v_lin"), x))
        .collect();
    let mut ctx = vec![vec![0.0; dim]; h.len()];
    for hh in 0..heads {
        let r = hh * hd..(hh + 1) * hd;
        for i in 0..h.len() {
            let scores: Vec<f64> = (0..h.len())
                .map(|j| {
                    if pad[j] {
                        f64::NEG_INFINITY
                    } else {
                        r.clone().map(|c| q[i][c] * k[j][c]).sum::<f64>() / (hd as f64).sqrt()
                    }
                })
                .collect();
            let m = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
            let z: f64 = e.iter().sum();
            for c in r.clone() {
                ctx[i][c] = (0..h.len()).map(|j| e[j] / z * v[j][c]).sum();
            }
        }
    }
    ctx.iter()
        .map(|x| linear(p, &format!("{name}.out_lin"), x))
        .collect()
}

/// XLM's encoder forward for one sequence, in eval mode.
fn reference_forward(
    p: &P,
    tokens: &[usize],
    lang: usize,
    pad: &[bool],
    c: &TransformerConfig,
) -> Vec<Vec<f64>> {
    let emb = get(p, "embeddings.weight");
    let pos = get(p, "position_embeddings.weight");
    let langs = get(p, "lang_embeddings.weight");
    let keep = |x: Vec<f64>, i: usize| if pad[i] { vec![0.0; x.len()] } else { x };
    let mut h: Vec<Vec<f64>> = tokens
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let s: Vec<f64> = (0..c.dim)
                .map(|d| row(emb, t)[d] + row(pos, i)[d] + row(langs, lang)[d])
                .collect();
            keep(layer_norm(p, "layer_norm_emb", &s), i)
        })
        .collect();
    for l in 0..c.n_layers {
        let a = attention(p, &format!("layers.{l}.attention"), &h, pad, c.n_heads);
        let h1: Vec<Vec<f64>> = h
            .iter()
            .zip(&a)
            .map(|(x, y)| {
                let s: Vec<f64> = x.iter().zip(y).map(|(u, v)| u + v).collect();
                layer_norm(p, &format!("layers.{l}.layer_norm1"), &s)
            })
            .collect();
        h = h1
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let f: Vec<f64> = linear(p, &format!("layers.{l}.ffn.lin1"), x)
                    .into_iter()
                    .map(gelu)
                    .collect();
                let f = linear(p, &format!("layers.{l}.ffn.lin2"), &f);
                let s: Vec<f64> = x.iter().zip(&f).map(|(u, v)| u + v).collect();
                keep(layer_norm(p, &format!("layers.{l}.layer_norm2"), &s), i)
            })
            .collect();
    }
    h
}

fn tiny_model() -> (TransformerConfig, Transformer<Cpu>) {
    let mut c = TransformerConfig::new(40, 2, 8, 2, 2);
    c.dropout = 0.0;
    c.attention_dropout = 0.0;
    let device = Default::default();
    let model = c.init::<Cpu>(&device);
    (c, model)
}

fn ints(v: &[i64], shape: [usize; 2]) -> Tensor<Cpu, 2, Int> {
    Tensor::from_data(TensorData::new(v.to_vec(), shape), &Default::default())
}

fn assert_close(burn: &[f32], reference: &[f64], tol: f64, what: &str) {
    assert_eq!(burn.len(), reference.len(), "{what}: length");
    for (i, (&b, &r)) in burn.iter().zip(reference).enumerate() {
        assert!(
            (f64::from(b) - r).abs() <= tol,
            "{what}[{i}]: burn {b} vs reference {r}"
        );
    }
}

#[test]
fn gelu_is_the_exact_erf_form() {
    // Python: 0.5 * x * (1 + math.erf(x / math.sqrt(2))); the tanh form gives 0.841192 at 1.
    let x = Tensor::<Cpu, 1>::from_floats([1.0, -0.5, 2.5], &Default::default());
    let y = burn::tensor::activation::gelu(x)
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    assert_close(
        &y,
        &[
            0.841_344_746_068_542_9,
            -0.154_268_769_362_993_44,
            2.484_475_836_685_559_7,
        ],
        2e-6,
        "gelu",
    );
    assert!((gelu(1.0) - 0.841_344_746_068_542_9).abs() < 1e-12);
}

#[test]
fn parameter_names_follow_the_module_tree() {
    let (_, model) = tiny_model();
    let names: Vec<String> = named_parameters(&model).into_keys().collect();
    for n in [
        "embeddings.weight",
        "position_embeddings.weight",
        "lang_embeddings.weight",
        "layer_norm_emb.gamma",
        "layers.1.attention.q_lin.weight",
        "layers.0.ffn.lin2.bias",
        "layers.0.layer_norm2.beta",
        "pred_bias",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
}

#[test]
fn pad_row_starts_at_zero_and_embeddings_have_xlm_scale() {
    let mut c = TransformerConfig::new(2000, 1, 64, 1, 4);
    c.dropout = 0.0;
    let model = c.init::<Cpu>(&Default::default());
    let p = named_parameters(&model);
    let emb = get(&p, "embeddings.weight");
    assert!(row(emb, c.pad_index).iter().all(|&v| v == 0.0));
    let n = emb.values.len() as f64;
    let var = emb
        .values
        .iter()
        .map(|&v| f64::from(v).powi(2))
        .sum::<f64>()
        / n;
    assert!((var - 1.0 / 64.0).abs() < 0.1 / 64.0, "variance {var}");
    assert!(
        !p.contains_key("lang_embeddings.weight"),
        "one language has no lang embedding"
    );
}

#[test]
fn embedding_block_matches_reference_with_padding() {
    let (c, model) = tiny_model();
    let p = named_parameters(&model);
    let tokens = [1usize, 17, 23, 2];
    let pad = [false, false, false, true];
    let batch = Batch {
        tokens: ints(&[1, 17, 23, 2], [1, 4]),
        langs: Some(ints(&[1, 1, 1, 1], [1, 4])),
        padding: Some(Tensor::<Cpu, 2, Bool>::from_data(
            TensorData::new(pad.to_vec(), [1, 4]),
            &Default::default(),
        )),
    };
    let got = model.embed(&batch).into_data().to_vec::<f32>().unwrap();
    let emb = get(&p, "embeddings.weight");
    let pos = get(&p, "position_embeddings.weight");
    let lang = get(&p, "lang_embeddings.weight");
    let mut want = Vec::new();
    for (i, &t) in tokens.iter().enumerate() {
        let s: Vec<f64> = (0..c.dim)
            .map(|d| row(emb, t)[d] + row(pos, i)[d] + row(lang, 1)[d])
            .collect();
        let y = layer_norm(&p, "layer_norm_emb", &s);
        want.extend(if pad[i] { vec![0.0; c.dim] } else { y });
    }
    assert_close(&got, &want, 1e-5, "embed");
}

#[test]
fn attention_matches_reference_and_ignores_padded_keys() {
    let (c, model) = tiny_model();
    let p = named_parameters(&model);
    let device = Default::default();
    let values: Vec<f32> = (0..3 * c.dim)
        .map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0)
        .collect();
    let x = Tensor::<Cpu, 3>::from_data(TensorData::new(values.clone(), [1, 3, c.dim]), &device);
    let pad = [false, false, true];
    let mask = Tensor::<Cpu, 2, Bool>::from_data(TensorData::new(pad.to_vec(), [1, 3]), &device);
    let attn = &model.layers[0].attention;
    let got = attn.forward(
        x.clone(),
        x.clone(),
        Some(mask.clone()),
        AttentionMask::Full,
    );
    let h: Vec<Vec<f64>> = values
        .chunks(c.dim)
        .map(|r| r.iter().map(|&v| f64::from(v)).collect())
        .collect();
    let want: Vec<f64> = attention(&p, "layers.0.attention", &h, &pad, c.n_heads).concat();
    assert_close(
        &got.into_data().to_vec::<f32>().unwrap(),
        &want,
        1e-5,
        "attention",
    );

    // Changing the padded key's content changes nothing for the real positions.
    let mut other = values.clone();
    for v in &mut other[2 * c.dim..] {
        *v += 3.0;
    }
    let x2 = Tensor::<Cpu, 3>::from_data(TensorData::new(other, [1, 3, c.dim]), &device);
    let a = attn
        .forward(x.clone(), x, Some(mask.clone()), AttentionMask::Full)
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    let b = attn
        .forward(x2.clone(), x2, Some(mask), AttentionMask::Full)
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    assert_eq!(a[..2 * c.dim], b[..2 * c.dim]);
}

#[test]
fn whole_encoder_matches_reference() {
    let (c, model) = tiny_model();
    let p = named_parameters(&model);
    let seqs: [([usize; 5], [bool; 5]); 2] = [
        ([1, 20, 21, 22, 1], [false; 5]),
        ([1, 30, 1, 2, 2], [false, false, false, true, true]),
    ];
    let tokens: Vec<i64> = seqs
        .iter()
        .flat_map(|(t, _)| t.iter().map(|&x| x as i64))
        .collect();
    let pads: Vec<bool> = seqs.iter().flat_map(|(_, m)| m.iter().copied()).collect();
    let batch = Batch {
        tokens: ints(&tokens, [2, 5]),
        langs: Some(ints(&[0, 0, 0, 0, 0, 1, 1, 1, 1, 1], [2, 5])),
        padding: Some(Tensor::from_data(
            TensorData::new(pads, [2, 5]),
            &Default::default(),
        )),
    };
    let got = model
        .forward(TransformerInput::encoder(&batch))
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    let want: Vec<f64> = seqs
        .iter()
        .enumerate()
        .flat_map(|(lang, (t, m))| reference_forward(&p, t, lang, m, &c).concat())
        .collect();
    assert_close(&got, &want, 1e-4, "encoder");
}

#[test]
fn output_projection_is_tied_with_its_own_bias() {
    let (c, model) = tiny_model();
    let p = named_parameters(&model);
    let h: Vec<f32> = (0..2 * c.dim).map(|i| (i as f32 - 7.0) / 9.0).collect();
    let x =
        Tensor::<Cpu, 2>::from_data(TensorData::new(h.clone(), [2, c.dim]), &Default::default());
    let got = model.predict(x).into_data().to_vec::<f32>().unwrap();
    let emb = get(&p, "embeddings.weight");
    let bias = get(&p, "pred_bias");
    let want: Vec<f64> = h
        .chunks(c.dim)
        .flat_map(|r| {
            (0..c.n_words).map(move |w| {
                f64::from(bias.values[w])
                    + r.iter()
                        .zip(row(emb, w))
                        .map(|(&a, b)| f64::from(a) * b)
                        .sum::<f64>()
            })
        })
        .collect();
    assert_close(&got, &want, 1e-5, "scores");
}

/// A decoder, its encoder memory (3 source rows, lengths 5, 2, 4) and 3 target rows of 6.
fn decoder_setup() -> (Transformer<Cpu>, super::layer::Memory<Cpu>, Vec<i64>) {
    let mut c = TransformerConfig::new(40, 2, 8, 2, 2);
    c.dropout = 0.0;
    c.attention_dropout = 0.0;
    let device = Default::default();
    let encoder = c.init::<Cpu>(&device);
    let decoder = c.init_decoder::<Cpu>(&device);
    let src_pad = [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1].map(|p| p == 1);
    let src = Batch {
        tokens: ints(
            &[20, 21, 22, 23, 24, 25, 26, 2, 2, 2, 27, 28, 29, 30, 2],
            [3, 5],
        ),
        langs: Some(ints(&[0; 15], [3, 5])),
        padding: Some(Tensor::<Cpu, 2, Bool>::from_data(
            TensorData::new(src_pad.to_vec(), [3, 5]),
            &device,
        )),
    };
    let memory = super::layer::Memory {
        states: encoder.forward(TransformerInput::encoder(&src)),
        padding: src.padding,
    };
    let tgt = vec![
        1, 31, 32, 33, 34, 35, 1, 36, 37, 38, 39, 14, 1, 15, 16, 17, 18, 19,
    ];
    (decoder, memory, tgt)
}

fn full_decode(
    decoder: &Transformer<Cpu>,
    memory: &super::layer::Memory<Cpu>,
    tgt: &[i64],
    rows: usize,
) -> Vec<f32> {
    let len = tgt.len() / rows;
    let batch = Batch {
        tokens: ints(tgt, [rows, len]),
        langs: Some(ints(&vec![1; tgt.len()], [rows, len])),
        padding: None,
    };
    let h = decoder.forward(TransformerInput::decoder(&batch, memory));
    h.into_data().to_vec::<f32>().expect("f32")
}

/// Columns `range` of a `[rows, 6]` target, flattened.
fn columns(tgt: &[i64], range: std::ops::Range<usize>) -> Vec<i64> {
    tgt.chunks(6)
        .flat_map(|r| r[range.clone()].to_vec())
        .collect()
}

#[test]
fn incremental_decoding_equals_the_full_causal_forward() {
    let (decoder, memory, tgt) = decoder_setup();
    let full = full_decode(&decoder, &memory, &tgt, 3);
    // Steps of 1, 2, 1 and 2 positions, as beam search (1) or a prompt (>1) would feed them.
    let mut cache = super::DecoderCache::new();
    let mut steps: Vec<Vec<f32>> = Vec::new();
    let mut start = 0;
    for n in [1, 2, 1, 2] {
        let toks = columns(&tgt, start..start + n);
        let h = decoder.forward_incremental(
            ints(&toks, [3, n]),
            Some(ints(&vec![1; toks.len()], [3, n])),
            Some(&memory),
            &mut cache,
        );
        steps.push(h.into_data().to_vec::<f32>().expect("f32"));
        start += n;
        assert_eq!(cache.len(), start);
    }
    // Reassemble [3, 6, dim] from the per-step [3, n, dim] outputs.
    let dim = 8;
    let mut inc = Vec::new();
    for r in 0..3 {
        for (s, n) in [1, 2, 1, 2].into_iter().enumerate() {
            inc.extend_from_slice(&steps[s][r * n * dim..(r + 1) * n * dim]);
        }
    }
    let full: Vec<f64> = full.iter().map(|&v| f64::from(v)).collect();
    assert_close(&inc, &full, 1e-5, "incremental vs full");
}

#[test]
fn selecting_cache_rows_continues_the_chosen_hypotheses() {
    let (decoder, memory, tgt) = decoder_setup();
    let mut cache = super::DecoderCache::new();
    let prefix = columns(&tgt, 0..3);
    decoder.forward_incremental(
        ints(&prefix, [3, 3]),
        Some(ints(&[1; 9], [3, 3])),
        Some(&memory),
        &mut cache,
    );
    // Keep hypotheses 2, 0, 0 (one twice), then feed each a different next token.
    let rows = Tensor::<Cpu, 1, Int>::from_data(
        TensorData::new(vec![2i64, 0, 0], [3]),
        &Default::default(),
    );
    let mut cache = cache.select(rows.clone());
    let memory = super::layer::Memory {
        states: memory.states.clone().select(0, rows.clone()),
        padding: memory.padding.clone().map(|p| p.select(0, rows)),
    };
    let next = [20i64, 21, 22];
    let h = decoder.forward_incremental(
        ints(&next, [3, 1]),
        Some(ints(&[1; 3], [3, 1])),
        Some(&memory),
        &mut cache,
    );
    let got = h.into_data().to_vec::<f32>().expect("f32");
    // The same rows decoded from scratch: prefix of the chosen row + its next token.
    let mut full_tgt = Vec::new();
    for (i, &r) in [2usize, 0, 0].iter().enumerate() {
        full_tgt.extend_from_slice(&prefix[r * 3..r * 3 + 3]);
        full_tgt.push(next[i]);
    }
    let full = full_decode(&decoder, &memory, &full_tgt, 3);
    let dim = 8;
    let last: Vec<f64> = (0..3)
        .flat_map(|r| full[(r * 4 + 3) * dim..(r * 4 + 4) * dim].to_vec())
        .map(f64::from)
        .collect();
    assert_close(&got, &last, 1e-5, "selected rows");
}

#[test]
fn decoder_layers_have_cross_attention_and_encoder_layers_do_not() {
    let c = TransformerConfig::new(40, 2, 8, 2, 2);
    let device = Default::default();
    let names = |m: &Transformer<Cpu>| named_parameters(m).into_keys().collect::<Vec<_>>();
    let enc = names(&c.init::<Cpu>(&device));
    let dec = names(&c.init_decoder::<Cpu>(&device));
    assert!(!enc.iter().any(|n| n.contains(".cross.")));
    assert!(dec.contains(&"layers.1.cross.attention.k_lin.weight".to_owned()));
    assert!(dec.contains(&"layers.1.cross.layer_norm.gamma".to_owned()));
    assert!(enc.iter().all(|n| dec.contains(n)));
}

#[test]
fn causal_forward_ignores_later_tokens_and_sees_earlier_ones() {
    let (_, model) = tiny_model();
    let run = |toks: &[i64]| {
        let batch = Batch {
            tokens: ints(toks, [1, 4]),
            langs: None,
            padding: None,
        };
        model
            .forward(TransformerInput::causal(&batch))
            .into_data()
            .to_vec::<f32>()
            .expect("f32")
    };
    let a = run(&[20, 21, 22, 23]);
    let later_changed = run(&[20, 21, 30, 31]);
    let earlier_changed = run(&[25, 21, 22, 23]);
    let dim = 8;
    assert_eq!(
        a[..2 * dim],
        later_changed[..2 * dim],
        "positions 0-1 saw the future"
    );
    assert_ne!(a[2 * dim..], later_changed[2 * dim..]);
    assert_ne!(
        a[dim..2 * dim],
        earlier_changed[dim..2 * dim],
        "position 1 ignored position 0"
    );
}

/// RE-LM adapters are residual: with their output layer at zero the model computes exactly
/// what it computes without them; otherwise they change the output. The parameter count
/// includes them.
#[test]
fn adapters_are_residual_bottlenecks_after_attention_and_ffn() {
    let (c, plain) = tiny_model();
    let mut ca = c.clone();
    ca.adapter_size = Some(3);
    let device = Default::default();
    let adapted = ca.init::<Cpu>(&device);
    let mut p = named_parameters(&adapted);
    let total: usize = p.values().map(|t| t.values.len()).sum();
    assert_eq!(total, ca.n_params());
    assert!(
        p.contains_key("layers.1.adapter_attn.lin1.weight"),
        "{:?}",
        p.keys()
    );
    assert!(p.contains_key("layers.0.adapter_ffn.lin2.bias"));
    let shared = named_parameters(&plain);
    for (name, t) in &shared {
        p.insert(name.clone(), t.clone());
    }
    let batch = Batch {
        tokens: ints(&[1, 20, 21, 22, 1, 1, 30, 1, 2, 2], [2, 5]),
        langs: Some(ints(&[0, 0, 0, 0, 0, 1, 1, 1, 1, 1], [2, 5])),
        padding: None,
    };
    let run = |m: &Transformer<Cpu>| {
        m.forward(TransformerInput::encoder(&batch))
            .into_data()
            .to_vec::<f32>()
            .unwrap()
    };
    let want = run(&plain);
    let mut zeroed = p.clone();
    for (name, t) in zeroed.iter_mut() {
        if name.contains(".adapter_") && name.contains(".lin2.") {
            t.values.fill(0.0);
        }
    }
    let identity = super::checkpoint::load_parameters(ca.init::<Cpu>(&device), &zeroed).unwrap();
    assert_eq!(run(&identity), want);
    let active = super::checkpoint::load_parameters(ca.init::<Cpu>(&device), &p).unwrap();
    assert_ne!(run(&active), want);
}
