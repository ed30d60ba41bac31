#!/usr/bin/python3
"""Reference distributions for tests/test_sampler.c, written with NumPy independently of berry's C code.

Definitions (llama.cpp's default order: top-k, top-p, min-p, then temperature; candidates ordered by
logit, ties by lower id; each filter sees the survivors of the previous one, renormalized, at
temperature 1):
  top-k  keeps the k highest logits;
  top-p  keeps the shortest ordered prefix whose mass reaches p (the token crossing p is kept);
  min-p  keeps tokens with p >= min_p * p_max;
  then   p ~ exp(logit / T) over the survivors.
Parameters are rounded to float32 first, as the C code stores them. Cases whose cumulative mass or
min-p ratio falls within 1e-5 of a threshold are redrawn, so that float32-vs-float64 rounding cannot
flip a boundary. Writes tests/data/sampler_ref.txt:
  case NAME N TEMP TOP_K TOP_P MIN_P
  logits N values            (float32, %.9g)
  dist M id prob ...         (most likely first)
  logprobs K id logprob ...  (log-softmax of the raw logits)
Run: /usr/bin/python3 tests/ref/sampler.py
"""
import os
import numpy as np

MARGIN = 1e-5


def reference(logits, temp, top_k, top_p, min_p):
    """Returns (ids, probs) of the sampling distribution, or None when a boundary is too close to call."""
    l = logits.astype(np.float64)
    n = len(l)
    ids = np.arange(n)
    fin = np.isfinite(l)
    order = np.lexsort((ids, -l))            # by -logit, then id
    order = order[fin[order]]
    if temp == 0:
        return np.array([int(np.argmax(l))]), np.array([1.0])
    cand = order
    if 0 < top_k < len(cand):
        cand = cand[:top_k]
    if 0 < top_p < 1:
        p = np.exp(l[cand] - l[cand].max())
        p /= p.sum()
        cum = np.cumsum(p)
        if np.min(np.abs(cum - top_p)) < MARGIN:
            return None
        cand = cand[: int(np.argmax(cum >= top_p)) + 1] if cum[-1] >= top_p else cand
    if min_p > 0:
        r = l[cand] - l[cand].max()          # log(p / p_max)
        if np.min(np.abs(r - np.log(min_p))) < MARGIN:
            return None
        cand = cand[r >= np.log(min_p)]
    w = np.exp((l[cand] - l[cand].max()) / temp)
    return cand, w / w.sum()


def log_softmax(logits):
    l = logits.astype(np.float64)
    m = l[np.isfinite(l)].max()
    return l - m - np.log(np.sum(np.exp(l - m)))


CASES = [
    # name, n, scale, temp, top_k, top_p, min_p, ties, n_neg_inf
    ("plain_softmax", 32, 2.0, 1.0, 0, 0.0, 0.0, False, 0),
    ("top_k_only", 64, 2.0, 0.7, 10, 0.0, 0.0, False, 0),
    ("top_p_only", 200, 2.0, 1.3, 0, 0.9, 0.0, False, 0),
    ("min_p_only", 200, 2.0, 0.8, 0, 0.0, 0.05, False, 0),
    ("llama_defaults", 500, 3.0, 0.8, 40, 0.95, 0.05, False, 0),
    ("ties", 500, 2.0, 1.0, 25, 0.8, 0.0, True, 0),
    ("neg_inf_masked", 100, 2.0, 1.5, 0, 0.7, 0.01, False, 10),
    ("long_top_p_prefix", 600, 1.0, 0.5, 0, 0.99, 0.0, False, 0),
    ("top_p_and_min_p", 600, 2.0, 1.0, 0, 0.97, 0.01, False, 0),
    ("filters_off", 300, 2.0, 2.0, 300, 1.0, 0.0, False, 0),
    ("chi_square", 10, 0.8, 0.7, 8, 0.9, 0.0, False, 0),
]


def main():
    rng = np.random.default_rng(20240611)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    lines = []
    for name, n, scale, temp, top_k, top_p, min_p, ties, n_inf in CASES:
        temp32, p32, mp32 = (float(np.float32(x)) for x in (temp, top_p, min_p))
        while True:
            logits = (rng.standard_normal(n) * scale).astype(np.float32)
            if ties:
                logits = (np.round(logits * 2) / 2).astype(np.float32)
            if n_inf:
                logits[rng.choice(n, n_inf, replace=False)] = -np.inf
            ref = reference(logits, temp32, top_k, p32, mp32)
            if ref is not None:
                break
        ids, probs = ref
        lines.append(f"case {name} {n} {temp32!r} {top_k} {p32!r} {mp32!r}")
        lines.append("logits " + " ".join("%.9g" % v for v in logits))
        lines.append(f"dist {len(ids)} " + " ".join(f"{int(i)} {p:.10g}" for i, p in zip(ids, probs)))
        ls = log_softmax(logits)
        toks = [int(t) for t in rng.choice(n, min(n, 6), replace=False)]
        lines.append(f"logprobs {len(toks)} " + " ".join(f"{t} {ls[t]:.10g}" for t in toks))
    with open(os.path.join(root, "tests", "data", "sampler_ref.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
