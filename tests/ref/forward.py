#!/usr/bin/env python3
"""tests/ref/forward.py — an independent reference forward pass for berry's tests.

Reads a GGUF model with llama.cpp's own Python package (gguf-py: reader and dequantizers, fetched by
tests/ref/fetch_llama_cpp.sh) and runs it the way Hugging Face transformers' modeling_llama /
modeling_qwen2 / modeling_gemma2 do, in PyTorch, in float64 (so that the only differences left are
berry's float32 rounding):

  - llama: llama.cpp's converter permuted the Q/K rows for its interleaved rope; they are un-permuted
    back to HF layout here and HF's rotate_half rope is used. Llama 3 frequency scaling is recomputed
    with HF's formula (--llama3 FACTOR,LOW,HIGH,ORIG_CTX) and checked against the file's rope_freqs;
  - qwen2: q/k/v biases, rotate_half rope;
  - gemma2: RMSNorm x * (1 + w) with w = stored - 1 (the converter added the 1), embeddings times
    sqrt(hidden), GeGLU with tanh-GELU, attention logits soft-capped before the mask, sliding-window
    masks on even layers, final logits soft-capped;
  - GQA through repeat_interleave, an explicit causal mask, a full softmax.

With --act-quant, activations entering a product with quantized weights are rounded the way ggml's
reference quantizers do (q8_0 / q8_K blocks), which berry's kernels also do, so that quantized models
can be compared tightly too. Each sequence is run alone from position 0. Usage:
  forward.py MODEL.gguf --seqs "1,2,3;4,5" --out LOGITS.bin [--llama3 32,1,4,8192] [--act-quant]
writes float32 logits, sequence after sequence, each (len, n_vocab). Exit status 77 means a needed
package (torch, numpy, gguf-py) is missing: the caller skips.
"""
import argparse
import math
import os
import subprocess
import sys

try:
    import numpy as np
    import torch
except ImportError as e:  # the C test skips visibly
    print(f"forward.py: {e}", file=sys.stderr)
    sys.exit(77)


def import_gguf():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        path = subprocess.run(["sh", os.path.join(here, "fetch_llama_cpp.sh")], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"forward.py: cannot fetch llama.cpp's gguf-py: {e}", file=sys.stderr)
        sys.exit(77)
    sys.path.insert(0, os.path.join(path, "gguf-py"))
    import gguf  # noqa: E402
    return gguf


def load(gguf, path):
    r = gguf.GGUFReader(path)
    meta = {}
    for f in r.fields.values():
        try:
            meta[f.name] = f.contents()
        except Exception:  # noqa: BLE001 (types the reference does not need)
            pass
    ts, types = {}, {}
    for t in r.tensors:
        types[t.name] = t.tensor_type.name.lower()
        a = np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32)
        shape = [int(x) for x in reversed(list(t.shape))]
        while len(shape) > 1 and shape[0] == 1:
            shape = shape[1:]
        ts[t.name] = torch.from_numpy(a.reshape(shape).copy()).double()
    return meta, ts, types


