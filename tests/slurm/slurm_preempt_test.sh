#!/usr/bin/env bash
# slurm_preempt_test.sh STEPVIDEO MODEL WORK SLURM_DIR: preemption on a real (local)
# Slurm cluster, twice in one job: first the ranks get SIGUSR1 (what --signal
# delivers before a time limit or preemption) and generate.sbatch requeues the job;
# then `scontrol requeue` (SIGTERM, Slurm requeues). Each time every rank saves and
# exits 75 and the restarted job resumes from the same --out; in the end every item
# is done exactly once and nothing half-written or saved is left behind.
set -euo pipefail
(($# == 4)) || { echo "usage: $0 STEPVIDEO MODEL WORK SLURM_DIR" >&2; exit 2; }
sv=$(realpath "$1") model=$(realpath "$2") work=$3 slurm_dir=$(realpath "$4")
rm -rf "$work" && mkdir -p "$work" && work=$(realpath "$work")
# shellcheck source=tests/slurm/slurm_lib.sh
source "$(dirname "$(realpath "$0")")/slurm_lib.sh"

start_cluster
ids=(p1 p2 p3 p4 p5 p6)
write_manifest "$work/manifest.jsonl" 20 "${ids[@]}"
out=$work/out
export OMP_NUM_THREADS=1
# sp=2: one replica over both ranks, so the stop must be agreed between them.
jid=$(STEPVIDEO=$sv MODEL=$model MANIFEST=$work/manifest.jsonl OUT=$out LAYOUT=sp=2 \
  sbatch --parsable -n 2 -D "$work" -o "$work/job-%j.out" "$slurm_dir/generate.sbatch") ||
  fail "sbatch refused the job"
echo "submitted job $jid"
log=$work/job-$jid.out
# preempt N RESTARTS COMMAND...: once N items are done, stops the running job with COMMAND,
# waits until it is pending again with RESTARTS restarts, and releases it at once.
preempt() {
  local n=$1 restarts=$2 done_now
  shift 2
  enough_done() { (($(done_total "$out") >= n)); }
  wait_until 240 "$n item(s) are done" enough_done
  job_gone && fail "job $jid finished before '$*' could preempt it (items too fast?)"
  echo "$(done_total "$out") item(s) done: $*"
  "$@" || fail "'$*' failed"
  requeued() { [[ $(job_field JobState) == PENDING && $(job_field Restarts) -ge $restarts ]]; }
  wait_until 120 "job $jid is requeued after '$*'" requeued
  done_now=$(done_total "$out")
  ((done_now < ${#ids[@]})) || fail "all items finished before '$*' took effect"
  echo "requeued with $done_now of ${#ids[@]} items done," \
    "$(find "$out/.partial" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l) saved batch(es) in .partial/"
  # Slurm holds a requeued job ~120 s (BeginTime): skip that, but not at once: started
  # within a second of the requeue, slurmd still holds the previous run's credential as
  # revoked and kills the job ("Job credential revoked", JobState=FAILED).
  sleep 5
  scontrol update JobId="$jid" StartTime=now || fail "cannot release the requeued job"
}

# 1. The --signal route: USR1 to the ranks; they exit 75 and the template requeues the job.
preempt 1 1 scancel --signal=USR1 "$jid"
grep -q 'restart 0: stepvideo exited 75' "$log" || fail "the job log does not say 'restart 0: stepvideo exited 75'"
grep -q 'restart 0: requeuing' "$log" || fail "the template did not requeue the job itself"
# 2. Slurm's own requeue (as for preemption and `scontrol requeue`): SIGTERM to everything,
#    the ranks still save; the template must not requeue a second time.
preempt 3 2 scontrol requeue "$jid"
grep -q 'restart 1: stepvideo exited 75' "$log" || fail "the job log does not say 'restart 1: stepvideo exited 75'"
grep -q 'restart 1: requeuing' "$log" && fail "the template requeued a job that Slurm was requeuing"

wait_until 300 "job $jid finished after its restarts" job_gone
state=$(job_field JobState)
[[ $state == COMPLETED ]] || fail "job $jid ended $state after the restarts, expected COMPLETED"
grep -q 'restart 2: stepvideo exited 0' "$log" || fail "the twice restarted job did not log 'stepvideo exited 0'"
check_outputs "$out" "${ids[@]}"
echo "slurm preempt: ok (job $jid stopped by USR1 and by scontrol requeue, resumed twice, all ${#ids[@]} items done once)"
