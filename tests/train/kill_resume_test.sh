#!/usr/bin/env bash
# A training run killed with SIGKILL at 10 random moments and restarted each
# time gives the bit-identical per-step losses and final checkpoint of an
# uninterrupted run (issue 14 item 5), and metrics.jsonl holds every step once,
# with no torn line.
set -euo pipefail
SV=$1 MODEL=$2 WORK=$3
source "$(dirname "$0")/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK"
make_dataset "$SV" "$MODEL" "$WORK" 4
ARGS=(--model "$MODEL" --data "$WORK/data" --steps 30 --batch-size 2 --micro-batch-size 1 --lr 1e-3
      --checkpoint-every 3 --keep-checkpoints 2 --log-every 4 --text-dropout 0.25 --ema-decay 0.9)

note "uninterrupted reference run"
start=$(date +%s%N)
"$SV" train "${ARGS[@]}" --out "$WORK/reference" > "$WORK/reference.log" 2>&1 || { cat "$WORK/reference.log"; fail "reference run"; }

total_ms=$((($(date +%s%N) - start) / 1000000))
echo "reference run: ${total_ms} ms"
note "10 kills at random moments"
seed=${KILL_SEED:-$RANDOM}
echo "kill moments from RANDOM seed $seed"
RANDOM=$seed
for k in $(seq 1 10); do
  "$SV" train "${ARGS[@]}" --out "$WORK/killed" >> "$WORK/killed.log" 2>&1 &
  pid=$!
  # 6-24 % of the uninterrupted run's time: past start-up most of the time,
  # anywhere in a step or a checkpoint write, and the run still advances.
  ms=$((total_ms * (6 + RANDOM % 19) / 100))
  delay=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  done_steps=$(ls "$WORK/killed/checkpoints" 2>/dev/null | sed -n 's/^step-\([0-9]*\)\.h5$/\1/p' | sort -n | tail -1 || true)
  echo "kill $k after ${delay} s: newest checkpoint step ${done_steps:-none}"
done
note "finish"
"$SV" train "${ARGS[@]}" --out "$WORK/killed" >> "$WORK/killed.log" 2>&1 || { tail -20 "$WORK/killed.log"; fail "final run"; }

steps=$(jq -r .step "$WORK/killed/metrics.jsonl" | tr '\n' ' ')
[[ $steps == "$(seq 0 29 | tr '\n' ' ')" ]] || fail "metrics.jsonl steps are '$steps', expected 0..29 once each"
diff <(loss_lines "$WORK/reference/metrics.jsonl") <(loss_lines "$WORK/killed/metrics.jsonl") \
  || fail "per-step losses differ from the uninterrupted run"
cmp "$WORK/reference/checkpoints/step-30.h5" "$WORK/killed/checkpoints/step-30.h5" \
  || fail "final checkpoints differ (weights, moments, EMA or state)"
ls -A "$WORK/killed/checkpoints" | grep -q '^\.tmp' && fail "a temporary checkpoint file was left behind"
echo "PASS: 10 kills, identical losses and final checkpoint"
