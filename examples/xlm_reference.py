#!/usr/bin/env python3
"""PyTorch reference for unmt's Burn Transformer: XLM's model, MLM step, Adam and UNMT pieces.

A line-by-line port of facebookresearch/XLM (`xlm/model/transformer.py`: `MultiHeadAttention`,
`TransformerFFN`, `TransformerModel.fwd/predict/generate`, `get_masks`; `xlm/optim.py`: `Adam`,
`AdamInverseSqrtWithWarmup`; `xlm/trainer.py`: `mlm_step` + `optimize` with `clip_grad_norm_`,
`word_shuffle/word_dropout/word_blank/add_noise`, `mt_step` (the AE step), `bt_step`;
`xlm/utils.py`: `parse_lambda_config/get_lambda_value`; `xlm/model/__init__.py`: the
`--reload_model 'mlm.pth,mlm.pth'` encoder-decoder build), kept to what the paper's
configuration uses (no sinusoidal positions, no adaptive softmax, no memory layers). XLM is
sequence-first (`[slen, bs]`); the model here is batch-first like unmt, which changes nothing
numerically; the UNMT functions take and return XLM's sequence-first batches (see that
section). Random draws are arguments there, so another implementation can be fed the same ones.
Uses:

* `tests/parity/xlm_parity.py` imports it and checks unmt's forward pass, gradients and one
  Adam update against it on the same weights (`load_unmt_weights`).
* `python3 examples/xlm_reference.py bench ...` times MLM training steps, the PyTorch-eager
  side of `cargo run --release --example bench_mlm -- --torch python3`, which runs both in
  one process tree and prints the ratio. On a CUDA device it also reports model FLOP
  utilisation against `--peak-tflops` and can run under bf16/fp16 autocast.
* `python3 examples/xlm_reference.py selfcheck-unmt` checks the UNMT pieces against
  independently computed values (CPU, float64, tiny random models; a few seconds).

Needs `torch` and `numpy` (and `safetensors` for the tensors `load_unmt_weights` takes).
"""

import argparse
import itertools
import json
import math
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

N_MAX_POSITIONS = 512
LAYER_NORM_EPS = 1e-12
# XLM computes attention softmaxes in float32 (`scores.float()`), even in a float64 model;
# selfcheck-unmt's gradient checks switch this to float64 (central differences would
# otherwise amplify float32 rounding), nothing else changes it.
SOFTMAX_DTYPE = torch.float32


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
        weights = F.softmax(scores.to(SOFTMAX_DTYPE), dim=-1).type_as(scores)
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


class Adapter(nn.Module):
    """RE-LM's bottleneck adapter (relm_unmt `src/model/transformer.py`; spec §5):
    `Linear(dim, size) -> ReLU -> Linear(size, dim)`, PyTorch's default init, as a residual."""

    def __init__(self, dim, size):
        super().__init__()
        self.lin1 = nn.Linear(dim, size)
        self.lin2 = nn.Linear(size, dim)

    def forward(self, x):
        return x + self.lin2(F.relu(self.lin1(x)))


class TransformerModel(nn.Module):
    """XLM's `TransformerModel` with `share_inout_emb` (the paper's setting), and RE-LM's
    adapters when `cfg["adapter_size"]` is set: one on the dropped-out self-attention output
    before its residual, one on the FFN output before its residual (none on the decoder's
    encoder attention); decoder layers have their own."""

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
        self.adapter_size = cfg.get("adapter_size")
        if self.adapter_size:
            self.adapters1 = nn.ModuleList(
                Adapter(self.dim, self.adapter_size) for _ in range(self.n_layers)
            )
            self.adapters2 = nn.ModuleList(
                Adapter(self.dim, self.adapter_size) for _ in range(self.n_layers)
            )
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
            if self.adapter_size:
                attn = self.adapters1[i](attn)
            tensor = self.layer_norm1[i](tensor + attn)
            if self.is_decoder and src_enc is not None:
                attn = self.encoder_attn[i](tensor, src_mask, kv=src_enc, cache=cache)
                attn = F.dropout(attn, p=self.dropout, training=self.training)
                tensor = self.layer_norm15[i](tensor + attn)
            ffn = self.ffns[i](tensor)
            if self.adapter_size:
                ffn = self.adapters2[i](ffn)
            tensor = self.layer_norm2[i](tensor + ffn)
            tensor = tensor * mask.unsqueeze(-1).to(tensor.dtype)
        if cache is not None:
            cache["slen"] += tensor.size(1)
        return tensor

    def predict(self, hidden):
        """Vocabulary scores, `[n, n_words]`, with the tied projection and its own bias."""
        return self.pred_proj(hidden)


def dictionary_words(vocab_words):
    """XLM's id order: `<s>`, `</s>`, `<pad>`, `<unk>`, `<special0>`..`<special9>`, then the
    vocabulary file's words (xlm/data/dictionary.py)."""
    return ["<s>", "</s>", "<pad>", "<unk>"] + [f"<special{i}>" for i in range(10)] + list(vocab_words)


TOKEN_ROWS = ("embeddings.weight", "pred_bias")


def relm_extend_vocab(old, old_words, new_words, fresh, new_rows="normal"):
    """RE-LM's vocabulary extension (relm_unmt `src/model/__init__.py`, `modify_params`, then
    the checkpoint reload; spec §1.3, §0 item 14), on unmt's tensor names.

    `old`: the pretrained model's tensors; `fresh`: the new model's initialisation (its
    `embeddings.weight` rows are XLM's N(0, dim^-0.5)); `*_words`: the dictionaries in id
    order. A token the pretrained dictionary has keeps its pretrained row and output bias
    (looked up by string); a new token keeps its fresh row (`new_rows="normal"`, the paper)
    or, as the public code ends up (the tied output weight loaded last wins), a near-zero row
    in (-1/dim, 1/dim) (`"relm"`: returned as NaN here, the caller checks the range, since the
    draws are not ours); its output bias is 0. Every other tensor is copied when the shapes
    agree and keeps its initialisation otherwise (language embeddings of a monolingual model,
    adapters added for fine-tuning)."""
    index = {w: i for i, w in enumerate(old_words)}
    out = {}
    for name, init in fresh.items():
        if name not in old:
            out[name] = init.clone()
        elif name in TOKEN_ROWS:
            grown = init.clone()
            for i, w in enumerate(new_words):
                j = index.get(w)
                if j is not None:
                    grown[i] = old[name][j]
                elif name == "pred_bias":
                    grown[i] = 0.0
                elif new_rows == "relm":
                    grown[i] = float("nan")
            out[name] = grown
        elif old[name].shape == init.shape:
            out[name] = old[name].clone()
        else:
            out[name] = init.clone()
    return out


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
        "adapter_attn": "adapters1",
        "adapter_ffn": "adapters2",
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


def load_unmt_weights(model, tensors, allow_missing=()):
    """Copies unmt's named tensors (a safetensors checkpoint as a dict) into `model`; every
    parameter of the model must be covered exactly once, except those named (in this port's
    naming) in `allow_missing`, which keep their current values (`encoder_decoder_from_mlm`
    uses that for the decoder-only blocks an MLM checkpoint lacks)."""
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
    missing = set(own) - seen - {"pred_proj.weight"} - set(allow_missing)  # pred_proj: tied
    if missing:
        raise KeyError(f"parameters not in the checkpoint: {sorted(missing)}")


# ---------------------------------------------------------------------------------------------
# UNMT: denoising auto-encoding and back-translation as XLM trains them.
#
# These functions use XLM's own sequence-first batches, not the batch-first layout of the model
# above: `x` is a LongTensor[slen, bs], sentence i occupying x[:lengths[i], i] as
# `</s> w1 .. wn </s>` (XLM uses `</s>` as BOS, EOS_INDEX at x[0] and at x[len-1]) followed by
# PAD_INDEX, with slen == lengths.max(). They convert to the model's layout only at `fwd`.
#
# XLM draws its noise from NumPy's global RandomState inside the trainer. Here every draw is an
# argument with exactly the shape and dtype XLM draws it with (`add_noise` can also take them
# from a `np.random.RandomState`, in XLM's order), so another implementation can be fed the
# same numbers. Dropout inside the model still uses torch's RNG: parity runs use dropout 0.

