#!/usr/bin/env bash
# vae_train_test.sh STEPVIDEO MODEL_DIR WORK_DIR
# `train --component vae` on a small shapes world (32x32, 9-frame clips and
# stills): the loss falls, metrics.jsonl has one line per step with loss, l1,
# kl and psnr, checkpoints appear; a run stopped at step 3 and resumed gives
# the same losses and the same final weights as an uninterrupted one (so the
# fresh-run initialisation, --init-logvar and --zero-init-residuals, is not
# applied again on resume); SIGTERM
# checkpoints and exits 75; a changed setting on resume is refused (exit 3);
# bad input is refused before the run directory is touched; `export` makes a
# model directory whose VAE is the trained one (`generate` decodes with it).
set -euo pipefail
SV=$1 MODEL=$2 WORK=$3
source "$(dirname "$0")/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK"

"$SV" make-dataset shapes --out "$WORK/shapes" --count 6 --stills 4 --size 32 --frames 9 >/dev/null 2>&1 ||
  fail "make-dataset shapes"
BASE=(--component vae --model "$MODEL" --data "$WORK/shapes/manifest.jsonl" --height 32 --width 32 --frames 9
      --batch-size 2 --lr 2e-3 --log-every 1 --seed 3 --l2-weight 1 --init-logvar -6 --zero-init-residuals)
ARGS=("${BASE[@]}" --checkpoint-every 2)

note "six steps at once"
run_rc rc "$SV" train "${ARGS[@]}" --out "$WORK/straight" --steps 6 >"$WORK/straight.log" 2>&1
[[ $rc == 0 ]] || { cat "$WORK/straight.log"; fail "train --component vae: exit $rc"; }
[[ $(wc -l <"$WORK/straight/metrics.jsonl") == 6 ]] || fail "metrics.jsonl is not one line per step"
jq -s -e 'all(.[]; (.loss | type) == "number" and (.l1 | type) == "number" and (.kl | type) == "number"
  and (.psnr | type) == "number" and .grad_norm > 0 and .batch_size == 2)' "$WORK/straight/metrics.jsonl" >/dev/null ||
  fail "a metrics line lacks loss, l1, kl, psnr or grad_norm"
jq -s -e '.[-1].loss < .[0].loss' "$WORK/straight/metrics.jsonl" >/dev/null || fail "the loss did not fall in 6 steps"
ls "$WORK"/straight/checkpoints/step-{2,4,6}.h5 >/dev/null || fail "checkpoints every 2 steps expected"
[[ -s $WORK/straight/loss.svg && -d $WORK/straight/tensorboard ]] || fail "loss.svg or tensorboard/ missing"
jq -e '.component == "vae" and ."kl-weight" == 0.001 and ."l2-weight" == 1 and ."init-logvar" == -6
  and ."zero-init-residuals"' "$WORK/straight/config.json" >/dev/null || fail "config.json does not record the VAE run"
grep -q "log-variance bias -6" "$WORK/straight.log" && grep -q "zeroed the last layer of every residual branch" \
  "$WORK/straight.log" || fail "the fresh run's initialisation is not reported"

note "three steps, then three more: the same losses and weights"
"$SV" train "${ARGS[@]}" --out "$WORK/resumed" --steps 3 >"$WORK/resumed.log" 2>&1 || fail "first half"
"$SV" train "${ARGS[@]}" --out "$WORK/resumed" --steps 6 >>"$WORK/resumed.log" 2>&1 || fail "second half"
grep -q "resuming .* at step 3 of 6" "$WORK/resumed.log" || fail "did not resume from the final checkpoint of step 3"
diff <(jq -c '[.step, .loss, .grad_norm]' "$WORK/straight/metrics.jsonl") \
     <(jq -c '[.step, .loss, .grad_norm]' "$WORK/resumed/metrics.jsonl") || fail "resumed losses differ"
for run in straight resumed; do
  "$SV" export --checkpoint "$WORK/$run/checkpoints/step-6.h5" --dtype f32 --out "$WORK/$run-f32" >/dev/null 2>&1 ||
    fail "export --dtype f32 of $run"
