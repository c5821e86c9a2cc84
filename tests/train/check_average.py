#!/usr/bin/env python3
"""check_average.py AVG_DIR A_DIR B_DIR: every transformer tensor of AVG_DIR
(`average-checkpoints --dtype f32` of two checkpoints) is the element-wise mean
of A_DIR's and B_DIR's (`export --dtype f32` of each), to float rounding (the
mean is taken in double and rounded once: within half an ulp of the exact
mean). Exit 1 otherwise. Standard library only."""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_weights import read_tensors  # noqa: E402


def main():
    avg, a, b = (read_tensors(d) for d in sys.argv[1:4])
    if not (avg.keys() == a.keys() == b.keys()):
        sys.exit("different tensors")
    worst = 0.0
    for name in sorted(avg):
        for m, x, y in zip(avg[name], a[name], b[name]):
            exact = (x + y) / 2  # Python floats are doubles: exact for two floats
            ulp = math.ulp(abs(exact)) if exact != 0 else 0.0
            off = abs(m - exact)
            # a float32 ulp is 2^29 double ulps; rounding once is within half of it
            if off > 0.5 * ulp * 2 ** 29 + 1e-45:
                sys.exit(f"{name}: {m} is not the mean of {x} and {y}")
            worst = max(worst, off)
    changed = sum(1 for name in avg if any(x != y for x, y in zip(a[name], b[name])))
    if changed == 0:
        sys.exit("the two checkpoints hold the same weights: the test would prove nothing")
    print(f"{len(avg)} tensors are the mean of the two ({changed} differ between them); worst offset {worst:.3e}")


if __name__ == "__main__":
    main()