EOS_INDEX = 1  # `</s>`: XLM's BOS and EOS
PAD_INDEX = 2
MASK_INDEX = 5  # `<special1>`: XLM's dictionary starts <s> </s> <pad> <unk> <special0..9>

# XLM xlm/model/transformer.py `DECODER_ONLY_PARAMS` (this port's names are XLM's).
DECODER_ONLY_PARAMS = [
    "layer_norm15.%i.weight", "layer_norm15.%i.bias",
    "encoder_attn.%i.q_lin.weight", "encoder_attn.%i.q_lin.bias",
    "encoder_attn.%i.k_lin.weight", "encoder_attn.%i.k_lin.bias",
    "encoder_attn.%i.v_lin.weight", "encoder_attn.%i.v_lin.bias",
    "encoder_attn.%i.out_lin.weight", "encoder_attn.%i.out_lin.bias",
]


def _draw(a, name, shape):
    """A caller's random draw as a float64 NumPy array of exactly XLM's shape."""
    if torch.is_tensor(a):
        a = a.detach().cpu().numpy()
    a = np.array(a, dtype=np.float64)  # a copy: XLM overwrites row 0
    if a.shape != tuple(shape):
        raise ValueError(f"{name}: shape {a.shape}, XLM draws {tuple(shape)}")
    return a


def _check_sentences(x, lengths, eos_index):
    """XLM's asserts in `word_dropout`/`word_blank`: every column starts with `</s>` and its
    last real token is `</s>`."""
    slen, bs = x.shape
    assert lengths.shape == (bs,) and int(lengths.max()) <= slen
    assert (x[0] == eos_index).sum().item() == bs
    for i in range(bs):
        assert x[int(lengths[i]) - 1, i].item() == eos_index


def word_shuffle(x, lengths, k, noise):
    """XLM `Trainer.word_shuffle` (xlm/trainer.py): a local shuffle of BOS + words.

    Draw: XLM takes `noise = np.random.uniform(0, k, size=(slen - 1, bs))` (float64) and then
    sets `noise[0] = -1`; pass that draw as `noise` (same shape, values in [0, k); row 0 is
    overwritten with -1 here as in XLM, whatever it holds). Row j belongs to position j of
    every sentence. For sentence i of length l the first l-1 tokens (BOS + words; the final
    `</s>` and the padding are outside) are reordered by `argsort(arange(l - 1) + noise[:l-1,
    i])`: BOS (score -1) stays first and a token ends fewer than k positions from where it
    started. Rows l-1.. of column i are drawn but unused.

    Ties: XLM's `argsort` is NumPy's default (introsort, tie order unspecified); ties have
    probability 0 for continuous draws. This port sorts stably (ties keep the original order),
    the rule another implementation should use when fed injected draws.

    k == 0 returns the batch unchanged and XLM then draws nothing; otherwise XLM asserts k > 1.
    Returns (x, lengths) like XLM (lengths unchanged, the same tensor).
    """
    if k == 0:
        return x, lengths
    assert k > 1
    slen, bs = x.shape
    noise = _draw(noise, "word_shuffle noise", (slen - 1, bs))
    if slen > 2 and not ((noise[1:] >= 0) & (noise[1:] < k)).all():
        raise ValueError(f"word_shuffle noise must lie in [0, {k})")
    noise[0] = -1  # do not move the start-of-sentence symbol
    x2 = x.clone()
    for i in range(lengths.size(0)):
        n = int(lengths[i]) - 1
        scores = np.arange(n) + noise[:n, i]
        permutation = scores.argsort(kind="stable")
        x2[:n, i].copy_(x2[:n, i][torch.from_numpy(permutation)])
    return x2, lengths


def word_dropout(x, lengths, p, keep_draw, fallback_draw, eos_index=EOS_INDEX, pad_index=PAD_INDEX):
    """XLM `Trainer.word_dropout` (xlm/trainer.py): drop each word with probability p.

    Draw 1: XLM takes `np.random.rand(slen - 1, bs)` (float64 in [0, 1)); pass it as
    `keep_draw`. Position j of sentence i is kept iff `keep_draw[j, i] >= p`; row 0 (BOS) is
    always kept (XLM sets `keep[0] = 1`). The words are x[1:l-1, i]; the final `</s>` is
    re-appended after the survivors.

    Draw 2: if no word of sentence i survives, XLM keeps one random original word,
    `words[np.random.randint(1, len(words))]` with `words = x[:l-1, i]` (BOS + words), i.e. the
    token x[j, i] for j uniform in 1..l-2. XLM draws it lazily, one `randint` per such sentence,
    in batch order, after draw 1. Pass `fallback_draw` as an int array of shape (bs,) holding j
    for column i (entries of columns that keep a word are ignored; -1 is conventional there),
    or as a callable `(i, len(words)) -> j` (what `add_noise` does to draw from a RandomState).

    XLM needs at least one word per sentence (lengths >= 3) and asserts 0 < p < 1; p == 0
    returns the batch unchanged without drawing. p == 1 is accepted here (every word dropped,
    the fallback kept) so the limit can be tested; the rule per word is XLM's.
    Returns (x2, lengths2): new LongTensor[max(lengths2), bs] padded with pad_index.
    """
    if p == 0:
        return x, lengths
    assert 0 < p <= 1
    slen, bs = x.shape
    _check_sentences(x, lengths, eos_index)
    keep = _draw(keep_draw, "word_dropout keep_draw", (slen - 1, bs)) >= p
    keep[0] = True  # do not drop the start-of-sentence symbol
    if not callable(fallback_draw) and fallback_draw is not None:
        fallback = fallback_draw
        if torch.is_tensor(fallback):
            fallback = fallback.detach().cpu().numpy()
        fallback = np.asarray(fallback)
        if fallback.shape != (bs,):
            raise ValueError(f"word_dropout fallback_draw: shape {fallback.shape}, want ({bs},)")
    sentences = []
    for i in range(bs):
        words = x[: int(lengths[i]) - 1, i].tolist()
        new_s = [w for j, w in enumerate(words) if keep[j, i]]
        # at least one word must remain (more than the start / end symbols)
        if len(new_s) == 1:
            if fallback_draw is None:
                raise ValueError(f"sentence {i} lost every word and no fallback_draw was given")
            j = int(fallback_draw(i, len(words)) if callable(fallback_draw) else fallback[i])
            if not 1 <= j < len(words):
                raise ValueError(f"fallback_draw[{i}] = {j}, XLM draws randint(1, {len(words)})")
            new_s.append(words[j])
        new_s.append(eos_index)
        assert len(new_s) >= 3 and new_s[0] == eos_index and new_s[-1] == eos_index
        sentences.append(new_s)
    l2 = torch.tensor([len(s) for s in sentences], dtype=torch.long)
    x2 = torch.full((int(l2.max()), bs), pad_index, dtype=torch.long)
    for i, s in enumerate(sentences):
        x2[: len(s), i] = torch.tensor(s, dtype=torch.long)
    return x2.to(x.device), l2.to(lengths.device)


def word_blank(x, lengths, p, blank_draw, mask_index=MASK_INDEX, eos_index=EOS_INDEX,
               pad_index=PAD_INDEX):
    """XLM `Trainer.word_blank` (xlm/trainer.py): replace each word by the mask with prob. p.

    Draw: XLM takes `np.random.rand(slen - 1, bs)` (float64 in [0, 1)) on the batch it gets
    (in `add_noise`, the output of `word_dropout`, so slen is the new max length); pass it as
    `blank_draw`. Position j of sentence i keeps its word iff `blank_draw[j, i] >= p`, else it
    becomes `mask_index` (`<special1>`); row 0 (BOS) is always kept, the final `</s>` is
    re-appended, lengths do not change.

    XLM asserts 0 < p < 1; p == 0 returns the batch unchanged without drawing. p == 1 is
    accepted here (every word masked) so the limit can be tested.
    Returns (x2, lengths): x2 a new LongTensor[max(lengths), bs].
    """
    if p == 0:
        return x, lengths
    assert 0 < p <= 1
    slen, bs = x.shape
    _check_sentences(x, lengths, eos_index)
    keep = _draw(blank_draw, "word_blank blank_draw", (slen - 1, bs)) >= p
    keep[0] = True  # do not blank the start-of-sentence symbol
    x2 = torch.full((int(lengths.max()), bs), pad_index, dtype=torch.long)
    for i in range(bs):
        words = x[: int(lengths[i]) - 1, i].tolist()
        new_s = [w if keep[j, i] else mask_index for j, w in enumerate(words)] + [eos_index]
        assert len(new_s) == int(lengths[i])
        x2[: len(new_s), i] = torch.tensor(new_s, dtype=torch.long)
    return x2.to(x.device), lengths


