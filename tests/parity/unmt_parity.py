"""Parity of unmt's UNMT pieces with XLM's PyTorch code.

The reference is `examples/xlm_reference.py`, a port of facebookresearch/XLM's
`build_model` (`--reload_model 'mlm.pth,mlm.pth'`), `Trainer.add_noise`,
`TransformerModel.generate` (greedy) and `EncDecTrainer.mt_step`/`bt_step`, run in float64.
The unmt side is `examples/unmt_parity_dump` (the CPU backend, float32, the functions UNMT
training uses): it draws an MLM, builds the encoder-decoder from it (`from_mlm`), and dumps
its weights, noise outputs, greedy translations and the AE and BT losses with their
gradients. The port then gets the same weights (`encoder_decoder_from_mlm` from the MLM, then
`load_unmt_weights` with unmt's encoder-decoder) and the same inputs and draws.

Env: UNMT_PARITY_DUMP (the example binary; default: beside $UNMT, else
     target/debug/examples/unmt_parity_dump).

Checks, for two configurations (XLM's kept language embeddings; RE-LM's fresh ones):
 (a) noise: Python's RandomState draws replayed by unmt's `add_noise`, and unmt's own draws
     (fallbacks a lazy list, one per sentence that lost every word) fed to Python's
     `add_noise` (`fallback_draw` a callable consuming that list): identical sentences;
 (b) the encoder-decoder: encoder = the MLM, decoder = the MLM + fresh cross-attention and
     LayerNorm, separate embedding tables, language embeddings kept or re-initialised;
 (c) greedy translations token for token (BT's max_len, with both `</s>`-ended and forced
     sentences; validation's max_len in the other direction);
 (d) the AE loss (relative 1e-5) and every parameter's gradient (relative 1e-4, floored at
     1e-3 of the largest gradient, as tests/parity/xlm_parity.py);
 (e) the BT translations, loss and gradients, likewise;
 (f) beam search (XLM's `generate_beam`, beam 1, 2, 3, 5, length penalties 0 to 2, with and
     without early stopping): the same hypotheses token for token and scores within 1e-5;
     beam 1 with early stopping equals greedy. (Without early stopping XLM's beam 1 is not
     greedy: a `</s>` candidate is set aside and the second-best word kept live, and a longer
     hypothesis may later score better per token.)
Dropout is 0. One line per check, then a summary; exit 1 on any failure. A few seconds.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
import xlm_reference as ref  # noqa: E402

UNMT = os.environ.get("UNMT", "target/debug/unmt")
DUMP = os.environ.get(
    "UNMT_PARITY_DUMP", os.path.join(os.path.dirname(UNMT), "examples", "unmt_parity_dump")
)
PAD_INDEX, EOS_INDEX, FIRST_WORD = ref.PAD_INDEX, ref.EOS_INDEX, 14
LOSS_TOL, GRAD_TOL = 1e-5, 1e-4

CONFIGS = {
    "2 langs, gelu, 4 heads, 2 layers, XLM's language embeddings": (
        dict(n_words=61, n_langs=2, dim=32, n_layers=2, n_heads=4, hidden_dim=128, dropout=0.0,
             attention_dropout=0.0, gelu_activation=True, max_positions=512,
             pad_index=PAD_INDEX),
        False,
    ),
    "2 langs, relu, 3 heads, 1 layer, RE-LM's fresh language embeddings": (
        dict(n_words=47, n_langs=2, dim=24, n_layers=1, n_heads=3, hidden_dim=96, dropout=0.0,
             attention_dropout=0.0, gelu_activation=False, max_positions=64,
             pad_index=PAD_INDEX),
        True,
    ),
}
# the dump's MLM has its linear weights scaled up so that greedy translations are not one token
# repeated (XLM's init keeps the residual stream close to the input embedding)
MLM_LINEAR_SCALE = 3.0
# offsets of the </s> output bias tried, smallest first, until greedy translations both end by
# </s> and get it forced (a random MLM's tied output tends to repeat its input token)
# beam searches compared: (beam_size, length_penalty, early_stopping)
BEAMS = [(1, 1.0, True), (1, 1.0, False), (2, 1.0, False), (5, 1.0, False), (5, 0.0, False), (5, 2.0, False),
         (3, 0.6, True)]
SCORE_TOL = 1e-5
EOS_BIASES = [s * 0.02 * k for k in range(500) for s in ((1,) if k == 0 else (1, -1))]


class Report:
    def __init__(self):
        self.n, self.failures = 0, 0

    def check(self, what, ok, detail=""):
        self.n += 1
        self.failures += not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail else ''}", flush=True)

    def close(self, what, diff, tol):
        self.check(what, diff <= tol, f"max diff {diff:.2e} (tolerance {tol:.0e})")


def xlm_batch(sentences):
    """XLM's `[slen, bs]` layout of full sentences (`</s> w.. </s>`), padded."""
    lengths = torch.tensor([len(s) for s in sentences])
    x = torch.full((int(lengths.max()), len(sentences)), PAD_INDEX, dtype=torch.long)
    for i, s in enumerate(sentences):
        x[: len(s), i] = torch.tensor(s)
    return x, lengths


