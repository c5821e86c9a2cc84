#!/usr/bin/env bash
# label_test.sh STEPVIDEO MODEL_DIR WORK_DIR
# The labelling page end to end (issue 16 item 3): candidates from
# `run --samples-per-prompt 3`, `stepvideo label` on a free port of 127.0.0.1,
# nothing outside the run directory served, the page driven in headless
# Chromium (drive_label_page.py: videos play, three keyboard judgements are
# exactly the file's three lines, two tabs), racing judgements of one pair
# recorded once, a restart resuming from the file, bad inputs refused, and
# encode-dataset taking the preferred pairs in force.
set -euo pipefail
sv=$1 model=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../jobs/lib.sh"
rm -rf "$work" && mkdir -p "$work"
pid=
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; true' EXIT

m=$work/prompts.jsonl
echo '{"id":"kite","prompt":"a red kite over the sea","seed":7}' >"$m"
echo '{"id":"hill","prompt":"a green hill at noon","seed":8}' >>"$m"
run_rc rc "$sv" run --model "$model" --manifest "$m" --out "$work/run" --samples-per-prompt 3 --frames 17 \
  --height 64 --width 64 --steps 2 >"$work/run.log" 2>&1
[[ $rc == 0 ]] || { cat "$work/run.log"; fail "run --samples-per-prompt 3 exited $rc"; }
pairs=$work/pairs.jsonl

# start_label LOG: starts the server on a free port; sets pid and url.
start_label() {
  "$sv" label --candidates "$work/run" --out "$pairs" --port 0 >"$1" 2>&1 &
  pid=$!
  url=
  for _ in $(seq 1 100); do
    url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+/' "$1" || true)
    [[ -n $url ]] && break
    kill -0 $pid 2>/dev/null || { cat "$1"; fail "label exited before it listened"; }
    sleep 0.1
  done
  [[ -n $url ]] || { cat "$1"; fail "label printed no address within 10 s"; }
}

# stop_label: SIGINT, as Ctrl-C; it must exit 0 and say where the judgements are.
stop_label() {
  kill -INT $pid
  run_rc rc wait $pid
  pid=
  [[ $rc == 0 ]] || fail "label stopped by SIGINT exited $rc"
}

start_label "$work/label1.log"
grep -q "6 pair(s) of 2 prompt(s) from 6 candidate video(s); 0 judged, 0 skipped, 6 open" "$work/label1.log" ||
  fail "the start-up line does not count 6 pairs: $(cat "$work/label1.log")"
note "serving $url"

# Nothing but the page, the API and the candidates by index.
status_of() { curl -s --path-as-is -o "$work/body" -w '%{http_code}' "$url${1#/}"; }
for path in /video/../../../../etc/passwd /video/..%2f..%2f..%2fetc%2fpasswd //etc/passwd /etc/passwd \
  /../../etc/passwd /video/6 /video/-1 /video/%2fetc%2fpasswd "/video/$work/run/kite-s0.mp4" /run/kite-s0.mp4 \
  /kite-s0.mp4 /run.json; do
  code=$(status_of "$path")
  [[ $code == 404 ]] || fail "GET $path answered $code, expected 404"
  ! grep -q "root:" "$work/body" || fail "GET $path served /etc/passwd"
done
[[ $(status_of /) == 200 ]] && grep -q "stepvideo label" "$work/body" || fail "GET / did not serve the page"
code=$(curl -s -o "$work/part" -w '%{http_code}' -H 'Range: bytes=0-99' "${url}video/0")
[[ $code == 206 && $(stat -c %s "$work/part") == 100 ]] || fail "a byte range of /video/0 answered $code"
curl -s -o "$work/whole.mp4" "${url}video/0"
expect_video "$work/whole.mp4" 17
note "12 paths outside the API answered 404; /video/0 serves a decodable MP4 with byte ranges"

python3 "$here/drive_label_page.py" "$url" "$pairs" "$work" || fail "the browser checks failed (above)"
[[ -s $work/label.png ]] || fail "no screenshot kept"

# Ten tabs judging one open pair at the same moment: one judgement, nine 409s.
open_pair=$(curl -s "${url}api/next?tab=racer" | jq -r '.pair.id')
lines_before=$(wc -l <"$pairs")
racers=()
for i in $(seq 1 10); do
  curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' \
    -d "{\"tab\":\"t$i\",\"pair\":\"$open_pair\",\"choice\":\"right\"}" "${url}api/judge" >"$work/race.$i" &
  racers+=($!)
done
wait "${racers[@]}"
[[ $(cat "$work"/race.* | sort | uniq -c | tr -s ' ' | sed 's/^ //' | tr '\n' ' ') == "1 200 9 409 " ]] ||
  fail "ten racing judgements of $open_pair answered: $(cat "$work"/race.* | tr '\n' ' ')"