def add_noise(x, lengths, k, p_drop, p_blank, shuffle_noise=None, keep_draw=None,
              fallback_draw=None, blank_draw=None, rng=None, mask_index=MASK_INDEX,
              eos_index=EOS_INDEX, pad_index=PAD_INDEX, return_draws=False):
    """XLM `Trainer.add_noise` (xlm/trainer.py): `word_shuffle`, then `word_dropout`, then
    `word_blank`, on the AE source (the target is the clean sentence). The paper: k=3,
    p_drop=0.1, p_blank=0.1.

    Draws given as arrays are used as is (shapes as in the three functions; note that
    `blank_draw` has the shape of the batch *after* dropout). Draws left None are taken from
    `rng` (a `np.random.RandomState`, XLM's generator type) in XLM's order:
      1. `rng.uniform(0, k, size=(slen - 1, bs))`                 (unless k == 0)
      2. `rng.rand(slen - 1, bs)`, then `rng.randint(1, l_i - 1)`  (unless p_drop == 0)
         lazily for each sentence i, in batch order, that lost all its words
      3. `rng.rand(slen2 - 1, bs)`, slen2 = max length after 2     (unless p_blank == 0)
    With return_draws, also returns a dict of the draws used (`shuffle_noise`, `keep_draw`,
    `fallback_draw` (int64 (bs,), -1 where not drawn), `blank_draw`; None where not drawn),
    ready to hand to another implementation.
    """
    draws = dict(shuffle_noise=None, keep_draw=None, fallback_draw=None, blank_draw=None)
    slen, bs = x.shape
    if k != 0:
        if shuffle_noise is None:
            shuffle_noise = rng.uniform(0, k, size=(slen - 1, bs))
        draws["shuffle_noise"] = _draw(shuffle_noise, "shuffle_noise", (slen - 1, bs))
    x, lengths = word_shuffle(x, lengths, k, shuffle_noise)
    if p_drop != 0:
        if keep_draw is None:
            keep_draw = rng.rand(slen - 1, bs)
        used = np.full(bs, -1, dtype=np.int64)
        if fallback_draw is None and rng is not None:
            def fallback(i, n_words):
                used[i] = rng.randint(1, n_words)
                return used[i]
        else:
            given = fallback_draw

            def fallback(i, n_words):
                if given is None:
                    raise ValueError(f"sentence {i} lost every word and no fallback_draw was given")
                used[i] = given(i, n_words) if callable(given) else int(np.asarray(given)[i])
                return used[i]
        draws["keep_draw"] = _draw(keep_draw, "keep_draw", (slen - 1, bs))
        x, lengths = word_dropout(x, lengths, p_drop, keep_draw, fallback, eos_index, pad_index)
        draws["fallback_draw"] = used
    if p_blank != 0:
        slen2 = x.size(0)
        if blank_draw is None:
            blank_draw = rng.rand(slen2 - 1, bs)
        draws["blank_draw"] = _draw(blank_draw, "blank_draw", (slen2 - 1, bs))
    x, lengths = word_blank(x, lengths, p_blank, blank_draw, mask_index, eos_index, pad_index)
    return (x, lengths, draws) if return_draws else (x, lengths)


@torch.no_grad()
def generate_greedy(decoder, src_enc, src_len, tgt_lang_id, max_len, eos_index=EOS_INDEX):
    """XLM `TransformerModel.generate` (xlm/model/transformer.py), greedy (`sample_temperature
    None`), with its incremental cache; in eval mode and without gradients, as `bt_step` calls
    it (the decoder's previous mode is restored afterwards).

    `src_enc`: the encoder's output in this port's layout, `[bs, src_slen, dim]` (what XLM
    passes after `enc1.transpose(0, 1)`); `src_len`: LongTensor[bs]. Every sentence starts with
    `</s>`; the decoder sees language `tgt_lang_id` at every position and positions 0..; each
    step appends `argmax` (`torch.topk(scores, 1)`) of the tied output layer at the last
    position; a sentence is finished once it produced `</s>`, and gets `<pad>` afterwards; the
    loop stops when all are finished or cur_len == max_len, and sentences unfinished then get
    their last token overwritten by `</s>`. BT uses max_len = int(1.3 * len1.max() + 5),
    validation int(1.5 * len1.max() + 10).

    Returns (generated LongTensor[cur_len, bs] (XLM layout), lengths LongTensor[bs]), where
    cur_len = lengths.max().
    """
    was_training = decoder.training
    decoder.eval()
    pad_index = decoder.pad_index
    bs = len(src_len)
    assert src_enc.size(0) == bs
    generated = src_len.new_full((max_len, bs), pad_index)  # upcoming output
    generated[0].fill_(eos_index)  # <EOS> is <BOS> everywhere
    langs = src_len.new_full((bs, max_len), tgt_lang_id)  # batch-first for `fwd`
    cur_len = 1
    gen_len = src_len.clone().fill_(1)
    unfinished_sents = src_len.clone().fill_(1)
    cache = {"slen": 0}
    while cur_len < max_len:
        # XLM passes positions = arange(max_len)[:cur_len]: `fwd`'s default.
        tensor = decoder.fwd(
            generated[:cur_len].t(), gen_len, causal=True, src_enc=src_enc, src_len=src_len,
            langs=langs[:, :cur_len], cache=cache,
        )
        assert tensor.size() == (bs, 1, decoder.dim)
        tensor = tensor[:, -1, :].type_as(src_enc)  # (bs, dim)
        scores = decoder.predict(tensor)  # (bs, n_words)
        next_words = torch.topk(scores, 1)[1].squeeze(1)
        generated[cur_len] = next_words * unfinished_sents + pad_index * (1 - unfinished_sents)
        gen_len.add_(unfinished_sents)
        unfinished_sents.mul_(next_words.ne(eos_index).long())
        cur_len = cur_len + 1
        if unfinished_sents.max() == 0:
            break
    if cur_len == max_len:  # add </s> to unfinished sentences
        generated[-1].masked_fill_(unfinished_sents.bool(), eos_index)
    assert (generated == eos_index).sum() == 2 * bs
    decoder.train(was_training)
    return generated[:cur_len], gen_len


class BeamHypotheses:
    """XLM `BeamHypotheses` (xlm/model/transformer.py), verbatim: a sentence's finished
    hypotheses, scored sum_logprobs / len(hyp) ** length_penalty, where hyp is
    `generated[:cur_len]` (the BOS and the words, not the final </s>)."""

    def __init__(self, n_hyp, max_len, length_penalty, early_stopping):
        self.max_len = max_len - 1  # ignoring <BOS>
        self.length_penalty = length_penalty
        self.early_stopping = early_stopping
        self.n_hyp = n_hyp
        self.hyp = []
        self.worst_score = 1e9

    def __len__(self):
        return len(self.hyp)

    def add(self, hyp, sum_logprobs):
        score = sum_logprobs / len(hyp) ** self.length_penalty
        if len(self) < self.n_hyp or score > self.worst_score:
            self.hyp.append((score, hyp))
            if len(self) > self.n_hyp:
                sorted_scores = sorted([(s, idx) for idx, (s, _) in enumerate(self.hyp)])
                del self.hyp[sorted_scores[0][1]]
                self.worst_score = sorted_scores[1][0]
            else:
                self.worst_score = min(score, self.worst_score)

    def is_done(self, best_sum_logprobs):
        if len(self) < self.n_hyp:
            return False
        elif self.early_stopping:
            return True
        else:
            return self.worst_score >= best_sum_logprobs / self.max_len ** self.length_penalty


