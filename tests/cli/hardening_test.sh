#!/usr/bin/env bash
# hardening_test.sh STEPVIDEO MODEL WORK: nothing a user asks for destroys their
# files or ends in garbage (issue 13). One check per row of the issue's table that is
# implemented; each would have failed before its fix. Every refusal: the documented
# exit code, one stderr line naming the culprit, and no file written or changed.
set -uo pipefail
sv=$1 model=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
S=(--frames 17 --height 64 --width 64 --steps 2)
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# refuse CODE REGEX CMD...: CMD exits CODE with exactly one stderr line matching REGEX.
refuse() {
  local code=$1 regex=$2 rc=0 err
  shift 2
  err=$("$@" 2>&1 >/dev/null) || rc=$?
  if [[ $rc != "$code" ]]; then fail "'$*' exited $rc, expected $code: $err"; return; fi
  if [[ $(wc -l <<<"$err") != 1 ]]; then fail "'$*' printed $(wc -l <<<"$err") stderr lines, expected 1: $err"; return; fi
  grep -Eq -- "$regex" <<<"$err" || fail "'$*': stderr does not match /$regex/: $err"
}
# ok CMD...: CMD succeeds (its output is kept in $work/last.log).
ok() { "$@" >"$work/last.log" 2>&1 || fail "'$*' failed: $(tail -n3 "$work/last.log")"; }
sum() { sha256sum "$1" | cut -d' ' -f1; }

# Row 1: init-model --force replaces only a directory it wrote.
mkdir u && echo x >u/thesis.txt
refuse 5 "u: not a model directory written by init-model" "$sv" init-model --preset tiny-random --force --out u
[[ $(cat u/thesis.txt 2>/dev/null) == x ]] || fail "init-model --force touched u/thesis.txt"
ok "$sv" init-model --preset tiny-random --out m
[[ -f m/stepvideo-init-model.json ]] || fail "init-model wrote no marker"
ok "$sv" init-model --preset tiny-random --force --seed 1 --out m
echo mine >m/notes.txt
refuse 5 "m: holds 1 file\(s\) init-model did not write \(notes.txt\)" "$sv" init-model --preset tiny-random --force --out m
[[ -f m/notes.txt ]] || fail "init-model --force removed m/notes.txt"
rm m/notes.txt
mkdir empty && ok "$sv" init-model --preset tiny-random --out empty

# Row 2: generate never replaces a video or a sidecar silently.
ok "$sv" generate --model m --prompt "a red kite" "${S[@]}" --out g.mp4
before=$(sum g.mp4)
refuse 5 "g.mp4: already exists; pass --overwrite" "$sv" generate --model m --prompt "a red kite" "${S[@]}" --out g.mp4
[[ $(sum g.mp4) == "$before" ]] || fail "the refused generate changed g.mp4"
ok "$sv" generate --model m --prompt "a red kite" "${S[@]}" --seed 3 --out g.mp4 --overwrite
echo mine >k.json
refuse 5 "k.json: already exists" "$sv" generate --model m --prompt "a red kite" "${S[@]}" --out k.mp4
[[ $(cat k.json) == mine && ! -e k.mp4 ]] || fail "generate --out k.mp4 touched k.json or wrote k.mp4"

# Row 3: run never writes over files it did not produce.
mkdir r && echo v >r/00001.mp4 && echo s >r/summary.json
printf 'x\n' >t.txt
refuse 5 "r: holds 2 file\(s\) that no stepvideo run here wrote \(00001.mp4, summary.json\)" \
  "$sv" run --model m --manifest t.txt --out r "${S[@]}"