[[ $(($(wc -l <"$pairs") - lines_before)) == 1 && $(grep -c "\"id\":\"$open_pair\"" "$pairs") == 1 ]] ||
  fail "ten racing judgements of $open_pair appended $(($(wc -l <"$pairs") - lines_before)) lines"
code=$(curl -s -o "$work/body" -w '%{http_code}' -X POST -d '{"tab":"x","pair":"kite","choice":"left"}' "${url}api/judge")
[[ $code == 404 ]] || fail "judging an unknown pair answered $code"
code=$(curl -s -o "$work/body" -w '%{http_code}' -X POST -d '{"tab":"x","pair":"kite"}' "${url}api/judge")
[[ $code == 400 ]] || fail "a judgement without a choice answered $code"
note "ten racing judgements of $open_pair: one recorded, nine refused (409)"
stop_label
grep -q "label: stopped; 4 / 6 judged, 0 skipped" "$work/label1.log" || fail "no closing summary: $(tail -n2 "$work/label1.log")"

# A restart resumes from the file: the same progress, the open pairs only.
state=$(cat "$pairs")
start_label "$work/label2.log"
grep -q "4 judged, 0 skipped, 2 open" "$work/label2.log" || fail "the restart does not resume: $(cat "$work/label2.log")"
next=$(curl -s "${url}api/next?tab=after-restart" | jq -r '.pair.id')
jq -e -s --arg p "$next" '[.[] | select(.id == $p)] | map(.label) | (length == 0 or last == "undo")' "$pairs" >/dev/null ||
  fail "after the restart the page is given $next, which is judged"
stop_label
[[ $(cat "$pairs") == "$state" ]] || fail "a restart without judgements changed the pairs file"
note "restarted: 4 of 6 judged, the page is given open pair $next"

# Bad inputs: refused with the reason, nothing written.
echo '{"prompt":"p","chosen":"a.mp4","rejected":"b.mp4"}' >"$work/manifest.jsonl"
run_rc rc "$sv" label --candidates "$work/run" --out "$work/manifest.jsonl" --port 0 >"$work/bad1.log" 2>&1
[[ $rc == 5 ]] && grep -q "manifest.jsonl:1: not a judgement written by .stepvideo label." "$work/bad1.log" ||
  fail "a pairs manifest as --out: exit $rc: $(cat "$work/bad1.log")"
[[ $(cat "$work/manifest.jsonl") == '{"prompt":"p","chosen":"a.mp4","rejected":"b.mp4"}' ]] || fail "--out was changed"
mkdir -p "$work/empty"
run_rc rc "$sv" label --candidates "$work/empty" --out "$work/new.jsonl" --port 0 >"$work/bad2.log" 2>&1
[[ $rc == 5 ]] && grep -q "no prompt has two finished candidates" "$work/bad2.log" || fail "no candidates: exit $rc"
[[ ! -e $work/new.jsonl ]] || fail "a refused label created its --out"
python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(30)' >"$work/taken" &
holder=$!
for _ in $(seq 1 50); do [[ -s $work/taken ]] && break; sleep 0.1; done
run_rc rc "$sv" label --candidates "$work/run" --out "$pairs" --port "$(cat "$work/taken")" >"$work/bad3.log" 2>&1
kill $holder 2>/dev/null || true
[[ $rc == 3 ]] && grep -q "cannot listen on 127.0.0.1:$(cat "$work/taken")" "$work/bad3.log" || fail "a taken port: exit $rc"
note "refused: a file label did not write (5, untouched), no candidates (5, nothing created), a taken port (3)"

# encode-dataset takes the preferred pairs in force (ties, skips and undone pairs give nothing).
want=$(jq -s '[group_by(.id)[] | last | select(.label == "preferred")] | length' "$pairs")
run_rc rc "$sv" encode-dataset --model "$model" --manifest "$pairs" --out "$work/dataset" --frames 17 --height 64 \
  --width 64 >"$work/encode.log" 2>&1
[[ $rc == 0 ]] || { cat "$work/encode.log"; fail "encode-dataset of the pairs file exited $rc"; }
got=$(cat "$work"/dataset/index-r*.jsonl | jq -s '[.[] | select(.status == "ok" and .pair == true)] | length')
[[ $got == "$want" && $want -ge 2 ]] || fail "encode-dataset encoded $got pairs, the file has $want preferred in force"
grep -q "1 pair(s) judged a tie or skipped" "$work/encode.log" || fail "encode-dataset did not count the tie"
echo "PASS: label serves only the run's candidates, the page works in Chromium, judgements are exact and resumable"