@torch.no_grad()
def generate_beam(decoder, src_enc, src_len, tgt_lang_id, beam_size, length_penalty,
                  early_stopping, max_len, eos_index=EOS_INDEX):
    """XLM `TransformerModel.generate_beam` (xlm/model/transformer.py), in this port's layout
    (`src_enc` `[bs, src_slen, dim]`), in eval mode without gradients. Returns (decoded
    LongTensor[tgt_len.max(), bs] (XLM layout, both </s>), tgt_len LongTensor[bs], the best
    hypotheses' scores [bs])."""
    was_training = decoder.training
    decoder.eval()
    pad_index = decoder.pad_index
    assert src_enc.size(0) == src_len.size(0)
    assert beam_size >= 1
    bs = len(src_len)
    n_words = decoder.n_words
    # expand to beam size the source latent representations / source lengths
    src_enc = src_enc.unsqueeze(1).expand((bs, beam_size) + src_enc.shape[1:]).contiguous().view(
        (bs * beam_size,) + src_enc.shape[1:])
    src_len = src_len.unsqueeze(1).expand(bs, beam_size).contiguous().view(-1)
    generated = src_len.new(max_len, bs * beam_size)  # upcoming output
    generated.fill_(pad_index)
    generated[0].fill_(eos_index)  # <EOS> is <BOS> everywhere
    generated_hyps = [BeamHypotheses(beam_size, max_len, length_penalty, early_stopping)
                      for _ in range(bs)]
    langs = src_len.new_full((bs * beam_size, max_len), tgt_lang_id)  # batch-first for `fwd`
    beam_scores = src_enc.new(bs, beam_size).fill_(0)
    beam_scores[:, 1:] = -1e9
    beam_scores = beam_scores.view(-1)
    cur_len = 1
    cache = {"slen": 0}
    done = [False for _ in range(bs)]
    while cur_len < max_len:
        tensor = decoder.fwd(
            generated[:cur_len].t(), src_len.new(bs * beam_size).fill_(cur_len), causal=True,
            src_enc=src_enc, src_len=src_len, langs=langs[:, :cur_len], cache=cache,
        )
        assert tensor.size() == (bs * beam_size, 1, decoder.dim)
        tensor = tensor.data[:, -1, :]  # (bs * beam_size, dim)
        scores = decoder.predict(tensor)  # (bs * beam_size, n_words)
        scores = F.log_softmax(scores, dim=-1)
        _scores = scores + beam_scores[:, None].expand_as(scores)
        _scores = _scores.view(bs, beam_size * n_words)
        next_scores, next_words = torch.topk(_scores, 2 * beam_size, dim=1, largest=True, sorted=True)
        next_batch_beam = []
        for sent_id in range(bs):
            done[sent_id] = done[sent_id] or generated_hyps[sent_id].is_done(
                next_scores[sent_id].max().item())
            if done[sent_id]:
                next_batch_beam.extend([(0, pad_index, 0)] * beam_size)  # pad the batch
                continue
            next_sent_beam = []
            for idx, value in zip(next_words[sent_id], next_scores[sent_id]):
                beam_id = idx // n_words
                word_id = idx % n_words
                if word_id == eos_index or cur_len + 1 == max_len:
                    generated_hyps[sent_id].add(
                        generated[:cur_len, sent_id * beam_size + beam_id].clone(), value.item())
                else:
                    next_sent_beam.append((value, word_id, sent_id * beam_size + beam_id))
                if len(next_sent_beam) == beam_size:
                    break
            assert len(next_sent_beam) == 0 if cur_len + 1 == max_len else beam_size
            if len(next_sent_beam) == 0:
                next_sent_beam = [(0, pad_index, 0)] * beam_size  # pad the batch
            next_batch_beam.extend(next_sent_beam)
            assert len(next_batch_beam) == beam_size * (sent_id + 1)
        assert len(next_batch_beam) == bs * beam_size
        beam_scores = beam_scores.new([float(x[0]) for x in next_batch_beam])
        beam_words = generated.new([int(x[1]) for x in next_batch_beam])
        beam_idx = src_len.new([int(x[2]) for x in next_batch_beam])
        generated = generated[:, beam_idx]
        generated[cur_len] = beam_words
        for k in cache.keys():
            if k != "slen":
                cache[k] = (cache[k][0][beam_idx], cache[k][1][beam_idx])
        cur_len = cur_len + 1
        if all(done):
            break
    tgt_len = src_len.new(bs)
    best, best_scores = [], []
    for i, hypotheses in enumerate(generated_hyps):
        score, best_hyp = max(hypotheses.hyp, key=lambda x: x[0])
        tgt_len[i] = len(best_hyp) + 1  # +1 for the <EOS> symbol
        best.append(best_hyp)
        best_scores.append(score)
    decoded = src_len.new(tgt_len.max().item(), bs).fill_(pad_index)
    for i, hypo in enumerate(best):
        decoded[: tgt_len[i] - 1, i] = hypo
        decoded[tgt_len[i] - 1, i] = eos_index
    assert (decoded == eos_index).sum() == 2 * bs
    decoder.train(was_training)
    return decoded, tgt_len, best_scores


def _target_loss(decoder, dec, x2, len2):
    """XLM `mt_step`/`bt_step`'s loss: `pred_mask = alen < len2 - 1` (no prediction from the
    final `</s>`), `y = x2[1:][pred_mask[:-1]]` (every token after BOS, incl. the final
    `</s>`), then `TransformerModel.predict` -> `PredLayer`: mean cross-entropy of the tied
    output layer. `dec`: the decoder's output, `[slen2, bs, dim]` (XLM layout)."""
    assert x2.size(0) == int(len2.max())
    alen = torch.arange(int(len2.max()), dtype=torch.long, device=len2.device)
    pred_mask = alen[:, None] < len2[None] - 1
    y = x2[1:].masked_select(pred_mask[:-1])
    assert len(y) == (len2 - 1).sum().item()
    assert (y == decoder.pad_index).sum().item() == 0  # PredLayer's assert
    masked = dec[pred_mask.unsqueeze(-1).expand_as(dec)].view(-1, decoder.dim)
    return F.cross_entropy(decoder.predict(masked), y, reduction="mean")


def ae_step_loss(encoder, decoder, x1, len1, lang1_id, x2, len2, lang2_id):
    """XLM `EncDecTrainer.mt_step`'s loss (xlm/trainer.py), which is also the denoising AE step
    (lang1 == lang2, x1 = `add_noise(x2)`): encode (x1, langs = lang1_id) non-causally, decode
    x2 (langs = lang2_id) causally with cross-attention to the encoder output (source padding
    masked), and take `_target_loss`. Both models are put in train mode, as XLM does. Returns
    the scalar loss before XLM multiplies it by lambda_ae; the caller does `backward`,
    `clip_grad_norm_(encoder + decoder params, 5)` and the optimizer step (one update per
    step). Batches in XLM layout `[slen, bs]`."""
    encoder.train()
    decoder.train()
    langs1 = x1.clone().fill_(lang1_id)
    langs2 = x2.clone().fill_(lang2_id)
    enc1 = encoder.fwd(x1.t(), len1, causal=False, langs=langs1.t())  # [bs, slen1, dim]
    dec2 = decoder.fwd(x2.t(), len2, causal=True, src_enc=enc1, src_len=len1, langs=langs2.t())
    return _target_loss(decoder, dec2.transpose(0, 1), x2, len2)


def bt_step_loss(encoder, decoder, x1, len1, lang1_id, lang2_id, return_generated=False):
    """XLM `EncDecTrainer.bt_step`'s loss (xlm/trainer.py), lang1 -> lang2 -> lang1: in eval mode
    and without gradients encode x1 and translate it greedily into lang2 (`generate_greedy`,
    max_len = int(1.3 * len1.max() + 5)); back in train mode, encode the generated batch (langs
    = lang2_id) and decode the original x1 (langs = lang1_id) from it: `_target_loss`. No
    gradient flows through the generation. Returns the scalar loss (XLM HEAD multiplies it by
    lambda_bt, 1 by default; relm_unmt does not), and with return_generated also (x2, len2)."""
    langs1 = x1.clone().fill_(lang1_id)
    with torch.no_grad():
        encoder.eval()
        decoder.eval()
        enc1 = encoder.fwd(x1.t(), len1, causal=False, langs=langs1.t())
        x2, len2 = generate_greedy(decoder, enc1, len1, lang2_id,
                                   max_len=int(1.3 * len1.max().item() + 5))
        langs2 = x2.clone().fill_(lang2_id)
        del enc1
        encoder.train()
        decoder.train()
    enc2 = encoder.fwd(x2.t(), len2, causal=False, langs=langs2.t())
    dec3 = decoder.fwd(x1.t(), len1, causal=True, src_enc=enc2, src_len=len2, langs=langs1.t())
    loss = _target_loss(decoder, dec3.transpose(0, 1), x1, len1)
    return (loss, x2, len2) if return_generated else loss


