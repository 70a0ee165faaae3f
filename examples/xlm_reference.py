#!/usr/bin/env python3
"""PyTorch reference for unmt's Burn Transformer: XLM's model, MLM step and Adam.

A line-by-line port of facebookresearch/XLM (`xlm/model/transformer.py`: `MultiHeadAttention`,
`TransformerFFN`, `TransformerModel.fwd/predict`, `get_masks`; `xlm/optim.py`: `Adam`;
`xlm/trainer.py`: `mlm_step` + `optimize` with `clip_grad_norm_`), kept to what the paper's
configuration uses (no sinusoidal positions, no adaptive softmax, no memory layers). XLM is
sequence-first (`[slen, bs]`); this port is batch-first like unmt, which changes nothing
numerically. Two uses:

* `tests/parity/xlm_parity.py` imports it and checks unmt's forward pass, gradients and one
  Adam update against it on the same weights (`load_unmt_weights`).
* `python3 examples/xlm_reference.py bench ...` times MLM training steps, the PyTorch-eager
  side of `cargo run --release --example bench_mlm -- --torch python3`, which runs both in
  one process tree and prints the ratio. On a CUDA device it also reports model FLOP
  utilisation against `--peak-tflops` and can run under bf16/fp16 autocast.

Needs `torch` (and `safetensors` for `load_unmt_weights`).
"""

import argparse
import itertools
import json
import math
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

N_MAX_POSITIONS = 512
LAYER_NORM_EPS = 1e-12


def gelu(x):
    """XLM's exact GELU."""
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def embedding(n, dim, padding_idx=None):
    m = nn.Embedding(n, dim, padding_idx=padding_idx)
    nn.init.normal_(m.weight, mean=0, std=dim**-0.5)
    if padding_idx is not None:
        nn.init.constant_(m.weight[padding_idx], 0)
    return m


def get_masks(slen, lengths, causal):
    """XLM `get_masks`: `mask[b, i]` = position i is real; `attn_mask` adds causality."""
    alen = torch.arange(slen, dtype=torch.long, device=lengths.device)
    mask = alen < lengths[:, None]
    bs = lengths.size(0)
    if causal:
        attn_mask = alen[None, None, :].repeat(bs, slen, 1) <= alen[None, :, None]
    else:
        attn_mask = mask
    return mask, attn_mask


class MultiHeadAttention(nn.Module):
    NEW_ID = itertools.count()

    def __init__(self, n_heads, dim, dropout):
        super().__init__()
        self.layer_id = next(MultiHeadAttention.NEW_ID)
        self.dim, self.n_heads, self.dropout = dim, n_heads, dropout
        self.q_lin = nn.Linear(dim, dim)
        self.k_lin = nn.Linear(dim, dim)
        self.v_lin = nn.Linear(dim, dim)
        self.out_lin = nn.Linear(dim, dim)

    def forward(self, input, mask, kv=None, cache=None):
        bs, qlen, dim = input.size()
        if kv is None:
            klen = qlen if cache is None else cache["slen"] + qlen
        else:
            klen = kv.size(1)
        n_heads = self.n_heads
        dim_per_head = dim // n_heads
        mask_reshape = (bs, 1, qlen, klen) if mask.dim() == 3 else (bs, 1, 1, klen)

        def shape(x):
            return x.view(bs, -1, n_heads, dim_per_head).transpose(1, 2)

        def unshape(x):
            return x.transpose(1, 2).contiguous().view(bs, -1, n_heads * dim_per_head)

        q = shape(self.q_lin(input))
        if kv is None:
            k = shape(self.k_lin(input))
            v = shape(self.v_lin(input))
        elif cache is None or self.layer_id not in cache:
            k = shape(self.k_lin(kv))
            v = shape(self.v_lin(kv))
        if cache is not None:
            if self.layer_id in cache:
                if kv is None:
                    k_, v_ = cache[self.layer_id]
                    k = torch.cat([k_, k], dim=2)
                    v = torch.cat([v_, v], dim=2)
                else:
                    k, v = cache[self.layer_id]
            cache[self.layer_id] = (k, v)
        q = q / math.sqrt(dim_per_head)
        scores = torch.matmul(q, k.transpose(2, 3))
        mask = (mask == 0).view(mask_reshape).expand_as(scores)
        scores = scores.masked_fill(mask, -float("inf"))
        weights = F.softmax(scores.float(), dim=-1).type_as(scores)
        weights = F.dropout(weights, p=self.dropout, training=self.training)
        return self.out_lin(unshape(torch.matmul(weights, v)))


