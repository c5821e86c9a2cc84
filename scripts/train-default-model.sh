#!/usr/bin/env bash
# scripts/train-default-model.sh [WORK_DIR] [--install] [--quick]
#
# Reproduces the bundled default model (`init-model --preset tiny`) from nothing, on CPU: the shapes
# world, the Video-VAE, then the DiT through the seed's cascade (text-to-image, text-to-video at low
# and full resolution, SFT, Video-DPO on pairs the programmatic judge decided), each stage with
# `stepvideo` itself and a recipe from configs/default-model/. Every stage is resumable: run the
# same command again after an interruption and finished stages are skipped, the one that was cut
# resumes from its newest checkpoint. WORK_DIR (default out/default-model) gets every dataset, run
# directory and model, stage times in times.tsv and the scores in scores.md; --install copies the
# final weights and sampling defaults into models/tiny/ (the files init-model bundles; the variable
# INSTALL_DIR names another directory). --quick runs
# every stage for a few steps on a small world (minutes; what CI checks: the script itself works).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=out/default-model
INSTALL=0
QUICK=()  # extra train options of --quick
EVAL=(--seeds 4)  # eval options: 4 clips per held-out caption (40 per language), 1 under --quick
for arg in "$@"; do
  case $arg in
    --install) INSTALL=1 ;;
    --quick) QUICK=(--steps 4 --checkpoint-every 2 --log-every 2 --batch-size 4); CLIPS=40 STILLS=20 CANDIDATES=2 EVAL=(--seeds 1 --steps 2) ;;
    -*) echo "usage: $0 [WORK_DIR] [--install] [--quick]" >&2; exit 2 ;;
    *) WORK=$arg ;;
  esac
