#!/usr/bin/python3
"""Reference values for berry's training engine (tests/test_train.c), computed with PyTorch in float64.

Writes tests/data/train_*.bin:
  train_{llama,qwen2,gemma2}.bin        full fine-tuning: weights, a packed batch, per-token loss
                                        coefficients c, log p(target), and d(sum c*logp)/d(every param)
  train_{llama,qwen2,gemma2}_lora.bin   the same with LoRA adapters on every projection (base frozen)
  train_adamw.bin                       parameters before/after torch.optim.AdamW steps
  train_dpo.bin                         DPO loss and d(loss)/d(logp) from a PyTorch DPO

The model is written here from the architectures' definitions (HF transformers' llama / qwen2 / gemma2
modeling, with llama.cpp's GGUF conventions: llama rotates pairs (2i, 2i+1) because llama.cpp's
converter permutes Q and K; qwen2 and gemma2 rotate (i, i + d/2); gemma norm weights already hold the +1).

File format (little-endian): "BTRF", u32 version 1, u32 record count, then per record: u32 name
length, name bytes, u64 value count, float32 values.

Usage: /usr/bin/python3 tests/ref/train_ref.py [OUTDIR]   (default: tests/data)
"""
import math
import os
import struct
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
ARCH_ID = {"llama": 0, "qwen2": 1, "gemma2": 2}


def config(arch):
    c = dict(arch=arch, n_vocab=32, n_embd=16, n_layer=2, n_head=4, n_head_kv=2, head_dim=8, n_ff=24,
             norm_eps=1e-5, rope_theta=10000.0, attn_scale=1 / math.sqrt(8), attn_softcap=0.0,
             final_softcap=0.0, sliding_window=0, n_seq=2, n_ctx=12, std=0.3)
    if arch == "llama":
        c["rope_theta"] = 500000.0
    if arch == "qwen2":
        c["rope_theta"] = 1000000.0
    if arch == "gemma2":
        # Small caps and a short window, so that the soft-caps bend and the window masks in this tiny test.
        c.update(attn_scale=1 / math.sqrt(16), attn_softcap=2.0, final_softcap=3.0, sliding_window=4, std=0.5)
    return c


def tensor_shapes(c):
    C, QD, KD, F = c["n_embd"], c["n_head"] * c["head_dim"], c["n_head_kv"] * c["head_dim"], c["n_ff"]
    s = {"token_embd.weight": (c["n_vocab"], C)}
    for l in range(c["n_layer"]):
        b = f"blk.{l}."
        s[b + "attn_norm.weight"] = (C,)
        s[b + "attn_q.weight"] = (QD, C)
        s[b + "attn_k.weight"] = (KD, C)
        s[b + "attn_v.weight"] = (KD, C)
        if c["arch"] == "qwen2":
            s[b + "attn_q.bias"] = (QD,)
            s[b + "attn_k.bias"] = (KD,)
            s[b + "attn_v.bias"] = (KD,)
        s[b + "attn_output.weight"] = (C, QD)
        if c["arch"] == "gemma2":
            s[b + "post_attention_norm.weight"] = (C,)
            s[b + "post_ffw_norm.weight"] = (C,)
        s[b + "ffn_norm.weight"] = (C,)
        s[b + "ffn_gate.weight"] = (F, C)
        s[b + "ffn_up.weight"] = (F, C)
        s[b + "ffn_down.weight"] = (C, F)
    s["output_norm.weight"] = (C,)
    if c["arch"] != "gemma2":  # gemma2 ties the output head to the embedding
        s["output.weight"] = (c["n_vocab"], C)
    return s


PROJ = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]


