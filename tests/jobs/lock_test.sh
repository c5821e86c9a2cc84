#!/usr/bin/env bash
# lock_test.sh STEPVIDEO MODEL_DIR WORK_DIR
# One live run per output directory: two runs writing the same journal and
# videos would corrupt both. A second run is refused (exit 3, naming the
# holder) without disturbing the first; a lock whose run is gone (dead pid, a
# pid reused by another process, a zombie) is taken over with a warning; a lock
# that may be live (another host's, or a running process that matches its pid
# and start time) is respected.
set -euo pipefail
sv=$1 model=$2 work=$3
source "$(dirname "$0")/lib.sh"
unset SLURM_JOB_ID  # inside one Slurm job both runs would count as the same job
rm -rf "$work" && mkdir -p "$work"
host=$(hostname)

m=$work/m.jsonl
for i in 1 2 3 4 5 6; do printf '{"id":"l%d","prompt":"lock test %d","seed":%d}\n' "$i" "$i" "$i"; done >"$m"
args=(--model "$model" --manifest "$m" "${TINY_ARGS[@]}")

# (a) A live run holds the lock.
out=$work/live
"$sv" run "${args[@]}" --out "$out" >"$work/first.log" 2>&1 &
first=$! other= parent=
trap 'kill $first $other $parent 2>/dev/null || true' EXIT  # a failed check leaves nothing behind
# run.json (for status) is written just after the lock is taken.
for _ in $(seq 1 200); do [[ -s $out/run.lock && -s $out/run.json ]] && break; sleep 0.05; done
[[ -s $out/run.lock && -s $out/run.json ]] || fail "the first run wrote no run.lock and run.json within 10 s"
grep -q "\"pid\":$first" "$out/run.lock" || fail "run.lock does not name pid $first: $(cat "$out/run.lock")"
status_text status "$out" 0
grep -q "running on $host pid $first" <<<"$status" ||
  fail "status during the run does not say 'running on $host pid $first': $status"
run_rc rc "$sv" run "${args[@]}" --out "$out" >"$work/second.log" 2>&1
kill -0 "$first" 2>/dev/null ||
  fail "the first run ended before the second was refused; the test needs a longer first run"
[[ $rc == 3 ]] || { cat "$work/second.log"; fail "a second run on a locked --out exited $rc, expected 3"; }
grep -q "another run is using this output directory" "$work/second.log" ||
  fail "the refusal does not say why: $(cat "$work/second.log")"
grep -q "$host pid $first" "$work/second.log" || fail "the refusal does not name the holder '$host pid $first'"
run_rc rc wait "$first"
first=  # reaped: the number may be reused
[[ $rc == 0 ]] || { cat "$work/first.log"; fail "the first run exited $rc after the refused second run"; }
[[ $(grep -c '"event":"start"' "$out/journal.jsonl") == 1 ]] || fail "the refused run wrote to the journal"
for i in 1 2 3 4 5 6; do
  [[ $(journal_count "$out/journal.jsonl" done "l$i") == 1 ]] || fail "l$i is not done exactly once"
  expect_video "$out/l$i.mp4" 17
done
expect_no_leftovers "$out"
note "(a) second run refused while the first ran: $(grep -o 'another run.*' "$work/second.log" | head -c 160)"

