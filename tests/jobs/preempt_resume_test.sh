#!/usr/bin/env bash
# preempt_resume_test.sh STEPVIDEO MODEL_DIR WORK_DIR
# Preemption must cost no correctness: an item stopped mid-trajectory, saved
# and continued by the next run gives the same latents (bit for bit) and the
# same frames as an uninterrupted run. First with the test-only injected
# preemption (deterministic step), then with a real SIGUSR1 to the process.
set -euo pipefail
sv=$1 model=$2 work=$3
source "$(dirname "$0")/lib.sh"
rm -rf "$work" && mkdir -p "$work"
unset STEPVIDEO_INJECT_FAULTS

# hdf5_mask_mtime FILE: copy with the object modification time (seconds since
# 1970, 4 bytes after each HDF5 "modification time" message header, type 0x12,
# version 1) zeroed: the only bytes that differ between equal files written at
# different seconds. Prints the copy's path.
hdf5_mask_mtime() {
  local copy=$1.masked hex at
  cp "$1" "$copy"
  hex=$(od -An -v -t x1 "$1" | tr -d ' \n')
  for at in $(grep -ob '1200080000000000010000' <<<"$hex" | cut -d: -f1); do
    ((at % 2 == 0)) || continue
    printf '\0\0\0\0' | dd of="$copy" bs=1 seek=$((at / 2 + 12)) conv=notrunc status=none
  done
  echo "$copy"
}

# Part 1: injected preemption of p2 after step 2 of 6.
m=$work/m.jsonl
for i in 1 2 3; do printf '{"id":"p%d","prompt":"preemption test %d, a red tram","seed":%d}\n' "$i" "$i" $((300 + i)); done >"$m"
args=(--model "$model" --manifest "$m" "${TINY_ARGS[@]}" --codec ffv1 --save-latents)
run_rc rc "$sv" run "${args[@]}" --out "$work/ref" >"$work/ref.log" 2>&1
[[ $rc == 0 ]] || { cat "$work/ref.log"; fail "the reference run exited $rc"; }

pre=$work/pre
run_rc rc env STEPVIDEO_INJECT_FAULTS=preempt:p2@@2 "$sv" run "${args[@]}" --out "$pre" >"$work/pre1.log" 2>&1
[[ $rc == 75 ]] || { cat "$work/pre1.log"; fail "the preempted run exited $rc, expected 75"; }
[[ -s $pre/.partial/p2.h5 ]] || fail "no saved state $pre/.partial/p2.h5"
[[ ! -e $pre/p2.mkv ]] || fail "p2.mkv exists after p2 was preempted"
grep -q '"event":"suspended"' "$pre/journal.jsonl" || fail "the journal has no suspended record"
[[ $(summary_status "$pre/summary.json") == preempted ]] || fail "summary status is not preempted"
status_text status "$pre" 75
grep -qE "1 suspended.*ended: preempted" <<<"$status" || fail "status does not show the suspended item: $status"
grep -q "1/3 done" <<<"$status" || fail "status does not say 1/3 done: $status"

run_rc rc "$sv" run "${args[@]}" --out "$pre" >"$work/pre2.log" 2>&1
[[ $rc == 0 ]] || { cat "$work/pre2.log"; fail "the resumed run exited $rc, expected 0"; }
[[ $(summary_count "$pre/summary.json" continued_from_saved_state) == 1 ]] ||
  fail "summary: continued_from_saved_state is not 1"
grep -qE '"continued_from_step": ?3' "$pre/p2.json" || fail "p2.json does not say it continued from step 3"
expect_no_leftovers "$pre"
for i in 1 2 3; do
  [[ $(journal_count "$pre/journal.jsonl" done "p$i") == 1 ]] || fail "p$i is not done exactly once"
  same_frames "$work/ref/p$i.mkv" "$pre/p$i.mkv"
  a=$(hdf5_mask_mtime "$work/ref/p$i.latents.h5") b=$(hdf5_mask_mtime "$pre/p$i.latents.h5")
  cmp -s "$a" "$b" || fail "p$i.latents.h5 differs from the uninterrupted run's (beyond the HDF5 timestamp)"
done
note "injected preemption: 75, suspended, resumed to identical latents and frames"

# Part 2: SIGUSR1 to a live run while its second item is mid-trajectory.
m2=$work/long.jsonl
for i in 1 2 3 4; do printf '{"id":"s%d","prompt":"signal test %d, a snowy road","seed":%d}\n' "$i" "$i" $((400 + i)); done >"$m2"
args=(--model "$model" --manifest "$m2" --frames 17 --height 64 --width 64 --steps 40 --codec ffv1 --progress-interval 0)
run_rc rc "$sv" run "${args[@]}" --out "$work/sref" >"$work/sref.log" 2>&1
[[ $rc == 0 ]] || { cat "$work/sref.log"; fail "the reference run exited $rc"; }
sig=$work/sig
"$sv" run "${args[@]}" --out "$sig" >"$work/sig1.log" 2>&1 &
pid=$!
trap '[[ -z $pid ]] || kill -9 "$pid" 2>/dev/null || true' EXIT  # a failed check leaves no run behind
# After one done record and the "step 10/40" progress line of the next batch.
for _ in $(seq 1 1200); do
  if grep -q '"event":"done"' "$sig/journal.jsonl" 2>/dev/null && grep -q 'batch 1 step 10/40' "$work/sig1.log"; then break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
kill -0 "$pid" 2>/dev/null || fail "the run ended before it could be signalled"
grep -q 'batch 1 step 10/40' "$work/sig1.log" || fail "batch 1 never reached step 10 within 60 s"
t0=$(date +%s%N)
kill -USR1 "$pid"
run_rc rc wait "$pid"
pid=  # reaped: the number may be reused
stop_ms=$((($(date +%s%N) - t0) / 1000000))
[[ $rc == 75 ]] || { cat "$work/sig1.log"; fail "the run exited $rc after SIGUSR1, expected 75"; }
((stop_ms < 10000)) || fail "the run took $stop_ms ms to stop after SIGUSR1"
[[ -s $sig/.partial/s2.h5 ]] || fail "s2 was signalled mid-trajectory but no .partial/s2.h5 was saved"
status_text status "$sig" 75
note "SIGUSR1 at batch 1 step 10/40: exit 75 after $stop_ms ms; $status"
run_rc rc "$sv" run "${args[@]}" --out "$sig" >"$work/sig2.log" 2>&1
[[ $rc == 0 ]] || { cat "$work/sig2.log"; fail "the resumed run exited $rc, expected 0"; }
[[ $(summary_count "$sig/summary.json" continued_from_saved_state) == 1 ]] ||
  fail "summary: continued_from_saved_state is not 1"
expect_no_leftovers "$sig"
for i in 1 2 3 4; do
  [[ $(journal_count "$sig/journal.jsonl" done "s$i") == 1 ]] || fail "s$i is not done exactly once"
  same_frames "$work/sref/s$i.mkv" "$sig/s$i.mkv"
done
echo "PASS: injected and SIGUSR1 preemption both resume to the uninterrupted run's latents and frames"
