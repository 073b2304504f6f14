#!/usr/bin/env python3
"""Small safetensors files written by the Python `safetensors` package, for the Swift reader tests.

    make_safetensors_fixtures.py OUT_DIR        (the repository keeps them in Tests/Fixtures/safetensors)

Writes:
  basic.safetensors    F32 matrix [2,3], F32 cube [2,3,4], F32 scalar [], F32 empty [0,3], F16 [6]
                       (incl. the largest finite, a subnormal and -0), with metadata; via
                       safetensors.numpy.save_file.
  bf16.safetensors     BF16 [2,2] and F32 [3] via safetensors.serialize (numpy has no bfloat16).
  int64.safetensors    an I64 tensor beside an F32 one (the reader must refuse it, naming 'ids').
  writer_golden.safetensors
                       tensors the Swift test re-creates with SafetensorsWriter; the bytes must match
                       exactly (same header order, padding and data layout as this package).
  fixtures.json        every tensor's dtype, shape and exact values (as float64), and each file's metadata.
"""

import json
import os
import sys

import numpy as np
from safetensors import TensorSpec, serialize
from safetensors.numpy import save_file


def bf16_bits(values):
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")


def bf16_values(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def spec(array_bytes, dtype, shape):
    return TensorSpec(dtype=dtype, shape=list(shape), data_ptr=array_bytes.ctypes.data, data_len=array_bytes.nbytes)


def describe(dtype, shape, values):
    return {"dtype": dtype, "shape": list(shape), "values": [float(v) for v in np.asarray(values).ravel()]}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    expected = {}

    # basic: numpy front end of the package.
    matrix = np.array([[1.0, -2.0, 0.5], [3.25, 0.0, -7.75]], dtype=np.float32)
    cube = ((np.arange(24, dtype=np.float32) - 11.5) / 4).reshape(2, 3, 4)
    scalar = np.array(3.25, dtype=np.float32)
    empty = np.zeros((0, 3), dtype=np.float32)
    half = np.array([0.5, -1.25, 65504.0, 2.0 ** -24, -0.0, 1.0 / 3.0], dtype=np.float16)
    metadata = {"format": "np", "note": 'h\u00e9llo "quoted" \\ back'}
    save_file({"matrix": matrix, "cube": cube, "scalar": scalar, "empty": empty, "half": half},
              os.path.join(out, "basic.safetensors"), metadata=metadata)
    expected["basic.safetensors"] = {
        "metadata": metadata,
        "tensors": {
            "matrix": describe("F32", matrix.shape, matrix),
            "cube": describe("F32", cube.shape, cube),
            "scalar": describe("F32", [], scalar),
            "empty": describe("F32", empty.shape, empty),
            "half": describe("F16", half.shape, half.astype(np.float64)),
        },
    }

    # bf16: the core serializer, raw bytes.
    b = bf16_bits([1.0, -2.5, np.pi, 1e30])
    f = np.array([0.25, -1.0, 1e-3], dtype="<f4")
    blob = serialize({"weights": spec(b, "bfloat16", [2, 2]), "bias": spec(f, "float32", [3])}, {"kind": "bf16 test"})
    with open(os.path.join(out, "bf16.safetensors"), "wb") as fh:
        fh.write(bytes(blob))
    expected["bf16.safetensors"] = {
        "metadata": {"kind": "bf16 test"},
        "tensors": {"weights": describe("BF16", [2, 2], bf16_values(b)), "bias": describe("F32", [3], f)},
    }

    # int64: an integer tensor the reader must refuse.
    save_file({"ids": np.array([1, 2, 3], dtype=np.int64), "x": np.ones(2, dtype=np.float32)},
              os.path.join(out, "int64.safetensors"))
    expected["int64.safetensors"] = {"refused_tensor": "ids", "refused_dtype": "I64"}

    # writer_golden: one metadata key (the package's metadata map order is not specified for several).
    wb = np.array([[1.5, -2.0, 0.125], [4.0, 5.0, -6.5]], dtype="<f4")
    wa = np.array([0.5, -0.25, 2.0], dtype="<f2")
    wc = bf16_bits([1.0, 2.0, -3.0, 0.5])
    ws = np.array([42.0], dtype="<f4")
    blob = serialize({"b.weight": spec(wb, "float32", [2, 3]), "a.bias": spec(wa, "float16", [3]),
                      "c": spec(wc, "bfloat16", [2, 2]), "scalar": spec(ws, "float32", [])},
                     {"step": "7"})
    with open(os.path.join(out, "writer_golden.safetensors"), "wb") as fh:
        fh.write(bytes(blob))
    expected["writer_golden.safetensors"] = {
        "metadata": {"step": "7"},
        "tensors": {
            "b.weight": describe("F32", [2, 3], wb),
            "a.bias": describe("F16", [3], wa.astype(np.float64)),
            "c": describe("BF16", [2, 2], bf16_values(wc)),
            "scalar": describe("F32", [], ws),
        },
    }

    with open(os.path.join(out, "fixtures.json"), "w") as fh:
        json.dump(expected, fh, indent=1, sort_keys=True, ensure_ascii=False)
        fh.write("\n")
    print(f"wrote {len(expected)} fixtures to {out}")


if __name__ == "__main__":
    main()