[[ $(cat r/00001.mp4) == v && $(cat r/summary.json) == s && ! -e r/journal.jsonl ]] || fail "the refused run touched r/"
rm r/summary.json
rc=0; "$sv" run --model m --manifest t.txt --out r "${S[@]}" --allow-foreign-files >r.log 2>&1 || rc=$?
[[ $rc == 9 ]] || fail "run --allow-foreign-files with a taken name exited $rc, expected 9: $(tail -n3 r.log)"
grep -q "00001.mp4 exists and was not written by this run" r.log || fail "no message for the taken name: $(cat r.log)"
[[ $(cat r/00001.mp4) == v ]] || fail "run --allow-foreign-files replaced r/00001.mp4"

# Row 7: resume checks what it trusts.
printf 'a kite\na fox\n' >two.txt
ok "$sv" run --model m --manifest two.txt --out r2 "${S[@]}"
rm r2/00001.mp4
refuse 3 "r2: the run here was started with other options \(steps 2 -> 3\).*--new-run" \
  "$sv" run --model m --manifest two.txt --out r2 --frames 17 --height 64 --width 64 --steps 3
[[ ! -e r2/00001.mp4 ]] || fail "the refused run wrote r2/00001.mp4"
ok "$sv" run --model m --manifest two.txt --out r2 "${S[@]}"
grep -q "making 00001 (line 1) again: 00001.mp4 is missing" last.log || fail "the missing video was not redone: $(cat last.log)"
[[ -f r2/00001.mp4 ]] || fail "the missing video was not made again"
printf 'junk' >>r2/00002.mp4
ok "$sv" run --model m --manifest two.txt --out r2 "${S[@]}"
grep -q "making 00002 (line 2) again: 00002.mp4 changed size" last.log || fail "a changed video was not redone: $(cat last.log)"
ok "$sv" run --model m --manifest two.txt --out r2 --frames 17 --height 64 --width 64 --steps 3 --new-run
[[ $(grep -c '"event":"done"' r2/journal.jsonl) == 2 ]] || fail "--new-run did not make both items again"
ls r2/journal.20*.jsonl >/dev/null 2>&1 || fail "--new-run did not keep the earlier journal"

# Item 4: status exits non-zero for a run that failed, crashed or was preempted; --json.
rc=0; "$sv" status --out r2 >st.txt || rc=$?
[[ $rc == 0 ]] && grep -q "2/2 done" st.txt || fail "status of a complete run: exit $rc, $(cat st.txt)"
rc=0; "$sv" status --out r --json >st.json || rc=$?
[[ $rc == 9 ]] && grep -q '"state": "complete with failures"' st.json || fail "status --json of a run with failures: exit $rc, $(cat st.json)"
printf 'a slow kite\n' >slow.txt
"$sv" run --model m --manifest slow.txt --out r3 --frames 17 --height 64 --width 64 --steps 400 >r3.log 2>&1 &
pid=$!
for _ in $(seq 300); do grep -q "batch 0" r3.log && break; sleep 0.05; done
kill -9 "$pid"; wait "$pid" 2>/dev/null
rc=0; "$sv" status --out r3 >st.txt || rc=$?
[[ $rc == 1 ]] && grep -q "ended: crashed - the run was killed or crashed" st.txt || fail "status of a killed run: exit $rc, $(cat st.txt)"

# Row 4: a manifest number beyond double is one bad line with its number; the rest runs.
printf '{"id":"a","prompt":"ok"}\n{"id":"h","prompt":"ok","seed":1e400}\n' >o.jsonl
rc=0; "$sv" run --model m --manifest o.jsonl --out ro "${S[@]}" >ro.log 2>&1 || rc=$?
[[ $rc == 9 ]] || fail "run with a 1e400 seed exited $rc, expected 9"
grep -Eq "o.jsonl:2: bad line: .*(overflow|number)" ro.log || fail "no bad-line message for line 2: $(cat ro.log)"
[[ -f ro/a.mp4 ]] || fail "the valid line a did not run"