def parse_lambda_config(s):
    """XLM `parse_lambda_config` (xlm/utils.py) for one coefficient string; returns what XLM
    stores as `params.lambda_X` and `params.lambda_X_config`: (initial value, schedule).
    "3" -> (3.0, None), a constant; "0:1,100000:0.1,300000:0" -> (1.0, [(0, 1.0),
    (100000, 0.1), (300000, 0.0)]), iteration keys strictly increasing."""
    split = s.split(",")
    if len(split) == 1:
        return float(s), None
    split = [t.split(":") for t in split]
    assert all(len(t) == 2 for t in split)
    assert all(k.isdigit() for k, _ in split)
    assert all(int(split[i][0]) < int(split[i + 1][0]) for i in range(len(split) - 1))
    return float(split[0][1]), [(int(k), float(v)) for k, v in split]


def get_lambda_value(config, n_iter):
    """XLM `get_lambda_value` (xlm/utils.py): linear between the schedule's points, its last
    value from the last key on; n_iter before the first key is an error in XLM (its assert)."""
    ranges = [i for i in range(len(config) - 1) if config[i][0] <= n_iter < config[i + 1][0]]
    if len(ranges) == 0:
        assert n_iter >= config[-1][0]
        return config[-1][1]
    assert len(ranges) == 1
    i = ranges[0]
    x_a, y_a = config[i]
    x_b, y_b = config[i + 1]
    return y_a + (n_iter - x_a) * float(y_b - y_a) / float(x_b - x_a)


def lambda_value(config, n_iter):
    """The coefficient XLM uses during the iteration that starts at `n_total_iter == n_iter`.

    `config`: `parse_lambda_config`'s result (or its string). XLM's `Trainer.iter` increments
    n_total_iter and then calls `update_lambdas(params, n_total_iter)` (xlm/utils.py), so the
    steps of iteration t (0-based) use get_lambda_value(schedule, t) for t >= 1 and the initial
    value for t = 0 (the same thing when the first key is 0, as in the paper). A constant never
    changes. The schedule counts iterations (one pass over all AE and BT steps), not updates;
    XLM skips a step entirely (no update) while its lambda is 0."""
    if isinstance(config, str):
        config = parse_lambda_config(config)
    initial, schedule = config
    if schedule is None:
        return initial
    return initial if n_iter == 0 else get_lambda_value(schedule, n_iter)


class AdamInverseSqrtWithWarmup(XlmAdam):
    """XLM's `AdamInverseSqrtWithWarmup` (xlm/optim.py), `--optimizer
    adam_inverse_sqrt,beta1=0.9,beta2=0.98,lr=0.0001`: XLM's Adam (`XlmAdam`'s step) whose
    learning rate is reset after every update.

    XLM starts the groups at lr = warmup_init_lr and, after each `step()`, increments
    `num_updates` and sets lr = get_lr_for_step(num_updates). So update n (1-based: the n-th
    call of `step()`) uses get_lr_for_step(n - 1):
        n - 1 <  warmup_updates: warmup_init_lr + (n - 1) * (lr - warmup_init_lr) / warmup_updates
        n - 1 >= warmup_updates: lr * sqrt(warmup_updates / (n - 1))
    With the defaults: update 1 uses 1e-7, update 4000 uses 9.9975e-5 (just below the peak),
    update 4001 the peak 1e-4, update 16001 5e-5. (XLM's class default beta2 is 0.999, as is
    `get_optimizer`'s; the paper passes beta2=0.98, the default here.) A checkpoint reload
    restores only num_updates and this lr, not the moments (XLM `reload_checkpoint`)."""

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.98), eps=1e-8, warmup_updates=4000,
                 warmup_init_lr=1e-7, exp_factor=0.5):
        super().__init__(params, lr=warmup_init_lr, betas=betas, eps=eps)
        self.warmup_updates = warmup_updates
        self.warmup_init_lr = warmup_init_lr
        self.lr_step = (lr - warmup_init_lr) / warmup_updates
        self.exp_factor = exp_factor
        self.decay_factor = lr * warmup_updates**exp_factor
        for group in self.param_groups:
            group["num_updates"] = 0

    def get_lr_for_step(self, num_updates):
        if num_updates < self.warmup_updates:
            return self.warmup_init_lr + num_updates * self.lr_step
        return self.decay_factor * (num_updates ** -self.exp_factor)

    def lr_of_update(self, n):
        """The learning rate update n (1-based) is made with."""
        return self.get_lr_for_step(n - 1)

    def step(self):
        super().step()
        for group in self.param_groups:
            group["num_updates"] += 1
            group["lr"] = self.get_lr_for_step(group["num_updates"])


def _port_state_dict(state):
    """An MLM's weights in this port's naming: a `TransformerModel`, its state dict, or an XLM
    checkpoint (`torch.load('mlm.pth')`: key 'model' or 'encoder', optional 'module.' prefix,
    `pred_layer.proj.*` for the output layer)."""
    if isinstance(state, nn.Module):
        return dict(state.state_dict())
    if "model" in state or "encoder" in state:
        state = state["model" if "model" in state else "encoder"]
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return {k.replace("pred_layer.proj.", "pred_proj.", 1): v for k, v in state.items()}


def encoder_decoder_from_mlm(cfg, mlm_state=None, unmt_tensors=None, dtype=None):
    """XLM `build_model` for `--encoder_only false --reload_model 'mlm.pth,mlm.pth'`
    (xlm/model/__init__.py): a fresh encoder, then a fresh decoder (in that order, as XLM builds
    them), both with their own embeddings tied to their own output layer. The encoder gets all
    the MLM's weights (strict load); the decoder gets them too, and every
    `DECODER_ONLY_PARAMS` entry the checkpoint lacks (all of them for an MLM) keeps the
    decoder's fresh value: cross-attention q/k/v/out PyTorch-Linear-initialised, layer_norm15
    weight 1 / bias 0. XLM keeps the MLM's language embeddings (RE-LM forks re-initialise
    them). Pass the MLM as `mlm_state` (see `_port_state_dict`) or as unmt's named tensors
    (`unmt_tensors`, via `load_unmt_weights`). Returns (encoder, decoder)."""
    encoder = TransformerModel(cfg)
    decoder = TransformerModel(cfg, is_decoder=True)
    if dtype is not None:
        encoder, decoder = encoder.to(dtype), decoder.to(dtype)
    decoder_only = [name % i for i in range(cfg["n_layers"]) for name in DECODER_ONLY_PARAMS]
    if mlm_state is not None:
        enc_reload = _port_state_dict(mlm_state)
        encoder.load_state_dict(enc_reload)
        dec_reload = dict(enc_reload)
        own = decoder.state_dict()
        for name in decoder_only:
            if name not in dec_reload:
                dec_reload[name] = own[name]
        decoder.load_state_dict(dec_reload)
    elif unmt_tensors is not None:
        load_unmt_weights(encoder, unmt_tensors)
        load_unmt_weights(decoder, unmt_tensors, allow_missing=decoder_only)
    return encoder, decoder


# ---------------------------------------------------------------------------------------------
# selfcheck-unmt: the UNMT pieces against independently computed values.

UNMT_CHECK_CFG = dict(
    n_words=30, n_langs=2, dim=16, n_layers=2, n_heads=2, hidden_dim=32, dropout=0.0,
    attention_dropout=0.0, gelu_activation=True, max_positions=64, pad_index=PAD_INDEX,
)
FIRST_WORD = 14  # after <s> </s> <pad> <unk> <special0..9>


