#!/usr/bin/env bash
# generate_test.sh STEPVIDEO MODEL_DIR WORK_DIR: end-to-end generation on the
# tiny model, checked by decoding the real MP4 files.
set -euo pipefail
sv=$1 model=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }

args=(--model "$model" --prompt "A paper boat drifts down a rainy street" --frames 20 --height 70
      --width 96 --steps 3 --seed 11)
"$sv" generate "${args[@]}" --out "$work/v1.mp4" --save-latents "$work/v1.safetensors" 2>"$work/log1"
grep -q "rounded 20 frames of 96x70 (w x h) to 17 frames of 96x64 (w x h)" "$work/log1" || fail "no rounding note"
grep -q "denoise step 3/3" "$work/log1" || fail "no per-step progress"

# The file decodes to the expected frames and size.
probe=$(ffprobe -v error -count_frames -select_streams v:0 \
        -show_entries stream=nb_read_frames,width,height,codec_name -of csv=p=0 "$work/v1.mp4")
[[ "$probe" == "h264,96,64,17" ]] || fail "ffprobe says '$probe', expected h264,96,64,17"

# The sidecar holds every parameter.
json="$work/v1.json"
for key in '"prompt": "A paper boat' '"seed": 11' '"steps": 3' '"cfg_scale": 9.0' '"time_shift": 13.0' \
           '"frames": 17' '"height": 64' '"width": 96' '"fps": 25' '"stepvideo_version"' \
           '"header_sha256"' '"denoise_s"' '"vae_decode_s"' '"negative_prompt"' '"positive_suffix"'; do
  grep -qF "$key" "$json" || fail "sidecar lacks $key"
done

# Same seed: identical latents and identical decoded frames. Compared on the
# lossless .mkv output: libx264's bitstream was seen to vary between runs of
# identical frames (see the closing notes), so H.264 files are not compared.
"$sv" generate "${args[@]}" --out "$work/v2.mkv" --save-latents "$work/v2.safetensors" 2>/dev/null
"$sv" generate "${args[@]}" --out "$work/v2b.mkv" 2>/dev/null
cmp "$work/v1.safetensors" "$work/v2.safetensors" || fail "same seed gave different latents"
ffmpeg -v error -i "$work/v2.mkv" -f framemd5 "$work/v2.md5"
ffmpeg -v error -i "$work/v2b.mkv" -f framemd5 "$work/v2b.md5"
diff <(grep -v '^#' "$work/v2.md5") <(grep -v '^#' "$work/v2b.md5") >/dev/null || fail "same seed gave different frames"
# --offload keeps the bf16 weights mapped and widens them per layer: the same numbers.
"$sv" generate "${args[@]}" --offload --out "$work/v5.mp4" --save-latents "$work/v5.safetensors" 2>/dev/null
cmp "$work/v1.safetensors" "$work/v5.safetensors" || fail "--offload changed the latents"
# decode and encode on real files: the saved latents decode to the same video.
"$sv" decode --model "$model" --latents "$work/v1.safetensors" --out "$work/d1.mkv" 2>/dev/null
"$sv" generate "${args[@]}" --out "$work/v6.mkv" 2>/dev/null
ffmpeg -v error -i "$work/d1.mkv" -f framemd5 "$work/d1.md5"
ffmpeg -v error -i "$work/v6.mkv" -f framemd5 "$work/v6.md5"
diff <(grep -v '^#' "$work/d1.md5") <(grep -v '^#' "$work/v6.md5") >/dev/null || fail "decode differs from generate"
# Spatial tiling (approximate): a full-size video from 2 tiles of 4 x 4 latents; an
# overlap that does not fit the tile is a configuration error (exit 3) and writes nothing.
"$sv" decode --model "$model" --latents "$work/v1.safetensors" --vae-tile 4 --vae-tile-overlap 2 \
  --out "$work/d1t.mkv" 2>"$work/log_tile"
probe=$(ffprobe -v error -count_frames -select_streams v:0 \
        -show_entries stream=nb_read_frames,width,height -of csv=p=0 "$work/d1t.mkv")
[[ "$probe" == "96,64,17" ]] || fail "tiled decode: ffprobe says '$probe', expected 96,64,17"
rc=0
"$sv" decode --model "$model" --latents "$work/v1.safetensors" --vae-tile 4 --vae-tile-overlap 3 \
  --out "$work/d2t.mkv" 2>"$work/err" || rc=$?
[[ $rc -eq 3 && ! -e "$work/d2t.mkv" ]] || fail "bad tile overlap: exit $rc, $(cat "$work/err")"
grep -q "overlap (3) must be positive and at most half the tile (4)" "$work/err" \
  || fail "unclear tiling error: $(cat "$work/err")"
# generate records a tiled decode in the sidecar (the video is not the exact decode).
"$sv" generate "${args[@]}" --vae-tile 4 --vae-tile-overlap 2 --out "$work/v7.mkv" 2>/dev/null
grep -qF '"vae_tiling"' "$work/v7.json" || fail "the sidecar of a tiled decode does not say so"
! grep -qF '"vae_tiling"' "$work/v6.json" || fail "an untiled decode's sidecar mentions tiling"
"$sv" encode --model "$model" --video "$work/v1.mp4" --out "$work/e1.h5" 2>/dev/null
[[ -f "$work/e1.h5" ]] || fail "encode wrote nothing"
if "$sv" encode --model "$model" --video "$work/v1.json" --out "$work/e2.h5" 2>"$work/err"; then
  fail "encode accepted a non-video"
fi
[[ $(wc -l <"$work/err") -eq 1 && ! -e "$work/e2.h5" ]] || fail "bad encode input: $(cat "$work/err")"
"$sv" encode-text --model "$model" --prompt "雨中的纸船 paper boat" >"$work/tokens.txt" 2>/dev/null
[[ -s "$work/tokens.txt" ]] || fail "encode-text printed nothing"
# Another seed: other latents.
"$sv" generate "${args[@]/11/12}" --out "$work/v3.mp4" --save-latents "$work/v3.safetensors" 2>/dev/null
! cmp -s "$work/v1.safetensors" "$work/v3.safetensors" || fail "different seeds gave the same latents"

# Starting from saved latents with no steps left reproduces nothing new: init-latents
# of the right shape are accepted, of the wrong shape rejected.
"$sv" generate "${args[@]}" --init-latents "$work/v1.safetensors" --out "$work/v4.mkv" 2>/dev/null
ffprobe -v error -select_streams v:0 -show_entries stream=codec_name -of csv=p=0 "$work/v4.mkv" | grep -q ffv1 \
  || fail ".mkv output is not FFV1"
if "$sv" generate --model "$model" --prompt x --frames 34 --height 64 --width 96 --steps 1 \
     --init-latents "$work/v1.safetensors" --out "$work/bad.mp4" 2>"$work/err"; then
  fail "wrong-shape init latents accepted"
fi
grep -q "initial latents are" "$work/err" || fail "unclear init-latents error: $(cat "$work/err")"
[[ ! -e "$work/bad.mp4" && ! -e "$work/bad.json" ]] || fail "failed run left output files"

# Nothing but finished files in the output directory.
if ls -A "$work" | grep -q '^\.tmp'; then fail "temporary files left behind"; fi
echo "generate: all checks passed"
