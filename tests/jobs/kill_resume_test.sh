#!/usr/bin/env bash
# kill_resume_test.sh STEPVIDEO MODEL_DIR WORK_DIR [SEED]
# A run killed with SIGKILL at 20 random moments (no chance to clean up) and
# restarted each time must still end with every item done exactly once, every
# video complete, and nothing half-written left: the journal, the atomic
# renames and the stale-lock takeover together make kill -9 harmless.
# The kill schedule comes from SEED and the time scale MAX_MS (both printed:
# KILL_SEED=... KILL_MAX_MS=... reproduces a schedule).
set -euo pipefail
sv=$1 model=$2 work=$3
seed=${4:-${KILL_SEED:-20261124}}
source "$(dirname "$0")/lib.sh"
rm -rf "$work" && mkdir -p "$work"
out=$work/out kills=20

# 12 items, two of them twice as long; seeds vary.
manifest=$work/m.jsonl
declare -A frames
for i in $(seq 1 12); do
  id=$(printf 'k%02d' "$i")
  frames[$id]=17
  if ((i == 4 || i == 9)); then frames[$id]=34; fi
  printf '{"id":"%s","prompt":"kill test scene %d, a lighthouse at dusk","seed":%d,"frames":%d}\n' \
    "$id" "$i" $((1000 + 37 * i)) "${frames[$id]}"
done >"$manifest"
cmd=("$sv" run --model "$model" --manifest "$manifest" --out "$out" "${TINY_ARGS[@]}")

# One uninterrupted run sets the time scale of the kill schedule.
t0=$(date +%s%N)
run_rc rc "$sv" run --model "$model" --manifest "$manifest" --out "$work/uninterrupted" "${TINY_ARGS[@]}" \
  >"$work/uninterrupted.log" 2>&1
t_ref_ms=$((($(date +%s%N) - t0) / 1000000))
[[ $rc == 0 ]] || fail "the uninterrupted run exited $rc (log: $work/uninterrupted.log)"
# Delays up to start-up (about 2 s) plus a fraction of an item: kills land in
# loading, denoising and decoding, and the run advances slowly enough that
# the kills find it working.
max_ms=${KILL_MAX_MS:-$((t_ref_ms / 5 + 1000))}
RANDOM=$seed
note "uninterrupted run ${t_ref_ms} ms; kill delays 50..${max_ms} ms; reproduce: KILL_SEED=$seed KILL_MAX_MS=$max_ms"

# Every second kill aims at the milliseconds in which the attempt's first item
# is encoded, renamed and journaled: 0..25 ms after the run logs its last
# decoded chunk (a uniform delay rarely lands there). tail -f follows the log
# as it grows; --pid ends it with the run.
landed=0
for k in $(seq 1 "$kills"); do
  log=$work/run-$k.log
  "${cmd[@]}" >"$log" 2>&1 &
  pid=$!
  if ((k % 2)); then
    delay_ms=$((50 + (RANDOM * 32768 + RANDOM) % (max_ms - 50)))
    when="after ${delay_ms} ms"
  else
    grep -qm1 -E 'decoded chunk ([0-9]+)/\1 ' < <(tail -n +1 -f --pid="$pid" "$log") || true
    delay_ms=$((RANDOM % 26))
    when="${delay_ms} ms after an item's last decoded chunk"
  fi
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  if kill -9 "$pid" 2>/dev/null; then
    landed=$((landed + 1))
    what="killed"
  else
    what="had already exited"
  fi
  rc=0
  { wait "$pid"; } 2>/dev/null || rc=$?  # without the shell's "Killed" notice
  cat "$log" >>"$work/runs.log"
  done_n=$(grep -c '"event":"done"' "$out/journal.jsonl" 2>/dev/null || true)
  note "kill $k: $when pid $pid $what (status $rc); journal has ${done_n:-0} done record(s)"
  if [[ $what == killed && $rc != 137 ]]; then fail "pid $pid should have died of SIGKILL, status $rc"; fi
  # At every moment a video under its final name is a whole video.
  for f in "$out"/*.mp4; do
    [[ -e $f ]] || continue
    id=$(basename "$f" .mp4)
    expect_video "$f" "${frames[$id]}"
  done
  ((done_n < 12)) || { note "all items done after $k kills"; break; }
done
# A schedule that never caught the run working would prove nothing.
((landed >= kills * 3 / 4)) || fail "only $landed of $kills kills found the run alive; the schedule is too slow"

note "final run to completion"
run_rc rc "${cmd[@]}" >"$work/final.log" 2>&1
[[ $rc == 0 ]] || { cat "$work/final.log"; fail "the final run exited $rc, expected 0"; }

journal=$out/journal.jsonl
expect_journal_whole "$journal"
for id in "${!frames[@]}"; do
  n=$(journal_count "$journal" done "$id")
  [[ $n == 1 ]] || fail "$id has $n \"done\" records in the journal, expected exactly 1"
  expect_video "$out/$id.mp4" "${frames[$id]}"
  [[ -f $out/$id.json ]] || fail "$id.json (sidecar) is missing"
done
n=$(grep -c '"event":"done"' "$journal")
[[ $n == 12 ]] || fail "the journal has $n done records, expected 12"
grep -q '"event":"failed"' "$journal" && fail "an item was recorded failed: $(grep '"event":"failed"' "$journal")"
expect_no_leftovers "$out"
st=$(summary_status "$out/summary.json")
[[ $st == complete ]] || fail "summary.json status is '$st', expected complete"
[[ $(summary_count "$out/summary.json" done) == 12 ]] || fail "summary.json does not count 12 done"
logs=("$work/runs.log" "$work/final.log")
note "after the kills: $(cat "${logs[@]}" | grep -c 'taking over the lock') lock takeovers," \
  "$(cat "${logs[@]}" | grep -c 'half-written') cleanups of half-written files," \
  "$(cat "${logs[@]}" | grep -c 'torn last record') torn journal tails repaired"
echo "PASS: $landed of $kills kills landed on a working run; all 12 items done once and decode" \
  "(KILL_SEED=$seed KILL_MAX_MS=$max_ms)"
