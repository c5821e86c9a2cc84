#!/usr/bin/env bash
# cascade_test.sh STEPVIDEO MODEL_DIR WORK_DIR
# The seed's training cascade on the tiny model, a few steps per stage, with
# the recipes of configs/train/ (each overridden only where the tiny model and
# a 2-core CI need it: steps, token budget, checkpoints, validation):
#   text-to-image -> low-resolution text-to-video (images + videos, a set image
#   share) -> high resolution -> SFT (checkpoints averaged) -> candidates from
#   `run --samples-per-prompt 2`, judged through `stepvideo label`'s API ->
#   Video-DPO -> an exported model that `generate` uses.
# Each stage starts from the previous stage's export (checked in its
# config.json), and the recipe's learning rate and mix are the ones applied.
set -euo pipefail
SV=$1 MODEL=$2 WORK=$3
HERE=$(cd "$(dirname "$0")" && pwd)
RECIPES=$HERE/../../configs/train
source "$HERE/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK/media"
label_pid=
trap '[[ -n $label_pid ]] && kill $label_pid 2>/dev/null; true' EXIT

# Media: 8 still images and 6 clips of ffmpeg's test sources, in different
# hues; clips 0-2 last 24 frames, clips 3-5 40 (frame buckets 17 and 34).
media=$WORK/media
for i in 0 1 2 3 4 5 6 7; do
  ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=160x128:rate=1" -frames:v 1 -vf "hue=h=$((i * 45))" \
    "$media/still$i.png"
  printf '{"id": "still%d", "image": "still%d.png", "caption": "a still test card in hue %d"}\n' "$i" "$i" "$((i * 45))"
done >"$media/images.jsonl"
for i in 0 1 2 3 4 5; do
  ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=160x128:rate=8:duration=$((i < 3 ? 3 : 5))" -vf "hue=h=$((i * 60))" \
    -pix_fmt yuv420p "$media/clip$i.mp4"
  printf '{"id": "clip%d", "video": "clip%d.mp4", "caption": "a moving test pattern in hue %d"}\n' "$i" "$i" "$((i * 60))"
done >"$media/videos.jsonl"
cat "$media/images.jsonl" "$media/videos.jsonl" >"$media/joint.jsonl"
head -n 4 "$media/videos.jsonl" >"$media/sft.jsonl"

# encode NAME MANIFEST HEIGHT WIDTH: clips of 17 or 34 frames (the longest each holds) and images.
encode() {
  "$SV" encode-dataset --model "$MODEL" --manifest "$2" --out "$WORK/data-$1" --frames 17,34 --height "$3" --width "$4" \
    >"$WORK/encode-$1.log" 2>&1 || { cat "$WORK/encode-$1.log"; fail "encode-dataset $1"; }
}
encode images "$media/images.jsonl" 64 64
encode low "$media/joint.jsonl" 64 64
encode high "$media/joint.jsonl" 128 128
encode sft "$media/sft.jsonl" 128 128
jq -e '.frame_buckets == [17, 34] and .frames == 34' "$WORK/data-low/dataset.json" >/dev/null || fail "no frame buckets"
[[ $(cat "$WORK"/data-low/index-r*.jsonl | jq -s -c '[.[] | select(.status == "ok") | .latent_shape[0]] | group_by(.) | map([.[0], length])') == \
  "[[1,8],[3,3],[6,3]]" ]] || fail "data-low: latent lengths $(cat "$WORK"/data-low/index-r*.jsonl | jq -s -c 'map(.latent_shape)')"
note "encoded with frame buckets 17 and 34: 8 images, 3 clips of 17 frames, 3 of 34"

# Tiny-scale overrides of every recipe. Token budgets: a 17-frame clip is 3
# latent frames of 4x4 (64x64) or 8x8 (128x128) patches, 48 or 192 tokens, a
# 34-frame clip 6 latent frames, an image 16 or 64; 96 and 384 tokens make
# batches of 2 short clips, 1 long clip or 6 images.
TINY=(--micro-batch-size 0 --validation-samples 0 --validate-every 0 --log-every 1
      --activation-checkpointing off)