def rmsnorm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rope(x, pos, c, div):
    # x: (B, T, nh, D); pos: (B, T)
    D = c["head_dim"]
    half = D // 2
    inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    if div is not None:
        inv = inv / div.double()
    th = (pos[..., None].double() * inv).to(x.dtype)  # (B, T, half)
    cos, sin = torch.cos(th)[:, :, None, :], torch.sin(th)[:, :, None, :]
    if c["arch"] == "llama":
        x0, x1 = x[..., 0::2], x[..., 1::2]
        r0, r1 = x0 * cos - x1 * sin, x0 * sin + x1 * cos
        return torch.stack([r0, r1], dim=-1).flatten(-2)
    x0, x1 = x[..., :half], x[..., half:]
    return torch.cat([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def forward(P, c, tokens, targets, seg, pos, div, lora=None, lora_scale=1.0):
    B, T = tokens.shape
    C, H, KV, D = c["n_embd"], c["n_head"], c["n_head_kv"], c["head_dim"]
    gemma = c["arch"] == "gemma2"

    def lin(x, name, l):
        key = f"blk.{l}.{name}.weight"
        y = x @ P[key].T
        if name in ("attn_q", "attn_k", "attn_v") and f"blk.{l}.{name}.bias" in P:
            y = y + P[f"blk.{l}.{name}.bias"]
        if lora is not None and key + ".lora_a" in lora:
            y = y + lora_scale * ((x @ lora[key + ".lora_a"].T) @ lora[key + ".lora_b"].T)
        return y

    x = P["token_embd.weight"][tokens]
    if gemma:
        x = x * math.sqrt(C)
    ii = torch.arange(T)
    for l in range(c["n_layer"]):
        b = f"blk.{l}."
        h = rmsnorm(x, P[b + "attn_norm.weight"], c["norm_eps"])
        q = rope(lin(h, "attn_q", l).view(B, T, H, D), pos, c, div)
        k = rope(lin(h, "attn_k", l).view(B, T, KV, D), pos, c, div)
        v = lin(h, "attn_v", l).view(B, T, KV, D)
        k = k.repeat_interleave(H // KV, dim=2)
        v = v.repeat_interleave(H // KV, dim=2)
        s = torch.einsum("bthd,bjhd->bhtj", q, k) * c["attn_scale"]
        if c["attn_softcap"] > 0:
            s = torch.tanh(s / c["attn_softcap"]) * c["attn_softcap"]
        allowed = (ii[None, :, None] >= ii[None, None, :]) & (seg[:, :, None] == seg[:, None, :])
        if c["sliding_window"] > 0 and l % 2 == 0:
            allowed = allowed & (pos[:, :, None] - pos[:, None, :] < c["sliding_window"])
        s = s.masked_fill(~allowed[:, None], float("-inf"))
        p = torch.softmax(s, dim=-1)
        o = torch.einsum("bhtj,bjhd->bthd", p, v).reshape(B, T, H * D)
        o = lin(o, "attn_output", l)
        if gemma:
            o = rmsnorm(o, P[b + "post_attention_norm.weight"], c["norm_eps"])
        x = x + o
        h = rmsnorm(x, P[b + "ffn_norm.weight"], c["norm_eps"])
        g = lin(h, "ffn_gate", l)
        act = gelu_tanh(g) if gemma else torch.nn.functional.silu(g)
        f = lin(act * lin(h, "ffn_up", l), "ffn_down", l)
        if gemma:
            f = rmsnorm(f, P[b + "post_ffw_norm.weight"], c["norm_eps"])
        x = x + f
    x = rmsnorm(x, P["output_norm.weight"], c["norm_eps"])
    W = P["output.weight"] if "output.weight" in P else P["token_embd.weight"]
    logits = x @ W.T
    if c["final_softcap"] > 0:
        logits = torch.tanh(logits / c["final_softcap"]) * c["final_softcap"]
    lp = torch.log_softmax(logits, dim=-1)
    t = targets.clamp(min=0)
    logp = lp.gather(-1, t[..., None])[..., 0] * (targets >= 0)
    return logp


class Writer:
    def __init__(self):
        self.recs = []

    def add(self, name, values):
        a = np.asarray(values, dtype=np.float64).astype(np.float32).ravel()
        self.recs.append((name, a))

    def save(self, path):
        with open(path, "wb") as f:
            f.write(b"BTRF" + struct.pack("<II", 1, len(self.recs)))
            for name, a in self.recs:
                nb = name.encode()
                f.write(struct.pack("<I", len(nb)) + nb + struct.pack("<Q", a.size) + a.tobytes())


def batch(c, rng):
    B, T = c["n_seq"], c["n_ctx"]
    tokens = torch.tensor(rng.integers(0, c["n_vocab"], size=(B, T)))
    seg = torch.zeros(B, T, dtype=torch.long)
    seg[1, 5:] = 1  # row 1 packs two documents: 5 tokens, then 7
    start = torch.zeros(B, T, dtype=torch.long)
    for b in range(B):
        for t in range(T):
            start[b, t] = start[b, t - 1] if t > 0 and seg[b, t] == seg[b, t - 1] else t
    pos = torch.arange(T)[None, :] - start
    targets = torch.full((B, T), -1, dtype=torch.long)
    for b in range(B):
        for t in range(T - 1):
            if seg[b, t] == seg[b, t + 1]:
                targets[b, t] = tokens[b, t + 1]
    targets[0, :3] = -1  # a masked prompt
    # Loss coefficients: SFT-like weights (some tokens count double), normalized, negated.
    w = (targets >= 0).double() * torch.tensor(rng.uniform(0.5, 2.0, size=(B, T)))
    coef = -w / w.sum()
    return tokens, targets, seg, pos, coef


def write_model_case(c, outdir, lora_rank, seed):
    rng = np.random.default_rng(seed)
    shapes = tensor_shapes(c)
    P = {}
    for name, shp in shapes.items():
        if name.endswith("norm.weight"):
            v = 1.0 + 0.2 * rng.standard_normal(shp)
        else:
            v = c["std"] * rng.standard_normal(shp)
        P[name] = torch.tensor(v)
    div = None
    if c["arch"] == "llama":  # Llama 3's frequency divisors (rope_freqs.weight), arbitrary here
        div = torch.tensor(rng.uniform(1.0, 8.0, size=c["head_dim"] // 2))
    lora = None
    scale = 1.0
    if lora_rank:
        alpha = 2.0 * lora_rank
        scale = alpha / lora_rank
        lora = {}
        for l in range(c["n_layer"]):
            for pname in PROJ:
                key = f"blk.{l}.{pname}.weight"
                rows, cols = shapes[key]
                lora[key + ".lora_a"] = torch.tensor(0.3 * rng.standard_normal((lora_rank, cols)))
                lora[key + ".lora_b"] = torch.tensor(0.3 * rng.standard_normal((rows, lora_rank)))
    tokens, targets, seg, pos, coef = batch(c, rng)
    train = lora if lora is not None else P
    for t in train.values():
        t.requires_grad_(True)
    logp = forward(P, c, tokens, targets, seg, pos, div, lora, scale)
    (coef * logp).sum().backward()
    # The same in float32: how far float32 rounding alone moves each gradient from the float64 one.
    P32 = {k: v.detach().float().requires_grad_(lora is None) for k, v in P.items()}
    lora32 = {k: v.detach().float().requires_grad_(True) for k, v in lora.items()} if lora is not None else None
    logp32 = forward(P32, c, tokens, targets, seg, pos, div, lora32, scale)
    (coef.float() * logp32).sum().backward()
    train32 = lora32 if lora32 is not None else P32

    w = Writer()
    w.add("config", [ARCH_ID[c["arch"]], c["n_vocab"], c["n_embd"], c["n_layer"], c["n_head"], c["n_head_kv"],
                     c["head_dim"], c["n_ff"], c["norm_eps"], c["rope_theta"], c["attn_scale"], c["attn_softcap"],
                     c["final_softcap"], c["sliding_window"], c["n_seq"], c["n_ctx"], lora_rank,
                     2.0 * lora_rank if lora_rank else 0])
    if div is not None:
        w.add("rope_freqs.weight", div)
    for name, t in P.items():
        w.add(name, t.detach())
    if lora is not None:
        for name, t in lora.items():
            w.add(name, t.detach())
    w.add("tokens", tokens)
    w.add("targets", targets)
    w.add("seg", seg)
    w.add("coef", coef)
    w.add("logp", logp.detach())
    for name, t in train.items():
        w.add("grad:" + name, t.grad)
        g32 = train32[name].grad.double()
        w.add("f32err:" + name, [((g32 - t.grad).abs().max() / t.grad.abs().max()).item()])
    w.add("f32err:logp", [((logp32.double() - logp).abs().max() / logp.abs().max()).item()])
    suffix = "_lora" if lora_rank else ""
    w.save(os.path.join(outdir, f"train_{c['arch']}{suffix}.bin"))


def write_adamw(outdir):
    # Three AdamW steps with torch.optim.AdamW on a parameter of 37 values, fixed gradients per step,
    # in float32 as training runs.
    rng = np.random.default_rng(7)
    p0 = rng.standard_normal(37).astype(np.float32)
    grads = [rng.standard_normal(37).astype(np.float32) for _ in range(3)]
    lrs = [1e-2, 5e-3, 2e-3]
    p = torch.tensor(p0, dtype=torch.float32, requires_grad=True)
    opt = torch.optim.AdamW([p], lr=lrs[0], betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    w = Writer()
    w.add("p0", p0)
    for i, g in enumerate(grads):
        for grp in opt.param_groups:
            grp["lr"] = lrs[i]
        p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        w.add(f"grad{i}", g)
        w.add(f"lr{i}", [lrs[i]])
        w.add(f"p{i + 1}", p.detach().numpy())
    w.save(os.path.join(outdir, "train_adamw.bin"))


def write_dpo(outdir):
    # DPO (Rafailov et al. 2023): loss = -mean log sigmoid(beta * ((pc - rc) - (pr - rr))), where pc, pr are
    # the summed completion log-probabilities of chosen and rejected under the policy, rc, rr under the
    # reference. Token log-probs are the leaves; their gradient is what berry's loss returns.
    rng = np.random.default_rng(11)
    n_pairs, T, beta = 3, 6, 0.1
    logp = torch.tensor(rng.uniform(-4, -0.1, size=(n_pairs, 2, T)), requires_grad=True)
    ref = torch.tensor(rng.uniform(-4, -0.1, size=(n_pairs, 2, T)))
    mask = torch.tensor(rng.uniform(size=(n_pairs, 2, T)) < 0.7).double()
    mask[:, :, 0] = 0  # prompt tokens never count
    s = (logp * mask).sum(-1)
    r = (ref * mask).sum(-1)
    z = beta * ((s[:, 0] - r[:, 0]) - (s[:, 1] - r[:, 1]))
    loss = -torch.nn.functional.logsigmoid(z).mean()
    loss.backward()
    w = Writer()
    w.add("shape", [n_pairs, T, beta])
    w.add("logp", logp.detach())
    w.add("ref", ref)
    w.add("mask", mask)
    w.add("loss", [loss.item()])
    w.add("dlogp", logp.grad)
    w.save(os.path.join(outdir, "train_dpo.bin"))


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "data")
    os.makedirs(outdir, exist_ok=True)
    for i, arch in enumerate(["llama", "qwen2", "gemma2"]):
        write_model_case(config(arch), outdir, 0, 100 + i)
        write_model_case(config(arch), outdir, 4, 200 + i)
    write_adamw(outdir)
    write_dpo(outdir)


if __name__ == "__main__":
    main()