done
SV=${STEPVIDEO:-./build/stepvideo}
SAMPLING_STEPS=30
((${#QUICK[@]})) && SAMPLING_STEPS=2
RECIPES=configs/default-model
[[ -x $SV ]] || { echo "$SV: not built (bash scripts/build.sh)" >&2; exit 2; }
mkdir -p "$WORK/done"
touch "$WORK/times.tsv"

# A stage cut short (an error, SIGTERM, the end of a session) keeps the time it ran in partial/NAME,
# so times.tsv counts every attempt of a stage that resumes.
CURRENT=""
STAGE_START=0
earlier() { cat "$WORK/partial/$1" 2>/dev/null || echo 0; }
save_partial() {
  [[ -n $CURRENT ]] || return 0
  mkdir -p "$WORK/partial"
  echo $(($(earlier "$CURRENT") + SECONDS - STAGE_START)) > "$WORK/partial/$CURRENT.tmp"
  mv "$WORK/partial/$CURRENT.tmp" "$WORK/partial/$CURRENT"
}
trap save_partial EXIT
trap 'exit 143' TERM INT

# stage NAME CMD...: runs CMD unless NAME finished before; records its time.
stage() {
  local name=$1; shift
  if [[ -e $WORK/done/$name ]]; then
    echo "== $name: done before ($(cat "$WORK/done/$name") s)"
    return
  fi
  echo "== $name"
  CURRENT=$name
  STAGE_START=$SECONDS
  "$@"
  local took=$(($(earlier "$name") + SECONDS - STAGE_START))
  CURRENT=""
  rm -f "$WORK/partial/$name"
  echo "$took" > "$WORK/done/$name"
  printf '%s\t%s\n' "$name" "$took" >> "$WORK/times.tsv"
  echo "== $name: $took s"
}

# A model directory with the tiny model's sampling defaults (what it is trained and judged with).
with_sampling() { cp "$RECIPES/sampling.json" "$1/sampling.json"; }

# export_run RUN MODEL: the newest checkpoint of a run as a model directory.
export_run() {
  local newest
  newest=$(ls "$1"/checkpoints/step-*.h5 | sort -t- -k2 -n | tail -1)
  rm -rf "$2"
  "$SV" export --checkpoint "$newest" --out "$2"
  with_sampling "$2"
}

# train_dit NAME RECIPE MODEL DATA EXTRA...: one DiT stage and its export to $WORK/models/NAME.
train_dit() {
  local name=$1 recipe=$2 model=$3 data=$4; shift 4
  "$SV" train --config "$RECIPES/$recipe" --model "$model" --data "$data" --out "$WORK/runs/$name" "$@" \
    "${QUICK[@]}"
  export_run "$WORK/runs/$name" "$WORK/models/$name"
}

world() {
  "$SV" make-dataset shapes --out "$WORK/shapes" --count "${CLIPS:-1600}" --stills "${STILLS:-800}" --seed 0 \
    --overwrite
  local m=$WORK/shapes/manifest.jsonl
  grep '"image"' "$m" > "$WORK/shapes/stills.jsonl"
  # SFT's curated subset: moving clips with a canonical caption (template 0).
  jq -c 'select(.template == 0 and .motion != "still" and (.id | startswith("clip"))) | .id' \
    "$WORK/shapes/truth.jsonl" > "$WORK/shapes/canonical-ids.txt"
  jq -c --slurpfile ids <(jq -s . "$WORK/shapes/canonical-ids.txt") 'select(.id as $i | $ids[0] | index($i))' \
    "$m" > "$WORK/shapes/sft.jsonl"
}

vae() {
  "$SV" init-model --preset tiny-random --out "$WORK/models/base" --force
  "$SV" train --component vae --config "$RECIPES/vae.ini" --model "$WORK/models/base" \
    --data "$WORK/shapes/manifest.jsonl" --out "$WORK/runs/vae" "${QUICK[@]}"
  export_run "$WORK/runs/vae" "$WORK/models/vae"
  # What the VAE keeps, judged on round trips of the first 100 clips and 100 stills (all 2400 would
  # take ~10 minutes; these show the same).
  awk '/"clip-/ && clips++ < 100; /"still-/ && stills++ < 100' "$WORK/shapes/truth.jsonl" > "$WORK/shapes/truth-sample.jsonl"
  rm -f "$WORK/vae-round-trip.json"
  "$SV" eval shapes --truth "$WORK/shapes/truth-sample.jsonl" --model "$WORK/models/vae" \
    --report "$WORK/vae-round-trip.json" | tee "$WORK/vae-round-trip.txt"
}

encode() {
  local vae_model=$WORK/models/vae m=$WORK/shapes
  "$SV" encode-dataset --model "$vae_model" --manifest "$m/stills.jsonl" --out "$WORK/data/stills-64"
  "$SV" encode-dataset --model "$vae_model" --manifest "$m/manifest.jsonl" --out "$WORK/data/all-32" \
    --height 32 --width 32
  "$SV" encode-dataset --model "$vae_model" --manifest "$m/manifest.jsonl" --out "$WORK/data/all-64"
  "$SV" encode-dataset --model "$vae_model" --manifest "$m/sft.jsonl" --out "$WORK/data/sft-64"
}

sft() {
  "$SV" train --config "$RECIPES/sft.ini" --model "$WORK/models/t2v-high" --data "$WORK/data/sft-64" \
    --out "$WORK/runs/sft" "${QUICK[@]}"
  rm -rf "$WORK/models/sft"
  # shellcheck disable=SC2046
  "$SV" average-checkpoints --out "$WORK/models/sft" $(ls "$WORK"/runs/sft/checkpoints/step-*.h5)
  with_sampling "$WORK/models/sft"
}

# Candidates of the SFT model for every training combination's canonical caption (both languages),
# judged by the programmatic judge into label's pairs log.
candidates() {
  local manifest=$WORK/dpo/prompts.jsonl
  mkdir -p "$WORK/dpo"
  jq -r 'select(.template == 0 and .motion != "still") | .caption' "$WORK/shapes/truth.jsonl" | sort -u |
    jq -R -c '{id: ("p-" + (input_line_number | tostring)), prompt: .}' > "$manifest"
  "$SV" run --model "$WORK/models/sft" --manifest "$manifest" --out "$WORK/dpo/candidates" \
    --samples-per-prompt "${CANDIDATES:-4}" --frames 17 --height 64 --width 64 --steps "$SAMPLING_STEPS" --cfg-scale 5 \
    --time-shift 3  # no suffix, no negative prompt: the model's sampling.json
  rm -f "$WORK/dpo/pairs.jsonl"
  "$SV" eval shapes --candidates "$WORK/dpo/candidates" --pairs "$WORK/dpo/pairs.jsonl"
  if [[ $(jq -s '[.[] | select(.label == "preferred")] | length' "$WORK/dpo/pairs.jsonl") != 0 ]]; then
    "$SV" encode-dataset --model "$WORK/models/sft" --manifest "$WORK/dpo/pairs.jsonl" --out "$WORK/data/pairs-64"
  fi
}

dpo() {
  if [[ $(jq -s '[.[] | select(.label == "preferred")] | length' "$WORK/dpo/pairs.jsonl") == 0 ]]; then
    # The judge scored every candidate of every prompt alike: nothing to prefer, DPO has no signal.
    echo "no pair has a preferred candidate: DPO skipped, the final model is the SFT model"
    rm -rf "$WORK/models/dpo"
    cp -r "$WORK/models/sft" "$WORK/models/dpo"
    return
  fi
  # The recipe's batch, or every preferred pair when there are fewer (--quick's small world).
  local batch preferred
  batch=$(sed -n 's/^batch-size *= *//p' "$RECIPES/dpo.ini")
  ((${#QUICK[@]})) && batch=4
  preferred=$(jq -s '[.[] | select(.label == "preferred")] | length' "$WORK/dpo/pairs.jsonl")
  ((preferred < batch)) && batch=$preferred
  local quick=()
  ((${#QUICK[@]})) && quick=(--steps 4 --checkpoint-every 2 --log-every 2)
  "$SV" train --config "$RECIPES/dpo.ini" --model "$WORK/models/sft" --data "$WORK/data/pairs-64" \
    --out "$WORK/runs/dpo" --batch-size "$batch" "${quick[@]}"
  export_run "$WORK/runs/dpo" "$WORK/models/dpo"
}

evaluate() {
  local name
  for name in sft dpo; do
    rm -f "$WORK/eval-$name.json"
    "$SV" eval shapes --model "$WORK/models/$name" --report "$WORK/eval-$name.json" "${EVAL[@]}" |
      tee "$WORK/eval-$name.txt"
  done
  {
    echo "| model | language | colour | shape | motion | all |"
    echo "|---|---|---:|---:|---:|---:|"
    for name in sft dpo; do
      jq -r --arg m "$name" '.scores | to_entries[] | "| \($m) | \(.key) | \(.value.colour * 100 | floor)% | \(.value.shape * 100 | floor)% | \(.value.motion * 100 | floor)% | \(.value.all * 100 | floor)% |"' \
        "$WORK/eval-$name.json"
    done
  } > "$WORK/scores.md"
  cat "$WORK/scores.md"
}

stage world world
stage vae vae
stage encode encode
stage t2i train_dit t2i t2i.ini "$WORK/models/vae" "$WORK/data/stills-64"
stage t2v-low train_dit t2v-low t2v-low-resolution.ini "$WORK/models/t2i" "$WORK/data/all-32"
stage t2v-high train_dit t2v-high t2v-high-resolution.ini "$WORK/models/t2v-low" "$WORK/data/all-64"
stage sft sft
stage candidates candidates
stage dpo dpo
stage evaluate evaluate
echo "stage times (s):"; cat "$WORK/times.tsv"
echo "total: $(awk '{s += $2} END {print s}' "$WORK/times.tsv") s"

if ((INSTALL)); then
  dest=${INSTALL_DIR:-models/tiny}
  rm -rf "$dest/transformer" "$dest/vae"
  mkdir -p "$dest/transformer" "$dest/vae"
  cp "$WORK"/models/dpo/transformer/*.safetensors "$WORK/models/dpo/transformer/config.json" "$dest/transformer/"
  cp "$WORK"/models/dpo/transformer/*.index.json "$dest/transformer/" 2>/dev/null || true
  cp "$WORK/models/dpo/vae/vae_v2.safetensors" "$WORK/models/dpo/vae/config.json" "$dest/vae/"
  cp "$RECIPES/sampling.json" "$dest/sampling.json"
  cp "$WORK/scores.md" "$WORK/times.tsv" "$WORK/vae-round-trip.txt" "$dest/"
  echo "installed the weights into $dest/ (init-model --preset tiny bundles them)"
fi
