#!/usr/bin/env bash
# Video-DPO end to end (issue 16, items 1-2): encode-dataset takes a manifest
# of preference pairs (bad lines recorded, the pairs encoded with one text
# encoding and both clips' latents); `train --objective dpo` starts with the
# reference equal to the policy, so step 0's margins are exactly 0 and its
# loss exactly log 2, and then raises the margins on its pairs; the metrics
# carry implicit accuracy, margin and the four errors; a reference refreshed
# every 2 steps makes step 2's loss log 2 again, and is restored on resume
# (the resumed run's losses equal an uninterrupted one's); dp=2, tp=2 and pp=2
# (the reference pipelined too, the DPO loss on the last stage) give one
# rank's losses and weights; mismatched datasets and objectives, a held-out
# DPO loss, and a reference of another shape are refused before anything is
# written.
#
# Tolerances (dp=2, tp=2, pp=2 vs one rank, 12 steps): losses within 3e-5 relative
# (measured up to 3.1e-6: beta multiplies the errors' rounding differences),
# final weights within 5e-5 relative L2 (measured up to 1.7e-6).
#
# dpo_test.sh SV MODEL WORK, with MPIEXEC ("mpirun -np") and MPIEXEC_FLAGS.
set -euo pipefail
SV=$1 MODEL=$2 WORK=$3
source "$(dirname "$0")/lib.sh"
read_launcher
rm -rf "$WORK" && mkdir -p "$WORK"
make_clips "$WORK" 6
{
  for i in 0 2 4; do
    printf '{"prompt": "test pattern number %d", "chosen": "clip%d.mp4", "rejected": "clip%d.mp4"}\n' \
      "$i" "$i" "$((i + 1))"
  done
  echo '{"id": "one", "video": "clip0.mp4", "caption": "a single clip in a pairs manifest"}'
  echo '{"prompt": "same file twice", "chosen": "clip1.mp4", "rejected": "clip1.mp4"}'
} > "$WORK/pairs.jsonl"

note "encode-dataset of a pairs manifest"
run_rc rc "$SV" encode-dataset --model "$MODEL" --manifest "$WORK/pairs.jsonl" --out "$WORK/pairs" --height 64 \
  --width 64 > "$WORK/encode.log" 2>&1
[[ $rc == 9 ]] || { cat "$WORK/encode.log"; fail "encode-dataset of pairs with two bad lines: exit $rc, expected 9"; }
jq -e '.kind == "pairs"' "$WORK/pairs/dataset.json" > /dev/null || fail "dataset.json is not of kind pairs"
[[ $(cat "$WORK"/pairs/index-r*.jsonl | jq -s '[.[] | select(.status == "ok" and .pair == true)] | length') == 3 ]] \
  || fail "the index does not hold 3 pairs"
grep -q "a sample line in a manifest of preference pairs" "$WORK"/pairs/index-r*.jsonl || fail "no reason for line 4"
grep -q "the same file" "$WORK"/pairs/index-r*.jsonl || fail "no reason for line 5"
make_dataset "$SV" "$MODEL" "$WORK/single" 2

note "refusals: nothing is written"
run_rc rc "$SV" train --model "$MODEL" --data "$WORK/single/data" --objective dpo --out "$WORK/bad_kind" \
  2> "$WORK/bad_kind.log"
[[ $rc == 5 ]] && grep -q "needs a dataset of preference pairs" "$WORK/bad_kind.log" || fail "dpo on single clips: exit $rc"
run_rc rc "$SV" train --model "$MODEL" --data "$WORK/pairs" --out "$WORK/bad_objective" 2> "$WORK/bad_objective.log"
[[ $rc == 5 ]] && grep -q "train it with --objective dpo" "$WORK/bad_objective.log" || fail "pairs without dpo: exit $rc"
run_rc rc "$SV" train --model "$MODEL" --data "$WORK/pairs" --objective dpo --validate-every 2 --out "$WORK/bad_val" \
  2> "$WORK/bad_val.log"
[[ $rc == 8 ]] && grep -q "a held-out DPO loss is not built yet" "$WORK/bad_val.log" || fail "dpo validation: exit $rc"
cp -r "$MODEL" "$WORK/short_model"
python3 "$(dirname "$0")/drop_last_block.py" "$WORK/short_model"
run_rc rc "$SV" train --model "$MODEL" --data "$WORK/pairs" --objective dpo --reference "$WORK/short_model" \
  --out "$WORK/bad_reference" 2> "$WORK/bad_reference.log"
[[ $rc == 5 ]] && grep -q "another DiT than --model" "$WORK/bad_reference.log" || fail "short reference: exit $rc"
for bad in bad_kind bad_objective bad_val bad_reference; do [[ ! -e $WORK/$bad ]] || fail "$bad wrote $WORK/$bad"; done

