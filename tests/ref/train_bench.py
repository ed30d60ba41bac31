#!/usr/bin/python3
"""PyTorch's training speed on the shapes of bench/bench_train.c, for comparison in the same run.

A plain PyTorch llama / qwen2 (RMSNorm, rotary attention with GQA and a causal mask, SwiGLU, AdamW) as a
user of Debian's python3-torch (1.13, OpenBLAS) would write it. Prints one line: "tokens_per_s X".

Usage: train_bench.py SHAPE THREADS STEPS [T]   (T: sequence length instead of the shape's)
  SHAPE: llama10m (full fine-tuning, vocab 2048, width 320, 6 layers, FFN 864, batch 8 x 256)
         qwen05b-lora16 (Qwen2.5-0.5B shapes, frozen f32 base, LoRA rank 16 on every projection, batch 1 x 256)
"""
import math
import sys
import time

import torch
import torch.nn.functional as F


def shape(name):
    if name == "llama10m":
        return dict(V=2048, C=320, L=6, H=5, KV=5, D=64, FF=864, B=8, T=256, bias=False, tied=False, lora=0)
    if name == "qwen05b-lora16":
        return dict(V=151936, C=896, L=24, H=14, KV=2, D=64, FF=4864, B=1, T=256, bias=True, tied=True, lora=16)
    raise SystemExit("unknown shape " + name)


class Lin(torch.nn.Module):
    def __init__(self, i, o, bias, lora):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(o, i) * 0.02, requires_grad=lora == 0)
        self.b = torch.nn.Parameter(torch.zeros(o), requires_grad=lora == 0) if bias else None
        self.lora = lora
        if lora:
            self.a = torch.nn.Parameter(torch.randn(lora, i) / math.sqrt(i))
            self.bb = torch.nn.Parameter(torch.zeros(o, lora))

    def forward(self, x):
        y = F.linear(x, self.w, self.b)
        if self.lora:
            y = y + F.linear(F.linear(x, self.a), self.bb) * 2.0
        return y


class RMSNorm(torch.nn.Module):
    def __init__(self, c, train):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(c), requires_grad=train)

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.w


def rope(x, cos, sin):
    h = x.shape[-1] // 2
    x0, x1 = x[..., :h], x[..., h:]
    return torch.cat([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)


class Block(torch.nn.Module):
    def __init__(self, s):
        super().__init__()
        C, H, KV, D, FF, r, full = s["C"], s["H"], s["KV"], s["D"], s["FF"], s["lora"], s["lora"] == 0
        self.s = s
        self.n1, self.n2 = RMSNorm(C, full), RMSNorm(C, full)
        self.q, self.k, self.v = Lin(C, H * D, s["bias"], r), Lin(C, KV * D, s["bias"], r), Lin(C, KV * D, s["bias"], r)
        self.o = Lin(H * D, C, False, r)
        self.g, self.u, self.d = Lin(C, FF, False, r), Lin(C, FF, False, r), Lin(FF, C, False, r)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        H, KV, D = self.s["H"], self.s["KV"], self.s["D"]
        h = self.n1(x)
        q = rope(self.q(h).view(B, T, H, D).transpose(1, 2), cos, sin)
        k = rope(self.k(h).view(B, T, KV, D).transpose(1, 2), cos, sin)
        v = self.v(h).view(B, T, KV, D).transpose(1, 2)
        if KV != H:
            k = k.repeat_interleave(H // KV, dim=1)
            v = v.repeat_interleave(H // KV, dim=1)
        a = (q @ k.transpose(-1, -2)) / math.sqrt(D) + mask
        o = (torch.softmax(a, dim=-1) @ v).transpose(1, 2).reshape(B, T, H * D)
        x = x + self.o(o)
        h = self.n2(x)
        return x + self.d(F.silu(self.g(h)) * self.u(h))


class Model(torch.nn.Module):
    def __init__(self, s):
        super().__init__()
        full = s["lora"] == 0
        self.s = s
        self.emb = torch.nn.Parameter(torch.randn(s["V"], s["C"]) * 0.02, requires_grad=full)
        self.blocks = torch.nn.ModuleList([Block(s) for _ in range(s["L"])])
        self.norm = RMSNorm(s["C"], full)
        self.out = None if s["tied"] else torch.nn.Parameter(torch.randn(s["V"], s["C"]) * 0.02, requires_grad=full)

    def forward(self, tok, tgt):
        T, D = tok.shape[1], self.s["D"]
        inv = 1.0 / (10000 ** (torch.arange(0, D, 2).float() / D))
        th = torch.arange(T).float()[:, None] * inv
        cos, sin = torch.cos(th), torch.sin(th)
        mask = torch.full((T, T), float("-inf")).triu(1)
        x = self.emb[tok]
        for b in self.blocks:
            x = b(x, cos, sin, mask)
        logits = F.linear(self.norm(x), self.out if self.out is not None else self.emb)
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), tgt.view(-1))


def main():
    s = shape(sys.argv[1])
    if len(sys.argv) > 4:
        s["T"] = int(sys.argv[4])
    torch.set_num_threads(int(sys.argv[2]))
    steps = int(sys.argv[3])
    torch.manual_seed(0)
    m = Model(s)
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-4)
    tok = torch.randint(0, s["V"], (s["B"], s["T"]))
    tgt = torch.randint(0, s["V"], (s["B"], s["T"]))
    t0 = 0.0
    for i in range(steps + 1):
        if i == 1:
            t0 = time.time()  # the first step warms up allocations
        loss = m(tok, tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    dt = time.time() - t0
    print("tokens_per_s %.1f" % (steps * s["B"] * s["T"] / dt))


if __name__ == "__main__":
    main()
