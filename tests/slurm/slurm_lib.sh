# shellcheck shell=bash disable=SC2154  # sv, model, work, slurm_dir come from the sourcing test
# slurm_lib.sh: sourced by the Slurm tests. A private cluster per test (always
# stopped on exit), job polling, and the checks on a `stepvideo run` output tree.
# Callers set: sv model work slurm_dir (absolute paths).

cluster="" jid="" deadline=$((SECONDS + ${SLURM_TEST_BUDGET:-540}))

dump() {
  echo "----- diagnostics -----" >&2
  if [[ -n $jid ]]; then
    scontrol show job "$jid" 2>/dev/null | sed 's/^/  /' >&2 || true
    local f
    for f in "$work"/job-*.out; do
      [[ -f $f ]] && { echo "----- $f -----" >&2; tail -n 60 "$f" >&2; }
    done
  fi
  if [[ -n $cluster && -d $cluster/log ]]; then
    for f in "$cluster"/log/*.log; do echo "----- tail of $f -----" >&2; tail -n 15 "$f" >&2; done
  fi
}

fail() { echo "FAIL: $*" >&2; dump; exit 1; }

stop_cluster() {
  [[ -n $cluster ]] || return 0
  "$slurm_dir/local_cluster.sh" stop "$cluster" >/dev/null 2>&1 || true
  cp -r "$cluster/log" "$work/cluster-logs" 2>/dev/null || true  # kept for a post-mortem
  rm -rf "$cluster"
  cluster=""
}

# Starts the cluster (in a short /tmp path: socket paths are limited) and exports SLURM_CONF.
start_cluster() {
  trap stop_cluster EXIT
  trap 'exit 1' INT TERM
  cluster=$(mktemp -d /tmp/svslurm.XXXXXX)
  local line
  line=$("$slurm_dir/local_cluster.sh" start "$cluster") ||
    fail "the local Slurm cluster did not start (slurm-wlm and munge installed? running as root?)"
  eval "$line"
  sinfo -h >/dev/null || fail "sinfo cannot reach the local cluster"
}

# write_manifest FILE STEPS ID...: tiny items (17 frames of 64x64).
write_manifest() {
  local file=$1 steps=$2 id seed=1
  shift 2
  : >"$file"
  for id in "$@"; do
    printf '{"id":"%s","prompt":"a paper boat on a pond, shot %d","seed":%d,"frames":17,"height":64,"width":64,"steps":%d}\n' \
      "$id" "$seed" "$seed" "$steps" >>"$file"
    seed=$((seed + 1))
  done
}

# job_field FIELD: a field of `scontrol show job` for $jid (e.g. JobState, Restarts, Reason).
job_field() { scontrol show job "$jid" 2>/dev/null | grep -o "\b$1=[^ ]*" | head -n1 | cut -d= -f2; }

# The number of "done" records of ID in every journal of OUT.
done_records() {
  cat "$1"/journal*.jsonl 2>/dev/null | grep -E '"event": *"done"' | grep -cE "\"id\": *\"$2\"" || true
}
done_total() { cat "$1"/journal*.jsonl 2>/dev/null | grep -cE '"event": *"done"' || true; }

# wait_until SECONDS WHAT COMMAND...: polls COMMAND twice a second; fails after SECONDS (or the test budget).
wait_until() {
  local limit=$((SECONDS + $1)) what=$2
  shift 2
  ((limit < deadline)) || limit=$deadline
  until "$@"; do
    ((SECONDS < limit)) || fail "timed out waiting until $what"
    sleep 0.5
  done
}

job_gone() { [[ -z $(squeue -h -j "$jid" 2>/dev/null) ]]; }

# check_outputs OUT ID...: every item done exactly once, its video decodes to 17 frames of
# 64x64, and no half-written files or saved trajectories are left behind.
check_outputs() {
  local out=$1 id n probe
  shift
  for id in "$@"; do
    n=$(done_records "$out" "$id")
    [[ $n == 1 ]] || fail "item $id has $n \"done\" records in $out/journal*.jsonl, expected exactly 1"
    [[ -f $out/$id.mp4 ]] || fail "$out/$id.mp4 is missing"
    probe=$(ffprobe -v error -count_frames -select_streams v:0 \
      -show_entries stream=width,height,nb_read_frames -of csv=p=0 "$out/$id.mp4") ||
      fail "$out/$id.mp4 does not decode"
    [[ $probe == "64,64,17" ]] || fail "$out/$id.mp4: ffprobe says $probe, expected 64,64,17"
  done
  local left
  left=$(find "$out" \( -name '.tmp.*' -o -name '*.tmp' \) -print)
  [[ -z $left ]] || fail "half-written files left: $left"
  if [[ -d $out/.partial ]]; then
    left=$(find "$out/.partial" -mindepth 1 -print)
    [[ -z $left ]] || fail "saved trajectories left in $out/.partial: $left"
  fi
  left=$(find "$out" -maxdepth 1 -name 'run*.lock' -print)
  [[ -z $left ]] || fail "run lock left: $left"
}