def columns(x, lengths):
    return [x[: int(lengths[i]), i].tolist() for i in range(lengths.size(0))]


def noise_args(cfg):
    return cfg["word_shuffle"], cfg["word_dropout"], cfg["word_blank"]


def python_noise(sentences, cfg, seed):
    """Python's add_noise from a RandomState, and its draws in unmt's `Draws` form."""
    x, lengths = xlm_batch(sentences)
    y, yl, d = ref.add_noise(x, lengths, *noise_args(cfg), rng=np.random.RandomState(seed),
                             return_draws=True)
    as_list = lambda a: None if a is None else a.tolist()
    fallbacks = [] if d["fallback_draw"] is None else [int(j) for j in d["fallback_draw"] if j >= 0]
    draws = dict(shuffle_noise=as_list(d["shuffle_noise"]), keep_draw=as_list(d["keep_draw"]),
                 fallbacks=fallbacks, blank_draw=as_list(d["blank_draw"]))
    return columns(y, yl), draws


def replay_in_python(sentences, cfg, draws):
    """Python's add_noise fed unmt's draws; unmt's lazy fallback list becomes a callable that
    consumes it in batch order (Python's own form has one entry per sentence, -1 where
    nothing is drawn). Returns the sentences and whether every fallback was consumed."""
    x, lengths = xlm_batch(sentences)
    fallbacks = iter(draws["fallbacks"])
    arr = lambda a: None if a is None else np.array(a, dtype=np.float64)
    y, yl = ref.add_noise(x, lengths, *noise_args(cfg), shuffle_noise=arr(draws["shuffle_noise"]),
                          keep_draw=arr(draws["keep_draw"]),
                          fallback_draw=lambda i, n_words: next(fallbacks),
                          blank_draw=arr(draws["blank_draw"]))
    return columns(y, yl), next(fallbacks, None) is None


def make_spec(config, reinit, seed):
    rng = random.Random(seed)
    n_words = config["n_words"]
    sentences = lambda lengths: [
        [EOS_INDEX] + [rng.randrange(FIRST_WORD, n_words) for _ in range(n)] + [EOS_INDEX]
        for n in lengths
    ]
    # many one-word sentences at p_drop 0.5: fallbacks are likely (checked below)
    noise_cfg = dict(word_shuffle=3.0, word_dropout=0.5, word_blank=0.3)
    noise_batch = sentences((1, 1, 2, 4, 1, 6, 3, 1))
    python_output, python_draws = python_noise(noise_batch, noise_cfg, seed)
    spec = dict(
        config=config, mlm_seed=seed, model_seed=seed + 1, reinit_lang_embeddings=reinit,
        mlm_linear_scale=MLM_LINEAR_SCALE, eos_biases=EOS_BIASES,
        noise=dict(config=noise_cfg, batch=noise_batch, python_draws=python_draws, seed=seed),
        ae=dict(lang=1, sentences=sentences((4, 2, 7, 3, 9)),
                noise=dict(word_shuffle=3.0, word_dropout=0.1, word_blank=0.1), seed=seed + 2),
        bt=dict(src_lang=0, tgt_lang=1, sentences=sentences((5, 1, 8, 3, 6, 2))),
        beams=[dict(beam_size=b, length_penalty=lp, early_stopping=es) for b, lp, es in BEAMS],
    )
    return spec, python_output