def _batch(sentences, pad_index=PAD_INDEX):
    """XLM layout from word lists: `</s> w.. </s>` columns, padded."""
    lengths = torch.tensor([len(s) + 2 for s in sentences])
    x = torch.full((int(lengths.max()), len(sentences)), pad_index, dtype=torch.long)
    for i, s in enumerate(sentences):
        x[: len(s) + 2, i] = torch.tensor([EOS_INDEX] + list(s) + [EOS_INDEX])
    return x, lengths


def _columns(x, lengths):
    return [x[: int(lengths[i]), i].tolist() for i in range(lengths.size(0))]


def _greedy_by_full_recompute(decoder, src_enc, src_len, tgt_lang_id, max_len):
    """Greedy decoding written independently of `generate_greedy`: one sentence at a time, its
    source unpadded, the whole causal decoder re-run on the prefix at every step (no cache)."""
    out = []
    with torch.no_grad():
        for i in range(len(src_len)):
            enc = src_enc[i : i + 1, : int(src_len[i])]
            seq = [EOS_INDEX]
            while len(seq) < max_len:
                t = torch.tensor([seq])
                h = decoder.fwd(t, torch.tensor([len(seq)]), causal=True, src_enc=enc,
                                src_len=src_len[i : i + 1], langs=torch.full_like(t, tgt_lang_id))
                seq.append(int(decoder.predict(h[0, -1:]).argmax()))
                if seq[-1] == EOS_INDEX:
                    break
            if seq[-1] != EOS_INDEX:
                seq[-1] = EOS_INDEX
            out.append(seq)
    return out


def _finite_difference_check(loss_fn, probes, eps=1e-5):
    """Worst relative error between autograd and central differences at `probes` (tensor,
    index) pairs; also the largest |gradient| seen, so that a vacuous all-zero check shows."""
    for p, _ in probes:
        p.grad = None
    loss = loss_fn()
    loss.backward()
    worst, biggest = 0.0, 0.0
    for p, idx in probes:
        analytic = p.grad[idx].item()
        with torch.no_grad():
            orig = p[idx].item()
            p[idx] = orig + eps
            up = loss_fn().item()
            p[idx] = orig - eps
            down = loss_fn().item()
            p[idx] = orig
        numeric = (up - down) / (2 * eps)
        worst = max(worst, abs(analytic - numeric) / max(1e-3, abs(analytic)))
        biggest = max(biggest, abs(analytic))
    return loss.item(), worst, biggest


class _Float64Softmax:
    """Attention softmax in float64 for the duration (see SOFTMAX_DTYPE)."""

    def __enter__(self):
        global SOFTMAX_DTYPE
        self.saved, SOFTMAX_DTYPE = SOFTMAX_DTYPE, torch.float64

    def __exit__(self, *exc):
        global SOFTMAX_DTYPE
        SOFTMAX_DTYPE = self.saved


def _unmt_name(port_name):
    """unmt's (Burn) name for a port parameter: the inverse of `xlm_name`, for the check."""
    parts = port_name.split(".")
    if "layer_norm" in port_name:
        parts[-1] = {"weight": "gamma", "bias": "beta"}[parts[-1]]
    if port_name == "pred_proj.bias":
        return "pred_bias"
    head = {"attentions": "attention", "layer_norm1": "layer_norm1", "layer_norm2": "layer_norm2",
            "ffns": "ffn", "encoder_attn": "cross.attention", "layer_norm15": "cross.layer_norm"}
    if parts[0] in head:
        return ".".join(["layers", parts[1], head[parts[0]]] + parts[2:])
    return ".".join(parts)