class TransformerFFN(nn.Module):
    def __init__(self, dim, hidden, dropout, gelu_activation):
        super().__init__()
        self.dropout = dropout
        self.lin1 = nn.Linear(dim, hidden)
        self.lin2 = nn.Linear(hidden, dim)
        self.act = gelu if gelu_activation else F.relu

    def forward(self, x):
        x = self.lin2(self.act(self.lin1(x)))
        return F.dropout(x, p=self.dropout, training=self.training)


class TransformerModel(nn.Module):
    """XLM's `TransformerModel` with `share_inout_emb` (the paper's setting)."""

    def __init__(self, cfg, is_decoder=False):
        super().__init__()
        self.is_decoder = is_decoder
        self.n_words, self.dim = cfg["n_words"], cfg["dim"]
        self.n_layers, self.n_heads = cfg["n_layers"], cfg["n_heads"]
        self.dropout, self.attention_dropout = cfg["dropout"], cfg["attention_dropout"]
        self.pad_index = cfg["pad_index"]
        self.use_lang_emb = cfg["n_langs"] > 1
        self.position_embeddings = embedding(cfg.get("max_positions", N_MAX_POSITIONS), self.dim)
        if self.use_lang_emb:
            self.lang_embeddings = embedding(cfg["n_langs"], self.dim)
        self.embeddings = embedding(self.n_words, self.dim, padding_idx=self.pad_index)
        self.layer_norm_emb = nn.LayerNorm(self.dim, eps=LAYER_NORM_EPS)
        self.attentions = nn.ModuleList()
        self.layer_norm1 = nn.ModuleList()
        self.ffns = nn.ModuleList()
        self.layer_norm2 = nn.ModuleList()
        if is_decoder:
            self.layer_norm15 = nn.ModuleList()
            self.encoder_attn = nn.ModuleList()
        for _ in range(self.n_layers):
            self.attentions.append(MultiHeadAttention(self.n_heads, self.dim, self.attention_dropout))
            self.layer_norm1.append(nn.LayerNorm(self.dim, eps=LAYER_NORM_EPS))
            if is_decoder:
                self.layer_norm15.append(nn.LayerNorm(self.dim, eps=LAYER_NORM_EPS))
                self.encoder_attn.append(
                    MultiHeadAttention(self.n_heads, self.dim, self.attention_dropout)
                )
            self.ffns.append(
                TransformerFFN(self.dim, cfg["hidden_dim"], self.dropout, cfg["gelu_activation"])
            )
            self.layer_norm2.append(nn.LayerNorm(self.dim, eps=LAYER_NORM_EPS))
        self.pred_proj = nn.Linear(self.dim, self.n_words)
        self.pred_proj.weight = self.embeddings.weight

    def fwd(self, x, lengths, causal, src_enc=None, src_len=None, langs=None, cache=None):
        """`x`, `langs`: `[bs, slen]`; returns `[bs, slen, dim]` (XLM returns `[slen, bs, dim]`)."""
        bs, slen = x.size()
        mask, attn_mask = get_masks(slen, lengths, causal)
        if self.is_decoder and src_enc is not None:
            src_mask = (
                torch.arange(src_len.max(), dtype=torch.long, device=lengths.device)
                < src_len[:, None]
            )
        positions = torch.arange(slen, device=x.device).unsqueeze(0)
        if cache is not None:
            _slen = slen - cache["slen"]
            x = x[:, -_slen:]
            positions = positions[:, -_slen:]
            if langs is not None:
                langs = langs[:, -_slen:]
            mask = mask[:, -_slen:]
            attn_mask = attn_mask[:, -_slen:]
        tensor = self.embeddings(x)
        tensor = tensor + self.position_embeddings(positions).expand_as(tensor)
        if langs is not None and self.use_lang_emb:
            tensor = tensor + self.lang_embeddings(langs)
        tensor = self.layer_norm_emb(tensor)
        tensor = F.dropout(tensor, p=self.dropout, training=self.training)
        tensor = tensor * mask.unsqueeze(-1).to(tensor.dtype)
        for i in range(self.n_layers):
            attn = self.attentions[i](tensor, attn_mask, cache=cache)
            attn = F.dropout(attn, p=self.dropout, training=self.training)
            tensor = self.layer_norm1[i](tensor + attn)
            if self.is_decoder and src_enc is not None:
                attn = self.encoder_attn[i](tensor, src_mask, kv=src_enc, cache=cache)
                attn = F.dropout(attn, p=self.dropout, training=self.training)
                tensor = self.layer_norm15[i](tensor + attn)
            tensor = self.layer_norm2[i](tensor + self.ffns[i](tensor))
            tensor = tensor * mask.unsqueeze(-1).to(tensor.dtype)
        if cache is not None:
            cache["slen"] += tensor.size(1)
        return tensor

    def predict(self, hidden):
        """Vocabulary scores, `[n, n_words]`, with the tied projection and its own bias."""
        return self.pred_proj(hidden)


