#!/usr/bin/env bash
# encode-dataset: real video files and an image become samples (the image a
# 1-frame one), a resumed run encodes only what is missing, a bad manifest
# line is reported and recorded without stopping the rest, and with
# --latents sample the seed is recorded. With MPIRUN set (the MPI variant),
# two ranks encode disjoint items and the dataset equals the one-rank one.
set -euo pipefail
SV=$1 MODEL=$2 WORK=$3
source "$(dirname "$0")/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK"
make_clips "$WORK" 5
ffmpeg -loglevel error -f lavfi -i "mandelbrot=size=96x64" -frames:v 1 "$WORK/still.png"
printf '{"id": "still", "image": "still.png", "caption": "a still picture"}\n' >> "$WORK/manifest.jsonl"
printf '{"id": "odd", "video": "clip0.mp4", "caption": "x", "colour": "red"}\n' >> "$WORK/manifest.jsonl"
ENC=(encode-dataset --model "$MODEL" --height 64 --width 64 --shard-size 2)
ids() { jq -r 'select(.status == "ok") | .id' "$1"/index-r*.jsonl | sort | tr '\n' ' '; }

note "first three lines, then the whole manifest (resume)"
head -3 "$WORK/manifest.jsonl" > "$WORK/first.jsonl"
"$SV" "${ENC[@]}" --manifest "$WORK/first.jsonl" --out "$WORK/data" > "$WORK/first.log" 2>&1 || fail "first part"
cp "$WORK/manifest.jsonl" "$WORK/first.jsonl"  # same manifest file, now complete
run_rc rc "$SV" "${ENC[@]}" --manifest "$WORK/first.jsonl" --out "$WORK/data" > "$WORK/all.log" 2>&1
[[ $rc == 9 ]] || { cat "$WORK/all.log"; fail "exit $rc with one bad line, expected 9"; }
grep -q "6 samples (3 encoded now, 3 already there), 1 bad" "$WORK/all.log" || fail "summary: $(tail -1 "$WORK/all.log")"
grep -q "first.jsonl:7: bad line: unknown field 'colour'" "$WORK/all.log" || fail "the bad line is not reported"
[[ $(ids "$WORK/data") == "clip0 clip1 clip2 clip3 clip4 still " ]] || fail "samples: $(ids "$WORK/data")"
jq -s -e 'map(select(.id == "still"))[0].latent_shape == [1, 16, 4, 4]' "$WORK/data/index-r0.jsonl" > /dev/null \
  || fail "the image is not a 1-frame sample"
jq -s -e 'map(select(.id == "clip1"))[0].latent_shape == [3, 16, 4, 4]' "$WORK/data/index-r0.jsonl" > /dev/null \
  || fail "a 17-frame clip is not 3 latent frames"
[[ $(ls "$WORK/data/shards" | wc -l) == 4 ]] || fail "shards: $(ls "$WORK/data/shards")"
jq -e '.latents == "mean" and .frames == 17 and .height == 64' "$WORK/data/dataset.json" > /dev/null || fail "header"

note "--latents sample records its seed"
"$SV" "${ENC[@]}" --manifest "$WORK/first.jsonl" --out "$WORK/sampled" --latents sample --seed 9 > /dev/null 2>&1 || true
jq -e '.latents == "sample" and .latent_seed == 9' "$WORK/sampled/dataset.json" > /dev/null || fail "sample header"

if [[ -n ${MPIRUN:-} ]]; then
  note "two ranks"
  read -r -a launcher <<< "$MPIRUN"
  run_rc rc "${launcher[@]}" "$SV" "${ENC[@]}" --manifest "$WORK/manifest.jsonl" --out "$WORK/mpi" > "$WORK/mpi.log" 2>&1
  [[ $rc == 9 ]] || { cat "$WORK/mpi.log"; fail "mpirun: exit $rc, expected 9 (one bad line)"; }
  r0=$(jq -r 'select(.status == "ok") | .id' "$WORK/mpi/index-r0.jsonl" | sort | tr '\n' ' ')
  r1=$(jq -r 'select(.status == "ok") | .id' "$WORK/mpi/index-r1.jsonl" | sort | tr '\n' ' ')
  [[ $r0 == "clip0 clip2 clip4 " && $r1 == "clip1 clip3 still " ]] || fail "ranks encoded '$r0' and '$r1'"
  [[ $(ids "$WORK/mpi") == "$(ids "$WORK/data")" ]] || fail "two ranks made other samples"
fi
echo "PASS"
