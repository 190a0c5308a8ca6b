#!/usr/bin/env python3
"""Writes the committed seed corpus for the `parse_header` fuzz target into seeds/parse_header/.

valid-*.gguf  small complete files, written with llama.cpp's own Python writer (gguf-py) so
              the seeds do not come from the code under test; a few edge shapes gguf-py
              refuses (empty arrays, v2, alignment 1) are packed by hand with `struct`.
prefix-*.gguf the first 4 KiB of the real fixture headers (`cargo xtask fixtures`), skipped
              when a fixture is missing. Every seed stays under 64 KiB.

Run from crates/gguf/fuzz: python3 make_seeds.py   (needs `pip install gguf numpy`)
"""

import os
import struct
import sys

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFReader, GGUFValueType as V, GGUFWriter

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "parse_header")
FIXTURES = os.environ.get("HEARTH_FIXTURES") or os.path.expanduser("~/.cache/hearth")


def gguf_py(name, arch, kvs=(), tensors=(), alignment=None):
    """A file through gguf-py: kvs are (key, value, type, sub_type), tensors (name, array,
    raw_shape, raw_dtype); a quantized raw_shape is in bytes, (rows, bytes per row)."""
    path = os.path.join(OUT, name)
    w = GGUFWriter(path, arch)
    if alignment is not None:
        w.add_custom_alignment(alignment)
    for key, val, vtype, sub in kvs:
        w.add_key_value(key, val, vtype, sub)
    for tname, arr, shape, dtype in tensors:
        w.add_tensor(tname, arr, raw_shape=shape, raw_dtype=dtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def pstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def raw(name, version, kvs, tensors=(), alignment=32):
    """A file packed by hand: kvs are (key, packed type + value), tensors (name, dims, type,
    data)."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for key, packed in kvs:
        out += pstr(key) + packed
    offset, datas = 0, b""
    for tname, dims, ty, data in tensors:
        out += pstr(tname) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ty, offset)
        pad = -len(data) % alignment
        datas += data + b"\0" * pad
        offset += len(data) + pad
    out += b"\0" * (-len(out) % alignment) + datas
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(out)


def blocks(ty, n_blocks, seed):
    size = {Q.Q8_0: 34, Q.Q4_0: 18, Q.Q4_K: 144, Q.Q6_K: 210, Q.Q5_0: 22}[ty]
    return np.random.default_rng(seed).integers(0, 256, n_blocks * size, dtype=np.uint8)


def main():
    os.makedirs(OUT, exist_ok=True)
    arr = lambda a, sub: (a, V.ARRAY, sub)  # noqa: E731

    gguf_py("valid-empty.gguf", "llama")
    gguf_py("valid-every-value.gguf", "llama", [
        ("t.u8", 255, V.UINT8, None), ("t.i8", -128, V.INT8, None),
        ("t.u16", 65535, V.UINT16, None), ("t.i16", -32768, V.INT16, None),
        ("t.u32", 2**32 - 1, V.UINT32, None), ("t.i32", -2**31, V.INT32, None),
        ("t.f32", 1.5, V.FLOAT32, None), ("t.bool", True, V.BOOL, None),
        ("t.str", "héllo", V.STRING, None), ("t.u64", 2**64 - 1, V.UINT64, None),
        ("t.i64", -2**63, V.INT64, None), ("t.f64", -2.25, V.FLOAT64, None),
        ("t.empty_str", "", V.STRING, None),
        ("t.a_str", *arr(["a", "", "ĠĠ"], V.STRING)),
        ("t.a_i32", *arr([1, -2, 3], V.INT32)),
        ("t.a_f32", *arr([0.5, -0.0], V.FLOAT32)),
        ("t.a_bool", *arr([True, False], V.BOOL)),
        ("t.a_u64", *arr([1, 2**63], V.UINT64)),
        ("t.nested", *arr([[1, 2], [3]], V.ARRAY)),
        ("t.nested2", *arr([[["x"], ["y", "z"]]], V.ARRAY)),
    ])
    gguf_py("valid-tiny-llama.gguf", "llama", [
        ("llama.block_count", 1, V.UINT32, None),
        ("llama.context_length", 64, V.UINT32, None),
        ("llama.embedding_length", 32, V.UINT32, None),
        ("llama.rope.freq_base", 10000.0, V.FLOAT32, None),
        ("tokenizer.ggml.model", "gpt2", V.STRING, None),
        ("tokenizer.ggml.tokens", *arr(["<s>", "</s>", "a", "b", "ab"], V.STRING)),
        ("tokenizer.ggml.token_type", *arr([3, 3, 1, 1, 1], V.INT32)),
        ("tokenizer.ggml.merges", *arr(["a b"], V.STRING)),
    ], [
        ("token_embd.weight", blocks(Q.Q8_0, 5, 1), (5, 34), Q.Q8_0),
        ("blk.0.attn_norm.weight", np.ones(32, dtype=np.float32), None, None),
        ("blk.0.attn_q.weight", blocks(Q.Q4_0, 32, 2), (32, 18), Q.Q4_0),
        ("blk.0.ffn_down.weight", blocks(Q.Q4_K, 1, 3), (1, 144), Q.Q4_K),
        ("output_norm.weight", np.arange(32, dtype=np.float16), None, None),
        ("rope_freqs", np.array([1.0, 2.0, 3.0], dtype=np.float32), None, None),
    ])
    gguf_py("valid-align64.gguf", "qwen2", [("qwen2.block_count", 2, V.UINT32, None)], [
        ("a", np.arange(3, dtype=np.float32), None, None),
        ("b", blocks(Q.Q6_K, 2, 4), (2, 210), Q.Q6_K),
        ("c", np.arange(7, dtype=np.int8), None, None),
    ], alignment=64)

    # Shapes gguf-py will not write.
    u32 = lambda v: struct.pack("<II", 4, v)  # noqa: E731
    empty = lambda t: struct.pack("<IIQ", 9, t, 0)  # noqa: E731
    raw("valid-empty-arrays-v2.gguf", 2, [("e.%d" % t, empty(t)) for t in range(13)] + [
        ("e.nested_empty", struct.pack("<IIQ", 9, 9, 2) + struct.pack("<IQ", 8, 0) + struct.pack("<IQ", 0, 0)),
        ("", struct.pack("<IB", 0, 7)),
    ], [("zero_rows", [32, 0], 8, b""), ("scalar", [], 0, b"\1\2\3\4")])
    raw("valid-align1.gguf", 3, [("general.alignment", u32(1)), ("general.architecture", struct.pack("<I", 8) + pstr("gemma3"))],
        [("odd", [3], 24, b"abc"), ("f16", [2, 2], 1, bytes(8))], alignment=1)

    # A real model's shape in a few KB: all keys (arrays cut to 16), all tensors one block.
    smollm = os.path.join(FIXTURES, "models", "smollm2-135m-instruct-q4_1.gguf")
    if os.path.exists(smollm):
        r = GGUFReader(smollm)
        w = GGUFWriter(os.path.join(OUT, "valid-smollm2-shape.gguf"), "llama")
        for f in r.fields.values():
            if f.name.startswith("GGUF.") or f.name == "general.architecture":
                continue
            vtype = f.types[0]
            if vtype == V.ARRAY:
                vals = [f.contents(i) for i in range(min(16, len(f.data)))]
                w.add_key_value(f.name, vals, V.ARRAY, f.types[1])
            else:
                w.add_key_value(f.name, f.contents(), vtype)
        for t in r.tensors[:48]:
            if t.tensor_type == Q.F32:
                w.add_tensor(t.name, np.zeros(1, dtype=np.float32))
            else:
                size = {Q.Q4_1: 20, Q.Q8_0: 34}[t.tensor_type]
                w.add_tensor(t.name, np.zeros(size, dtype=np.uint8), raw_shape=(1, size), raw_dtype=t.tensor_type)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()

    for name, rel in [
        ("smollm2", "models/smollm2-135m-instruct-q4_1.gguf"),
        ("qwen", "models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"),
        ("gemma3", "models/gemma3-270m-q4_k_m.gguf"),
        ("minilm", "models/all-minilm-l6-v2.gguf"),
        ("gpt2-vocab", "vocab/ggml-vocab-gpt-2.gguf"),
    ]:
        src = os.path.join(FIXTURES, rel)
        if not os.path.exists(src):
            print(f"skipping prefix-{name}: {src} is missing", file=sys.stderr)
            continue
        with open(src, "rb") as f, open(os.path.join(OUT, f"prefix-{name}.gguf"), "wb") as o:
            o.write(f.read(4096))

    total = 0
    for f in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, f))
        assert size < 64 << 10, f"{f} is {size} bytes"
        total += size
        print(f"{size:>7}  {f}")
    assert total < 1 << 20, f"{total} bytes in all"
    print(f"{total:>7}  total")


if __name__ == "__main__":
    main()
