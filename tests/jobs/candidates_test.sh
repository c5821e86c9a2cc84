#!/usr/bin/env bash
# candidates_test.sh STEPVIDEO MODEL_DIR WORK_DIR
# Several candidates per prompt (for preference pairs, issue 16 item 2):
# "samples": N on a line, or --samples-per-prompt N for lines that do not say,
# makes <id>-s0 .. <id>-s<N-1> with seeds derived from the line's seed, each
# sidecar naming the line and the candidate; candidates of one prompt differ;
# a bad count or an id a candidate already takes is a bad line; a rerun with
# the same options resumes (nothing made again).
set -euo pipefail
sv=$1 model=$2 work=$3
source "$(dirname "$0")/lib.sh"
rm -rf "$work" && mkdir -p "$work"
m=$work/candidates.jsonl
{
  echo '{"id":"kite","prompt":"a red kite over the sea","seed":7,"samples":3}'
  echo '{"prompt":"a green hill at noon","seed":8}'
  echo '{"id":"door","prompt":"a blue door","samples":1}'
  echo '{"id":"none","prompt":"a cat","samples":0}'
  echo '{"id":"kite-s1","prompt":"an id a candidate has","samples":1}'
} >"$m"
ARGS=(--model "$model" --manifest "$m" --out "$work/out" --samples-per-prompt 2 --frames 17 --height 64 --width 64
      --steps 2)
run_rc rc "$sv" run "${ARGS[@]}" >"$work/stdout" 2>"$work/stderr"
[[ $rc == 9 ]] || { cat "$work/stderr"; fail "exit $rc, expected 9 (two bad lines)"; }
for id in kite-s0 kite-s1 kite-s2 00002-s0 00002-s1 door; do expect_video "$work/out/$id.mp4" 17; done
[[ ! -e $work/out/kite.mp4 && ! -e $work/out/none.mp4 && ! -e $work/out/00002.mp4 ]] || fail "a line made a plain item"
grep -qE "candidates\.jsonl:4: .*'samples' must be 1 to 64, got 0" "$work/stderr" || fail "no reason for line 4"
grep -qE "candidates\.jsonl:5: .*duplicate id 'kite-s1'.*line 1" "$work/stderr" || fail "no reason for line 5"
for k in 0 1 2; do
  jq -e --argjson k "$k" '.candidate == {"of": "kite", "sample": $k, "samples": 3} and .manifest_line == 1' \
    "$work/out/kite-s$k.json" >/dev/null || fail "kite-s$k.json: $(jq -c .candidate "$work/out/kite-s$k.json")"
done
jq -e '.candidate.samples == 2 and .candidate.of == "00002"' "$work/out/00002-s1.json" >/dev/null ||
  fail "the --samples-per-prompt default did not apply to line 2"
jq -e 'has("candidate") | not' "$work/out/door.json" >/dev/null || fail "a single item is marked a candidate"
# Distinct seeds, also between lines of neighbouring seeds (7 and 8), and
# distinct videos. (grep, not jq: jq 1.6 rounds integers beyond 2^53.)
seeds=$(for id in kite-s0 kite-s1 kite-s2 00002-s0 00002-s1; do
  grep -oE '"seed": ?[0-9]+' "$work/out/$id.json" | head -1
done | sort -u)
[[ $(wc -l <<<"$seeds") == 5 ]] || fail "candidates share seeds: $seeds"
[[ $(frame_md5 "$work/out/kite-s0.mp4") != $(frame_md5 "$work/out/kite-s1.mp4") ]] || fail "two candidates are the same video"
run_rc rc "$sv" run "${ARGS[@]}" >"$work/stdout2" 2>"$work/stderr2"
[[ $rc == 9 ]] || fail "rerun: exit $rc"
[[ $(journal_count "$work/out/journal.jsonl" done kite-s2) == 1 ]] || fail "the rerun made kite-s2 again"
echo "PASS: candidates per prompt with derived seeds, recorded in sidecars; bad counts and taken ids refused"