def act_quant(x, wtype):
    """ggml's rounding of activations before a dot product with quantized weights (the reference
    quantizers quantize_row_q8_0_ref / quantize_row_q8_K_ref): q8_0 blocks of 32 for q4_0 / q8_0 weights
    (and q4_1 / q5_0 / q5_1, whose partner berry makes q8_0 where ggml uses q8_1: the same rounding)
    (scale amax/127 stored as f16, round half away from zero), q8_K blocks of 256 for the K-quants (scale
    -max/127 as f32, round half to even, clamped at 127). Emulated in float32 to match."""
    if wtype in ("q8_0", "q4_0", "q4_1", "q5_0", "q5_1"):
        blk = 32
    elif wtype in ("q4_k", "q5_k", "q6_k"):
        blk = 256
    else:
        return x
    shape = x.shape
    v = x.float().reshape(-1, blk).numpy().astype(np.float32)
    if blk == 32:
        amax = np.abs(v).max(axis=1, keepdims=True)
        d = (amax / np.float32(127)).astype(np.float32)
        inv = np.where(d > 0, np.float32(1) / np.where(d > 0, d, 1), 0).astype(np.float32)
        q = np.sign(v * inv) * np.floor(np.abs(v * inv) + np.float32(0.5))
        out = q * d.astype(np.float16).astype(np.float32)
    else:
        idx = np.abs(v).argmax(axis=1)
        mx = v[np.arange(v.shape[0]), idx][:, None]
        iscale = np.where(mx != 0, np.float32(-127) / np.where(mx != 0, mx, 1), 0).astype(np.float32)
        q = np.minimum(np.rint(iscale * v), 127)
        d = np.where(iscale != 0, np.float32(1) / np.where(iscale != 0, iscale, 1), 0).astype(np.float32)
        out = q * d
    return torch.from_numpy(out.astype(np.float32).reshape(shape)).double()


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def llama3_inv_freq(inv_freq, factor, low, high, orig):
    # transformers' _compute_llama3_parameters
    low_wl, high_wl = orig / low, orig / high
    wavelen = 2 * math.pi / inv_freq
    out = torch.where(wavelen > low_wl, inv_freq / factor, inv_freq)
    smooth = (orig / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * out / factor + smooth * out
    medium = ~(wavelen < high_wl) * ~(wavelen > low_wl)
    return torch.where(medium, smoothed, out)


class Model:
    def __init__(self, meta, ts, types, llama3=None, emulate=False):
        self.types, self.emulate = types, emulate
        self.arch = a = meta["general.architecture"]
        g = lambda k, d=None: meta.get(f"{a}.{k}", d)  # noqa: E731
        self.E = int(g("embedding_length"))
        self.L = int(g("block_count"))
        self.nh = int(g("attention.head_count"))
        self.nkv = int(g("attention.head_count_kv", self.nh))
        self.hd = int(g("attention.key_length", self.E // self.nh))
        self.eps = float(g("attention.layer_norm_rms_epsilon"))
        theta = float(g("rope.freq_base", 10000.0))
        self.gemma = a == "gemma2"
        self.window = int(g("attention.sliding_window", 4096)) if self.gemma else 0
        self.attn_cap = float(g("attn_logit_softcapping", 50.0)) if self.gemma else 0.0
        self.final_cap = float(g("final_logit_softcapping", 30.0)) if self.gemma else 0.0
        self.scale = 1.0 / math.sqrt(self.hd)
        self.ts = ts
        inv = 1.0 / (theta ** (torch.arange(0, self.hd, 2, dtype=torch.float64) / self.hd))
        if "rope_freqs.weight" in ts:
            from_file = inv / ts["rope_freqs.weight"]
            if llama3:
                inv = llama3_inv_freq(inv, *llama3)
                err = ((inv - from_file).abs() / inv).max().item()
                if err > 1e-5:
                    sys.exit(f"forward.py: rope_freqs.weight differs from HF's llama3 frequencies (rel {err:.3g})")
            else:
                inv = from_file
        self.inv_freq = inv
        if a == "llama":  # undo llama.cpp's permutation of Q/K rows
            for i in range(self.L):
                for nm, nheads in (("attn_q", self.nh), ("attn_k", self.nkv)):
                    w = ts[f"blk.{i}.{nm}.weight"]
                    ts[f"blk.{i}.{nm}.weight"] = (w.reshape(nheads, self.hd // 2, 2, w.shape[-1])
                                                  .swapaxes(1, 2).reshape(w.shape))

    def norm(self, x, w):
        var = x.pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(var + self.eps)
        return x * (1.0 + (w - 1.0)) if self.gemma else w * x

    def lin(self, x, name, bias=None):
        if self.emulate:
            x = act_quant(x, self.types[name])
        y = x @ self.ts[name].T
        if bias is not None and bias in self.ts:
            y = y + self.ts[bias]
        return y

    def forward(self, tokens):
        S, ts = len(tokens), self.ts
        x = ts["token_embd.weight"][torch.tensor(tokens)]
        if self.gemma:
            x = x * torch.tensor(self.E ** 0.5, dtype=torch.float32).double()
        pos = torch.arange(S, dtype=torch.float64)
        freqs = torch.outer(pos, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        i = torch.arange(S)[:, None]
        j = torch.arange(S)[None, :]
        causal = j <= i
        for l in range(self.L):
            p = f"blk.{l}."
            h = self.norm(x, ts[p + "attn_norm.weight"])
            q = self.lin(h, p + "attn_q.weight", p + "attn_q.bias").view(S, self.nh, self.hd).transpose(0, 1)
            k = self.lin(h, p + "attn_k.weight", p + "attn_k.bias").view(S, self.nkv, self.hd).transpose(0, 1)
            v = self.lin(h, p + "attn_v.weight", p + "attn_v.bias").view(S, self.nkv, self.hd).transpose(0, 1)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(self.nh // self.nkv, dim=0)
            v = v.repeat_interleave(self.nh // self.nkv, dim=0)
            w = (q @ k.transpose(1, 2)) * self.scale
            if self.attn_cap > 0:
                w = torch.tanh(w / self.attn_cap) * self.attn_cap
            mask = causal
            if self.gemma and l % 2 == 0:
                mask = mask & (i - j < self.window)
            w = w.masked_fill(~mask, float("-inf"))
            w = torch.softmax(w, dim=-1)
            o = (w @ v).transpose(0, 1).reshape(S, self.nh * self.hd)
            o = self.lin(o, p + "attn_output.weight")
            if self.gemma:
                o = self.norm(o, ts[p + "post_attention_norm.weight"])
            x = x + o
            h = self.norm(x, ts[p + "ffn_norm.weight"])
            gate = self.lin(h, p + "ffn_gate.weight")
            act = torch.nn.functional.gelu(gate, approximate="tanh") if self.gemma else torch.nn.functional.silu(gate)
            f = self.lin(act * self.lin(h, p + "ffn_up.weight"), p + "ffn_down.weight")
            if self.gemma:
                f = self.norm(f, ts[p + "post_ffw_norm.weight"])
            x = x + f
        x = self.norm(x, ts["output_norm.weight"])
        logits = self.lin(x, "output.weight" if "output.weight" in ts else "token_embd.weight")
        if self.final_cap > 0:
            logits = torch.tanh(logits / self.final_cap) * self.final_cap
        return logits


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--seqs", required=True, help="token ids: comma-separated, sequences separated by ';'")
    ap.add_argument("--out", required=True)
    ap.add_argument("--llama3", help="FACTOR,LOW,HIGH,ORIG_CTX: check rope_freqs against HF's llama3 formula")
    ap.add_argument("--act-quant", action="store_true",
                    help="round activations as ggml does before products with quantized weights")
    args = ap.parse_args()
    gguf = import_gguf()
    meta, ts, types = load(gguf, args.model)
    llama3 = [float(v) for v in args.llama3.split(",")] if args.llama3 else None
    m = Model(meta, ts, types, llama3, args.act_quant)
    out = []
    for s in args.seqs.split(";"):
        toks = [int(v) for v in s.split(",") if v]
        with torch.no_grad():
            out.append(m.forward(toks).float().numpy())
    np.concatenate(out, axis=0).astype(np.float32).tofile(args.out)


if __name__ == "__main__":
    main()