# Row 5: non-finite numbers are refused before any work; NaN latents are not a black video.
refuse 2 "--cfg-scale must be a finite number" "$sv" generate --model m --prompt p "${S[@]}" --cfg-scale inf --out i.mp4
refuse 2 "--cfg-scale must be a finite number" "$sv" generate --model m --prompt p "${S[@]}" --cfg-scale nan --out i.mp4
refuse 2 "--time-shift must be a finite number" "$sv" generate --model m --prompt p "${S[@]}" --time-shift inf --out i.mp4
printf '{"prompt":"ok","cfg_scale":1e300}\n' >c.jsonl
rc=0; "$sv" run --model m --manifest c.jsonl --out rc1 "${S[@]}" >rc1.log 2>&1 || rc=$?
[[ $rc == 9 ]] && grep -q "c.jsonl:1: bad line: 'cfg_scale' must be a finite number" rc1.log ||
  fail "a cfg_scale of 1e300 is not a bad line (exit $rc): $(cat rc1.log)"
ok "$sv" generate --model m --prompt "a red kite" "${S[@]}" --save-latents z.safetensors --out z.mp4
nan_latents() {  # a copy of z.safetensors with every value NaN (header kept)
  local hdr
  hdr=$(od -An -t u8 -N8 z.safetensors | tr -d ' ')
  cp z.safetensors nan.safetensors
  head -c $(($(stat -c %s z.safetensors) - 8 - hdr)) /dev/zero | tr '\0' '\377' |
    dd of=nan.safetensors bs=1 seek=$((8 + hdr)) conv=notrunc status=none
}
nan_latents
refuse 5 "nan.safetensors: the latents contain NaN or infinity" "$sv" decode --model m --latents nan.safetensors --out n.mp4
[[ ! -e n.mp4 ]] || fail "decode of NaN latents wrote n.mp4"
refuse 5 "nan.safetensors: the initial latents contain NaN or infinity" "$sv" generate --model m --prompt p "${S[@]}" --init-latents nan.safetensors --out n2.mp4
[[ ! -e n2.mp4 ]] || fail "generate from NaN latents wrote n2.mp4"

# Row 6: sizes have a maximum, and what cannot fit in memory is refused with the estimate.
refuse 2 "--frames must be between 17 and 1020" timeout 30 "$sv" generate --model m --prompt p --frames 1000000000 --out big.mp4
refuse 5 "needs about [0-9.]+ GiB \(weights .*\), but this process has [0-9.]+ GiB available" \
  timeout 30 "$sv" generate --model m --prompt p --frames 1020 --height 4096 --width 4096 --steps 2 --out big.mp4
printf '{"id":"small","prompt":"ok"}\n{"id":"huge","prompt":"ok","frames":1020,"height":4096,"width":4096}\n' >big.jsonl
rc=0; timeout 120 "$sv" run --model m --manifest big.jsonl --out rbig "${S[@]}" >rbig.log 2>&1 || rc=$?
[[ $rc == 9 && -f rbig/small.mp4 ]] || fail "run with one item too big for memory: exit $rc (expected 9, small done)"
grep -q "huge (line 2) failed: a batch of 1 x 1020 frames of 4096x4096 (w x h) needs about" rbig.log ||
  fail "the item too big for memory was not failed with the estimate: $(grep huge rbig.log)"

# Row 8: generate checks the VAE before any denoising step.
cp -r m mm && truncate -s 1000 mm/vae/vae_v2.safetensors
err=$("$sv" generate --model mm --prompt p "${S[@]}" --out t.mp4 2>&1 >/dev/null); rc=$?
[[ $rc == 4 ]] || fail "generate with a truncated VAE exited $rc, expected 4"
grep -q "denoise step" <<<"$err" && fail "generate denoised before finding the truncated VAE"

# Row 9: exit codes from the README's table.
refuse 2 "--shard '2/2'" "$sv" run --model m --manifest o.jsonl --out rs --shard 2/2
refuse 2 "layout" "$sv" run --model m --manifest o.jsonl --out rs --layout foo
refuse 5 "missing.safetensors: no such latents file" "$sv" decode --model m --latents missing.safetensors --out d.mp4