def selfcheck_unmt():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    failures = []

    def check(name, ok, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
        if not ok:
            failures.append(name)

    k = 3
    rs = np.random.RandomState(0)
    word_lists = [[FIRST_WORD + j for j in range(n)] for n in (1, 2, 5, 9, 3, 7)]  # unique ids
    x, lengths = _batch(word_lists)
    slen, bs = x.shape

    # word_shuffle
    zeros = np.zeros((slen - 1, bs))
    x2, l2 = word_shuffle(x, lengths, k, zeros)
    check("shuffle, all-zero noise (BOS -1) is the identity",
          torch.equal(x2, x) and torch.equal(l2, lengths))
    x2, _ = word_shuffle(x, lengths, 0, None)
    check("shuffle, k=0 returns the batch (XLM draws nothing)", torch.equal(x2, x))
    hx, hl = _batch([[20, 21, 22]])
    hn = np.array([[0.9], [1.5], [0.0], [0.0]])  # scores -1, 2.5, 2, 3 -> BOS, 21, 20, 22
    hx2, _ = word_shuffle(hx, hl, k, hn)
    check("shuffle, hand-computed permutation", hx2[:, 0].tolist() == [1, 21, 20, 22, 1],
          str(hx2[:, 0].tolist()))
    worst_move, moved, ends_ok, perm_ok = 0, 0, True, True
    for _ in range(200):
        x2, _ = word_shuffle(x, lengths, k, rs.uniform(0, k, size=(slen - 1, bs)))
        for i, (a, b) in enumerate(zip(_columns(x, lengths), _columns(x2, lengths))):
            ends_ok &= b[0] == EOS_INDEX and b[-1] == EOS_INDEX
            ends_ok &= bool((x2[len(a):, i] == PAD_INDEX).all())
            perm_ok &= sorted(a[1:-1]) == sorted(b[1:-1])
            for new_pos, tok in enumerate(b[1:-1], start=1):
                old_pos = a.index(tok)
                worst_move = max(worst_move, abs(new_pos - old_pos))
                moved += new_pos != old_pos
    check("shuffle keeps BOS, final </s> and padding", ends_ok)
    check("shuffle permutes only the words", perm_ok)
    check(f"shuffle moves no word {k} or more positions (k={k})", 0 < worst_move < k and moved > 0,
          f"largest move {worst_move}, {moved} words moved")

    # word_dropout
    p = 0.1
    x2, l2 = word_dropout(x, lengths, p, np.full((slen - 1, bs), p), None)  # draw == p keeps
    check("dropout, all-keep draws (>= p) is the identity",
          torch.equal(x2, x) and torch.equal(l2, lengths))
    fb = np.array([min(2, int(n) - 2) for n in lengths])  # word j=2 (or the only one)
    x2, l2 = word_dropout(x, lengths, p, np.zeros((slen - 1, bs)), fb)
    want = [[EOS_INDEX, int(x[fb[i], i]), EOS_INDEX] for i in range(bs)]
    check("dropout, all-drop draws keep exactly the fallback word",
          _columns(x2, l2) == want and tuple(x2.shape) == (3, bs) and l2.tolist() == [3] * bs)
    hx, hl = _batch([[20, 21, 22, 23], [24, 25]])
    hd = np.array([[0.0, 0.0], [0.05, 0.0], [0.5, 0.01], [0.05, 0.0], [0.5, 0.0]])
    hx2, hl2 = word_dropout(hx, hl, p, hd, np.array([-1, 1]))
    check("dropout, hand-computed (drop 20, 22; second sentence falls back to 24)",
          _columns(hx2, hl2) == [[1, 21, 23, 1], [1, 24, 1]] and hx2[3, 1].item() == PAD_INDEX,
          str(_columns(hx2, hl2)))
    try:
        word_dropout(hx, hl, p, np.zeros((5, 2)), np.array([1, 3]))  # x[3, 1] is the final </s>
        check("dropout rejects a fallback index outside randint(1, len(words))", False)
    except ValueError:
        check("dropout rejects a fallback index outside randint(1, len(words))", True)

    # word_blank
    x2, l2 = word_blank(x, lengths, 0, None)
    check("blank, p=0 is the identity", torch.equal(x2, x) and torch.equal(l2, lengths))
    x2, l2 = word_blank(x, lengths, 1.0, rs.rand(slen - 1, bs))
    want = [[EOS_INDEX] + [MASK_INDEX] * (int(n) - 2) + [EOS_INDEX] for n in lengths]
    check("blank, p=1 masks every word, keeps BOS/</s>/padding",
          _columns(x2, l2) == want and torch.equal(x2 == PAD_INDEX, x == PAD_INDEX))
    hx, hl = _batch([[20, 21, 22]])
    hx2, _ = word_blank(hx, hl, 0.1, np.array([[0.0], [0.5], [0.09], [0.1]]))
    check("blank, hand-computed (masks 21 only)", hx2[:, 0].tolist() == [1, 20, MASK_INDEX, 22, 1])

    # add_noise: XLM's order of operations and of RandomState draws
    short = [[FIRST_WORD + j for j in range(n)] for n in (1, 1, 2, 4, 1, 6, 3, 1)]
    sx, sl = _batch(short)
    nx, nl, draws = add_noise(sx, sl, 3, 0.5, 0.3, rng=np.random.RandomState(7), return_draws=True)
    ref_rs = np.random.RandomState(7)
    rows = (sx.size(0) - 1, sx.size(1))
    same = np.array_equal(draws["shuffle_noise"], ref_rs.uniform(0, 3, size=rows))
    same &= np.array_equal(draws["keep_draw"], ref_rs.rand(*rows))
    n_fallback = 0
    for i, j in enumerate(draws["fallback_draw"]):
        if j >= 0:
            same &= j == ref_rs.randint(1, int(sl[i]) - 1)
            n_fallback += 1
    same &= np.array_equal(draws["blank_draw"], ref_rs.rand(nx.size(0) - 1, nx.size(1)))
    check("add_noise takes XLM's draws in XLM's order (uniform, rand, randint.., rand)",
          bool(same) and n_fallback > 0, f"{n_fallback} fallback draws")
    a, al = word_shuffle(sx, sl, 3, draws["shuffle_noise"])
    a, al = word_dropout(a, al, 0.5, draws["keep_draw"], draws["fallback_draw"])
    a, al = word_blank(a, al, 0.3, draws["blank_draw"])
    b, bl = add_noise(sx, sl, 3, 0.5, 0.3, draws["shuffle_noise"], draws["keep_draw"],
                      draws["fallback_draw"], draws["blank_draw"])
    check("add_noise = shuffle, then dropout, then blank (replayed draws)",
          torch.equal(a, nx) and torch.equal(al, nl) and torch.equal(b, nx) and torch.equal(bl, nl))

    # encoder + decoder from one MLM
    cfg = UNMT_CHECK_CFG
    mlm = TransformerModel(cfg).double()
    encoder, decoder = encoder_decoder_from_mlm(cfg, mlm_state=mlm, dtype=torch.float64)
    mlm_p = dict(mlm.named_parameters())
    enc_same = all(torch.equal(p, mlm_p[n]) for n, p in encoder.named_parameters())
    dec_shared = all(torch.equal(p, mlm_p[n]) for n, p in decoder.named_parameters() if n in mlm_p)
    fresh = all(
        torch.equal(decoder.layer_norm15[i].weight, torch.ones(cfg["dim"], dtype=torch.float64))
        and torch.equal(decoder.layer_norm15[i].bias, torch.zeros(cfg["dim"], dtype=torch.float64))
        and decoder.encoder_attn[i].q_lin.weight.abs().max() <= cfg["dim"] ** -0.5
        and not any(torch.equal(decoder.encoder_attn[i].q_lin.weight, a.q_lin.weight)
                    for a in mlm.attentions)
        for i in range(cfg["n_layers"])
    )
    check("reload 'mlm,mlm': encoder = MLM, decoder = MLM + fresh cross-attention/LN15",
          enc_same and dec_shared and fresh
          and decoder.embeddings.weight.data_ptr() != encoder.embeddings.weight.data_ptr())
    # to_xlm_layout is its own inverse (a transpose); pred_proj.weight is embeddings.weight
    unmt = {_unmt_name(n): to_xlm_layout(_unmt_name(n), t.detach())
            for n, t in mlm.named_parameters() if n != "pred_proj.weight"}
    e2, d2 = encoder_decoder_from_mlm(cfg, unmt_tensors=unmt, dtype=torch.float64)
    ok = all(torch.equal(p, mlm_p[n]) for n, p in e2.named_parameters())
    ok &= all(torch.equal(p, mlm_p[n]) for n, p in d2.named_parameters() if n in mlm_p)
    check("the same from unmt-named tensors (load_unmt_weights, decoder-only blocks missing)", ok)

    # greedy generation: cache vs full recompute, early </s> and forced </s> both exercised
    src_words = [[FIRST_WORD + (7 * i + 3 * j) % 16 for j in range(n)]
                 for i, n in enumerate((5, 1, 8, 3, 6, 2))]
    x1, len1 = _batch(src_words)
    with torch.no_grad():
        enc1 = encoder.eval().fwd(x1.t(), len1, causal=False, langs=torch.full_like(x1.t(), 0))
    max_len = int(1.3 * len1.max().item() + 5)
    best = None
    for bias in [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0]:  # raise P(</s>) until both kinds occur
        with torch.no_grad():
            decoder.pred_proj.bias[EOS_INDEX] = mlm.pred_proj.bias[EOS_INDEX] + bias
        gen, glen = generate_greedy(decoder, enc1, len1, 1, max_len)
        early = int((glen < max_len).sum())
        if 0 < early < bs:
            best = bias
            break
    ref_seqs = _greedy_by_full_recompute(decoder, enc1, len1, 1, max_len)
    got = _columns(gen, glen)
    pad_ok = all(bool((gen[int(glen[i]):, i] == PAD_INDEX).all()) for i in range(bs))
    check("greedy with the cache = per-sentence full causal recompute (tokens, lengths)",
          got == ref_seqs and gen.size(0) == int(glen.max()) and pad_ok and best is not None,
          f"{early} of {bs} ended by </s> before max_len={max_len}, the rest forced "
          f"(</s> output bias raised by {best})")
    with torch.no_grad():
        decoder.pred_proj.bias[EOS_INDEX] = mlm.pred_proj.bias[EOS_INDEX]

    # AE loss: batched vs per-sentence, and gradients vs finite differences
    clean_words = [[FIRST_WORD + (5 * i + 2 * j) % 16 for j in range(n)]
                   for i, n in enumerate((4, 2, 7, 3))]
    x_clean, l_clean = _batch(clean_words)
    x_noisy, l_noisy = add_noise(x_clean, l_clean, 3, 0.1, 0.1, rng=np.random.RandomState(1))
    loss = ae_step_loss(encoder, decoder, x_noisy, l_noisy, 0, x_clean, l_clean, 0)
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(len(clean_words)):
            src = x_noisy[: int(l_noisy[i]), i][None]
            tgt = x_clean[: int(l_clean[i]), i][None]
            e = encoder.fwd(src, l_noisy[i : i + 1], causal=False, langs=torch.zeros_like(src))
            d = decoder.fwd(tgt, l_clean[i : i + 1], causal=True, src_enc=e,
                            src_len=l_noisy[i : i + 1], langs=torch.zeros_like(tgt))
            logp = F.log_softmax(decoder.predict(d[0, :-1]), dim=-1)
            total -= logp.gather(1, tgt[0, 1:, None]).sum().item()
            count += tgt.size(1) - 1
    check("AE loss finite and = per-sentence unpadded CE over every token after BOS",
          math.isfinite(loss.item()) and abs(loss.item() - total / count) < 1e-12,
          f"{loss.item():.12f} vs {total / count:.12f}")
    probes = [
        (encoder.attentions[0].q_lin.weight, (0, 1)),
        (encoder.embeddings.weight, (int(x_noisy[1, 0]), 3)),
        (encoder.lang_embeddings.weight, (0, 2)),
        (decoder.encoder_attn[1].v_lin.weight, (2, 0)),
        (decoder.layer_norm15[0].weight, (1,)),
        (decoder.embeddings.weight, (int(x_clean[2, 0]), 5)),  # tied to the output layer
        (decoder.pred_proj.bias, (EOS_INDEX,)),
    ]
    with _Float64Softmax():
        _, worst, biggest = _finite_difference_check(
            lambda: ae_step_loss(encoder, decoder, x_noisy, l_noisy, 0, x_clean, l_clean, 0),
            probes)
    check("AE gradients = central finite differences", worst < 1e-6 and biggest > 1e-4,
          f"worst rel. error {worst:.2e}, largest |grad| {biggest:.3f}")

    # BT loss: finite, and gradients (generation fixed under the perturbation) vs differences
    loss, gx, gl = bt_step_loss(encoder, decoder, x_clean, l_clean, 0, 1, return_generated=True)
    bt_probes = [
        (encoder.attentions[1].k_lin.weight, (3, 4)),
        (encoder.lang_embeddings.weight, (1, 0)),
        (decoder.encoder_attn[0].q_lin.bias, (5,)),
        (decoder.ffns[1].lin1.weight, (7, 2)),
        (decoder.embeddings.weight, (int(x_clean[1, 1]), 0)),
    ]
    stable = [True]

    def bt_loss():
        value, hx_, hl_ = bt_step_loss(encoder, decoder, x_clean, l_clean, 0, 1,
                                       return_generated=True)
        stable[0] &= torch.equal(hx_, gx) and torch.equal(hl_, gl)
        return value

    with _Float64Softmax():
        _, worst, biggest = _finite_difference_check(bt_loss, bt_probes)
    check("BT loss finite, gradients = central finite differences",
          math.isfinite(loss.item()) and stable[0] and worst < 1e-6 and biggest > 1e-4
          and gx.size(0) <= int(1.3 * l_clean.max().item() + 5),
          f"loss {loss.item():.4f}, worst rel. error {worst:.2e}, largest |grad| {biggest:.3f}")

    # lambda schedule
    sched = parse_lambda_config("0:1,100000:0.1,300000:0")
    want = {0: 1.0, 50000: 0.55, 100000: 0.1, 200000: 0.05, 300000: 0.0, 400000: 0.0}
    got = {n: lambda_value(sched, n) for n in want}
    check("lambda '0:1,100000:0.1,300000:0' at 0, 50k, 100k, 200k, 300k, 400k",
          all(abs(got[n] - want[n]) < 1e-12 for n in want),
          ", ".join(f"{n}:{v:.6g}" for n, v in got.items()))
    check("lambda '1' is constant", parse_lambda_config("1") == (1.0, None)
          and lambda_value("1", 0) == 1.0 and lambda_value("1", 10**6) == 1.0)

    # inverse-sqrt learning rate: the lr each update is made with, and the first update itself
    w = nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = AdamInverseSqrtWithWarmup([w])
    # warmup: 1e-7 + (n-1) * 2.4975e-8; then 1e-4 * sqrt(4000 / (n-1))
    want = {1: 1e-7, 2000: 5.0025025e-05, 4000: 9.9975025e-05, 4001: 1e-4,
            16000: 1e-4 * math.sqrt(4000 / 15999)}
    seen = {}
    for n in range(1, 16001):
        w.grad = torch.ones(1, dtype=torch.float64)
        seen[n] = opt.param_groups[0]["lr"]
        before = w.item()
        opt.step()
        if n == 1:
            first = w.item() - before
    lr_ok = all(abs(seen[n] - v) <= 1e-12 * v for n, v in want.items())
    lr_ok &= all(abs(opt.lr_of_update(n) - v) <= 1e-12 * v for n, v in want.items())
    check("inverse-sqrt lr of updates 1, 2000, 4000, 4001, 16000 (1-based)", lr_ok,
          ", ".join(f"{n}:{seen[n]:.10g}" for n in want))
    b2 = 0.98
    want_first = -1e-7 * math.sqrt(1 - b2) / (math.sqrt(1 - b2) * 1.0 + 1e-8)
    check("first adam_inverse_sqrt update = -1e-7 * sqrt(1-b2)g / (sqrt(1-b2)|g| + eps)",
          abs(first - want_first) < 1e-20, f"{first:.6e}")

    verdict = f"{len(failures)} FAILED" if failures else "all passed"
    print(f"selfcheck-unmt: {verdict}", flush=True)
    return 1 if failures else 0


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


UNMT_CASES = {
    "quickstart": dict(n_words=2217, dim=64, n_layers=2, n_heads=4, tokens_per_batch=400, slen=20),
    "small": dict(n_words=10000, dim=256, n_layers=4, n_heads=8, tokens_per_batch=1000, slen=25),
    "paper": dict(n_words=32000, dim=1024, n_layers=6, n_heads=8, tokens_per_batch=1000, slen=25),
}


def bench_unmt(case, steps, device, seed=0):
    """The PyTorch-eager side of examples/bench_unmt.rs (see its docs): the AE step
    (`ae_step_loss` with source = target, no noise), the BT step (`bt_step_loss`), each
    followed by backward, `clip_grad_norm_(5)` and XLM's Adam (beta2 0.98), then greedy
    generation (`generate_greedy`) at BT's max_len and at 16/32/64/128. `</s>` gets a -1e4
    output bias so every generation runs to max_len, as on the Rust side."""
    c = UNMT_CASES[case]
    torch.manual_seed(seed)
    cfg = dict(
        n_words=c["n_words"], n_langs=2, dim=c["dim"], n_layers=c["n_layers"],
        n_heads=c["n_heads"], hidden_dim=4 * c["dim"], dropout=0.1, attention_dropout=0.1,
        gelu_activation=True, pad_index=PAD_INDEX,
    )
    encoder, decoder = encoder_decoder_from_mlm(cfg)
    encoder, decoder = encoder.to(device), decoder.to(device)
    with torch.no_grad():
        decoder.pred_proj.bias[EOS_INDEX] -= 1e4
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = XlmAdam(params, lr=1e-4, betas=(0.9, 0.98))
    bs, slen = c["tokens_per_batch"] // c["slen"], c["slen"]
    gen = torch.Generator(device="cpu").manual_seed(seed)
    x = torch.randint(FIRST_WORD, c["n_words"], (slen, bs), generator=gen)
    x[0] = EOS_INDEX
    x[-1] = EOS_INDEX
    x = x.to(device)
    lengths = torch.full((bs,), slen, dtype=torch.long, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def timed(fn):
        fn()
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        sync()
        return (time.perf_counter() - start) / steps

    def step(loss):
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        return loss.detach().item()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    ae_s = timed(lambda: step(ae_step_loss(encoder, decoder, x, lengths, 0, x, lengths, 0)))
    gen_len = int(1.3 * slen + 5)
    bt_s = timed(lambda: step(bt_step_loss(encoder, decoder, x, lengths, 0, 1)))

    def greedy(max_len):
        encoder.eval()
        with torch.no_grad():
            enc = encoder.fwd(x.t(), lengths, causal=False, langs=torch.zeros_like(x).t())
            out, out_len = generate_greedy(decoder, enc, lengths, 1, max_len)
        assert int(out_len.min()) == max_len
        return out

    greedy_s = timed(lambda: greedy(gen_len))

    def beam5():
        encoder.eval()
        with torch.no_grad():
            enc = encoder.fwd(x.t(), lengths, causal=False, langs=torch.zeros_like(x).t())
            return generate_beam(decoder, enc, lengths, 1, 5, 1.0, False, int(1.5 * slen + 10))

    beam_s = timed(beam5)
    per_position = [[n, 1e3 * timed(lambda: greedy(n)) / (n - 1)] for n in (16, 32, 64, 128)]
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return dict(
        ae_tokens_per_s=2 * bs * slen / ae_s,
        bt_tokens_per_s=(bs * slen + bs * gen_len) / bt_s,
        greedy_sentences_per_s=bs / greedy_s,
        beam5_sentences_per_s=bs / beam_s,
        ms_per_position=per_position,
        peak_mib=peak,
        threads=torch.get_num_threads(),
        torch=torch.__version__,
    )


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
    u = sub.add_parser("bench-unmt", help="time XLM UNMT steps and greedy generation (PyTorch eager)")
    u.add_argument("--case", choices=sorted(UNMT_CASES), required=True)
    u.add_argument("--steps", type=int, default=4)
    u.add_argument("--device", default="cpu", help="cpu or cuda:N")
    sub.add_parser(
        "selfcheck-unmt",
        help="check the UNMT pieces (noise, greedy generation, AE/BT losses, lambda, lr) on CPU",
    )
    args = p.parse_args()
    if args.cmd == "selfcheck-unmt":
        return selfcheck_unmt()
    if args.cmd == "bench-unmt":
        print(json.dumps(bench_unmt(args.case, args.steps, torch.device(args.device))), flush=True)
        return 0
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