def run_dump(spec, tmp):
    spec_path, out = os.path.join(tmp, "spec.json"), os.path.join(tmp, "out")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    subprocess.run([DUMP, spec_path, out], check=True)
    tensors = lambda name: {k: v.double() for k, v in load_file(os.path.join(out, name)).items()}
    with open(os.path.join(out, "outputs.json")) as f:
        outputs = json.load(f)
    return (tensors("mlm.safetensors"), tensors("model_init.safetensors"),
            tensors("model.safetensors"), tensors("grads.safetensors"), outputs)


def group(tensors, prefix):
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def check_noise(report, spec, python_output, out):
    n = spec["noise"]
    report.check("noise: unmt replays Python's RandomState draws to Python's output",
                 out["noise"]["replayed"] == python_output and len(n["python_draws"]["fallbacks"]) > 0,
                 f"{len(n['python_draws']['fallbacks'])} fallback draws")
    ours = out["noise"]["draws"]
    got, consumed = replay_in_python(n["batch"], n["config"], ours)
    report.check("noise: Python replays unmt's draws to unmt's output",
                 got == out["noise"]["output"] and consumed and len(ours["fallbacks"]) > 0,
                 f"{len(ours['fallbacks'])} fallback draws, all consumed: {consumed}")
    a = spec["ae"]
    got, consumed = replay_in_python(a["sentences"], a["noise"], out["ae"]["draws"])
    report.check("noise: Python replays the AE step's draws to unmt's noised batch (paper noise)",
                 got == out["ae"]["noisy"] and consumed and got != a["sentences"])


def is_cross(name):
    parts = name.split(".")
    return parts[0] == "layers" and parts[2] == "cross"


def check_model(report, config, reinit, mlm, init):
    """(b): unmt's from_mlm against XLM's reload rule; returns the port built from the MLM."""
    enc, dec = group(init, "encoder."), group(init, "decoder.")
    lang = "lang_embeddings.weight"
    kept = lambda n: not (reinit and n == lang)
    enc_ok = set(enc) == set(mlm) and all(torch.equal(enc[n], mlm[n]) for n in mlm if kept(n))
    dec_ok = set(dec) == set(mlm) | {n for n in dec if is_cross(n)}
    dec_ok &= all(torch.equal(dec[n], mlm[n]) for n in mlm if kept(n))
    bound = config["dim"] ** -0.5
    fresh = all(
        torch.equal(dec[f"layers.{i}.cross.layer_norm.gamma"], torch.ones(config["dim"]).double())
        and torch.equal(dec[f"layers.{i}.cross.layer_norm.beta"], torch.zeros(config["dim"]).double())
        and all(dec[f"layers.{i}.cross.attention.{lin}.weight"].abs().max() <= bound
                and not torch.equal(dec[f"layers.{i}.cross.attention.{lin}.weight"],
                                    dec[f"layers.{i}.attention.{lin}.weight"])
                for lin in ("q_lin", "k_lin", "v_lin", "out_lin"))
        for i in range(config["n_layers"])
    )
    n_cross = sum(is_cross(n) for n in dec)
    report.check("encoder-decoder: encoder = MLM, decoder = MLM + fresh cross-attention/LN15",
                 enc_ok and dec_ok and fresh and n_cross == 10 * config["n_layers"],
                 f"{len(enc)} encoder tensors, {n_cross} decoder-only")
    if reinit:
        ok = not torch.equal(enc[lang], mlm[lang]) and not torch.equal(dec[lang], mlm[lang])
        ok &= not torch.equal(enc[lang], dec[lang])
        std = enc[lang].std().item()
        report.check("encoder-decoder: RE-LM's language embeddings, fresh in each model",
                     ok and 0.5 * bound < std < 2 * bound,
                     f"std {std:.3f}, XLM's init {bound:.3f}")
    else:
        report.check("encoder-decoder: XLM keeps the MLM's language embeddings",
                     torch.equal(enc[lang], mlm[lang]) and torch.equal(dec[lang], mlm[lang]))
    # the port's own build from the same MLM agrees wherever XLM's rule fixes the values
    p_enc, p_dec = ref.encoder_decoder_from_mlm(config, unmt_tensors=mlm, dtype=torch.float64)
    same = lambda model, ours: all(
        torch.equal(ref.to_xlm_layout(n, t), dict(model.named_parameters())[ref.xlm_name(n)])
        for n, t in ours.items() if not is_cross(n) and kept(n))
    report.check("encoder-decoder: the port's encoder_decoder_from_mlm gives the same weights",
                 same(p_enc, enc) and same(p_dec, dec)
                 and p_enc.embeddings.weight.data_ptr() != p_dec.embeddings.weight.data_ptr())
    return p_enc, p_dec


