#!/usr/bin/env bash
# signal_storm_test.sh STEPVIDEO MODEL_DIR WORK_DIR PENDING_SIGNAL_HELPER
# Stop signals never corrupt a run, whenever and however often they come:
#  1. thousands of SIGUSR1/SIGTERM while the DiT computes (the heap corruption
#     of issue 12: an asynchronous handler's signal frame landed in the heap
#     while oneDNN's sgemm ran with its stack pointer in a heap workspace);
#  2. a signal pending from the process's first instant (before any of its code
#     runs: started with it pending and blocked), which must not be lost.
# Each time: exit 75, the state saved; the next run finishes every item once
# and its videos equal an uninterrupted run's, frame for frame.
set -euo pipefail
sv=$1 model=$2 work=$3 pending=$4
source "$(dirname "$0")/lib.sh"
rm -rf "$work" && mkdir -p "$work"
unset STEPVIDEO_INJECT_FAULTS

m=$work/m.jsonl
for i in 1 2; do printf '{"id":"s%d","prompt":"signal storm %d, a lighthouse","seed":%d}\n' "$i" "$i" $((500 + i)); done >"$m"
args=(--model "$model" --manifest "$m" --frames 17 --height 64 --width 64 --steps 40 --codec ffv1)
run_rc rc "$sv" run "${args[@]}" --out "$work/ref" >"$work/ref.log" 2>&1
[[ $rc == 0 ]] || { cat "$work/ref.log"; fail "the reference run exited $rc"; }

# expect_resumed OUT LOG: after a stop, the next run completes and matches the reference.
expect_resumed() {
  run_rc rc "$sv" run "${args[@]}" --out "$1" >"$2" 2>&1
  [[ $rc == 0 ]] || { cat "$2"; fail "the run after the stop exited $rc, expected 0"; }
  expect_no_leftovers "$1"
  for i in 1 2; do
    [[ $(journal_count "$1/journal.jsonl" done "s$i") == 1 ]] || fail "s$i is not done exactly once in $1"
    same_frames "$work/ref/s$i.mkv" "$1/s$i.mkv"
  done
}

# 1. The storm: signals as fast as bash sends them, from the first denoising step until the
#    process is gone.
out=$work/storm
"$sv" run "${args[@]}" --out "$out" >"$work/storm1.log" 2>&1 &
pid=$!
deadline=$((SECONDS + 60))
until grep -q 'replica 0: batch 0' "$work/storm1.log"; do
  ((SECONDS < deadline)) || { kill -9 "$pid"; fail "the run did not start a batch within 60 s"; }
  kill -0 "$pid" 2>/dev/null || { cat "$work/storm1.log"; fail "the run ended before its first batch"; }
  sleep 0.01
done
# alive PID: running (a process that has exited stays a zombie, which kill still reaches, until waited for).
alive() { [[ -r /proc/$1/stat && $(cut -d' ' -f3 "/proc/$1/stat") != Z ]]; }
sent=0
while alive "$pid" && ((sent < 100000)); do
  for _ in $(seq 25); do kill -USR1 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null && sent=$((sent + 2)); done
done
run_rc rc wait "$pid"
note "sent $sent stop signals to a denoising run"
((sent >= 20)) || fail "only $sent signals reached the run before it ended: the storm proves nothing"
[[ $rc == 75 ]] || { cat "$work/storm1.log"; fail "the run under a signal storm exited $rc, expected 75"; }
! grep -qE 'corrupted|free\(\)|malloc|double free|Segmentation' "$work/storm1.log" ||
  { cat "$work/storm1.log"; fail "glibc reported heap corruption"; }
grep -q 'stopping: signal 1[05]' "$work/storm1.log" || fail "the run did not log which signal stopped it"
expect_resumed "$out" "$work/storm2.log"
note "signal storm: 75, then resumed to identical frames"

# 2. Pending from the first instant, before main() or any library initialiser.
for sig in TERM USR1 INT; do
  out=$work/pending-$sig
  run_rc rc "$pending" "$sig" "$sv" run "${args[@]}" --out "$out" >"$work/pending-$sig.log" 2>&1
  [[ $rc == 75 ]] || { cat "$work/pending-$sig.log"; fail "a run started with SIG$sig pending exited $rc, expected 75"; }
  grep -q 'stopping: signal' "$work/pending-$sig.log" || fail "the SIG$sig run did not log its stop"
  expect_resumed "$out" "$work/pending-$sig-2.log"
done
note "a stop signal pending at exec: 75 (TERM, USR1, INT), then resumed to identical frames"
echo "signal storm: ok"
