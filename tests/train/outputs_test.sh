#!/usr/bin/env bash
# What a training run leaves and how it continues: metrics.jsonl fields,
# sample videos, TensorBoard events decoded independently (tests/train/read_tfevents.py:
# framing CRCs, protobuf by hand) and equal to the metrics, loss.svg, the
# resolved config; rerunning a finished run changes nothing; a change to the
# computation is refused naming the field; longer runs continue; SIGUSR1 ->
# checkpoint + exit 75; a second run on a live run directory is refused; a
# truncated newest checkpoint is reported and the previous one used; export
# (master and EMA weights) gives a model directory that generate loads;
# average-checkpoints of two checkpoints holds their element-wise mean.
set -euo pipefail
SV=$1 MODEL=$2 WORK=$3
HERE=$(dirname "$0")
source "$HERE/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK"
make_dataset "$SV" "$MODEL" "$WORK" 3
ARGS=(--model "$MODEL" --data "$WORK/data" --lr 1e-3 --log-every 2 --ema-decay 0.5)
EVERY=(--checkpoint-every 2 --validate-every 3)
RUN=$WORK/run
tree_sums() { (cd "$1" && find . -type f ! -name train.lock -print0 | sort -z | xargs -0 sha256sum); }

note "a 6-step run"
"$SV" train "${ARGS[@]}" "${EVERY[@]}" --steps 6 --sample-every 6 --sample-steps 2 --out "$RUN" > "$WORK/train.log" 2>&1 \
  || { cat "$WORK/train.log"; fail "train"; }
expect_video "$RUN/samples/step-6/sample-0.mp4" 17
expect_video "$RUN/samples/step-6/sample-1.mp4" 17
jq -e '.samples | length == 2' "$RUN/samples/step-6/samples.json" > /dev/null || fail "samples.json"
grep -q "step 6/6 .*ETA" "$WORK/train.log" || fail "no progress line with an ETA"
[[ $(wc -l < "$RUN/metrics.jsonl") == 6 ]] || fail "metrics.jsonl has $(wc -l < "$RUN/metrics.jsonl") lines"
# (jq -s: with -e, jq 1.6 judges only the last input's output.)
jq -s -e 'all(.[]; has("step") and has("loss") and has("grad_norm") and has("clipped") and has("lr")
       and has("samples_per_s") and has("step_s") and has("data_wait_s") and has("gflops"))' "$RUN/metrics.jsonl" > /dev/null \
  || fail "a metrics line lacks a required field"
jq -s -e '[.[] | select(has("val_loss")) | .step] == [2, 5]' "$RUN/metrics.jsonl" > /dev/null || fail "val_loss not at steps 2, 5"
jq -s -e '.[0].val_loss_start > 0' "$RUN/metrics.jsonl" > /dev/null || fail "no val_loss_start"
ls "$RUN/checkpoints" | tr '\n' ' ' | grep -q "step-2.h5 step-4.h5 step-6.h5" || fail "checkpoints: $(ls "$RUN/checkpoints")"
head -c 4 "$RUN/loss.svg" | grep -q "<svg" && grep -q "<polyline" "$RUN/loss.svg" || fail "loss.svg is not a chart"
jq -e '.steps == 6 and .["decay-steps"] == 6 and (.model | startswith("/"))' "$RUN/config.json" > /dev/null \
  || fail "config.json does not hold the resolved config with an absolute model path"

note "TensorBoard events, decoded independently"
events=$(ls "$RUN"/tensorboard/events.out.tfevents.*)
python3 "$HERE/read_tfevents.py" --selftest > /dev/null
python3 "$HERE/read_tfevents.py" "$events" > "$WORK/events.jsonl" || fail "events file does not decode"
python3 - "$WORK/events.jsonl" "$RUN/metrics.jsonl" <<'PY' || fail "TensorBoard scalars differ from metrics.jsonl"
import json, struct, sys
events = [json.loads(l) for l in open(sys.argv[1])]
assert events[0].get("file_version") == "brain.Event:2", events[0]
tb = {}
for e in events[1:]:
    for tag, v in e.get("scalars", {}).items():
        tb[(tag, e["step"])] = v
f32 = lambda x: struct.unpack("f", struct.pack("f", x))[0]
n = 0
for line in open(sys.argv[2]):
    m = json.loads(line)
    for tag, key in (("train/loss", "loss"), ("train/lr", "lr"), ("train/grad_norm", "grad_norm"), ("val/loss", "val_loss")):
        if key in m and m[key] is not None:
            assert tb[(tag, m["step"])] == f32(m[key]), (tag, m["step"], tb.get((tag, m["step"])), m[key])
            n += 1
assert n >= 20, n
print("events match metrics:", n, "scalars")
PY

note "rerunning the finished run changes nothing"
before=$(tree_sums "$RUN")
run_rc rc "$SV" train "${ARGS[@]}" "${EVERY[@]}" --steps 6 --out "$RUN"
[[ $rc == 0 ]] || fail "rerun exit $rc"
[[ $(tree_sums "$RUN") == "$before" ]] || fail "rerunning a finished run changed files"

