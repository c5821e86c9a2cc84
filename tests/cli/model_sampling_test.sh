#!/usr/bin/env bash
# model_sampling_test.sh STEPVIDEO MODEL_DIR WORK_DIR
# A model directory's sampling.json sets generate's and run's defaults (steps,
# guidance, shift, size, fps, suffix, negative prompt); the command line, an
# explicit --preset and a manifest line each win over it; a malformed file is
# a configuration error (exit 3) naming the file.
set -euo pipefail
sv=$1 model=$2 work=$3
source "$(dirname "$0")/../jobs/lib.sh"
rm -rf "$work" && mkdir -p "$work/m"
cp -rs "$(realpath "$model")/." "$work/m/"  # the tiny model's files, linked
echo '{"steps": 3, "cfg_scale": 1.0, "time_shift": 2.5, "frames": 17, "height": 64, "width": 48, "fps": 8,
       "positive_suffix": "", "negative_prompt": "blurry"}' >"$work/m/sampling.json"

# sidecar_is FILE JQ_FILTER: the sidecar says what the filter expects.
sidecar_is() { jq -e "$2" "$1" >/dev/null || fail "$1: $(jq -c '{steps, cfg_scale, time_shift, frames, height, width, fps, positive_suffix, negative_prompt}' "$1"), expected $2"; }

OMP_NUM_THREADS=1 "$sv" generate --model "$work/m" --prompt "a red circle" --out "$work/a.mp4" >"$work/a.log" 2>&1 ||
  { cat "$work/a.log"; fail "generate with the model's defaults"; }
sidecar_is "$work/a.json" '.steps == 3 and .cfg_scale == 1 and .time_shift == 2.5 and .frames == 17 and .height == 64
  and .width == 48 and .fps == 8 and .positive_suffix == "" and .negative_prompt == "blurry"'
expect_video "$work/a.mp4" 17
OMP_NUM_THREADS=1 "$sv" generate --model "$work/m" --prompt "a red circle" --out "$work/b.mp4" --steps 2 --width 64 \
  --negative-prompt "dark" >/dev/null 2>&1 || fail "generate with options"
sidecar_is "$work/b.json" '.steps == 2 and .width == 64 and .negative_prompt == "dark" and .cfg_scale == 1 and .fps == 8'
OMP_NUM_THREADS=1 "$sv" generate --model "$work/m" --prompt "a red circle" --out "$work/c.mp4" --preset turbo \
  >/dev/null 2>&1 || fail "generate --preset turbo"
sidecar_is "$work/c.json" '.steps == 15 and .cfg_scale == 5 and .time_shift == 17 and .frames == 17 and .width == 48'
note "generate: the model's defaults, then options, then an explicit preset over them"

printf '{"id": "plain", "prompt": "a"}\n{"id": "own", "prompt": "b", "steps": 2, "negative_prompt": "n"}\n' >"$work/m.jsonl"
OMP_NUM_THREADS=1 "$sv" run --model "$work/m" --manifest "$work/m.jsonl" --out "$work/run" >"$work/run.log" 2>&1 ||
  { cat "$work/run.log"; fail "run with the model's defaults"; }
sidecar_is "$work/run/plain.json" '.steps == 3 and .width == 48 and .fps == 8 and .negative_prompt == "blurry"'
sidecar_is "$work/run/own.json" '.steps == 2 and .negative_prompt == "n" and .cfg_scale == 1'
note "run: the model's defaults for lines that do not say"
# The file is part of the model: a run resumed after it changed is refused (its items would differ).
sed -i 's/"steps": 3/"steps": 4/' "$work/m/sampling.json"
run_rc rc "$sv" run --model "$work/m" --manifest "$work/m.jsonl" --out "$work/run" >"$work/rerun.log" 2>&1
[[ $rc == 3 ]] && grep -q "model changed" "$work/rerun.log" || fail "a run resumed after sampling.json changed: exit $rc: $(tail -n 3 "$work/rerun.log")"
jq -e '.model.files | map(.file) | index("sampling.json") != null' "$work/run/plain.json" >/dev/null ||
  fail "the sidecar's model identity does not list sampling.json"

# eval shapes judges a model with its own defaults too.
"$sv" eval shapes --model "$work/m" --seeds 1 --report "$work/eval.json" >/dev/null 2>"$work/eval.err" ||
  { cat "$work/eval.err"; fail "eval shapes on the model"; }
jq -e '.sampling == {"steps": 4, "cfg_scale": 1, "time_shift": 2.5, "frames": 17, "height": 64, "width": 48, "seeds": 1}' \
  "$work/eval.json" >/dev/null || fail "eval did not use the model's defaults: $(jq -c .sampling "$work/eval.json")"

for bad in '{"step": 3}' '{"steps": "3"}' '{"steps": 0}' '[1]'; do
  echo "$bad" >"$work/m/sampling.json"
  run_rc rc "$sv" generate --model "$work/m" --prompt x --out "$work/x.mp4" 2>"$work/err"
  [[ $rc == 3 ]] && grep -q "sampling.json" "$work/err" || fail "sampling.json $bad: exit $rc: $(cat "$work/err")"
  [[ ! -e $work/x.mp4 ]] || fail "a refused generate wrote its video"
done
echo "PASS: sampling.json sets the defaults; options, --preset and manifest lines win; bad files refused (exit 3)"