# stage NAME RECIPE FROM DATA [options]: trains, exports the last checkpoint to WORK/NAME-model.
stage() {
  local name=$1 recipe=$RECIPES/$2 from=$3 data=$WORK/data-$4
  shift 4
  note "stage $name: $(basename "$recipe") from $(basename "$from")"
  "$SV" train --config "$recipe" --model "$from" --data "$data" --out "$WORK/$name" "${TINY[@]}" "$@" \
    >"$WORK/$name.log" 2>&1 || { tail -n 20 "$WORK/$name.log"; fail "stage $name: train"; }
  jq -e --arg m "$(realpath "$from")" '.model == $m' "$WORK/$name/config.json" >/dev/null ||
    fail "stage $name did not start from $from: $(jq -r .model "$WORK/$name/config.json")"
  jq -s -e 'length > 0 and all(.[]; .loss | isnormal)' "$WORK/$name/metrics.jsonl" >/dev/null ||
    fail "stage $name: a loss is not finite"
  local last
  last=$(ls "$WORK/$name/checkpoints" | sort -t- -k2 -n | tail -n 1)
  "$SV" export --checkpoint "$WORK/$name/checkpoints/$last" --out "$WORK/$name-model" >"$WORK/$name-export.log" 2>&1 ||
    { cat "$WORK/$name-export.log"; fail "stage $name: export"; }
}

# lr_of RUN: the learning rate of the run's config; ini_value RECIPE KEY: the recipe's.
lr_of() { jq -r '.lr' "$WORK/$1/config.json"; }
ini_value() { sed -n "s/^$2 *= *//p" "$RECIPES/$1"; }
same_number() { python3 -c "import sys; sys.exit(0 if float('$1') == float('$2') else 1)"; }

stage t2i text-to-image.ini "$MODEL" images --steps 4 --tokens-per-batch 96 --checkpoint-every 2
stage t2v-low t2v-low-resolution.ini "$WORK/t2i-model" low --steps 12 --tokens-per-batch 96 --checkpoint-every 6
stage t2v-high t2v-high-resolution.ini "$WORK/t2v-low-model" high --steps 4 --tokens-per-batch 384 --checkpoint-every 2
stage sft sft.ini "$WORK/t2v-high-model" sft --steps 4 --tokens-per-batch 384 --checkpoint-every 1 --keep-checkpoints 3