def mlm_loss(model, tokens, lang, positions, targets):
    """XLM `mlm_step`'s loss on a stream batch (no padding): mean cross-entropy at the flat
    positions `s * len + r`. XLM gathers them position-major; the mean is the same."""
    bs, slen = tokens.shape
    lengths = torch.full((bs,), slen, dtype=torch.long, device=tokens.device)
    langs = torch.full_like(tokens, lang) if model.use_lang_emb else None
    hidden = model.fwd(tokens, lengths, causal=False, langs=langs)
    scores = model.predict(hidden.reshape(bs * slen, -1)[positions])
    return F.cross_entropy(scores, targets, reduction="mean"), scores


class XlmAdam(torch.optim.Optimizer):
    """XLM's `Adam` (`xlm/optim.py`): bias corrections folded into the step size, `eps` added
    to `sqrt(v)` (not to the bias-corrected root), no weight decay."""

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                denom = v.sqrt().add_(group["eps"])
                bias1 = 1 - beta1 ** state["step"]
                bias2 = 1 - beta2 ** state["step"]
                p.addcdiv_(m, denom, value=-group["lr"] * math.sqrt(bias2) / bias1)


def xlm_name(unmt_name):
    """The parameter of this port holding unmt's tensor `unmt_name` (its Burn module path)."""
    parts = unmt_name.split(".")
    # Burn's LayerNorm calls its affine parameters gamma/beta.
    parts[-1] = {"gamma": "weight", "beta": "bias"}.get(parts[-1], parts[-1])
    if parts[0] == "pred_bias":
        return "pred_proj.bias"
    if parts[0] != "layers":
        return ".".join(parts)
    i, rest = parts[1], parts[2:]
    block = {
        "attention": "attentions",
        "layer_norm1": "layer_norm1",
        "layer_norm2": "layer_norm2",
        "ffn": "ffns",
    }
    if rest[0] == "cross":
        head = "encoder_attn" if rest[1] == "attention" else "layer_norm15"
        return ".".join([head, i] + rest[2:])
    return ".".join([block[rest[0]], i] + rest[1:])


def to_xlm_layout(unmt_name, tensor):
    """Burn's `Linear` stores `[in, out]`; PyTorch's `nn.Linear` stores `[out, in]`."""
    is_linear_weight = unmt_name.endswith(".weight") and any(
        f".{lin}." in unmt_name for lin in ("q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2")
    )
    return tensor.t().contiguous() if is_linear_weight else tensor


def load_unmt_weights(model, tensors):
    """Copies unmt's named tensors (a safetensors checkpoint as a dict) into `model`; every
    parameter of the model must be covered exactly once."""
    own = dict(model.named_parameters())
    seen = set()
    with torch.no_grad():
        for name, t in tensors.items():
            target = xlm_name(name)
            if target not in own:
                raise KeyError(f"unmt tensor {name} has no XLM counterpart {target}")
            value = to_xlm_layout(name, t)
            if own[target].shape != value.shape:
                raise ValueError(f"{name}: {tuple(value.shape)} vs {tuple(own[target].shape)}")
            own[target].copy_(value)
            seen.add(target)
    missing = set(own) - seen - {"pred_proj.weight"}  # tied to embeddings.weight
    if missing:
        raise KeyError(f"parameters not in the checkpoint: {sorted(missing)}")


# ---------------------------------------------------------------------------------------------
# Benchmark: the PyTorch-eager side of examples/bench_mlm.rs.

