#!/usr/bin/python3
# Writes tests/data/gguf_ref.gguf with llama.cpp's gguf-py (its GGUFWriter, not berry's code): one key
# of every value type, arrays of every element type, strings with UTF-8 and a NUL, a custom alignment
# of 64, and four tensors (f32 2-D, f16 1-D, q8_0 as raw blocks, f32 4-D). tests/test_gguf.c checks
# that berry reads exactly these contents; the expected values are repeated there by hand.
# Usage: gguf_write.py [OUT]   (default tests/data/gguf_ref.gguf)
import os
import sys

import numpy as np

from gguf_common import here, import_gguf

gguf = import_gguf()
T = gguf.GGUFValueType
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "data", "gguf_ref.gguf")

w = gguf.GGUFWriter(out, "llama")  # writes general.architecture = "llama" first
w.add_custom_alignment(64)
w.add_uint8("t.u8", 200)
w.add_int8("t.i8", -100)
w.add_uint16("t.u16", 60000)
w.add_int16("t.i16", -30000)
w.add_uint32("t.u32", 4000000000)
w.add_int32("t.i32", -2000000000)
w.add_float32("t.f32", 0.15625)
w.add_bool("t.bool", True)
w.add_string("t.str", "h\u00e9llo w\u00f6rld \u2211")
w.add_uint64("t.u64", 2**64 - 1)
w.add_int64("t.i64", -2**63)
w.add_float64("t.f64", 3.141592653589793)
w.add_key_value("t.str_nul", b"a\x00b", T.STRING)
w.add_key_value("t.str_empty", b"", T.STRING)
w.add_key_value("a.u8", [1, 2, 255], T.ARRAY, T.UINT8)
w.add_key_value("a.i8", [-128, 0, 127], T.ARRAY, T.INT8)
w.add_key_value("a.u16", [0, 65535], T.ARRAY, T.UINT16)
w.add_key_value("a.i16", [-32768, 32767], T.ARRAY, T.INT16)
w.add_key_value("a.u32", [7, 4294967295], T.ARRAY, T.UINT32)
w.add_key_value("a.i32", [-2147483648, 5], T.ARRAY, T.INT32)
w.add_key_value("a.f32", [0.5, -1.25, 1024.0], T.ARRAY, T.FLOAT32)
w.add_key_value("a.bool", [True, False, True], T.ARRAY, T.BOOL)
w.add_key_value("a.u64", [2**64 - 1, 0], T.ARRAY, T.UINT64)
w.add_key_value("a.i64", [-2**63, 2**63 - 1], T.ARRAY, T.INT64)
w.add_key_value("a.f64", [0.1, -2.5], T.ARRAY, T.FLOAT64)
w.add_key_value("a.str", ["a", b"", "\u00fc", "x y"], T.ARRAY, T.STRING)

# numpy shape (2, 3) is GGUF ne = [3, 2]: ne[0] is the fastest-varying dimension.
w.add_tensor("w.f32", np.arange(6, dtype=np.float32).reshape(2, 3) * np.float32(0.5))
w.add_tensor("w.f16", np.array([1, -2, 0.5, 65504], dtype=np.float16))
# Two q8_0 blocks (34 bytes each: f16 scale + 32 int8), raw bytes (i * 7 + 3) mod 256: ne = [32, 2].
q = ((np.arange(68) * 7 + 3) % 256).astype(np.uint8).reshape(2, 34)
w.add_tensor("w.q8_0", q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
w.add_tensor("w.4d", (np.arange(24, dtype=np.float32) - 12).reshape(2, 3, 2, 2))

w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
