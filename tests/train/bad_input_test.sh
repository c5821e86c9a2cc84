#!/usr/bin/env bash
# Bad input to encode-dataset and train: one clear message naming the file and
# the mismatch, the README's exit code, and nothing written.
set -euo pipefail
SV=$1 MODEL=$2 WORK=$3
source "$(dirname "$0")/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK"
make_dataset "$SV" "$MODEL" "$WORK" 2

# expect CODE PATTERN CMD...: CMD exits CODE and its stderr matches PATTERN; no RUN dir appears.
expect() {
  local code=$1 pattern=$2; shift 2
  local rc
  run_rc rc "$@" 2> "$WORK/err"
  [[ $rc == "$code" ]] || { cat "$WORK/err"; fail "exit $rc, expected $code: $*"; }
  grep -q -- "$pattern" "$WORK/err" || fail "message '$(cat "$WORK/err")' does not match '$pattern'"
  [[ ! -e $WORK/run ]] || fail "a run directory was written: $*"
  echo "ok ($rc): $(tail -1 "$WORK/err")"
}

note "train"
printf 'lr = 1e-3\nbogus-key = 1\n' > "$WORK/bad.ini"
expect 3 "bad.ini.*bogus-key" "$SV" train --model "$MODEL" --data "$WORK/data" --out "$WORK/run" --config "$WORK/bad.ini"
mkdir -p "$WORK/not_a_dataset"
expect 5 "not_a_dataset: not a dataset" "$SV" train --model "$MODEL" --data "$WORK/not_a_dataset" --out "$WORK/run"
cp -r "$WORK/data" "$WORK/wide"
jq '.caption_channels = 999' "$WORK/data/dataset.json" > "$WORK/wide/dataset.json"
expect 5 "wide/dataset.json: captions are 999 wide, but the model .* takes caption_channels 256" \
  "$SV" train --model "$MODEL" --data "$WORK/wide" --out "$WORK/run"
cp -r "$WORK/data" "$WORK/latent"
jq '.latent_channels = 8' "$WORK/data/dataset.json" > "$WORK/latent/dataset.json"
expect 5 "latent/dataset.json: latents have 8 channels, but the model .* takes 16" \
  "$SV" train --model "$MODEL" --data "$WORK/latent" --out "$WORK/run"
expect 2 "lr-schedule must be constant, cosine or linear" \
  "$SV" train --model "$MODEL" --data "$WORK/data" --out "$WORK/run" --lr-schedule step
expect 2 "micro-batch-size must divide --batch-size" \
  "$SV" train --model "$MODEL" --data "$WORK/data" --out "$WORK/run" --batch-size 3 --micro-batch-size 2
expect 5 "no batch can form.*2 samples, batch 4" "$SV" train --model "$MODEL" --data "$WORK/data" --out "$WORK/run" --batch-size 4

note "a checkpoint of another model (the base model directory was replaced by one with a block fewer)"
cp -r "$MODEL" "$WORK/model"
"$SV" train --model "$WORK/model" --data "$WORK/data" --out "$WORK/other" --steps 1 > "$WORK/other.log" 2>&1 \
  || { cat "$WORK/other.log"; fail "the first run of the other-model case"; }
python3 "$(dirname "$0")/drop_last_block.py" "$WORK/model"
listing() { find "$WORK/other" -type f ! -name train.lock -exec sha256sum {} + | sort; }
before=$(listing)
run_rc rc "$SV" train --model "$WORK/model" --data "$WORK/data" --out "$WORK/other" --steps 2 2> "$WORK/err"
[[ $rc == 4 ]] || { cat "$WORK/err"; fail "a checkpoint of another model: exit $rc, expected 4"; }
grep -q "other/checkpoints/step-1.h5: a checkpoint of another model: it holds 49 weights, the model 33" "$WORK/err" \
  || fail "message '$(cat "$WORK/err")'"
[[ $(listing) == "$before" ]] || fail "the refused resume changed the run directory"
echo "ok (4): $(tail -1 "$WORK/err")"

note "non-finite losses: skipped and counted; 3 in a row stop the run, the last checkpoint kept"
# lr 1e30 makes the first update overflow: every later step's loss is NaN.
run_rc rc "$SV" train --model "$MODEL" --data "$WORK/data" --out "$WORK/nan" --steps 20 --lr 1e30 --max-grad-norm 0 \
  --checkpoint-every 1 --max-bad-steps 3 2> "$WORK/err"
[[ $rc == 5 ]] || fail "NaN run: exit $rc, expected 5"
grep -q "3 steps in a row had a non-finite loss.*last good checkpoint is kept: .*step-3.h5" "$WORK/err" \
  || fail "NaN run message: $(tail -1 "$WORK/err")"
[[ $(jq -c '[.step, .skipped]' "$WORK/nan/metrics.jsonl" | tr '\n' ' ') == "[0,false] [1,true] [2,true] " ]] \
  || fail "skipped steps not recorded: $(cat "$WORK/nan/metrics.jsonl")"
[[ -f $WORK/nan/checkpoints/step-3.h5 ]] || fail "the last checkpoint was not kept"

note "encode-dataset, and a dataset without samples"
printf '{"id": "gone", "video": "missing.mp4", "caption": "x"}\n{"id": "short", "video": "short.mp4", "caption": "y"}\n' \
  > "$WORK/bad.jsonl"
ffmpeg -loglevel error -f lavfi -i "testsrc=size=64x64:rate=8:duration=1" -pix_fmt yuv420p "$WORK/short.mp4"
run_rc rc "$SV" encode-dataset --model "$MODEL" --manifest "$WORK/bad.jsonl" --out "$WORK/empty" 2> "$WORK/err"
[[ $rc == 9 ]] || fail "encode-dataset of bad items: exit $rc, expected 9"
jq -s -e 'map(select(.id == "short")) | .[0].reason | test("8 frames, too short: --frames 17")' \
  "$WORK/empty/index-r0.jsonl" > /dev/null || fail "the short video's reason is not recorded"
jq -s -e 'map(select(.id == "gone")) | .[0].status == "bad"' "$WORK/empty/index-r0.jsonl" > /dev/null \
  || fail "the missing video is not recorded"
expect 5 "empty: the dataset holds no samples" "$SV" train --model "$MODEL" --data "$WORK/empty" --out "$WORK/run"
run_rc rc "$SV" encode-dataset --model "$MODEL" --manifest "$WORK/bad.jsonl" --out "$WORK/empty" --height 48 2> "$WORK/err"
[[ $rc == 3 ]] && grep -q "encoded with other settings" "$WORK/err" || fail "changed encode settings: exit $rc"
run_rc rc "$SV" encode-dataset --model "$MODEL" --manifest "$WORK/bad.jsonl" --out "$WORK/x" --height 50 2> "$WORK/err"
[[ $rc == 5 ]] && grep -q "multiples of 16" "$WORK/err" || fail "--height 50: exit $rc"
[[ ! -e $WORK/x ]] || fail "--height 50 wrote its output directory"
for frames in 17,20 34,17,34 0 17,; do
  run_rc rc "$SV" encode-dataset --model "$MODEL" --manifest "$WORK/bad.jsonl" --out "$WORK/x" --frames "$frames" 2> "$WORK/err"
  [[ $rc == 2 ]] && grep -q -- "--frames" "$WORK/err" || fail "--frames $frames: exit $rc: $(cat "$WORK/err")"
  [[ ! -e $WORK/x ]] || fail "--frames $frames wrote its output directory"
done
echo "PASS"
