#!/usr/bin/env bash
# The README's main command: install, build, write the bundled tiny model once
# and generate a video with it through the whole pipeline (text encoders, DiT,
# Video-VAE, MP4). The tiny model is untrained: the video shows the machinery,
# not a picture.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/build.sh
MODEL=${STEPVIDEO_MODEL:-out/tiny-model}
if [[ ! -d "$MODEL/transformer" ]]; then
  ./build/stepvideo init-model --preset tiny --out "$MODEL"
fi
mkdir -p out
./build/stepvideo generate --model "$MODEL" --config configs/presets/tiny-demo.ini \
  --prompt "${PROMPT:-A lighthouse on a rocky coast at dusk, waves breaking, slow aerial orbit}" \
  --out out/demo.mp4
echo "demo: wrote out/demo.mp4 and out/demo.json"
