#!/usr/bin/env bash
# Training learns (issue 14 item 8), measured by the loss at fixed (noise, t)
# (--validate-every: 4 draws per sample; val_loss_start before step 0):
#  - 4 clips, 100 steps of batch 2: the loss falls below half its start
#    (measured 0.17-0.28 of the start, seeds 0-2 and two sets of clips, 2026-12-02);
#  - one clip, text dropout 0, 1400 steps (constant lr, then a linear decay
#    from step 1000): the loss falls below 5 % of its start (measured 0.82 %
#    with this test's clip and 0.69 % with another, 2026-12-02; without the
#    decay it hovers between 2.5 and 6 %: the decay is what makes it robust).
set -euo pipefail
SV=$1 MODEL=$2 WORK=$3
source "$(dirname "$0")/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK"
make_dataset "$SV" "$MODEL" "$WORK" 4

ratio() {  # final val_loss / val_loss_start of a run's metrics
  jq -s -r '(.[-1].val_loss) / (.[0].val_loss_start)' "$1/metrics.jsonl"
}
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

note "4 clips, 100 steps"
"$SV" train --model "$MODEL" --data "$WORK/data" --out "$WORK/four" --steps 100 --batch-size 2 --lr 1e-3 \
  --time-shift 3 --validate-every 100 --checkpoint-every 100 --log-every 50 > "$WORK/four.log" 2>&1 \
  || { cat "$WORK/four.log"; fail "training on 4 clips"; }
r=$(ratio "$WORK/four")
echo "4 clips: final / start loss = $r"
below "$r" 0.5 || fail "the loss fell only to $r of its start (threshold 0.5)"

note "one clip, overfit"
head -1 "$WORK/manifest.jsonl" > "$WORK/one.jsonl"
"$SV" encode-dataset --model "$MODEL" --manifest "$WORK/one.jsonl" --out "$WORK/one" --height 64 --width 64 \
  > /dev/null 2>&1 || fail "encode one clip"
"$SV" train --model "$MODEL" --data "$WORK/one" --out "$WORK/overfit" --steps 1400 --lr 1e-3 --lr-schedule linear \
  --decay-start 1000 --lr-floor 1e-5 --weight-decay 0 --text-dropout 0 --time-shift 3 --validate-every 1400 \
  --checkpoint-every 1400 --log-every 200 > "$WORK/overfit.log" 2>&1 || { cat "$WORK/overfit.log"; fail "overfit run"; }
r=$(ratio "$WORK/overfit")
echo "one clip: final / start loss = $r"
below "$r" 0.05 || fail "the single-sample loss fell only to $r of its start (threshold 0.05)"
echo "PASS"
