#!/usr/bin/env python3
"""Golden fixtures for AdapterPS's dequantizers and quantizers, made with the Python `gguf`
package (an implementation independent of ours).

Run from the repository root:

    .venv-ref/bin/python scripts/reference/make_quant_fixtures.py

(the venv needs `gguf` and `numpy`). It writes Tests/Fixtures/quant/<TYPE>.json for F16, BF16,
Q8_0, Q4_0, Q4_1, Q4_K and Q6_K, and, when models/SmolLM2-135M-Instruct.Q4_1.gguf exists,
Tests/Fixtures/quant/smollm2_q4_1.json with a few reference values read from that model.
The output is deterministic (seeded); rerunning it must not change the files.

Each <TYPE>.json holds:
  type         ggml type name
  shape        [rows, row_length] (outermost first)
  input        base64 of little-endian float32 values fed to gguf.quants.quantize
               (absent for Q4_K / Q6_K, which the package cannot quantize: their blocks are
               random bytes with sane fp16 scales, which exercises every bit of the layout)
  quantized    base64 of the raw block bytes (what a GGUF file stores)
  dequantized  base64 of little-endian float32 values from gguf.quants.dequantize(quantized)
Floats are stored as raw float32 bytes so the comparison is exact, with no decimal round trip.
"""

import base64
import json
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "quant")
MODEL = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
ROWS, COLS = 2, 256


def b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def f32le(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype="<f4")


def raw_bytes(q: np.ndarray) -> np.ndarray:
    """Stored bytes of a quantize() result (F16 comes back as float16, the rest as uint8)."""
    return np.ascontiguousarray(q).view(np.uint8)


def quantizable_fixture(name: str, qtype: T, rng: np.random.Generator) -> dict:
    x = rng.standard_normal((ROWS, COLS)).astype(np.float32)
    # Corner cases in the first block of row 1: an all-zero block and one ±max tie.
    x[1, 0:32] = 0.0
    x[1, 32] = 3.0
    x[1, 33] = -3.0
    q = quants.quantize(x, qtype)
    qb = raw_bytes(q)
    y = quants.dequantize(qb if name != "F16" else q, qtype)
    return {
        "type": name,
        "shape": [ROWS, COLS],
        "input": b64(f32le(x)),
        "quantized": b64(qb),
        "dequantized": b64(f32le(y)),
    }


def random_f16(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    return rng.uniform(lo, hi, n).astype(np.float16).view(np.uint8).reshape(n, 2)


def kquant_fixture(name: str, qtype: T, rng: np.random.Generator) -> dict:
    nblocks = ROWS * COLS // 256
    if qtype == T.Q4_K:
        d = random_f16(rng, nblocks, 0.001, 0.05)
        dmin = random_f16(rng, nblocks, 0.001, 0.05)
        rest = rng.integers(0, 256, (nblocks, 12 + 128), dtype=np.uint8)
        blocks = np.concatenate([d, dmin, rest], axis=1)
    else:  # Q6_K: ql[128] qh[64] scales:int8[16] d:fp16
        rest = rng.integers(0, 256, (nblocks, 128 + 64 + 16), dtype=np.uint8)
        d = random_f16(rng, nblocks, -0.01, 0.01)
        blocks = np.concatenate([rest, d], axis=1)
    qb = np.ascontiguousarray(blocks.reshape(ROWS, -1))
    y = quants.dequantize(qb, qtype)
    return {
        "type": name,
        "shape": [ROWS, COLS],
        "quantized": b64(qb),
        "dequantized": b64(f32le(y)),
    }


def model_fixture() -> dict:
    from gguf import GGUFReader

    r = GGUFReader(MODEL)
    tensors = {t.name: t for t in r.tensors}
    picks = ["blk.0.attn_q.weight", "token_embd.weight", "blk.0.attn_norm.weight", "blk.29.ffn_down.weight"]
    out = {"file": os.path.basename(MODEL), "tensor_count": len(r.tensors), "tensors": []}
    for name in picks:
        t = tensors[name]
        shape = [int(v) for v in reversed(t.shape)]  # outermost first
        rows = np.asarray(t.data).reshape(shape[0] if len(shape) > 1 else 1, -1)
        first = quants.dequantize(rows[0:1], t.tensor_type).reshape(-1)
        last = quants.dequantize(rows[-1:], t.tensor_type).reshape(-1)
        out["tensors"].append({
            "name": name,
            "type": t.tensor_type.name,
            "shape": shape,
            "first_row_head": b64(f32le(first[:16])),
            "last_row_tail": b64(f32le(last[-16:])),
        })
    return out


def write(name: str, obj: dict) -> None:
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes)")


def main() -> int:
    os.makedirs(OUT, exist_ok=True)
    for i, (name, qtype) in enumerate([("F16", T.F16), ("BF16", T.BF16), ("Q8_0", T.Q8_0),
                                       ("Q4_0", T.Q4_0), ("Q4_1", T.Q4_1)]):
        write(f"{name}.json", quantizable_fixture(name, qtype, np.random.default_rng(1000 + i)))
    for i, (name, qtype) in enumerate([("Q4_K", T.Q4_K), ("Q6_K", T.Q6_K)]):
        write(f"{name}.json", kquant_fixture(name, qtype, np.random.default_rng(2000 + i)))
    if os.path.exists(MODEL):
        write("smollm2_q4_1.json", model_fixture())
    else:
        print(f"note: {os.path.relpath(MODEL, ROOT)} not found; model fixture not written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