# Row 10: a file is written under the extension it asks for, or refused.
refuse 2 "e.npy: a tensor file must end in .safetensors, .h5 or .hdf5" "$sv" encode-text --model m --prompt p --out e.npy
ok "$sv" encode-text --model m --prompt p --out e.h5
head -c 8 e.h5 | od -An -c | grep -q "H   D   F" || fail "encode-text --out e.h5 is not an HDF5 file"
refuse 2 "x.npy: a tensor file must end" "$sv" generate --model m --prompt p "${S[@]}" --save-latents x.npy --out x.mp4
refuse 2 "layout" "$sv" run --model m --manifest o.jsonl --out rd --dry-run --layout foo
refuse 3 "tile \(-1\) must be 0 \(off\) or positive" "$sv" generate --model m --prompt p "${S[@]}" --vae-tile -1 --out v.mp4
ok "$sv" generate --model m --prompt "a red kite" "${S[@]}" --out UP.MP4
[[ -f UP.MP4 && -f UP.json ]] || fail "--out UP.MP4 did not write UP.MP4 and UP.json"

# Row 11: generate and run agree on what is valid; sizes round down as the README says.
refuse 2 "--prompt is empty" "$sv" generate --model m --prompt "  " "${S[@]}" --out e.mp4
refuse 2 "--seed must not be negative" "$sv" generate --model m --prompt p "${S[@]}" --seed -1 --out e.mp4
refuse 2 "--seed must not be negative" "$sv" run --model m --manifest o.jsonl --out rneg "${S[@]}" --seed -1
refuse 2 "--frames must be between 17 and 1020" "$sv" generate --model m --prompt p --frames 5 --height 64 --width 64 --out e.mp4
printf '{"prompt":"  "}\n{"prompt":"ok","seed":-1}\n{"prompt":"ok","frames":5}\n' >v.jsonl
rc=0; "$sv" run --model m --manifest v.jsonl --out rv "${S[@]}" --dry-run >rv.log 2>&1 || rc=$?
grep -q "v.jsonl:1: bad line: 'prompt' is empty" rv.log && grep -q "v.jsonl:2: bad line: 'seed' must not be negative" rv.log &&
  grep -q "v.jsonl:3: bad line: 'frames' must be between 17 and 1020" rv.log || fail "run does not refuse what generate refuses: $(cat rv.log)"
ok "$sv" generate --model m --prompt "a red kite" --frames 40 --height 70 --width 90 --steps 2 --out r.mp4
grep -q "rounded 40 frames of 90x70 (w x h) to 34 frames of 80x64 (w x h)" last.log || fail "no rounding note in w x h: $(cat last.log)"
grep -q "wrote r.mp4 (34 frames of 80x64 (w x h))" last.log || fail "the wrote line does not say 34 frames of 80x64 (w x h)"

# Issue 13 item 5: no abbreviations; log levels and JSON logs with the date.
refuse 2 "unrecognised option '--pro'|unknown option.*--pro" "$sv" generate --model m --pro p "${S[@]}" --out a.mp4
ok "$sv" generate --model m --prompt "a red kite" "${S[@]}" --out q.mp4 --quiet
[[ ! -s last.log || $(grep -cv '^q.mp4$' last.log) == 0 ]] || fail "--quiet still logs: $(cat last.log)"
ok "$sv" generate --model m --prompt "a red kite" "${S[@]}" --out j.mp4 --log-format json --progress-interval 0
grep -v '^j.mp4$' last.log | grep -vq '^{"time": "20[0-9][0-9]-[0-1][0-9]-[0-3][0-9]T.*"rank": 0, "level": ".*", "event": ' &&
  fail "--log-format json printed a line that is not a JSON log object: $(grep -v '^{' last.log | head -3)"
[[ $(grep -c '"event": "denoise_step"' last.log) == 2 ]] || fail "expected one denoise_step event per step"

if ((failures)); then echo "hardening: $failures check(s) failed"; exit 1; fi
echo "hardening: ok"