note "a change to the computation is refused, naming it"
run_rc rc "$SV" train "${ARGS[@]}" --steps 8 --seed 5 --text-dropout 0.2 --out "$RUN" 2> "$WORK/changed.err"
[[ $rc == 3 ]] || fail "changed seed: exit $rc"
grep -q "seed (0 -> 5), text-dropout (0.1 -> 0.2)" "$WORK/changed.err" || fail "message does not name seed and text-dropout: $(cat "$WORK/changed.err")"
[[ $(tree_sums "$RUN") == "$before" ]] || fail "the refused resume changed files"

note "a truncated newest checkpoint: reported, the previous one used"
truncate -s 1000 "$RUN/checkpoints/step-6.h5"
"$SV" train "${ARGS[@]}" "${EVERY[@]}" --steps 8 --out "$RUN" > "$WORK/longer.log" 2>&1 || { cat "$WORK/longer.log"; fail "longer run"; }
grep -q "step-6.h5: cannot be used" "$WORK/longer.log" || fail "the broken checkpoint was not reported"
grep -q "resuming .* at step 4 of 8" "$WORK/longer.log" || fail "did not resume from step 4"
[[ $(jq -r .step "$RUN/metrics.jsonl" | tr '\n' ' ') == "0 1 2 3 4 5 6 7 " ]] || fail "metrics not cut back and continued"

note "SIGUSR1: checkpoint at a step boundary, exit 75, then continue"
"$SV" train "${ARGS[@]}" --steps 200 --checkpoint-every 100 --out "$WORK/pre" > "$WORK/pre.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do [[ -s $WORK/pre/metrics.jsonl ]] && break; sleep 0.1; done
run_rc rc "$SV" train "${ARGS[@]}" --steps 200 --out "$WORK/pre" 2> "$WORK/locked.err"
[[ $rc == 3 ]] && grep -q "train.lock" "$WORK/locked.err" || fail "a second run on a live run directory: exit $rc"
kill -USR1 "$pid"
run_rc rc wait "$pid"
[[ $rc == 75 ]] || { cat "$WORK/pre.log"; fail "SIGUSR1: exit $rc, expected 75"; }
n=$(wc -l < "$WORK/pre/metrics.jsonl")
[[ -f $WORK/pre/checkpoints/step-$n.h5 ]] || fail "no checkpoint at step $n after SIGUSR1"
"$SV" train "${ARGS[@]}" --steps $((n + 2)) --checkpoint-every 100 --out "$WORK/pre" > /dev/null 2>&1 || fail "resume after SIGUSR1"
[[ $(wc -l < "$WORK/pre/metrics.jsonl") == $((n + 2)) ]] || fail "resume after SIGUSR1 did not continue"

note "export: master and EMA weights, loaded by generate"
"$SV" export --checkpoint "$RUN/checkpoints/step-8.h5" --out "$WORK/exported" > /dev/null 2>&1 || fail "export"
"$SV" export --checkpoint "$RUN/checkpoints/step-8.h5" --ema --dtype f32 --out "$WORK/exported_ema" > /dev/null 2>&1 \
  || fail "export --ema"
run_rc rc "$SV" export --checkpoint "$RUN/checkpoints/step-8.h5" --out "$WORK/exported" 2> "$WORK/exists.err"
[[ $rc == 5 ]] && grep -q "already exists" "$WORK/exists.err" || fail "export over an existing directory: exit $rc"
jq -e '.step == 8 and .weights == "ema"' "$WORK/exported_ema/stepvideo-export.json" > /dev/null || fail "export provenance"
"$SV" generate --model "$WORK/exported_ema" --prompt "test pattern number 1" --frames 17 --height 64 --width 64 \
  --steps 2 --out "$WORK/gen.mp4" > "$WORK/gen.log" 2>&1 || { cat "$WORK/gen.log"; fail "generate from the export"; }
expect_video "$WORK/gen.mp4" 17

note "average-checkpoints: the mean of two checkpoints' weights"
"$SV" export --checkpoint "$RUN/checkpoints/step-6.h5" --dtype f32 --out "$WORK/f32_6" > /dev/null 2>&1 || fail "export 6"
"$SV" export --checkpoint "$RUN/checkpoints/step-8.h5" --dtype f32 --out "$WORK/f32_8" > /dev/null 2>&1 || fail "export 8"
"$SV" average-checkpoints "$RUN/checkpoints/step-6.h5" "$RUN/checkpoints/step-8.h5" --dtype f32 --out "$WORK/averaged" \
  > "$WORK/average.log" 2>&1 || { cat "$WORK/average.log"; fail "average-checkpoints"; }
python3 "$HERE/check_average.py" "$WORK/averaged" "$WORK/f32_6" "$WORK/f32_8" || fail "not the mean"
jq -e '(.averaged | map(.step)) == [6, 8]' "$WORK/averaged/stepvideo-export.json" > /dev/null || fail "average provenance"
run_rc rc "$SV" average-checkpoints "$RUN/checkpoints/step-6.h5" --out "$WORK/one_only" 2> "$WORK/one_only.err"
[[ $rc == 2 && ! -e $WORK/one_only ]] || fail "average of one checkpoint: exit $rc"
"$SV" generate --model "$WORK/averaged" --prompt "test pattern number 1" --frames 17 --height 64 --width 64 \
  --steps 2 --out "$WORK/gen_avg.mp4" > "$WORK/gen_avg.log" 2>&1 || { cat "$WORK/gen_avg.log"; fail "generate"; }
expect_video "$WORK/gen_avg.mp4" 17
echo "PASS"