def check_greedy(report, spec, enc, dec, out):
    """(c), with the port's encoder/decoder holding unmt's weights."""
    bt, g = spec["bt"], out["greedy"]
    x1, len1 = xlm_batch(bt["sentences"])
    max_len = int(1.3 * len1.max().item() + 5)

    def generate(src_lang, tgt_lang, max_len):
        with torch.no_grad():
            enc.eval()
            e = enc.fwd(x1.t(), len1, causal=False, langs=torch.full_like(x1.t(), src_lang))
            gen, glen = ref.generate_greedy(dec, e, len1, tgt_lang, max_len)
        return columns(gen, glen)

    theirs = generate(bt["src_lang"], bt["tgt_lang"], max_len)
    early = sum(len(s) < max_len for s in theirs)
    report.check("greedy: unmt's translations = XLM's generate, token for token",
                 g["generated"] == theirs and g["max_len"] == max_len and 0 < early < len(theirs),
                 f"{early} of {len(theirs)} ended by </s> before max_len={max_len}, the rest "
                 f"forced (</s> output bias {g['eos_bias']:+g}); lengths {[len(s) for s in theirs]}, "
                 f"e.g. {max(theirs, key=len)}")
    valid_len = int(1.5 * len1.max().item() + 10)
    theirs = generate(bt["tgt_lang"], bt["src_lang"], valid_len)
    report.check("greedy: the other direction at validation's max_len",
                 g["valid_generated"] == theirs and g["valid_max_len"] == valid_len,
                 f"max_len={valid_len}, lengths {[len(s) for s in theirs]}")


def check_beams(report, spec, enc, dec, out):
    """(f) beam search: XLM's generate_beam on the same weights and batch, token for token and
    score for score; beam 1 with early stopping is greedy."""
    bt = spec["bt"]
    x1, len1 = xlm_batch(bt["sentences"])
    max_len = int(1.5 * len1.max().item() + 10)
    with torch.no_grad():
        enc.eval()
        e = enc.fwd(x1.t(), len1, causal=False, langs=torch.full_like(x1.t(), bt["src_lang"]))
        greedy = columns(*ref.generate_greedy(dec, e, len1, bt["tgt_lang"], max_len))
    for (beam, lp, early), ours in zip(BEAMS, out["beams"]):
        with torch.no_grad():
            gen, glen, scores = ref.generate_beam(dec, e, len1, bt["tgt_lang"], beam, lp, early,
                                                  max_len)
        theirs = columns(gen, glen)
        diff = max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(ours["scores"], scores))
        what = f"beam {beam}, length_penalty {lp}, early_stopping {early}"
        report.check(f"{what}: unmt's hypotheses = XLM's generate_beam, token for token",
                     ours["tokens"] == theirs and ours["max_len"] == max_len,
                     f"lengths {[len(t) for t in theirs]}")
        report.close(f"{what}: scores", diff, SCORE_TOL)
        if beam == 1 and early:
            report.check("beam 1 with early stopping = greedy (both implementations)",
                         theirs == greedy == ours["tokens"])