for run in t2i:text-to-image.ini t2v-low:t2v-low-resolution.ini t2v-high:t2v-high-resolution.ini sft:sft.ini; do
  same_number "$(lr_of "${run%%:*}")" "$(ini_value "${run#*:}" lr)" ||
    fail "${run%%:*} trained at lr $(lr_of "${run%%:*}"), its recipe says $(ini_value "${run#*:}" lr)"
done
# The recipes' mixes: the video stages train on both kinds, in their image share.
grep -q "image-share" "$RECIPES/t2v-low-resolution.ini" || fail "the low-resolution recipe sets no image share"
share=$(jq -r '.["image-share"]' "$WORK/t2v-low/config.json")
same_number "$share" "$(ini_value t2v-low-resolution.ini image-share)" || fail "t2v-low image share $share"
# 12 steps at a share of 0.25: some image batches (6 images) among the clip
# batches (2 short clips or 1 long one), nothing else.
sizes=$(jq -s -c 'map(.batch_size)' "$WORK/t2v-low/metrics.jsonl")
jq -s -e 'all(.[]; .batch_size == 6 or .batch_size == 2 or .batch_size == 1) and any(.[]; .batch_size == 6)
          and any(.[]; .batch_size == 2) and any(.[]; .batch_size == 1)' "$WORK/t2v-low/metrics.jsonl" >/dev/null ||
  fail "t2v-low batches are not a token-balanced mix (6 images, 2 short clips or 1 long clip): $sizes"
jq -s -e 'all(.[]; .batch_size == 6)' "$WORK/t2i/metrics.jsonl" >/dev/null || fail "t2i trained on something else than images"
jq -s -e 'all(.[]; .batch_size == 2 or .batch_size == 1)' "$WORK/sft/metrics.jsonl" >/dev/null ||
  fail "sft trained on something else than clips"
note "learning rates and mixes as the recipes say (t2v-low batch sizes: $sizes)"

# SFT: the report averages SFT checkpoints instead of keeping an EMA.
ckpts=()
for f in $(ls "$WORK/sft/checkpoints" | sort -t- -k2 -n | tail -n 3); do ckpts+=("$WORK/sft/checkpoints/$f"); done
((${#ckpts[@]} == 3)) || fail "SFT kept ${#ckpts[@]} checkpoints, expected 3"
"$SV" average-checkpoints "${ckpts[@]}" --out "$WORK/sft-average" >"$WORK/average.log" 2>&1 ||
  { cat "$WORK/average.log"; fail "average-checkpoints"; }
note "SFT: the last three checkpoints averaged"

# DPO: candidates of the averaged SFT model, judged through the labelling server, encoded as pairs.
printf '{"id":"a","prompt":"a moving test pattern in hue 0","seed":1}\n{"id":"b","prompt":"a still test card in hue 90","seed":2}\n{"id":"c","prompt":"a moving test pattern in hue 180","seed":3}\n' \
  >"$WORK/prompts.jsonl"
"$SV" run --model "$WORK/sft-average" --manifest "$WORK/prompts.jsonl" --out "$WORK/candidates" --samples-per-prompt 2 \
  --frames 17 --height 64 --width 64 --steps 2 >"$WORK/candidates.log" 2>&1 ||
  { cat "$WORK/candidates.log"; fail "run --samples-per-prompt 2"; }
"$SV" label --candidates "$WORK/candidates" --out "$WORK/pairs.jsonl" --port 0 >"$WORK/label.log" 2>&1 &
label_pid=$!
url=
for _ in $(seq 1 100); do
  url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+/' "$WORK/label.log" || true)
  [[ -n $url ]] && break
  sleep 0.1
done
[[ -n $url ]] || { cat "$WORK/label.log"; fail "label did not start"; }
for choice in left right left; do
  pair=$(curl -s "${url}api/next?tab=cascade" | jq -r '.pair.id')
  curl -sf -X POST -d "{\"tab\":\"cascade\",\"pair\":\"$pair\",\"choice\":\"$choice\"}" "${url}api/judge" >/dev/null ||
    fail "judging $pair failed"
done
kill -INT $label_pid && wait $label_pid && label_pid=
[[ $(jq -s '[.[] | select(.label == "preferred")] | length' "$WORK/pairs.jsonl") == 3 ]] || fail "3 judgements expected"
# The programmatic judge instead of people: prompts outside the shapes grammar are refused; for
# prompts of it every pair of a prompt's candidates gets a verdict in label's log format.
run_rc rc "$SV" eval shapes --candidates "$WORK/candidates" --pairs "$WORK/judged-bad.jsonl" 2>"$WORK/judge-bad.err"
[[ $rc == 5 && ! -e $WORK/judged-bad.jsonl ]] && grep -q "not a caption of the shapes world" "$WORK/judge-bad.err" ||
  fail "judging candidates of prompts outside the grammar: exit $rc"
printf '{"id":"r","prompt":"a red circle moves to the right","seed":4}\n{"id":"g","prompt":"一个绿色的正方形向上移动","seed":5}\n' \
  >"$WORK/shape-prompts.jsonl"
"$SV" run --model "$WORK/sft-average" --manifest "$WORK/shape-prompts.jsonl" --out "$WORK/shape-candidates" \
  --samples-per-prompt 3 --frames 17 --height 64 --width 64 --steps 2 >"$WORK/shape-candidates.log" 2>&1 ||
  { cat "$WORK/shape-candidates.log"; fail "run --samples-per-prompt 3 on shapes prompts"; }
"$SV" eval shapes --candidates "$WORK/shape-candidates" --pairs "$WORK/judged.jsonl" >"$WORK/judge.log" 2>&1 ||
  { cat "$WORK/judge.log"; fail "eval shapes --candidates"; }
jq -s -e 'length == 6 and all(.[]; (.label == "preferred" and .chosen != .rejected and (.chosen | test("-s[0-2]\\.mp4$")))
  or .label == "tie") and ([.[].id] | unique | length) == 6' "$WORK/judged.jsonl" >/dev/null ||
  fail "judged pairs: $(cat "$WORK/judged.jsonl")"
"$SV" encode-dataset --model "$MODEL" --manifest "$WORK/pairs.jsonl" --out "$WORK/data-pairs" --frames 17 --height 64 \
  --width 64 >"$WORK/encode-pairs.log" 2>&1 || { cat "$WORK/encode-pairs.log"; fail "encode-dataset of the judgements"; }
stage dpo dpo.ini "$WORK/sft-average" pairs --steps 4 --tokens-per-batch 0 --batch-size 3 --checkpoint-every 2
jq -e '.objective == "dpo"' "$WORK/dpo/config.json" >/dev/null || fail "the DPO recipe did not set --objective dpo"
same_number "$(lr_of dpo)" "$(ini_value dpo.ini lr)" || fail "dpo lr"
jq -s -e '.[0].implicit_accuracy != null' "$WORK/dpo/metrics.jsonl" >/dev/null || fail "no DPO metrics"

"$SV" generate --model "$WORK/dpo-model" --prompt "a moving test pattern in hue 0" --frames 17 --height 64 --width 64 \
  --steps 2 --out "$WORK/final.mp4" >"$WORK/generate.log" 2>&1 || { cat "$WORK/generate.log"; fail "generate"; }
expect_video "$WORK/final.mp4" 17
echo "PASS: text-to-image -> low -> high resolution -> SFT (averaged) -> labelled DPO -> a model generate uses"
