#!/usr/bin/python3
# Writes the quantization fixtures tests/test_tensor.c compares berry against, using llama.cpp's gguf-py
# NumPy (de)quantizers (fetched by tests/ref/fetch_llama_cpp.sh) and NumPy's float16 conversion.
#   PYTHONPATH=<llama.cpp>/gguf-py /usr/bin/python3 tests/ref/quants.py tests/data
# Each file is: u32 byte count, the bytes, u32 float count, the float32 values (little endian).
#   quant_<type>.bin      random blocks of <type> (finite f16 scales) and gguf-py's dequantization
#   quant_<type>_q.bin    (q8_0, q4_0, q4_1, q5_0, q5_1, bf16, f16) gguf-py's / NumPy's quantization of random floats:
#                         the bytes are the quantized blocks, the floats the input
import os
import sys

import numpy as np
from gguf import quants
from gguf.constants import GGMLQuantizationType as T

out = sys.argv[1] if len(sys.argv) > 1 else "tests/data"
rng = np.random.default_rng(20240917)


def write(name, raw, floats):
    raw = np.ascontiguousarray(raw).view(np.uint8).ravel()
    floats = np.ascontiguousarray(floats, dtype=np.float32).ravel()
    with open(os.path.join(out, name), "wb") as f:
        f.write(np.uint32(raw.size).tobytes())
        f.write(raw.tobytes())
        f.write(np.uint32(floats.size).tobytes())
        f.write(floats.astype("<f4").tobytes())


def f16_bytes(n, scale):
    # Finite half scales of both signs, with a few subnormal and zero ones among them.
    v = (rng.standard_normal(n) * scale).astype(np.float16)
    v[::7] = np.float16(rng.standard_normal() * 1e-6)   # subnormal
    v[5::11] = np.float16(0)
    return v.view(np.uint8).reshape(n, 2)


def random_blocks(qtype, n_blocks, scale_offsets, scale=0.05):
    block, size = quants.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    for off in scale_offsets:
        raw[:, off:off + 2] = f16_bytes(n_blocks, scale)
    return raw


cases = {
    "q4_0": (T.Q4_0, 24, [0]),
    "q8_0": (T.Q8_0, 24, [0]),
    "q4_K": (T.Q4_K, 6, [0, 2]),
    "q5_K": (T.Q5_K, 6, [0, 2]),
    "q6_K": (T.Q6_K, 6, [208]),
}
for name, (qt, nb, offs) in cases.items():
    raw = random_blocks(qt, nb, offs)
    write(f"quant_{name}.bin", raw, quants.dequantize(raw, qt))

# bf16 and f16: random bit patterns (NaNs excluded: their payload handling is checked by hand in the test).
h = rng.integers(0, 65536, size=2048, dtype=np.uint32).astype(np.uint16)
h = h[(h & 0x7c00) != 0x7c00]
h[:4] = [0x0000, 0x8000, 0x0001, 0x83ff]
write("quant_bf16.bin", h, quants.dequantize(h.view(np.uint8), T.BF16))
write("quant_f16.bin", h, h.view(np.float16).astype(np.float32))

# Quantization of random floats, with ties and zero blocks planted.
x = (rng.standard_normal(32 * 64) * rng.choice([0.01, 1.0, 300.0], size=32 * 64)).astype(np.float32)
x[0:32] = 0                                                   # all-zero block
x[32:64] = np.arange(32, dtype=np.float32) - 15.5             # amax 15.5: ties for q8_0
x[64] = 127; x[65:96] = np.arange(31, dtype=np.float32) * 0.5 - 7.5   # id = 1: exact .5 ties
x[96] = -8; x[97:128] = np.arange(31, dtype=np.float32) * 0.25 - 3.75  # q4_0: d = 1
x[128:160] = rng.standard_normal(32).astype(np.float32) * 1e-30       # tiny (subnormal f16 scale)
write("quant_q8_0_q.bin", quants.quantize(x.reshape(-1, 32), T.Q8_0), x)
write("quant_q4_0_q.bin", quants.quantize(x.reshape(-1, 32), T.Q4_0), x)
xb = np.concatenate([x, np.array([np.inf, -np.inf, 65504, 65520, 65519.99, 1e-8, 3e-8, 6.1e-5, 2.9802322e-8,
                                  5.9604645e-8, -1e-45, 3.4e38], dtype=np.float32)])
xb = np.concatenate([xb, rng.integers(0, 2**32, size=4096, dtype=np.uint64).astype(np.uint32).view(np.float32)])
xb = xb[~np.isnan(xb)]
write("quant_bf16_q.bin", quants.quantize(xb, T.BF16), xb)
with np.errstate(over="ignore"):
    write("quant_f16_q.bin", xb.astype(np.float16), xb)

# q4_1, q5_0, q5_1 (added later, with their own random stream so the fixtures above stay as they were).
rng = np.random.default_rng(20251125)
for name, (qt, nb, offs) in {"q4_1": (T.Q4_1, 24, [0, 2]), "q5_0": (T.Q5_0, 24, [0]),
                             "q5_1": (T.Q5_1, 24, [0, 2])}.items():
    raw = random_blocks(qt, nb, offs)
    write(f"quant_{name}.bin", raw, quants.dequantize(raw, qt))
x1 = x.copy()
x1[160:192] = np.arange(32, dtype=np.float32) * 0.5 + 3     # q4_1/q5_1: min 3, max 18.5, exact steps
x1[192:224] = np.float32(7.25)                               # constant block: d = 0
x1[224] = 16; x1[225:256] = np.arange(31, dtype=np.float32) - 15   # q5_0: d = -1, every q exact
for name, qt in (("q4_1", T.Q4_1), ("q5_0", T.Q5_0), ("q5_1", T.Q5_1)):
    write(f"quant_{name}_q.bin", quants.quantize(x1.reshape(-1, 32), qt), x1)
print("wrote fixtures to", out)