def check_gradients(report, what, ours, models):
    """Every parameter's gradient, relative to its largest, floored at 1e-3 of the largest
    anywhere (xlm_parity.py's rule: e.g. key biases' gradients are rounding noise)."""
    theirs = {f"{part}.{ref._unmt_name(n)}": (n, p.grad) for part, m in models.items()
              for n, p in m.named_parameters() if p.grad is not None}
    if set(ours) != set(theirs):
        report.check(f"{what}: the same parameters have gradients", False,
                     f"only unmt: {sorted(set(ours) - set(theirs))}, "
                     f"only XLM: {sorted(set(theirs) - set(ours))}")
        return
    top = max(g.abs().max().item() for _, g in theirs.values())
    worst, where = 0.0, ""
    for name, g in ours.items():
        _, ref_g = theirs[name]
        floor = max(ref_g.abs().max().item(), 1e-3 * top)
        diff = (ref.to_xlm_layout(name.split(".", 1)[1], g) - ref_g).abs().max().item() / floor
        if diff > worst:
            worst, where = diff, name
    report.check(f"{what}: every parameter's gradient (relative)", worst <= GRAD_TOL,
                 f"{len(ours)} tensors, max diff {worst:.2e} at {where} (tolerance {GRAD_TOL:.0e})")


def check_steps(report, spec, enc, dec, out, grads):
    """(d) and (e)."""
    models = {"encoder": enc, "decoder": dec}

    def zero():
        for m in models.values():
            m.zero_grad(set_to_none=True)

    a = spec["ae"]
    xn, ln = xlm_batch(out["ae"]["noisy"])
    xc, lc = xlm_batch(a["sentences"])
    zero()
    loss = ref.ae_step_loss(enc, dec, xn, ln, a["lang"], xc, lc, a["lang"])
    loss.backward()
    report.close("AE loss (relative)", abs(out["ae"]["loss"] - loss.item()) / loss.item(), LOSS_TOL)
    check_gradients(report, "AE", group(grads, "ae."), models)

    bt = spec["bt"]
    x1, len1 = xlm_batch(bt["sentences"])
    zero()
    loss, gx, gl = ref.bt_step_loss(enc, dec, x1, len1, bt["src_lang"], bt["tgt_lang"],
                                    return_generated=True)
    loss.backward()
    report.check("BT: the translations it learns from = XLM's",
                 out["bt"]["generated"] == columns(gx, gl) == out["greedy"]["generated"])
    report.close("BT loss (relative)", abs(out["bt"]["loss"] - loss.item()) / loss.item(), LOSS_TOL)
    check_gradients(report, "BT", group(grads, "bt."), models)


def run_case(name, config, reinit, report, seed):
    print(f"== {name}", flush=True)
    spec, python_output = make_spec(config, reinit, seed)
    with tempfile.TemporaryDirectory() as tmp:
        mlm, init, model, grads, out = run_dump(spec, tmp)
    check_noise(report, spec, python_output, out)
    enc, dec = check_model(report, config, reinit, mlm, init)
    ref.load_unmt_weights(enc, group(model, "encoder."))
    ref.load_unmt_weights(dec, group(model, "decoder."))
    check_greedy(report, spec, enc, dec, out)
    check_beams(report, spec, enc, dec, out)
    check_steps(report, spec, enc, dec, out, grads)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    report = Report()
    for seed, (name, (config, reinit)) in enumerate(CONFIGS.items(), start=7):
        run_case(name, config, reinit, report, seed)
    if report.failures:
        print(f"unmt_parity: {report.failures} of {report.n} checks FAILED")
        return 1
    print(f"unmt_parity: all {report.n} checks passed: unmt's UNMT steps match XLM's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
