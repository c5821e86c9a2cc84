#!/usr/bin/env python3
"""compare_weights.py A_DIR B_DIR TOL: the transformers of two exported f32
model directories (`stepvideo export --dtype f32`) hold the same tensors, each
within relative L2 error TOL (||a - b|| / ||b||, ||a - b|| alone when b is
zero). Prints the worst tensor; exit 1 beyond TOL. Standard library only."""
import array
import glob
import json
import math
import os
import struct
import sys


def read_tensors(model_dir):
    tensors = {}
    for path in sorted(glob.glob(os.path.join(model_dir, "transformer", "*.safetensors"))):
        with open(path, "rb") as f:
            blob = f.read()
        (header_len,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8:8 + header_len])
        data = blob[8 + header_len:]
        for name, info in header.items():
            if name == "__metadata__":
                continue
            if info["dtype"] != "F32":
                sys.exit(f"{path}: {name} is {info['dtype']}, export with --dtype f32")
            begin, end = info["data_offsets"]
            values = array.array("f")
            values.frombytes(data[begin:end])
            if sys.byteorder != "little":
                values.byteswap()
            tensors[name] = values
    if not tensors:
        sys.exit(f"{model_dir}: no transformer safetensors")
    return tensors


def main():
    a_dir, b_dir, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
    a, b = read_tensors(a_dir), read_tensors(b_dir)
    if a.keys() != b.keys():
        sys.exit(f"different tensors: {sorted(a.keys() ^ b.keys())[:5]}")
    worst_name, worst = None, -1.0
    for name in sorted(a):
        x, y = a[name], b[name]
        if len(x) != len(y):
            sys.exit(f"{name}: {len(x)} vs {len(y)} elements")
        diff = math.sqrt(sum((p - q) ** 2 for p, q in zip(x, y)))
        norm = math.sqrt(sum(q * q for q in y))
        err = diff / norm if norm > 0 else diff
        if err > worst:
            worst_name, worst = name, err
    print(f"{len(a)} tensors; worst relative L2 difference {worst:.3e} ({worst_name}); tolerance {tol:g}")
    sys.exit(0 if worst <= tol else 1)


if __name__ == "__main__":
    main()
