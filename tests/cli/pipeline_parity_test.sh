#!/usr/bin/env bash
# pipeline_parity_test.sh STEPVIDEO MODEL_DIR WORK_DIR: `generate` and `run`
# are one pipeline. The same request through both gives the same frames and
# the same sidecar (apart from each command's own fields), is rounded the same
# way, and is refused the same way when it is bad.
set -euo pipefail
sv=$1 model=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }

prompt="A lantern floats over a dark lake"
# Sizes that round (20 -> 17 frames, 70 -> 64), guidance on, a custom negative prompt.
"$sv" generate --model "$model" --prompt "$prompt" --negative-prompt "fog" --frames 20 --height 70 \
  --width 96 --steps 2 --cfg-scale 4 --time-shift 7 --seed 5 --fps 12 --out "$work/g.mkv" 2>"$work/g.log" \
  || fail "generate: $(cat "$work/g.log")"
printf '{"id":"v","prompt":"%s","negative_prompt":"fog","frames":20,"height":70,"width":96,"seed":5}\n' \
  "$prompt" >"$work/m.jsonl"
"$sv" run --model "$model" --manifest "$work/m.jsonl" --out "$work/r" --codec ffv1 --steps 2 --cfg-scale 4 \
  --time-shift 7 --fps 12 2>"$work/r.log" || fail "run: $(cat "$work/r.log")"

# The same frames, bit for bit (lossless FFV1).
ffmpeg -v error -i "$work/g.mkv" -f framemd5 "$work/g.md5"
ffmpeg -v error -i "$work/r/v.mkv" -f framemd5 "$work/r.md5"
diff <(grep -v '^#' "$work/g.md5") <(grep -v '^#' "$work/r.md5") >/dev/null || fail "generate and run made different frames"
[[ $(grep -vc '^#' "$work/g.md5") -eq 17 ]] || fail "expected 17 frames"

# In a batch of two (video v second, after another prompt w with its own
# negative prompt and seed), each is still its own video: conditioning rows and
# noise are per item, never mixed up by batching. Equal up to GEMM rounding, not
# bit for bit: oneDNN's sgemm picks its kernel by the matrix's row count, and a
# batch has more rows (on AVX2, Zen 3: 0.005 % of the values one level apart; on
# AVX-512 identical). Two different videos are ~45 levels apart on average.
printf '{"id":"w","prompt":"A green field at dawn","negative_prompt":"rain","frames":20,"height":70,"width":96,"seed":9}\n' \
  >"$work/w.jsonl"
cat "$work/w.jsonl" "$work/m.jsonl" >"$work/m2.jsonl"
"$sv" run --model "$model" --manifest "$work/m2.jsonl" --out "$work/r2" --codec ffv1 --steps 2 --cfg-scale 4 \
  --time-shift 7 --fps 12 --batch-size 2 >"$work/r2.log" 2>&1 || fail "batched run: $(cat "$work/r2.log")"
grep -q "batch 0 (2 item(s)" "$work/r2.log" || fail "the two items did not share a batch"
"$sv" run --model "$model" --manifest "$work/w.jsonl" --out "$work/rw" --codec ffv1 --steps 2 --cfg-scale 4 \
  --time-shift 7 --fps 12 >"$work/rw.log" 2>&1 || fail "run of w alone: $(cat "$work/rw.log")"
same_video() {  # ALONE BATCHED NAME
  local max fraction mean
  read -r max fraction mean < <(python3 "$here/frame_difference.py" "$1" "$2")
  awk -v m="$max" -v f="$fraction" 'BEGIN { exit !(m <= 2 && f <= 0.001) }' ||
    fail "batching changed video $3: values up to $max apart, $fraction of them differ (mean $mean)"
}
same_video "$work/g.mkv" "$work/r2/v.mkv" v
same_video "$work/rw/w.mkv" "$work/r2/w.mkv" w
read -r _ _ apart < <(python3 "$here/frame_difference.py" "$work/r2/v.mkv" "$work/r2/w.mkv")
awk -v d="$apart" 'BEGIN { exit !(d > 10) }' || fail "v and w are nearly the same video (mean difference $apart)"

# The same description of the video: every field both commands write.
fields='{prompt, positive_suffix, negative_prompt, seed, noise, frames, height, width, fps, steps, cfg_scale,
         time_shift, latent_shape, layout, world_size, vae_tiling, model}'
jq -S "$fields" "$work/g.json" >"$work/g.fields"
jq -S "$fields" "$work/r/v.json" >"$work/r.fields"
diff "$work/g.fields" "$work/r.fields" || fail "the sidecars of generate and run differ (above)"
[[ $(jq -r .negative_prompt "$work/g.json") == fog && $(jq -r .height "$work/g.json") == 64 ]] \
  || fail "sidecar does not record the request: $(cat "$work/g.fields")"
# Each model's load time is recorded once, apart from the stage's own time.
for key in load_text_s load_dit_s load_vae_s text_encode_s denoise_s vae_decode_s; do
  jq -e ".timings.$key >= 0" "$work/g.json" >/dev/null || fail "generate's timings lack $key"
done

# The same bad request is refused by both with the same words: generate as a
# usage error (2), run as a bad manifest line (exit 9, the line named).
expect_same_refusal() {  # FIELD VALUE
  local field=$1 value=$2 rc=0
  local -A opts=([frames]=17 [height]=64 [width]=64 [steps]=2)
  opts[$field]=$value
  local args=() key
  for key in "${!opts[@]}"; do args+=(--"${key//_/-}" "${opts[$key]}"); done
  "$sv" generate --model "$model" --prompt "$prompt" "${args[@]}" --out "$work/bad.mkv" 2>"$work/bad_g.log" || rc=$?
  [[ $rc -eq 2 && ! -e $work/bad.mkv ]] || fail "generate --${field//_/-} $value: exit $rc, $(cat "$work/bad_g.log")"
  printf '{"id":"b","prompt":"%s","%s":%s}\n' "$prompt" "$field" "$value" >"$work/bad.jsonl"
  rc=0
  "$sv" run --model "$model" --manifest "$work/bad.jsonl" --out "$work/rb_$field" --steps 2 --frames 17 \
    --height 64 --width 64 --dry-run >"$work/bad_r.log" 2>&1 || rc=$?
  [[ $rc -ne 0 ]] || fail "run accepted \"$field\": $value"
  grep -q "bad.jsonl:1: bad line" "$work/bad_r.log" || fail "run's refusal of $field does not name the line: $(cat "$work/bad_r.log")"
  # The limit itself is worded once (generation_request), whichever way the field is spelled.
  local g r
  g=$(grep -oE 'must (not )?be [^;]*' "$work/bad_g.log" | sed 's/ (see stepvideo generate --help)$//' | head -1)
  r=$(grep -oE 'must (not )?be [^;]*' "$work/bad_r.log" | head -1)
  [[ -n $g && $g == "$r" ]] || fail "$field $value: generate says '$g', run says '$r'"
}
expect_same_refusal frames 5000
expect_same_refusal seed -1
expect_same_refusal cfg_scale 1000
expect_same_refusal time_shift 0
echo "pipeline parity: all checks passed"
