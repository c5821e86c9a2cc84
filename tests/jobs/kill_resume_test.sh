#!/usr/bin/env bash
# kill_resume_test.sh STEPVIDEO MODEL_DIR WORK_DIR [SEED]
# A run killed with SIGKILL at 20 random moments (no chance to clean up) and
# restarted each time must still end with every item done exactly once, every
# video complete, and nothing half-written left: the journal, the atomic
# renames and the stale-lock takeover together make kill -9 harmless.
# The kill schedule comes from SEED and two time scales measured on an
# uninterrupted run (all printed: KILL_SEED=... KILL_MAX_MS=... KILL_ITEM_MS=...
# reproduces a schedule on a machine as fast).
set -euo pipefail
sv=$1 model=$2 work=$3
seed=${4:-${KILL_SEED:-20261124}}
source "$(dirname "$0")/lib.sh"
rm -rf "$work" && mkdir -p "$work"
kills=20
pid=
trap '[[ -z $pid ]] || kill -9 "$pid" 2>/dev/null || true' EXIT  # a failed check leaves no run behind

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
# exec: run in the background (or in a subshell), $! is then stepvideo itself,
# which kill -9 must hit.
run_cmd() { exec "$sv" run --model "$model" --manifest "$manifest" --out "$1" "${TINY_ARGS[@]}"; }
done_count() { local n; n=$(grep -cs '"event":"done"' "$1/journal.jsonl" || true); echo "${n:-0}"; }

# finish_and_check OUT: a last run without kills ends the run; then everything
# must be as if no kill had happened.
finish_and_check() {
  local out=$1 rc id n st
  rc=0
  (run_cmd "$out") >"$out.final.log" 2>&1 || rc=$?
  [[ $rc == 0 ]] || { cat "$out.final.log"; fail "the final run on $out exited $rc, expected 0"; }
  local journal=$out/journal.jsonl
  expect_journal_whole "$journal"
  for id in "${!frames[@]}"; do
    n=$(journal_count "$journal" done "$id")
    [[ $n == 1 ]] || fail "$id has $n \"done\" records in $journal, expected exactly 1"
    expect_video "$out/$id.mp4" "${frames[$id]}"
    [[ -f $out/$id.json ]] || fail "$out/$id.json (sidecar) is missing"
  done
  n=$(grep -c '"event":"done"' "$journal")
  [[ $n == 12 ]] || fail "$journal has $n done records, expected 12"
  grep -q '"event":"failed"' "$journal" && fail "an item was recorded failed: $(grep '"event":"failed"' "$journal")"
  expect_no_leftovers "$out"
  st=$(summary_status "$out/summary.json")
  [[ $st == complete ]] || fail "$out/summary.json status is '$st', expected complete"
  [[ $(summary_count "$out/summary.json" done) == 12 ]] || fail "$out/summary.json does not count 12 done"
  return 0
}

# One uninterrupted run sets the time scales: how long a fresh process takes
# to finish its first item (start-up, loading, one item), and then an item.
t0=$(date +%s%N)
run_cmd "$work/uninterrupted" >"$work/uninterrupted.log" 2>&1 &
pid=$!
t_first_ms=0
while kill -0 "$pid" 2>/dev/null; do
  if ((t_first_ms == 0 && $(done_count "$work/uninterrupted") > 0)); then
    t_first_ms=$((($(date +%s%N) - t0) / 1000000))
  fi
  sleep 0.01
done
run_rc rc wait "$pid"
pid=  # reaped: the number may be reused
t_ref_ms=$((($(date +%s%N) - t0) / 1000000))
[[ $rc == 0 ]] || fail "the uninterrupted run exited $rc (log: $work/uninterrupted.log)"
((t_first_ms > 100)) || fail "could not time the uninterrupted run's first item"