CASES = {
    "quickstart": dict(n_words=2217, dim=64, n_layers=2, n_heads=4, bptt=64, streams=16),
    "small": dict(n_words=10000, dim=256, n_layers=4, n_heads=8, bptt=128, streams=32),
    "paper": dict(n_words=32000, dim=1024, n_layers=6, n_heads=8, bptt=256, streams=32),
}


def model_flops_per_update(c):
    """The FLOP count bench_mlm.rs uses (so the two GFLOP/s columns compare)."""
    tokens = c["streams"] * c["bptt"]
    d, h = c["dim"], 4 * c["dim"]
    layer_params = 4 * (d * d + d) + (d * h + h) + (h * d + d)
    return (
        6 * c["n_layers"] * layer_params * tokens
        + 6 * 0.15 * tokens * c["n_words"] * d
        + 12 * c["n_layers"] * tokens * c["bptt"] * d
    )


def bench(case, updates, warmup, device, autocast, peak_tflops, seed=0):
    c = CASES[case]
    torch.manual_seed(seed)
    cfg = dict(
        n_words=c["n_words"], n_langs=2, dim=c["dim"], n_layers=c["n_layers"],
        n_heads=c["n_heads"], hidden_dim=4 * c["dim"], dropout=0.1, attention_dropout=0.1,
        gelu_activation=True, pad_index=2,
    )
    model = TransformerModel(cfg).to(device).train()
    opt = XlmAdam(model.parameters(), lr=1e-4)
    bs, slen = c["streams"], c["bptt"]
    n_pred = max(1, round(0.15 * bs * slen))
    gen = torch.Generator(device="cpu").manual_seed(seed)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(autocast)
    scaler = torch.amp.GradScaler(enabled=autocast == "fp16")

    def update(step):
        tokens = torch.randint(14, c["n_words"], (bs, slen), generator=gen).to(device)
        positions = torch.randperm(bs * slen, generator=gen)[:n_pred].sort().values.to(device)
        targets = tokens.reshape(-1)[positions]
        masked = tokens.reshape(-1).clone()
        masked[positions] = 5  # <mask>
        masked = masked.reshape(bs, slen)
        with torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype is not None):
            loss, _ = mlm_loss(model, masked, step % 2, positions, targets)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        scaler.step(opt)
        scaler.update()
        return loss

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for s in range(warmup):
        update(s)
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for s in range(updates):
        loss = update(warmup + s)
    loss = float(loss)
    sync()
    elapsed = time.perf_counter() - start
    s_per_update = elapsed / updates
    flops = model_flops_per_update(c)
    out = dict(
        case=case, device=str(device), autocast=autocast or "fp32", updates=updates,
        tokens_per_s=bs * slen / s_per_update, s_per_update=s_per_update,
        gflops=flops / s_per_update / 1e9, loss=loss, threads=torch.get_num_threads(),
        torch=torch.__version__,
    )
    if device.type == "cuda":
        out["peak_mem_mib"] = torch.cuda.max_memory_allocated() / 2**20
    else:
        out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if peak_tflops:
            out["mfu"] = flops / s_per_update / (peak_tflops * 1e12)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench", help="time XLM MLM training updates (PyTorch eager)")
    b.add_argument("--case", choices=sorted(CASES), action="append", required=True)
    b.add_argument("--updates", type=int, default=10)
    b.add_argument("--warmup", type=int, default=2)
    b.add_argument("--device", default="cpu", help="cpu or cuda:N")
    b.add_argument("--autocast", choices=["bf16", "fp16"], default=None)
    b.add_argument("--peak-tflops", type=float, default=None, help="for MFU (H100 SXM bf16 dense: 989)")
    b.add_argument("--json", action="store_true", help="one JSON object per case on stdout")
    args = p.parse_args()
    device = torch.device(args.device)
    for case in args.case:
        r = bench(case, args.updates, args.warmup, device, args.autocast, args.peak_tflops)
        if args.json:
            print(json.dumps(r), flush=True)
        else:
            print(
                f"{r['case']}: {r['tokens_per_s']:.0f} tokens/s, {r['s_per_update']:.3f} s/update, "
                f"{r['gflops']:.1f} GFLOP/s ({r['device']}, {r['autocast']}, torch {r['torch']})",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
