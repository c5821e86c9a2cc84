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
if [[ -z ${STEPVIDEO_MODEL:-} && ! -f $MODEL/sampling.json ]]; then
  # Ours to replace: a tiny model written before the default was trained has no sampling.json.
  ./build/stepvideo init-model --preset tiny --out "$MODEL" --force
elif [[ ! -d "$MODEL/transformer" ]]; then
  ./build/stepvideo init-model --preset tiny --out "$MODEL"
fi
OUT=${STEPVIDEO_OUT:-out/demo}
# Running it again resumes: finished items are skipped.
./build/stepvideo run --model "$MODEL" --config configs/presets/tiny-demo.ini \
  --manifest "${MANIFEST:-jobs/tiny-demo.jsonl}" --out "$OUT"
echo "demo: videos in $OUT/ (<id>.mp4 + <id>.json), summary in $OUT/summary.json; progress: ./build/stepvideo status --out $OUT"
