#!/usr/bin/env python3
"""frame_difference.py A B: decodes two videos of the same size to 8-bit RGB with ffmpeg and prints
"MAX FRACTION MEAN": the largest difference of one value, the fraction of values that differ, and
the mean absolute difference (levels of 255)."""
import subprocess
import sys


def rgb(path):
    return subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                          check=True, capture_output=True).stdout


a, b = rgb(sys.argv[1]), rgb(sys.argv[2])
if len(a) != len(b) or not a:
    sys.exit(f"{sys.argv[1]} and {sys.argv[2]} differ in size ({len(a)} vs {len(b)} bytes of frames)")
diffs = [abs(x - y) for x, y in zip(a, b)]
print(max(diffs), sum(1 for d in diffs if d) / len(diffs), sum(diffs) / len(diffs))
