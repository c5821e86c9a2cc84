#!/usr/bin/env bash
# generate_mpi_test.sh MPIRUN... -- STEPVIDEO MODEL WORK: generate under
# mpirun (sequence-parallel DiT, VAE chunks decoded on both ranks) writes one
# complete video with every frame.
set -euo pipefail
launcher=()
while [[ $1 != "--" ]]; do launcher+=("$1"); shift; done
shift
sv=$1 model=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
"${launcher[@]}" "$sv" generate --layout sp=2 --model "$model" --prompt "a kite over a beach" \
  --frames 34 --height 64 --width 64 --steps 2 --out "$work/v.mp4"
probe=$(ffprobe -v error -count_frames -select_streams v:0 \
        -show_entries stream=nb_read_frames,width,height -of csv=p=0 "$work/v.mp4")
[[ "$probe" == "64,64,34" ]] || { echo "FAIL: ffprobe says $probe, expected 64,64,34"; exit 1; }
[[ -f "$work/v.json" ]] || { echo "FAIL: no sidecar"; exit 1; }
echo "generate under mpirun: ok"
