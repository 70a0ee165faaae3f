"""Parity of unmt's Burn Transformer and MLM training step with XLM's PyTorch code.

The reference is `examples/xlm_reference.py`, a port of facebookresearch/XLM's
`TransformerModel`, `mlm_step`, `clip_grad_norm_` and `Adam`, run in float64. The unmt side
is `examples/xlm_parity_dump` (the CPU backend, float32, the functions `unmt run` trains with).
Both start from the same weights (unmt's XLM initialisation, copied across by name).

Env: XLM_PARITY_DUMP (the example binary; default: beside $UNMT, else
     target/debug/examples/xlm_parity_dump).

Checks, for three configurations (2 languages + GELU + 4 heads; the same with RE-LM's
adapters; 1 language + ReLU + 3 heads):
 (a) a padded forward pass: hidden states at real positions and the tied-output scores;
     padded positions must be exactly zero;
 (b) the MLM loss, every parameter's gradient and the global gradient norm;
 (c) the first Adam update (clipped to max-norm 0.5, so clipping is exercised) on every
     element whose gradient is not within float32 noise of zero (Adam's first step is
     lr * g / (|g| + eps), so there the sign of a ~1e-9 gradient decides the update);
 (d) the loss after each of 4 updates;
 (e) a decoder (causal self-attention, cross-attention to the padded batch's encoder states)
     on a whole target, and decoded one position at a time with XLM's cache vs unmt's
     `forward_incremental`.
Exit 1 on any mismatch. Runs in a few seconds.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
import xlm_reference as ref  # noqa: E402

UNMT = os.environ.get("UNMT", "target/debug/unmt")
DUMP = os.environ.get(
    "XLM_PARITY_DUMP", os.path.join(os.path.dirname(UNMT), "examples", "xlm_parity_dump")
)
MASK_INDEX, PAD_INDEX, FIRST_WORD = 5, 2, 14

CONFIGS = {
    "2 langs, gelu, 4 heads, 2 layers": dict(
        n_words=61, n_langs=2, dim=32, n_layers=2, n_heads=4, hidden_dim=128, dropout=0.0,
        attention_dropout=0.0, gelu_activation=True, max_positions=512, pad_index=PAD_INDEX,
    ),
    "2 langs, gelu, RE-LM adapters of 8, 2 layers": dict(
        n_words=53, n_langs=2, dim=16, n_layers=2, n_heads=2, hidden_dim=64, dropout=0.0,
        attention_dropout=0.0, gelu_activation=True, max_positions=64, pad_index=PAD_INDEX,
        adapter_size=8,
    ),
    "1 lang, relu, 3 heads, 1 layer": dict(
        n_words=47, n_langs=1, dim=24, n_layers=1, n_heads=3, hidden_dim=96, dropout=0.0,
        attention_dropout=0.0, gelu_activation=False, max_positions=64, pad_index=PAD_INDEX,
    ),
}


def make_spec(config, seed):
    rng = random.Random(seed)
    bs, slen = 3, 12
    tokens = [rng.randrange(FIRST_WORD, config["n_words"]) for _ in range(bs * slen)]
    tokens[0] = 1  # streams start with </s>, never a target
    positions = sorted(rng.sample(range(1, bs * slen), 7))
    inp = list(tokens)
    for i, p in enumerate(positions):
        inp[p] = MASK_INDEX if i % 3 else rng.randrange(FIRST_WORD, config["n_words"])
    pbs, plen, lengths = 3, 7, [7, 4, 1]
    padded = [
        rng.randrange(FIRST_WORD, config["n_words"]) if i % plen < lengths[i // plen] else PAD_INDEX
        for i in range(pbs * plen)
    ]
    dlen = 5
    dec = [1 if i % dlen == 0 else rng.randrange(FIRST_WORD, config["n_words"]) for i in range(pbs * dlen)]
    return dict(
        config=config, seed=seed, lr=1e-3, clip=0.5, steps=4,
        decoder=dict(bs=pbs, len=dlen, lang=config["n_langs"] - 1, tokens=dec),
        mlm=dict(bs=bs, len=slen, lang=config["n_langs"] - 1, input=inp, positions=positions,
                 targets=[tokens[p] for p in positions]),
        padded=dict(bs=pbs, len=plen, lang=0, tokens=padded, lengths=lengths),
    )


class Report:
    def __init__(self):
        self.failures = 0

    def check(self, what, diff, tol):
        ok = diff <= tol
        self.failures += not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {what}: max diff {diff:.2e} (tolerance {tol:.0e})")


def run_case(name, config, report):
    print(f"== {name}")
    spec = make_spec(config, seed=17)
    with tempfile.TemporaryDirectory() as tmp:
        spec_path, out_path = os.path.join(tmp, "spec.json"), os.path.join(tmp, "out.safetensors")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        subprocess.run([DUMP, spec_path, out_path], check=True)
        got = {k: v.double() for k, v in load_file(out_path).items()}
    group = lambda prefix: {k[len(prefix):]: v for k, v in got.items() if k.startswith(prefix)}
    w0, w1, g0 = group("w0."), group("w1."), group("g0.")

    model = ref.TransformerModel(config).double()
    ref.load_unmt_weights(model, w0)
    model.eval()

    # (a) padded forward pass
    p = spec["padded"]
    tokens = torch.tensor(p["tokens"]).view(p["bs"], p["len"])
    lengths = torch.tensor(p["lengths"])
    langs = torch.full_like(tokens, p["lang"])
    with torch.no_grad():
        hidden = model.fwd(tokens, lengths, causal=False, langs=langs)
        scores = model.predict(hidden.reshape(p["bs"] * p["len"], -1))
    real = (torch.arange(p["len"])[None, :] < lengths[:, None]).reshape(-1)
    ours_h = got["padded.hidden"].reshape(p["bs"] * p["len"], -1)
    report.check("hidden states, real positions", (ours_h[real] - hidden.reshape(-1, config["dim"])[real]).abs().max().item(), 1e-5)
    report.check("hidden states, padded positions", ours_h[~real].abs().max().item(), 0.0)
    report.check("tied-output scores", (got["padded.scores"][real] - scores[real]).abs().max().item(), 1e-4)

    # (e) decoder: whole target (causal, cross-attention to padded memory), then XLM's
    # incremental generation with its cache, one position per call
    d = spec["decoder"]
    decoder = ref.TransformerModel(config, is_decoder=True).double().eval()
    ref.load_unmt_weights(decoder, group("dec.w."))
    dtok = torch.tensor(d["tokens"]).view(d["bs"], d["len"])
    dlangs = torch.full_like(dtok, d["lang"])
    full_len = torch.full((d["bs"],), d["len"])
    with torch.no_grad():
        dec_h = decoder.fwd(dtok, full_len, causal=True, src_enc=hidden, src_len=lengths, langs=dlangs)
        cache, steps = {"slen": 0}, []
        for t in range(1, d["len"] + 1):
            steps.append(decoder.fwd(dtok[:, :t], torch.full((d["bs"],), t), causal=True,
                                     src_enc=hidden, src_len=lengths, langs=dlangs[:, :t], cache=cache))
        dec_inc = torch.cat(steps, dim=1)
    report.check("decoder, whole target", (got["dec.hidden"] - dec_h).abs().max().item(), 1e-5)
    report.check("decoder, incremental with cache", (got["dec.incremental"] - dec_inc).abs().max().item(), 1e-5)

    # (b)-(d) MLM updates
    m = spec["mlm"]
    inp = torch.tensor(m["input"]).view(m["bs"], m["len"])
    positions, targets = torch.tensor(m["positions"]), torch.tensor(m["targets"])
    model.train()
    opt = ref.XlmAdam(model.parameters(), lr=spec["lr"])
    params = dict(model.named_parameters())
    losses = []
    for step in range(spec["steps"]):
        loss, _ = ref.mlm_loss(model, inp, m["lang"], positions, targets)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), spec["clip"]).item()
        if step == 0:
            report.check("grad norm (relative)", abs(got["grad_norm0"].item() - norm) / norm, 1e-5)
            # clip_grad_norm_ scaled the reference in place; undo it for the comparison
            scale = min(1.0, spec["clip"] / (norm + 1e-6))
            ref_grads = {n: params[ref.xlm_name(n)].grad / scale for n in g0}
            top = max(g.abs().max().item() for g in ref_grads.values())
            worst = 0.0
            for n, g in g0.items():
                # relative to the parameter's largest gradient, floored at 1e-3 of the largest
                # anywhere: the key bias's gradient is exactly zero in exact arithmetic
                # (softmax ignores a constant added to every score), so it is pure rounding
                floor = max(ref_grads[n].abs().max().item(), 1e-3 * top)
                worst = max(worst, (ref.to_xlm_layout(n, g) - ref_grads[n]).abs().max().item() / floor)
            if set(g0) != set(w0):
                report.check("every parameter has a gradient", 1.0, 0.0)
            report.check("gradients, every parameter (relative)", worst, 1e-4)
            before = {n: params[ref.xlm_name(n)].detach().clone() for n in w0}
        opt.step()
        if step == 0:
            worst, compared = 0.0, 0
            for n in w0:
                significant = ref_grads[n].abs() > 1e-6 * top
                ours = (ref.to_xlm_layout(n, w1[n]) - ref.to_xlm_layout(n, w0[n]))[significant]
                theirs = (params[ref.xlm_name(n)].detach() - before[n])[significant]
                compared += int(significant.sum())
                if ours.numel():
                    worst = max(worst, (ours - theirs).abs().max().item())
            total = sum(t.numel() for t in w0.values())
            print(f"       first update compared on {compared} of {total} elements")
            report.check("first Adam update (absolute, lr 1e-3)", worst, 2e-5)
    ours_losses = got["losses"].tolist()
    report.check(
        "losses over 4 updates (relative)",
        max(abs(a - b) / abs(b) for a, b in zip(ours_losses, losses)),
        1e-5,
    )
    print(f"       losses: unmt {['%.6f' % x for x in ours_losses]}, XLM {['%.6f' % x for x in losses]}")


def main():
    torch.manual_seed(0)
    report = Report()
    for name, config in CONFIGS.items():
        run_case(name, config, report)
    if report.failures:
        print(f"{report.failures} check(s) failed")
        return 1
    print("unmt's Transformer and MLM update match XLM's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
