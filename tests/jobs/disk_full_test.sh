#!/usr/bin/env bash
# disk_full_test.sh STEPVIDEO MODEL_DIR WORK_DIR
# A full disk (ENOSPC) while a video is written fails that item with a reason
# that says so, leaves no partial file under a final name, and the run goes on
# with the next item (exit 9). After space is freed, --retry-failed finishes it.
# The full disk is a small tmpfs sized from a calibration run on the normal
# disk (same seeds, so the same file sizes): everything fits except the one
# long video in the middle of the manifest.
# Needs mount (root or CAP_SYS_ADMIN); exits 77 (ctest: skipped) without it.
set -euo pipefail
sv=$1 model=$2 work=$3
source "$(dirname "$0")/lib.sh"
mnt=$work/tmpfs
if mountpoint -q "$mnt" 2>/dev/null; then umount "$mnt"; fi
rm -rf "$work" && mkdir -p "$mnt"

m=$work/m.jsonl
{
  echo '{"id":"small1","prompt":"disk full test, a quiet pond","seed":11}'
  echo '{"id":"long","prompt":"disk full test, a long walk","seed":12,"frames":68}'
  echo '{"id":"small2","prompt":"disk full test, a windy beach","seed":13}'
} >"$m"
args=(--model "$model" --manifest "$m" "${TINY_ARGS[@]}")

if ! mount -t tmpfs -o size=4m tmpfs "$mnt" 2>"$work/mount.err"; then
  echo "SKIPPED: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): $(cat "$work/mount.err")"
  exit 77
fi
trap 'umount "$mnt" 2>/dev/null || true' EXIT

# Calibration: the sizes of every file on a disk with room.
cal=$work/calibration
run_rc rc "$sv" run "${args[@]}" --out "$cal" >"$work/calibration.log" 2>&1
[[ $rc == 0 ]] || { cat "$work/calibration.log"; fail "calibration run exited $rc"; }
pages() { local s=0 f; for f in "$@"; do s=$((s + ($(stat -c %s "$f") + 4095) / 4096)); done; echo "$s"; }
slack=2  # journal growth across a page boundary, summary.json's temporary
small=$(pages "$cal"/small1.mp4 "$cal"/small1.json "$cal"/small2.mp4 "$cal"/small2.json)
own=$(pages "$cal"/journal.jsonl "$cal"/run.json "$cal"/summary.json)
size_pages=$((small + own + 1 + slack))  # + the lock
long=$(pages "$cal"/long.mp4)
# Free space when long.mp4 is written: what small2 and the run's last files need, plus slack.
free_then=$(($(pages "$cal"/small2.mp4 "$cal"/small2.json "$cal"/summary.json) + slack))
((long > free_then + 2)) ||
  fail "calibration: long.mp4 takes $long pages, not clearly more than the $free_then free then"
note "tmpfs of $size_pages pages: small items and run files fit; long.mp4 ($long pages) meets $free_then free"

mount -o "remount,size=$((size_pages * 4))k" "$mnt"
out=$mnt/out

run_rc rc "$sv" run "${args[@]}" --out "$out" >"$work/full.log" 2>&1
df -k "$mnt" | tail -n1 | awk '{print "--- tmpfs after the run: " $3 " KiB used of " $2}'
[[ $rc == 9 ]] || { cat "$work/full.log"; fail "a run on a full disk exited $rc, expected 9"; }
journal=$out/journal.jsonl
expect_journal_whole "$journal"
[[ $(journal_count "$journal" failed long) == 1 ]] || fail "long is not recorded failed once"
reason=$(grep '"event":"failed"' "$journal" | grep -o '"reason":"[^"]*"')
grep -qiE "no space left on device|disk full|ENOSPC" <<<"$reason" || fail "the failure reason does not mention space: $reason"
[[ ! -e $out/long.mp4 && ! -e $out/long.json ]] || fail "the failed item left long.mp4 or long.json"
for id in small1 small2; do
  [[ $(journal_count "$journal" done "$id") == 1 ]] || fail "$id is not done once"
  expect_video "$out/$id.mp4" 17
done
# Only done items have videos, and nothing half-written stays.
[[ $(ls "$out"/*.mp4 | wc -l) == 2 ]] || fail "unexpected videos: $(ls "$out"/*.mp4)"
expect_no_leftovers "$out"
[[ $(summary_status "$out/summary.json") == "complete with failures" ]] || fail "summary status is not 'complete with failures'"
status_text status "$out" 9
grep -qiE "failed long \(line 2\): .*(no space left on device|disk full)" <<<"$status" || fail "status: $status"
note "long failed with $reason"

# Room again: the failed item is retried and done.
mount -o remount,size=4m "$mnt"
run_rc rc "$sv" run "${args[@]}" --out "$out" --retry-failed >"$work/retry.log" 2>&1
[[ $rc == 0 ]] || { cat "$work/retry.log"; fail "--retry-failed with room exited $rc, expected 0"; }
expect_video "$out/long.mp4" 68
[[ $(journal_count "$journal" done long) == 1 ]] || fail "long is not done once after the retry"
expect_no_leftovers "$out"
echo "PASS: ENOSPC failed only the item being written (reason names it), no partial file, exit 9; retried once room was back"
