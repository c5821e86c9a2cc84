#!/usr/bin/env bash
# make_dataset_test.sh STEPVIDEO MODEL_DIR WORK_DIR
# `make-dataset shapes` writes real, decodable clips and stills, a manifest
# that encode-dataset takes as it is, and the truth of every clip; the same
# seed gives the same files; the canonical caption forms appear in both
# languages; held-out combinations do not; an existing manifest is not
# replaced without --overwrite; bad options are usage errors.
set -euo pipefail
SV=$1 MODEL=$2 WORK=$3
source "$(dirname "$0")/lib.sh"
rm -rf "$WORK" && mkdir -p "$WORK"

"$SV" make-dataset shapes --out "$WORK/a" --count 30 --stills 6 --seed 4 >"$WORK/a.log" 2>&1 ||
  { cat "$WORK/a.log"; fail "make-dataset shapes"; }
[[ $(wc -l <"$WORK/a/manifest.jsonl") == 36 && $(wc -l <"$WORK/a/truth.jsonl") == 36 ]] || fail "36 lines expected"
for f in "$WORK"/a/clips/clip-0000{0,1,7}.mkv; do expect_video "$f" 17; done
expect_video "$WORK/a/stills/still-00000.mkv" 1
[[ $(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name,width,height -of csv=p=0 \
  "$WORK/a/clips/clip-00003.mkv") == "ffv1,64,64" ]] || fail "clips are not 64x64 FFV1"
# Captions: English on even clips, Chinese on odd ones; template 0 is the canonical form.
jq -s -e 'map(select(.template == 0 and .motion != "still" and (.id | startswith("clip"))))
  | all(.[]; .caption == (if .language == "en"
      then "a \(.colour) \(.shape) moves \({"right": "to the right", "left": "to the left", "up": "up", "down": "down"}[.motion])"
      else "一个\({"red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色", "white": "白色", "purple": "紫色"}[.colour])的\({"circle": "圆", "square": "正方形", "triangle": "三角形"}[.shape])向\({"right": "右", "left": "左", "up": "上", "down": "下"}[.motion])移动" end))
  and length > 0' "$WORK/a/truth.jsonl" >/dev/null || fail "canonical captions differ from the README's forms"
jq -s -e 'map(.language) | (index("en") != null) and (index("zh") != null)' "$WORK/a/truth.jsonl" >/dev/null ||
  fail "both languages expected"
# Held out: (colour + 2 shape + 3 motion) % 7 == 3 over the lists' orders, moving clips only.
jq -s -e '[.[] | select(.motion != "still") | . as $o
  | [(["red","green","blue","yellow","white","purple"] | index($o.colour)),
     (["circle","square","triangle"] | index($o.shape)), (["right","left","up","down"] | index($o.motion))]
  | select((.[0] + 2 * .[1] + 3 * .[2]) % 7 == 3)] | length == 0' "$WORK/a/truth.jsonl" >/dev/null ||
  fail "a held-out combination is in the dataset"
note "30 clips and 6 stills: decodable, captions in both languages, no held-out combination"

"$SV" make-dataset shapes --out "$WORK/b" --count 30 --stills 6 --seed 4 >/dev/null 2>&1 || fail "second make-dataset"
cmp -s "$WORK/a/manifest.jsonl" "$WORK/b/manifest.jsonl" && cmp -s "$WORK/a/truth.jsonl" "$WORK/b/truth.jsonl" ||
  fail "the same seed gave another dataset"
"$SV" make-dataset shapes --out "$WORK/c" --count 30 --stills 6 --seed 5 >/dev/null 2>&1 || fail "third make-dataset"
! cmp -s "$WORK/a/truth.jsonl" "$WORK/c/truth.jsonl" || fail "another seed gave the same dataset"

run_rc rc "$SV" make-dataset shapes --out "$WORK/a" --count 3 2>"$WORK/err"
[[ $rc == 5 ]] && grep -q "manifest.jsonl" "$WORK/err" || fail "an existing manifest was not refused: exit $rc"
[[ $(wc -l <"$WORK/a/manifest.jsonl") == 36 ]] || fail "the refused run changed the manifest"
for bad in "squares --out $WORK/x" "shapes --out $WORK/x --size 40" "shapes --out $WORK/x --frames 1" \
  "shapes --out $WORK/x --codec vp9"; do
  run_rc rc "$SV" make-dataset $bad 2>"$WORK/err"
  [[ $rc == 2 ]] || fail "make-dataset $bad: exit $rc, expected 2"
