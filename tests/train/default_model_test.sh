#!/usr/bin/env bash
# default_model_test.sh STEPVIDEO SCRIPT WORK_DIR
# scripts/train-default-model.sh --quick --install runs every stage of the default model's
# reproduction (shapes world, VAE, encode, t2i, t2v low/high, SFT, candidates judged, DPO or its
# skip, evaluation) for a few steps and installs the result; `init-model --preset tiny` then bundles
# exactly those weights and sampling defaults, and `generate` with only frames and size uses them.
# Without a bundle the preset still writes a model (tiny-random's weights) and says so.
# The first attempt is preempted in the VAE stage (SIGTERM to the script, as Slurm would): the stage's
# time so far is kept in partial/vae and counted again when the rerun finishes it.
set -euo pipefail
SV=$1 SCRIPT=$2 WORK=$3
source "$(dirname "$0")/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK"

# A stepvideo that, on the VAE stage's training, waits 2 s and then SIGTERMs the script (its parent).
cat > "$WORK/preempting-stepvideo" <<EOF
#!/usr/bin/env bash
if [[ \$1 == train && " \$* " == *" --component vae "* && ! -e $WORK/preempted ]]; then
  touch "$WORK/preempted"; sleep 2; kill -TERM \$PPID; exit 143
fi
exec "$SV" "\$@"
EOF
chmod +x "$WORK/preempting-stepvideo"
run_rc rc env STEPVIDEO="$WORK/preempting-stepvideo" INSTALL_DIR=$WORK/bundle/tiny bash "$SCRIPT" "$WORK/run" --quick \
  --install >"$WORK/preempted.log" 2>&1
[[ $rc == 143 ]] || { tail -20 "$WORK/preempted.log"; fail "the preempted script exited $rc (expected 143)"; }
[[ -e $WORK/preempted && ! -e $WORK/run/done/vae && -s $WORK/run/done/world ]] || fail "not preempted in the vae stage"
partial=$(cat "$WORK/run/partial/vae") || fail "the preempted stage's time was not kept in partial/vae"
((partial >= 1)) || fail "partial/vae says $partial s for a stage that ran 2 s"
note "preempted in the vae stage: exit 143, partial/vae = $partial s"

STEPVIDEO=$SV INSTALL_DIR=$WORK/bundle/tiny bash "$SCRIPT" "$WORK/run" --quick --install >"$WORK/script.log" 2>&1 ||
  { tail -40 "$WORK/script.log"; fail "train-default-model.sh --quick --install (resumed)"; }
[[ ! -e $WORK/run/partial/vae ]] || fail "partial/vae was left after the stage finished"
vae_time=$(cat "$WORK/run/done/vae")
((vae_time >= partial)) || fail "the vae stage's time ($vae_time s) does not count the preempted attempt ($partial s)"
[[ $(awk '$1 == "vae" {print $2}' "$WORK/run/times.tsv") == "$vae_time" ]] || fail "times.tsv: $(cat "$WORK/run/times.tsv")"
for stage in world vae encode t2i t2v-low t2v-high sft candidates dpo evaluate; do
  [[ -s $WORK/run/done/$stage ]] || fail "stage $stage did not finish"
done
grep -q "| dpo | overall |" "$WORK/run/scores.md" || fail "no scores: $(cat "$WORK/run/scores.md")"
note "every stage ran; scores and times recorded"

STEPVIDEO_BUNDLED_MODELS=$WORK/bundle "$SV" init-model --preset tiny --out "$WORK/tiny" >"$WORK/init.log" 2>&1 ||
  { cat "$WORK/init.log"; fail "init-model --preset tiny with a bundle"; }
for f in "$WORK"/bundle/tiny/transformer/*.safetensors; do
  cmp -s "$f" "$WORK/tiny/transformer/$(basename "$f")" || fail "$(basename "$f") is not the bundled one"
done
cmp -s "$WORK/bundle/tiny/vae/vae_v2.safetensors" "$WORK/tiny/vae/vae_v2.safetensors" || fail "the VAE is not bundled"
cmp -s "$WORK/bundle/tiny/sampling.json" "$WORK/tiny/sampling.json" || fail "sampling.json is not bundled"
[[ $(ls "$WORK"/tiny/transformer/*.safetensors | wc -l) == $(ls "$WORK"/bundle/tiny/transformer/*.safetensors | wc -l) ]] ||
  fail "random transformer shards were left beside the bundled ones"
"$SV" generate --model "$WORK/tiny" --prompt "a red circle moves to the right" --frames 17 --height 64 --width 64 \
  --out "$WORK/red.mp4" >"$WORK/generate.log" 2>&1 || { cat "$WORK/generate.log"; fail "generate"; }
expect_video "$WORK/red.mp4" 17
jq -e '.steps == 30 and .cfg_scale == 5' "$WORK/red.json" >/dev/null || fail "generate did not use sampling.json"
run_rc rc env STEPVIDEO_BUNDLED_MODELS=$WORK/bundle "$SV" init-model --preset tiny --seed 3 --out "$WORK/seeded"
[[ $rc == 5 && ! -e $WORK/seeded ]] || fail "--preset tiny --seed 3: exit $rc (expected 5)"
note "init-model --preset tiny bundles the installed weights; generate takes their sampling defaults"

STEPVIDEO_BUNDLED_MODELS=$WORK/none "$SV" init-model --preset tiny --out "$WORK/unbundled" >"$WORK/unbundled.log" 2>&1 ||
  fail "init-model --preset tiny without a bundle"
grep -q "no trained weights bundled yet" "$WORK/unbundled.log" || fail "no warning without a bundle"
echo "PASS: the default model's script runs every stage and its result is what --preset tiny writes"
