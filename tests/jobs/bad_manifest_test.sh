#!/usr/bin/env bash
# bad_manifest_test.sh STEPVIDEO MODEL_DIR WORK_DIR
# Bad manifest lines must not stop a run: each is reported with its line
# number and what is wrong (stderr as file:line, summary.json per line), the
# valid items are generated, and the exit code (9) tells a script that not
# everything in the manifest became a video. A plain-text manifest takes one
# prompt per line and names items after their line numbers.
set -euo pipefail
sv=$1 model=$2 work=$3
source "$(dirname "$0")/lib.sh"
rm -rf "$work" && mkdir -p "$work"

# JSONL: valid items on lines 1, 7 and 12; one bad line of every kind; line 10 blank.
m=$work/mixed.jsonl
{
  echo '{"id":"good1","prompt":"a red kite over the sea","seed":1}'
  echo '{"id":"broken","prompt": }'
  echo '{"id":"extra","prompt":"a cat","colour":"red"}'
  echo '{"id":"negative","prompt":"a dog","frames":-17}'
  echo '{"id":"empty","prompt":"   "}'
  printf '{"id":"latin1","prompt":"caf\xe9 \xff"}\n'
  echo '{"id":"good2","prompt":"a green hill at noon","seed":2}'
  echo '{"id":"good1","prompt":"the same id again"}'
  echo '{"id":"typed","prompt":"a boat","steps":"six"}'
  echo ''
  echo '{"id":"sub/escape","prompt":"a path in an id"}'
  echo '{"id":"good3","prompt":"a blue door in the rain","seed":3}'
} >"$m"
# line -> what its reason must mention (extended regex, case-insensitive)
declare -A why=(
  [2]='JSON'
  [3]="unknown field 'colour'"
  [4]="'frames'.*between 17 and 1020.*-17"
  [5]="'prompt' is empty"
  [6]='UTF-8'
  [8]="duplicate id 'good1'.*line 1"
  [9]="'steps'.*integer"
  [11]="id 'sub/escape'.*character"
)

run_rc rc "$sv" run --model "$model" --manifest "$m" --out "$work/out" "${TINY_ARGS[@]}" \
  >"$work/stdout" 2>"$work/stderr"
[[ $rc == 9 ]] || { cat "$work/stderr"; fail "a manifest with bad lines exited $rc, expected 9"; }
for id in good1 good2 good3; do expect_video "$work/out/$id.mp4" 17; done
for id in broken extra negative empty latin1 typed; do
  [[ ! -e $work/out/$id.mp4 ]] || fail "$id.mp4 was written from a bad line"
done
[[ -z $(find "$work/out" -name '*escape*') ]] || fail "the id 'sub/escape' named a file"
# The duplicate is the later line: good1 is the line-1 item, done once.
[[ $(journal_count "$work/out/journal.jsonl" done good1) == 1 ]] || fail "good1 is not done exactly once"
grep -q '"prompt": "a red kite over the sea"' "$work/out/good1.json" ||
  fail "good1.json does not hold line 1's prompt (the duplicate on line 8 won?)"

flat=$(summary_flat "$work/out/summary.json")
st=$(summary_status "$work/out/summary.json")
[[ $st == "complete with failures" ]] || fail "summary status '$st', expected 'complete with failures'"
[[ $(summary_count "$work/out/summary.json" bad_lines) == ${#why[@]} ]] ||
  fail "summary counts $(summary_count "$work/out/summary.json" bad_lines) bad lines, expected ${#why[@]}"
[[ $(summary_count "$work/out/summary.json" done) == 3 ]] || fail "summary does not count 3 done"
for line in "${!why[@]}"; do
  grep -qiE "\"line\": ?$line, ?\"status\": ?\"bad_line\", ?\"reason\": ?\"([^\"\\\\]|\\\\.)*(${why[$line]})" \
    <<<"$flat" || fail "summary.json has no bad_line entry for line $line whose reason matches /${why[$line]}/"
  grep -qiE "mixed\.jsonl:$line: .*(${why[$line]})" "$work/stderr" ||
    fail "stderr does not name mixed.jsonl:$line with a reason matching /${why[$line]}/"
done
# Blank line 10 is no item and no error.
grep -qE '"line": ?10,' <<<"$flat" && fail "blank line 10 appears in summary.json"
grep -q 'mixed\.jsonl:10:' "$work/stderr" && fail "blank line 10 was reported as bad"
status_text status "$work/out" 9
grep -qE "3/11 done, 0 failed, 8 bad lines" <<<"$status" || fail "status says '$status', expected 3/11 done, 8 bad lines"

# Plain text: one prompt per line; blank and whitespace-only lines are skipped
# but still count, so ids follow the file's line numbers.
t=$work/prompts.txt
printf 'a windmill in a field\n\nan owl on a branch\n   \na train crossing a bridge\n' >"$t"
run_rc rc "$sv" run --model "$model" --manifest "$t" --out "$work/text" "${TINY_ARGS[@]}" \
  >"$work/text.stdout" 2>"$work/text.stderr"
[[ $rc == 0 ]] || { cat "$work/text.stderr"; fail "the text manifest run exited $rc, expected 0"; }
declare -A prompt=([00001]='a windmill in a field' [00003]='an owl on a branch' [00005]='a train crossing a bridge')
for id in "${!prompt[@]}"; do
  expect_video "$work/text/$id.mp4" 17
  grep -q "\"prompt\": \"${prompt[$id]}\"" "$work/text/$id.json" || fail "$id.json does not hold '${prompt[$id]}'"
  grep -qE "\"manifest_line\": ?$((10#$id))," "$work/text/$id.json" || fail "$id.json has the wrong manifest_line"
done
for id in 00002 00004; do [[ ! -e $work/text/$id.mp4 ]] || fail "blank line made $id.mp4"; done
[[ $(ls "$work/text"/*.mp4 | wc -l) == 3 ]] || fail "the text manifest made $(ls "$work/text"/*.mp4 | wc -l) videos, expected 3"
echo "PASS: ${#why[@]} kinds of bad line reported by line number; valid items done; text manifest ids from line numbers"