done

"$SV" encode-dataset --model "$MODEL" --manifest "$WORK/a/manifest.jsonl" --out "$WORK/data" --frames 17 \
  --height 64 --width 64 >"$WORK/encode.log" 2>&1 || { cat "$WORK/encode.log"; fail "encode-dataset of the world"; }
[[ $(cat "$WORK"/data/index-r*.jsonl | jq -s -c '[.[] | select(.status == "ok") | .latent_shape[0]] | group_by(.) | map([.[0], length])') \
  == "[[1,6],[3,30]]" ]] || fail "encode-dataset: $(cat "$WORK"/data/index-r*.jsonl | jq -s -c 'map(.latent_shape)')"
note "encode-dataset takes the world: 6 stills and 30 clips"

# The judge on the world's own clips: everything right, in both languages.
"$SV" eval shapes --truth "$WORK/a/truth.jsonl" --report "$WORK/truth-report.json" >"$WORK/truth.out" 2>"$WORK/truth.err" ||
  { cat "$WORK/truth.err"; fail "eval shapes --truth"; }
jq -e '.scores.en.all == 1 and .scores.zh.all == 1 and .scores.overall.clips == 36' "$WORK/truth-report.json" \
  >/dev/null || fail "the judge misreads the world's own clips: $(jq -c .scores "$WORK/truth-report.json")"
grep -qE "^overall +36 +100\.0% +100\.0% +100\.0% +100\.0%" "$WORK/truth.out" || fail "no score table: $(cat "$WORK/truth.out")"
# A model: every held-out combination in both languages (random weights: the scores are whatever they are).
"$SV" eval shapes --model "$MODEL" --seeds 1 --steps 2 --out "$WORK/eval-clips" --report "$WORK/model-report.json" \
  >"$WORK/model.out" 2>"$WORK/model.err" || { cat "$WORK/model.err"; fail "eval shapes --model"; }
jq -e '(.clips | length) == 20 and ([.clips[] | .prompt] | unique | length) == 20
       and all(.scores[]; .colour >= 0 and .colour <= 1 and .all <= .motion)
       and ([.clips[] | select(.id | endswith("-zh-s0"))] | length) == 10' "$WORK/model-report.json" >/dev/null ||
  fail "eval report: $(jq -c .scores "$WORK/model-report.json")"
expect_video "$WORK/eval-clips/$(jq -r '.clips[0].id' "$WORK/model-report.json").mp4" 17
# --truth with --model: every clip through the model's VAE and back (the random VAE keeps little).
"$SV" eval shapes --model "$MODEL" --truth "$WORK/a/truth.jsonl" --out "$WORK/round-trips" \
  --report "$WORK/round-trip.json" >"$WORK/rt.out" 2>"$WORK/rt.err" || { cat "$WORK/rt.err"; fail "VAE round trip"; }
jq -e --arg m "$MODEL" '.through_vae == $m and .scores.overall.clips == 36' "$WORK/round-trip.json" >/dev/null ||
  fail "round-trip report: $(jq -c '{through_vae, scores}' "$WORK/round-trip.json")"
expect_video "$WORK/round-trips/clip-00000.mp4" 17
expect_video "$WORK/round-trips/still-00000.mp4" 1
run_rc rc "$SV" eval shapes --candidates "$WORK/a" 2>"$WORK/err"
[[ $rc == 2 ]] || fail "--candidates without --pairs: exit $rc"
run_rc rc "$SV" eval shapes --model "$MODEL" --report "$WORK/model-report.json" 2>"$WORK/err"
[[ $rc == 5 ]] || fail "eval over an existing report: exit $rc"
note "eval shapes: the judge reads the world's clips 100 % right; a model's 20 held-out clips scored"
echo "PASS: make-dataset shapes writes a decodable, deterministic, bilingual world that encode-dataset takes"
