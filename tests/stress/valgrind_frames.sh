#!/usr/bin/env bash
# valgrind_frames.sh LOG...: reads memcheck logs and sorts every reported
# error by where it happened. An error whose own stack (the "at"/"by" lines
# before "Address ...") has a stepvideo frame (a `sv::` function or the
# stepvideo binary) is ours; one whose stack is only other libraries' frames
# and unnamed JIT code (oneDNN's generated kernels show as "???") is not.
# Prints one line per error context with its kind and first frames, the
# counts, and exits 1 when any error is in a stepvideo frame. Nothing is
# suppressed here: every error valgrind printed is counted.
set -euo pipefail
(($# >= 1)) || { echo "usage: $0 VALGRIND_LOG..." >&2; exit 2; }
awk '
  function flush() {
    if (kind == "") return
    where = ours ? "STEPVIDEO" : "other"
    n[where]++
    printf "%-9s %-45s %s\n", where, kind, frames
    kind = ""
  }
  # An error starts with its description right after the "==PID== " prefix.
  /^==[0-9]+== (Invalid|Conditional jump|Use of uninitialised|Syscall param|Mismatched|Source and destination|Argument|Stack overflow)/ {
    flush()
    kind = $0; sub(/^==[0-9]+== /, "", kind)
    frames = ""; ours = 0; in_stack = 1
    next
  }
  kind != "" && in_stack && /^==[0-9]+==    (at|by) / {
    line = $0; sub(/^==[0-9]+==    (at|by) 0x[0-9A-F]+: /, "", line)
    if (line ~ /sv::/ || line ~ /\/stepvideo\)$/) ours = 1
    if (split(frames, parts, " <- ") < 3) frames = frames (frames == "" ? "" : " <- ") line
    next
  }
  kind != "" && /^==[0-9]+==  ?[A-Z]/ { in_stack = 0 }  # "Address ...", "Uninitialised value was created"
  /^==[0-9]+== $/ { flush() }
  END {
    flush()
    printf "error contexts: %d in stepvideo frames, %d elsewhere\n", n["STEPVIDEO"], n["other"]
    exit (n["STEPVIDEO"] > 0)
  }
' "$@"