ARGS=(--model "$MODEL" --data "$WORK/pairs" --objective dpo --dpo-beta 50 --batch-size 2 --lr 1e-4 --log-every 2)
train_dpo() {  # train_dpo RANKS OUT STEPS [args...]
  local ranks=$1 out=$2 steps=$3
  shift 3
  if ((ranks == 1)); then
    run_rc rc "$SV" train "${ARGS[@]}" --steps "$steps" --out "$WORK/$out" "$@" >> "$WORK/$out.log" 2>&1
  else
    run_rc rc "${MPI[@]}" "$ranks" "${MPI_FLAGS[@]}" "$SV" train "${ARGS[@]}" --steps "$steps" --out "$WORK/$out" \
      "$@" >> "$WORK/$out.log" 2>&1
  fi
  [[ $rc == 0 ]] || { cat "$WORK/$out.log"; fail "$out: exit $rc"; }
}

note "one rank, 12 steps"
train_dpo 1 one 12 --checkpoint-every 12
M=$WORK/one/metrics.jsonl
jq -s -e '.[0] | .inside == 0 and .implicit_accuracy == 0 and (.loss - (2 | log) | fabs) < 1e-12
          and .model_mse_w == .ref_mse_w and .model_mse_l == .ref_mse_l' "$M" > /dev/null \
  || fail "step 0 (reference = policy): $(head -1 "$M")"
jq -s -e 'all(.[]; has("implicit_accuracy") and has("inside") and has("model_mse_w") and has("model_mse_l")
          and has("ref_mse_w") and has("ref_mse_l"))' "$M" > /dev/null || fail "metrics lack DPO fields"
# The policy learns its pairs: the last four steps' margins are positive on average and their loss below log 2.
jq -s -e '(.[-4:] | map(.inside) | add / 4) > 0 and (.[-4:] | map(.loss) | add / 4) < (2 | log)' "$M" > /dev/null \
  || fail "no preference learned: $(jq -s -c '[.[] | [.step, .loss, .inside, .implicit_accuracy]]' "$M")"
echo "one rank: $(jq -s -c '[.[] | [.step, (.loss * 1e4 | round / 1e4), (.inside * 1e3 | round / 1e3)]]' "$M")"

note "a reference refreshed every 2 steps, stopped at step 3 and resumed"
train_dpo 1 refresh 6 --reference-refresh-every 2 --checkpoint-every 1
jq -s -e '.[2].inside == 0 and .[4].inside == 0 and .[3].inside != 0' "$WORK/refresh/metrics.jsonl" > /dev/null \
  || fail "the refresh did not reset the margins: $(jq -s -c 'map(.inside)' "$WORK/refresh/metrics.jsonl")"
train_dpo 1 resumed 3 --reference-refresh-every 2 --checkpoint-every 1
train_dpo 1 resumed 6 --reference-refresh-every 2 --checkpoint-every 1
grep -q "resuming .* at step 3 of 6" "$WORK/resumed.log" || fail "did not resume at step 3"
diff <(loss_lines "$WORK/refresh/metrics.jsonl") <(loss_lines "$WORK/resumed/metrics.jsonl") \
  || fail "the resumed run left the uninterrupted one's losses (the refreshed reference was not restored)"

note "dp=2, tp=2 and pp=2 against one rank"
for run in "dp2 --layout dp=2" "tp2 --layout tp=2" "pp2 --layout pp=2"; do
  read -r out extra <<< "$run"
  # shellcheck disable=SC2086
  train_dpo 2 "$out" 12 --checkpoint-every 12 $extra
  jq -n -e --slurpfile a "$WORK/$out/metrics.jsonl" --slurpfile b "$M" '
    ($a | length) == ($b | length) and
    ([range($a | length)] | all(. as $i | (($a[$i].loss - $b[$i].loss) | fabs) <= 3e-5 * ($b[$i].loss | fabs)))' \
    > /dev/null || fail "$out: losses differ from one rank's"
  "$SV" export --checkpoint "$WORK/$out/checkpoints/step-12.h5" --dtype f32 --out "$WORK/$out-export" > /dev/null 2>&1
  [[ -d $WORK/one-export ]] || "$SV" export --checkpoint "$WORK/one/checkpoints/step-12.h5" --dtype f32 \
    --out "$WORK/one-export" > /dev/null 2>&1
  python3 "$(dirname "$0")/compare_weights.py" "$WORK/$out-export" "$WORK/one-export" 5e-5 \
    || fail "$out: final weights differ from one rank's"
done
echo "PASS"
