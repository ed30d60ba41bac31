#!/usr/bin/env python3
"""Naive reference for berry's BPE training (src/text/bpe_train.c), written independently of it:
recounts every pair from scratch at each step. Same rules: ASCII text pre-tokenized with Llama 3's
regex (for ASCII input \\p{L} = [A-Za-z], \\p{N} = [0-9], \\s = [ \\t\\n\\v\\f\\r]), symbols start as bytes
(ids 0..255), the most frequent pair (weighted by word counts) is merged, ties to the smaller
(left id, right id), new tokens take the next id unless their bytes already are a token, pairs seen
fewer than MIN_FREQ times are never merged. Prints the merges as GGUF stores them ("left right" in
GPT-2's byte alphabet), one per line.
Usage: tokenizer_bpe_train.py CORPUS N_MERGES MIN_FREQ > tests/data/tok_bpe_merges.txt"""
import re, sys
from collections import Counter

corpus, n_merges, min_freq = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
text = open(corpus, "rb").read().decode("ascii")
pat = re.compile(r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\nA-Za-z0-9]?[A-Za-z]+|[0-9]{1,3}| ?[^\sA-Za-z0-9]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+", re.ASCII)
words = Counter(m.group(0) for m in pat.finditer(text))
assert sum(len(w) * c for w, c in words.items()) == len(text)  # the pre-tokens cover the text

def byte_char(b):  # GPT-2 bytes_to_unicode
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    if b in printable:
        return chr(b)
    others = [x for x in range(256) if x not in printable]
    return chr(256 + others.index(b))

tok_bytes = [bytes([i]) for i in range(256)]
seqs = {w: [b for b in w.encode()] for w in words}
for _ in range(n_merges):
    pairs = Counter()
    for w, s in seqs.items():
        for a, b in zip(s, s[1:]):
            pairs[(a, b)] += words[w]
    if not pairs:
        break
    (a, b), c = min(pairs.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1]))
    if c < min_freq:
        break
    new = tok_bytes[a] + tok_bytes[b]
    nid = tok_bytes.index(new) if new in tok_bytes else len(tok_bytes)
    if nid == len(tok_bytes):
        tok_bytes.append(new)
    print("".join(byte_char(x) for x in tok_bytes[a]) + " " + "".join(byte_char(x) for x in tok_bytes[b]))
    for w, s in seqs.items():
        out, i = [], 0
        while i < len(s):
            if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                out.append(nid); i += 2
            else:
                out.append(s[i]); i += 1
        seqs[w] = out
