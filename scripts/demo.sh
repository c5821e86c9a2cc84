#!/usr/bin/env bash
# The README's main command: install, build, write the bundled default model
# once and run the job system on a small example manifest (jobs/tiny-demo.jsonl,
# prompts of the shapes world in English and Chinese): text encoders, DiT,
# Video-VAE and MP4 writer for every item, with the journal, summary and
# sidecars a real dataset job produces.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/build.sh
MODEL=${STEPVIDEO_MODEL:-out/tiny-model}
OUT=${STEPVIDEO_OUT:-out/demo}
RUN_OPTIONS=()
# out/tiny-model is ours: rewrite it when it is not the bundled default of this checkout (a model
# written before a pull that changed models/tiny/, or before the default was trained), and then
# start our out/demo afresh (run refuses to resume a run with another model).
bundled_current() {
  local f
  [[ -f $MODEL/sampling.json ]] || return 1
  for f in models/tiny/transformer/* models/tiny/vae/* models/tiny/sampling.json; do
    cmp -s "$f" "$MODEL/${f#models/tiny/}" || return 1
  done
}
if [[ -z ${STEPVIDEO_MODEL:-} ]] && ! bundled_current; then
  ./build/stepvideo init-model --preset tiny --out "$MODEL" --force
  [[ -z ${STEPVIDEO_OUT:-} && -d $OUT ]] && RUN_OPTIONS=(--new-run)
elif [[ ! -d "$MODEL/transformer" ]]; then
  ./build/stepvideo init-model --preset tiny --out "$MODEL"
fi
# Running it again resumes: finished items are skipped.
./build/stepvideo run --model "$MODEL" --config configs/presets/tiny-demo.ini \
  --manifest "${MANIFEST:-jobs/tiny-demo.jsonl}" --out "$OUT" "${RUN_OPTIONS[@]}"
echo "demo: videos in $OUT/ (<id>.mp4 + <id>.json), summary in $OUT/summary.json; progress: ./build/stepvideo status --out $OUT"
