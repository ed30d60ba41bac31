#!/usr/bin/python3
# Reads a GGUF file with llama.cpp's gguf-py (its GGUFReader, not berry's code) and prints its contents
# in a canonical text form that tests/test_gguf.c compares with text written out by hand:
#   version V / n_tensors N / n_kv N / alignment A
#   kv KEY TYPE VALUE                      (strings as hex bytes, floats as Python's repr)
#   kv KEY array[TYPE] LEN V1,V2,...
#   tensor NAME TYPE NE0,NE1,.. NBYTES OFFSET-IN-DATA-SECTION HEX-BYTES
# Usage: gguf_read.py FILE
import sys

from gguf_common import import_gguf

gguf = import_gguf()
T = gguf.GGUFValueType


def scalar(t, v):
    if t == T.BOOL:
        return "true" if v else "false"
    if t in (T.FLOAT32, T.FLOAT64):
        return repr(float(v))
    return str(int(v))


r = gguf.GGUFReader(sys.argv[1])
print("version", int(r.fields["GGUF.version"].parts[0][0]))
print("n_tensors", int(r.fields["GGUF.tensor_count"].parts[0][0]))
print("n_kv", int(r.fields["GGUF.kv_count"].parts[0][0]))
print("alignment", r.alignment)
for key, f in r.fields.items():
    if key.startswith("GGUF."):
        continue
    t = f.types[0]
    if t == T.STRING:
        print("kv", key, "string", bytes(f.parts[f.data[0]]).hex())
    elif t == T.ARRAY:
        # parts: key length, key, value type, element type, length, elements... (f.types lacks the
        # element type of an empty array, so read it from parts).
        st = T(int(f.parts[3][0]))
        n = int(f.parts[4][0])
        idx = f.data if n else []
        if st == T.STRING:
            items = [bytes(f.parts[i]).hex() for i in idx]
        else:
            items = [scalar(st, f.parts[i][0]) for i in idx]
        print("kv", key, f"array[{st.name.lower()}]", n, ",".join(items))
    else:
        print("kv", key, t.name.lower(), scalar(t, f.parts[f.data[0]][0]))
for t in r.tensors:
    print("tensor", t.name, int(t.tensor_type), ",".join(str(int(d)) for d in t.shape), int(t.n_bytes),
          t.data_offset - r.data_offset, t.data.tobytes().hex())
