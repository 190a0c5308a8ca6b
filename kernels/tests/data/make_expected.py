#!/usr/bin/env python3
"""Dump llama.cpp-exact dequantized rows of the fixture models for hearth-kernels' tests.

Run once (the outputs are committed):  python3 kernels/tests/data/make_expected.py
Needs the `gguf` and `numpy` Python packages, the fixtures from `cargo xtask fixtures`, gcc,
and llama.cpp's source (`LLAMA_CPP`, default /root/ref/llama.cpp) for the weight quantizers.

Dequantization: for each case it writes `dequant/<model>.<tensor>.f32`: the chosen rows' first `n` values,
dequantized by `gguf.quants.dequantize` (the gguf-py port of ggml's `dequantize_row_*`),
as little-endian f32, rows one after the other; and one line in `dequant/manifest.tsv`:
model, tensor, type, comma-separated row indices, n (values per row), file name.

Activation quantization: `quant/input.f32` (4096 seeded values, with a block of exact .5 ties
and an all-zero block) and its Q8_0, Q8_1 and Q8_K encodings written by independent numpy
ports of llama.cpp's CPU routines, as hearth implements them:
- Q8_0/Q8_1: the x86 AVX2 `quantize_row_q8_0`/`_q8_1` of ggml-cpu/arch/x86/quants.c:
  d = amax/127, id = 127/amax, round half to even (`_mm256_round_ps(.., _MM_ROUND_NEAREST)`);
  Q8_1's s = f16(d * sum(q)).
- Q8_K: `quantize_row_q8_K_ref` (ggml-quants.c), used by every CPU backend: iscale = -127/max
  (max = first element of largest magnitude), q = min(127, nearest_int(iscale*x)), d = 1/iscale,
  bsums = sums of 16; an all-zero block is all zeros (hearth also zeroes its bsums).

Weight quantization: `quant/weights.f32` (2048 seeded floats in blocks of different shapes:
gaussian, outliers, all zero, constant, tiny, all positive, ...) and its encodings
`quant/weights.<type>` by llama.cpp's own `quantize_row_<type>_ref` (ggml-quants.c compiled
with `ggml_quantize.c`, -ffp-contract=off) for Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import gguf
from gguf.quants import dequantize

CASES = {
    "smollm2-135m-instruct-q4_1": [
        "token_embd.weight",          # Q8_0
        "blk.0.ffn_down.weight",      # Q4_1
        "blk.29.attn_q.weight",       # Q4_1
        "blk.0.attn_norm.weight",     # F32
    ],
    "qwen2.5-coder-0.5b-instruct-q4_k_m": [
        "blk.0.ffn_gate.weight",      # Q5_0
        "blk.0.attn_v.weight",        # Q8_0
        "blk.0.ffn_down.weight",      # Q6_K
        "blk.11.ffn_down.weight",     # Q4_K
    ],
    "gemma3-270m-q4_k_m": [
        "blk.0.attn_output.weight",   # Q4_K
        "blk.0.attn_q.weight",        # Q5_0
        "blk.0.ffn_down.weight",      # Q6_K
        "blk.0.attn_v.weight",        # Q8_0
    ],
}
MAX_PER_ROW = 1024


def main() -> None:
    root = os.environ.get("HEARTH_FIXTURES") or os.path.expanduser("~/.cache/hearth")
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "dequant")
    os.makedirs(out, exist_ok=True)
    lines = ["# model\ttensor\ttype\trows\tn\tfile"]
    for model, tensors in CASES.items():
        reader = gguf.GGUFReader(os.path.join(root, "models", model + ".gguf"))
        by_name = {t.name: t for t in reader.tensors}
        for name in tensors:
            t = by_name[name]
            ne0 = int(t.shape[0])
            n_rows = int(np.prod(t.shape[1:])) if len(t.shape) > 1 else 1
            rows = sorted({0, n_rows // 2, n_rows - 1})
            block = gguf.GGML_QUANT_SIZES[t.tensor_type][0]
            n = min(ne0, MAX_PER_ROW)
            assert n % block == 0
            data = np.asarray(t.data).reshape(n_rows, -1)
            vals = []
            for r in rows:
                row = dequantize(data[r], t.tensor_type).reshape(-1)
                assert row.shape[0] == ne0, (name, row.shape, ne0)
                vals.append(row[:n].astype("<f4"))
            fname = f"{model}.{name}.f32"
            np.concatenate(vals).tofile(os.path.join(out, fname))
            lines.append("\t".join([model, name, t.tensor_type.name, ",".join(map(str, rows)), str(n), fname]))
            print(model, name, t.tensor_type.name, rows, n, file=sys.stderr)
    with open(os.path.join(out, "manifest.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    write_quant(os.path.join(here, "quant"))
    write_weights(os.path.join(here, "quant"), here)


def f16_bytes(v) -> bytes:
    return np.asarray(v, dtype=np.float32).astype("<f2").tobytes()


def q8_0_block(x: np.ndarray, with_sum: bool) -> bytes:
    amax = np.float32(np.abs(x).max())
    d = np.float32(amax / np.float32(127))
    idv = np.float32(np.float32(127) / amax) if amax != 0 else np.float32(0)
    q = np.rint(x * idv).astype(np.int32)
    out = f16_bytes(d)
    if with_sum:
        out += f16_bytes(np.float32(d * np.float32(q.sum())))
    return out + q.astype(np.int8).tobytes()


def q8_k_block(x: np.ndarray) -> bytes:
    ax = np.abs(x)
    amax = ax.max()
    if amax == 0:
        return np.float32(0).tobytes() + bytes(256) + bytes(32)
    mx = x[int(np.argmax(ax))]  # argmax returns the first maximum, as the C loop's `>`
    iscale = np.float32(np.float32(-127) / mx)
    q = np.minimum(127, np.rint(iscale * x)).astype(np.int32)
    bsums = q.reshape(16, 16).sum(axis=1).astype("<i2")
    d = np.float32(np.float32(1) / iscale)
    return d.astype("<f4").tobytes() + q.astype(np.int8).tobytes() + bsums.tobytes()


def write_quant(out: str) -> None:
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261127)
    x = (rng.standard_normal(4096) * rng.uniform(0.01, 30.0, 4096)).astype(np.float32)
    # A block whose amax is 127, so id == 1 and halves are exact ties (round half to even).
    x[32:64] = np.float32(0.5) * np.arange(-16, 16, dtype=np.float32)
    x[32] = np.float32(127)
    x[256:512] = np.float32(0.5) * (np.arange(256, dtype=np.float32) - 128)
    x[256 + 10] = np.float32(-127)
    x[1024:1280] = 0  # an all-zero Q8_K block (and eight Q8_0 blocks)
    x.astype("<f4").tofile(os.path.join(out, "input.f32"))
    with open(os.path.join(out, "input.q8_0"), "wb") as f:
        f.write(b"".join(q8_0_block(x[i:i + 32], False) for i in range(0, x.size, 32)))
    with open(os.path.join(out, "input.q8_1"), "wb") as f:
        f.write(b"".join(q8_0_block(x[i:i + 32], True) for i in range(0, x.size, 32)))
    with open(os.path.join(out, "input.q8_K"), "wb") as f:
        f.write(b"".join(q8_k_block(x[i:i + 256]) for i in range(0, x.size, 256)))


def weights_input() -> np.ndarray:
    rng = np.random.default_rng(7)
    blocks = [
        rng.standard_normal(256) * 0.05,                       # typical weights
        rng.standard_normal(256) * 0.02 + np.where(rng.uniform(size=256) < 0.02, 0.5, 0.0),  # outliers
        np.zeros(256),                                         # all zero
        np.full(256, 0.125),                                   # constant
        rng.standard_normal(256) * 1e-20,                      # tiny
        np.abs(rng.standard_normal(256)) * 0.1,                # all positive (min > 0)
        -np.abs(rng.standard_normal(256)) * 3.0,               # all negative, large
        rng.uniform(-1, 1, 256) * np.repeat(rng.uniform(0, 2, 16), 16),  # varied sub-blocks
    ]
    return np.concatenate(blocks).astype("<f4")


def write_weights(out: str, here: str) -> None:
    llama = os.environ.get("LLAMA_CPP", "/root/ref/llama.cpp")
    ggml = os.path.join(llama, "ggml")
    x = weights_input()
    x.tofile(os.path.join(out, "weights.f32"))
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "ggml_quantize")
        subprocess.run(["gcc", "-O2", "-ffp-contract=off", "-I", os.path.join(ggml, "include"), "-I",
                        os.path.join(ggml, "src"), os.path.join(here, "ggml_quantize.c"),
                        os.path.join(ggml, "src", "ggml-quants.c"), "-lm", "-o", exe], check=True)
        for t in ["q4_0", "q4_1", "q5_0", "q5_1", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K"]:
            y = subprocess.run([exe, t, str(x.size)], input=x.tobytes(), capture_output=True, check=True).stdout
            with open(os.path.join(out, "weights." + t), "wb") as f:
                f.write(y)


if __name__ == "__main__":
    main()
