#!/usr/bin/env bash
# Batches balanced by tokens (issue 16, item 4): with --tokens-per-batch T a
# shape's global batch is floor(T / its video tokens per sample), rounded down
# to a multiple of dp. Four 17-frame clips (3 x 4 x 4 = 48 latent tokens) and
# six stills (16 tokens) at T = 96 train in batches of 2 clips or 6 stills,
# one shape per batch, recorded per step (`batch_size`); dp=2 gives one rank's
# batches and losses; a --micro-batch-size that does not divide a shape's
# share of its batch, and a budget no shape fits, are refused before anything
# is written.
#
# token_batches_test.sh SV MODEL WORK, with MPIEXEC ("mpirun -np") and MPIEXEC_FLAGS.
set -euo pipefail
SV=$1 MODEL=$2 WORK=$3
source "$(dirname "$0")/lib.sh"
read_launcher
rm -rf "$WORK" && mkdir -p "$WORK"
make_clips "$WORK" 4
for i in 0 1 2 3 4 5; do
  ffmpeg -loglevel error -f lavfi -i "mandelbrot=size=96x64:start_scale=$((i + 1))" -frames:v 1 "$WORK/still$i.png"
  printf '{"id": "still%d", "image": "still%d.png", "caption": "a still picture number %d"}\n' "$i" "$i" "$i" \
    >> "$WORK/manifest.jsonl"
done
"$SV" encode-dataset --model "$MODEL" --manifest "$WORK/manifest.jsonl" --out "$WORK/data" --height 64 --width 64 \
  > "$WORK/encode.log" 2>&1 || { cat "$WORK/encode.log"; fail "encode-dataset"; }
ARGS=(--model "$MODEL" --data "$WORK/data" --tokens-per-batch 96 --lr 1e-3 --steps 10 --checkpoint-every 10)

"$SV" train "${ARGS[@]}" --out "$WORK/one" > "$WORK/one.log" 2>&1 || { cat "$WORK/one.log"; fail "train"; }
sizes=$(jq -s -c 'map(.batch_size) | unique' "$WORK/one/metrics.jsonl")
[[ $sizes == "[2,6]" ]] || fail "batch sizes $sizes, expected clips in 2s and stills in 6s"
# An epoch is 2 batches of clips and 1 of stills: 10 steps hold 3 or 4 of stills.
n6=$(jq -s '[.[] | select(.batch_size == 6)] | length' "$WORK/one/metrics.jsonl")
((n6 >= 3 && n6 <= 4)) || fail "$n6 batches of stills in 10 steps"
echo "one rank: batch sizes $(jq -s -c 'map(.batch_size)' "$WORK/one/metrics.jsonl")"

run_rc rc "${MPI[@]}" 2 "${MPI_FLAGS[@]}" "$SV" train "${ARGS[@]}" --layout dp=2 --out "$WORK/dp2" > "$WORK/dp2.log" 2>&1
[[ $rc == 0 ]] || { cat "$WORK/dp2.log"; fail "dp=2: exit $rc"; }
diff <(jq -c .batch_size "$WORK/one/metrics.jsonl") <(jq -c .batch_size "$WORK/dp2/metrics.jsonl") \
  || fail "dp=2 made other batches"
jq -n -e --slurpfile a "$WORK/dp2/metrics.jsonl" --slurpfile b "$WORK/one/metrics.jsonl" '
  [range($a | length)] | all(. as $i | (($a[$i].loss - $b[$i].loss) | fabs) <= 1e-5 * ($b[$i].loss | fabs))' \
  > /dev/null || fail "dp=2 losses differ from one rank's"

run_rc rc "$SV" train "${ARGS[@]}" --micro-batch-size 4 --out "$WORK/bad_micro" 2> "$WORK/bad_micro.log"
[[ $rc == 3 ]] && grep -q "does not divide the [26] samples each of the 1 data-parallel ranks takes of a batch of shape" "$WORK/bad_micro.log" || { cat "$WORK/bad_micro.log";
  fail "micro-batch 4 with batches of 2: exit $rc"; }
run_rc rc "$SV" train "${ARGS[@]/96/8}" --out "$WORK/bad_budget" 2> "$WORK/bad_budget.log"
[[ $rc == 5 ]] && grep -q "no batch can form" "$WORK/bad_budget.log" || { cat "$WORK/bad_budget.log";
  fail "a budget of 8 tokens: exit $rc"; }
for bad in bad_micro bad_budget; do [[ ! -e $WORK/$bad ]] || fail "$bad wrote $WORK/$bad"; done
echo "PASS"