# (b) Stale locks: the run that wrote them is gone. A holder is its pid and
# start time (field 22 of /proc/PID/stat; pids recycle); a zombie has finished;
# a lock without start_ticks (older runs) counts only a process named stepvideo.
one=$work/one.jsonl
head -n1 "$m" >"$one"
start_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $20}'; }
sleep 0 & dead=$!
wait "$dead"
kill -0 "$dead" 2>/dev/null && fail "pid $dead should be dead"
sleep 300 & other=$!
# A zombie: a child of a process that never reaps it.
( sleep 0.1 & echo $! >"$work/zombie.pid"; exec sleep 300 ) & parent=$!
sleep 0.5
zombie=$(cat "$work/zombie.pid")
[[ $(sed 's/.*) //' "/proc/$zombie/stat" | cut -d' ' -f1) == Z ]] || fail "pid $zombie is not a zombie"
declare -A lock_pid=([dead]=$dead [other]=$other [recycled]=$other [zombie]=$zombie)
declare -A ticks=([dead]= [other]= [recycled]=$(($(start_ticks "$other") + 1)) [zombie]=$(start_ticks "$zombie"))
for kind in dead other recycled zombie; do
  out=$work/stale-$kind
  mkdir -p "$out"
  pid=${lock_pid[$kind]}
  extra=${ticks[$kind]:+\"start_ticks\":${ticks[$kind]},}
  printf '{"host":"%s","pid":%d,%s"since":%d,"slurm_job":""}\n' "$host" "$pid" "$extra" "$(date +%s)" >"$out/run.lock"
  run_rc rc "$sv" run --model "$model" --manifest "$one" "${TINY_ARGS[@]}" --out "$out" >"$out.log" 2>&1
  [[ $rc == 0 ]] || { cat "$out.log"; fail "a run over a stale lock ($kind pid $pid) exited $rc, expected 0"; }
  grep -q "taking over the lock.*$host pid $pid" "$out.log" ||
    fail "no 'taking over the lock' warning naming $host pid $pid in $out.log ($kind)"
  expect_video "$out/l1.mp4" 17
  [[ ! -e $out/run.lock ]] || fail "the lock stayed after the run over a stale lock ($kind)"
done
note "(b) stale locks taken over: dead pid, live non-stepvideo pid (no start time), recycled pid, zombie"

# (c) Locks that may be live are respected: refused (exit 3), lock untouched,
# nothing written. Another host's (cannot be checked); a live process whose
# pid and start time match the lock.
declare -A remote=(
  [elsewhere]='{"host":"elsewhere-node-17","pid":4242,"since":1,"slurm_job":""}'
  [running]=$(printf '{"host":"%s","pid":%d,"start_ticks":%s,"since":1,"slurm_job":""}' "$host" "$other" "$(start_ticks "$other")")
)
declare -A holder=([elsewhere]="elsewhere-node-17 pid 4242" [running]="$host pid $other")
for kind in elsewhere running; do
  out=$work/held-$kind
  mkdir -p "$out"
  echo "${remote[$kind]}" >"$out/run.lock"
  run_rc rc "$sv" run --model "$model" --manifest "$one" "${TINY_ARGS[@]}" --out "$out" >"$out.log" 2>&1
  [[ $rc == 3 ]] || { cat "$out.log"; fail "a live lock ($kind): exit $rc, expected 3"; }
  grep -q "another run is using this output directory (${holder[$kind]}" "$out.log" ||
    fail "the refusal does not name ${holder[$kind]}: $(cat "$out.log")"
  [[ $(cat "$out/run.lock") == "${remote[$kind]}" ]] || fail "the refused run changed the lock ($kind)"
  [[ ! -e $out/l1.mp4 && ! -e $out/journal.jsonl ]] || fail "the refused run wrote outputs ($kind)"
done

# (d) The shards of a job array share one --out and start at the same moment:
# a sibling's lock exists (empty, for an instant) before its plan, and its
# video is renamed into place before the sidecar that proves whose it is.
# Neither is a foreign file; a file no plan here mentions still is.
out=$work/shards-lock
mkdir -p "$out" && : >"$out/run.shard-1-of-2.lock"
run_rc rc "$sv" run --model "$model" --manifest "$one" "${TINY_ARGS[@]}" --out "$out" --shard 0/2 >"$out.log" 2>&1
[[ $rc == 0 ]] || { cat "$out.log"; fail "shard 0/2 beside a sibling's fresh lock exited $rc, expected 0"; }
expect_video "$out/l1.mp4" 17
[[ -e $out/run.shard-1-of-2.lock && ! -s $out/run.shard-1-of-2.lock ]] || fail "shard 0/2 touched its sibling's lock"
out=$work/shards-video
mkdir -p "$out" && echo v >"$out/l2.mp4"
echo '{"run_id":"sibling-run","shard_suffix":".shard-1-of-2","ids":["l2"]}' >"$out/run.shard-1-of-2.json"
run_rc rc "$sv" run --model "$model" --manifest "$one" "${TINY_ARGS[@]}" --out "$out" --shard 0/2 >"$out.log" 2>&1
[[ $rc == 0 ]] || { cat "$out.log"; fail "shard 0/2 beside a sibling's video without its sidecar yet exited $rc, expected 0"; }
[[ $(cat "$out/l2.mp4") == v ]] || fail "shard 0/2 changed its sibling's l2.mp4"
out=$work/shards-stray
mkdir -p "$out" && : >"$out/run.shard-1-of-2.lock" && echo v >"$out/stray.mp4"
run_rc rc "$sv" run --model "$model" --manifest "$one" "${TINY_ARGS[@]}" --out "$out" --shard 0/2 >"$out.log" 2>&1
[[ $rc == 5 ]] || { cat "$out.log"; fail "shard 0/2 beside a stray stray.mp4 exited $rc, expected 5"; }
grep -q "holds 1 file(s) that no stepvideo run here wrote (stray.mp4)" "$out.log" ||
  fail "the refusal does not name stray.mp4 alone: $(cat "$out.log")"
note "(d) a sibling shard's fresh lock and its video before the sidecar are not foreign; a stray file is"
echo "PASS: live lock refused (exit 3) and kept; stale locks taken over and removed; possibly live locks respected; shards share --out"
