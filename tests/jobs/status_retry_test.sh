#!/usr/bin/env bash
# status_retry_test.sh STEPVIDEO MODEL_DIR WORK_DIR
# A failed item stays failed: re-running the same command does not burn time
# on it again (exit 9, nothing re-run) until --retry-failed asks for it, and
# `stepvideo status` shows which item failed and why. The failure is a
# test-only injected write error (STEPVIDEO_INJECT_FAULTS). The retry also
# checks that `run --vae-tile` is recorded in the sidecar.
set -euo pipefail
sv=$1 model=$2 work=$3
source "$(dirname "$0")/lib.sh"
rm -rf "$work" && mkdir -p "$work"
unset STEPVIDEO_INJECT_FAULTS

m=$work/m.jsonl
for i in 1 2 3; do printf '{"id":"r%d","prompt":"retry test %d","seed":%d}\n' "$i" "$i" $((50 + i)); done >"$m"
out=$work/out journal=$work/out/journal.jsonl
cmd=("$sv" run --model "$model" --manifest "$m" --out "$out" "${TINY_ARGS[@]}")

# 1. r2's write fails.
run_rc rc env STEPVIDEO_INJECT_FAULTS=write:r2 "${cmd[@]}" >"$work/run1.log" 2>&1
[[ $rc == 9 ]] || { cat "$work/run1.log"; fail "a run with a failed item exited $rc, expected 9"; }
[[ $(journal_count "$journal" failed r2) == 1 ]] || fail "r2 is not recorded failed once"
grep '"event":"failed"' "$journal" | grep -q 'injected write failure' || fail "r2's failure record has no reason"
[[ ! -e $out/r2.mp4 && ! -e $out/r2.json ]] || fail "the failed item left r2.mp4 or r2.json"
expect_video "$out/r1.mp4" 17
expect_video "$out/r3.mp4" 17
status_text status "$out" 9
grep -q "2/3 done, 1 failed" <<<"$status" || fail "status does not say 2/3 done, 1 failed: $status"
grep -qE "failed r2 \(line 2\): .*injected write failure" <<<"$status" ||
  fail "status does not show r2's failure with line and reason: $status"
grep -q "ended: complete with failures" <<<"$status" || fail "status does not say how the run ended: $status"
records=$(wc -l <"$journal")

# 2. The same command without the fault: r2 is not retried.
run_rc rc "${cmd[@]}" >"$work/run2.log" 2>&1
[[ $rc == 9 ]] || { cat "$work/run2.log"; fail "re-running with an earlier failure exited $rc, expected 9"; }
grep -qE "1 failed earlier.*--retry-failed" "$work/run2.log" || fail "the re-run does not point at --retry-failed"
added=$(tail -n +$((records + 1)) "$journal")
grep -qE '"event":"(done|failed)"' <<<"$added" && fail "the re-run without --retry-failed ran items: $added"
[[ ! -e $out/r2.mp4 ]] || fail "r2.mp4 appeared without --retry-failed"
[[ $(summary_count "$out/summary.json" done_this_run) == 0 ]] || fail "summary: done_this_run is not 0"
[[ $(summary_status "$out/summary.json") == "complete with failures" ]] || fail "summary status is not 'complete with failures'"

# 3. --retry-failed: r2 runs again and succeeds; r1 and r3 are not re-run. This run
#    decodes in spatial tiles (4 x 4 latents -> tiles of 2 sharing 1), which r2's
#    sidecar must record and r1's (decoded whole) must not.
run_rc rc "${cmd[@]}" --retry-failed --vae-tile 2 --vae-tile-overlap 1 >"$work/run3.log" 2>&1
[[ $rc == 0 ]] || { cat "$work/run3.log"; fail "--retry-failed exited $rc, expected 0"; }
expect_video "$out/r2.mp4" 17
grep -qF '"vae_tiling"' "$out/r2.json" || fail "r2 was decoded in tiles but its sidecar does not say so"
! grep -qF '"vae_tiling"' "$out/r1.json" || fail "r1's sidecar mentions tiling"
for id in r1 r2 r3; do
  [[ $(journal_count "$journal" done "$id") == 1 ]] || fail "$id has $(journal_count "$journal" done "$id") done records, expected 1"
done
[[ $(summary_count "$out/summary.json" done_this_run) == 1 ]] || fail "summary: done_this_run is not 1"
[[ $(summary_status "$out/summary.json") == complete ]] || fail "summary status is not complete after the retry"
status_text status "$out" 0
grep -q "3/3 done, 0 failed" <<<"$status" || fail "status after the retry: $status"
grep -q "failed r2" <<<"$status" && fail "status still lists r2 as failed: $status"
expect_no_leftovers "$out"
echo "PASS: failed item reported by status, kept failed on re-run, retried with --retry-failed"