# Three kinds of kill, in turn, each with a random delay:
#  A  50 ms .. 3/4 of the first item's time after launch: start-up (lock,
#     journal repair, clean-up), loading, text encoding, denoising, decoding;
#  B  0..12 ms after the run logs an item's last decoded chunk: the few
#     milliseconds in which its video is encoded, renamed and journaled;
#  C  after the attempt's first done record, within 0.8 of an item: the next
#     item's work, once the run has advanced.
# When the kills have let all 12 items finish (a machine faster than when it
# was timed), that output directory is checked and a fresh one continues, so
# every one of the 20 kills hits a working run.
item_ms=${KILL_ITEM_MS:-$(((t_ref_ms - t_first_ms) / 13))}  # 11 more items, two of them double
max_ms=${KILL_MAX_MS:-$((t_first_ms * 3 / 4))}
RANDOM=$seed
note "uninterrupted run ${t_ref_ms} ms, first item after ${t_first_ms} ms; A delays 50..${max_ms} ms," \
  "C delays 0..$((item_ms * 4 / 5)) ms; reproduce: KILL_SEED=$seed KILL_MAX_MS=$max_ms KILL_ITEM_MS=$item_ms"

round=1 out=$work/out1 landed=0 attempt=0
while ((landed < kills && attempt < 2 * kills)); do
  attempt=$((attempt + 1))
  log=$work/run-$attempt.log
  before=$(done_count "$out")
  run_cmd "$out" >"$log" 2>&1 &
  pid=$!
  case $((attempt % 3)) in
    1)
      delay_ms=$((50 + (RANDOM * 32768 + RANDOM) % (max_ms - 50)))
      when="A: ${delay_ms} ms after launch" ;;
    2)
      # tail -f follows the log as it grows; --pid ends it with the run.
      grep -qm1 -E 'decoded chunk ([0-9]+)/\1 ' < <(tail -n +1 -f --pid="$pid" "$log") || true
      delay_ms=$((RANDOM % 13))
      when="B: ${delay_ms} ms after an item's last decoded chunk" ;;
    0)
      while kill -0 "$pid" 2>/dev/null && (($(done_count "$out") <= before)); do sleep 0.01; done
      delay_ms=$(((RANDOM * 32768 + RANDOM) % (item_ms * 4 / 5 + 1)))
      when="C: ${delay_ms} ms after the attempt's first done record" ;;
  esac
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
  [[ -z $comm || $comm == stepvideo ]] || fail "pid $pid is '$comm', not stepvideo: the kill would miss it"
  if kill -9 "$pid" 2>/dev/null; then
    landed=$((landed + 1))
    what="killed"
  else
    what="had already exited"
  fi
  rc=0
  { wait "$pid"; } 2>/dev/null || rc=$?  # without the shell's "Killed" notice
  reaped=$pid pid=
  cat "$log" >>"$work/runs.log"
  done_n=$(done_count "$out")
  note "attempt $attempt (round $round): $when pid $reaped $what (status $rc); journal has $done_n done record(s)"
  if [[ $what == killed && $rc != 137 ]]; then fail "pid $reaped should have died of SIGKILL, status $rc"; fi
  # At every moment a video under its final name is a whole video.
  for f in "$out"/*.mp4; do
    [[ -e $f ]] || continue
    id=$(basename "$f" .mp4)
    expect_video "$f" "${frames[$id]}"
  done
  if ((done_n == 12 && landed < kills)); then
    finish_and_check "$out"
    note "round $round: all items done and checked after $landed kills; continuing on a fresh directory"
    round=$((round + 1)) out=$work/out$round
  fi
done
((landed == kills)) || fail "only $landed kills in $attempt attempts found the run working; the schedule is off"

note "final run to completion"
finish_and_check "$out"
logs=("$work/runs.log" "$work"/out*.final.log)
note "after the kills: $(cat "${logs[@]}" | grep -c 'taking over the lock') lock takeovers," \
  "$(cat "${logs[@]}" | grep -c 'half-written') cleanups of half-written files," \
  "$(cat "${logs[@]}" | grep -c 'torn last record') torn journal tails repaired"
echo "PASS: $landed kills in $attempt attempts ($round round(s)); all 12 items done once and decode" \
  "(KILL_SEED=$seed KILL_MAX_MS=$max_ms KILL_ITEM_MS=$item_ms)"