done
cmp -s "$WORK/straight-f32/vae/vae_v2.safetensors" "$WORK/resumed-f32/vae/vae_v2.safetensors" ||
  fail "resumed weights differ from the uninterrupted run's"

note "a changed setting on resume is refused; SIGTERM checkpoints and exits 75"
run_rc rc "$SV" train "${ARGS[@]}" --out "$WORK/resumed" --steps 8 --kl-weight 0.5 >"$WORK/changed.log" 2>&1
[[ $rc == 3 ]] && grep -q "kl-weight" "$WORK/changed.log" || { cat "$WORK/changed.log"; fail "changed kl-weight: exit $rc"; }
"$SV" train "${BASE[@]}" --out "$WORK/stopped" --steps 400 --checkpoint-every 1000 >"$WORK/stopped.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do grep -q "step 1/400" "$WORK/stopped.log" && break; kill -0 "$pid" || break; sleep 0.1; done
kill -TERM "$pid"
run_rc rc wait "$pid"
[[ $rc == 75 ]] || { cat "$WORK/stopped.log"; fail "SIGTERM: exit $rc, expected 75"; }
step=$(ls "$WORK/stopped/checkpoints" | sed -n 's/step-\([0-9]*\)\.h5/\1/p')
[[ -n $step ]] && ((step >= 1)) || fail "no checkpoint after SIGTERM"

note "bad input: nothing is written"
printf '{"prompt": "p", "chosen": "a.mp4", "rejected": "b.mp4"}\n' >"$WORK/pairs.jsonl"
run_rc rc "$SV" train --component vae --model "$MODEL" --data "$WORK/pairs.jsonl" --out "$WORK/bad1"
[[ $rc == 5 && ! -e $WORK/bad1 ]] || fail "a pairs manifest: exit $rc (expected 5, no run directory)"
SMALL=(--component vae --model "$MODEL" --data "$WORK/shapes/manifest.jsonl")
run_rc rc "$SV" train "${SMALL[@]}" --frames 10 --out "$WORK/bad2"
[[ $rc == 2 && ! -e $WORK/bad2 ]] || fail "--frames 10: exit $rc (expected 2)"
run_rc rc "$SV" train "${SMALL[@]}" --height 40 --out "$WORK/bad3"
[[ $rc == 2 && ! -e $WORK/bad3 ]] || fail "--height 40: exit $rc (expected 2)"
run_rc rc "$SV" train --component vea --model "$MODEL" --data "$WORK/shapes/manifest.jsonl" --out "$WORK/bad4"
[[ $rc == 2 && ! -e $WORK/bad4 ]] || fail "--component vea: exit $rc (expected 2)"

note "export: a model directory with the trained VAE"
"$SV" export --checkpoint "$WORK/straight/checkpoints/step-6.h5" --out "$WORK/exported" >"$WORK/export.log" 2>&1 ||
  { cat "$WORK/export.log"; fail "export of a VAE checkpoint"; }
jq -e '.component == "vae" and .step == 6' "$WORK/exported/stepvideo-export.json" >/dev/null || fail "provenance"
cmp -s "$MODEL/transformer/config.json" "$WORK/exported/transformer/config.json" || fail "transformer not copied"
! cmp -s "$MODEL/vae/vae_v2.safetensors" "$WORK/exported/vae/vae_v2.safetensors" || fail "the VAE was not replaced"
run_rc rc "$SV" export --checkpoint "$WORK/straight/checkpoints/step-6.h5" --out "$WORK/exported"
[[ $rc == 5 ]] || fail "export over an existing directory: exit $rc"
"$SV" generate --model "$WORK/exported" --prompt "a red circle moves to the right" --frames 17 --height 32 --width 32 \
  --steps 2 --out "$WORK/exported.mp4" >"$WORK/generate.log" 2>&1 || { cat "$WORK/generate.log"; fail "generate"; }
expect_video "$WORK/exported.mp4" 17
note "VAE training, resume, stop, refusals and export all hold"
