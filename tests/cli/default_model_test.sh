#!/usr/bin/env bash
# default_model_test.sh STEPVIDEO MODEL_DIR WORK_DIR MIN_COLOUR MIN_MOTION MIN_SHAPE
# The bundled default (init-model --preset tiny, trained by scripts/train-default-model.sh) draws what
# it is asked: `eval shapes` on the held-out captions (never in training), one seed, the model's own
# sampling.json; colour, motion and shape accuracy in both languages at least the given fractions
# (a random-weight model scores ~0.17 on colour and shape). Also: a plain `generate` of a caption
# applies the model's sampling defaults.
set -euo pipefail
sv=$1 model=$2 work=$3 min_colour=$4 min_motion=$5 min_shape=$6
source "$(dirname "$0")/../jobs/lib.sh"
rm -rf "$work" && mkdir -p "$work"

[[ -f $model/sampling.json ]] || fail "$model: no sampling.json (the trained default bundles one)"
"$sv" eval shapes --model "$model" --seeds 1 --report "$work/report.json" >"$work/eval.log" 2>&1 ||
  { cat "$work/eval.log"; fail "eval shapes on the default model"; }
cat "$work/eval.log" | grep -v '^20' || true
for language in en zh; do
  jq -e --arg l "$language" --argjson c "$min_colour" --argjson m "$min_motion" --argjson s "$min_shape" \
    '.scores[$l] | .colour >= $c and .motion >= $m and .shape >= $s' "$work/report.json" >/dev/null ||
    fail "$language: $(jq -c --arg l "$language" '.scores[$l]' "$work/report.json"), expected colour >= $min_colour, motion >= $min_motion, shape >= $min_shape"
done
note "eval shapes: held-out captions drawn right in both languages"

"$sv" generate --model "$model" --prompt "一个红色的圆向右移动" --out "$work/red.mp4" >"$work/gen.log" 2>&1 ||
  { cat "$work/gen.log"; fail "generate on the default model"; }
jq -e '.steps == 30 and .cfg_scale == 5 and .frames == 17 and .height == 64 and .width == 64' "$work/red.json" >/dev/null ||
  fail "generate did not take the model's sampling.json: $(jq -c '{steps, cfg_scale, frames, height, width}' "$work/red.json")"
expect_video "$work/red.mp4" 17
echo "PASS: the bundled default model follows held-out prompts in English and Chinese"
