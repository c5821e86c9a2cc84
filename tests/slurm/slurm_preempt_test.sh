#!/usr/bin/env bash
# slurm_preempt_test.sh STEPVIDEO MODEL WORK SLURM_DIR: preemption on a real (local)
# Slurm cluster, three times in one job: the ranks get SIGUSR1 (what --signal delivers
# before a time limit or preemption) and generate.sbatch requeues the job; `scontrol
# requeue` (SIGTERM to every process, Slurm requeues); SIGTERM to the batch shell alone
# (passed on as SIGUSR1; the template requeues). Each time every rank saves and exits 75
# well inside KillWait, nobody is SIGKILLed, and the restarted job resumes from the same
# --out; in the end every item is done exactly once and nothing half-written or saved is
# left behind.
set -euo pipefail
(($# == 4)) || { echo "usage: $0 STEPVIDEO MODEL WORK SLURM_DIR" >&2; exit 2; }
sv=$(realpath "$1") model=$(realpath "$2") work=$3 slurm_dir=$(realpath "$4")
rm -rf "$work" && mkdir -p "$work" && work=$(realpath "$work")
# shellcheck source=tests/slurm/slurm_lib.sh
source "$(dirname "$(realpath "$0")")/slurm_lib.sh"

start_cluster
# Enough items, slow enough (60 steps), that three preemptions always find some left.
ids=(p1 p2 p3 p4 p5 p6 p7 p8 p9 p10 p11 p12)
write_manifest "$work/manifest.jsonl" 60 "${ids[@]}"
out=$work/out
export OMP_NUM_THREADS=1
# The time Slurm gives processes between SIGTERM and SIGKILL (local_cluster.sh sets 30 s).
kill_wait=$(scontrol show config | sed -n 's/^KillWait *= *\([0-9]*\).*/\1/p')
[[ -n $kill_wait ]] || fail "cannot read KillWait from scontrol show config"
# sp=2: one replica over both ranks, so the stop must be agreed between them.
jid=$(STEPVIDEO=$sv MODEL=$model MANIFEST=$work/manifest.jsonl OUT=$out LAYOUT=sp=2 \
  sbatch --parsable -n 2 -D "$work" -o "$work/job-%j.out" "$slurm_dir/generate.sbatch") ||
  fail "sbatch refused the job"
echo "submitted job $jid"
log=$work/job-$jid.out
# preempt RESTARTS COMMAND...: once the job runs again and has finished an item more than
# before (so its ranks are up and working, whatever the previous stop left done), stops it
# with COMMAND, waits until it is pending again with RESTARTS restarts, checks that the
# ranks stopped cleanly well inside KillWait, and releases the job at once.
preempt() {
  local restarts=$1 base done_now t0 at stopped_s
  shift
  base=$(done_total "$out")
  working() { [[ $(job_field JobState) == RUNNING ]] && (($(done_total "$out") > base)); }
  wait_until 240 "job $jid runs and finishes an item more than the $base done" working
  job_gone && fail "job $jid finished before '$*' could preempt it (items too fast?)"
  echo "$(done_total "$out") item(s) done: $*"
  t0=$(date +%s)
  "$@" || fail "'$*' failed"
  requeued() { [[ $(job_field JobState) == PENDING && $(job_field Restarts) -ge $restarts ]]; }
  wait_until 120 "job $jid is requeued after '$*'" requeued
  done_now=$(done_total "$out")
  ((done_now < ${#ids[@]})) || fail "all items finished before '$*' took effect"
  # What Slurm guarantees after SIGTERM is KillWait seconds, then SIGKILL: the ranks must
  # have saved and left on their own well before, not been killed.
  grep -q "restart $((restarts - 1)): stepvideo exited 75" "$log" ||
    fail "the job log does not say 'restart $((restarts - 1)): stepvideo exited 75' after '$*'"
  at=$(grep "restart $((restarts - 1)): stepvideo exited 75" "$log" | head -n1 | sed 's/^\[\([^]]*\)\].*/\1/')
  stopped_s=$(($(date -d "$at" +%s) - t0))
  ((stopped_s <= kill_wait / 2)) ||
    fail "the ranks took ${stopped_s} s to stop after '$*' (KillWait ${kill_wait} s)"
  ! grep -qE 'tasks? [0-9-]+: Killed' "$log" ||
    fail "a rank was killed instead of stopping (srun: ... Killed)"
  echo "requeued with $done_now of ${#ids[@]} items done, stopped ${stopped_s} s after the signal," \
    "$(find "$out/.partial" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l) saved batch(es) in .partial/"
  # Slurm holds a requeued job ~120 s (BeginTime): skip that, but not at once: started
  # within a second of the requeue, slurmd still holds the previous run's credential as
  # revoked and kills the job ("Job credential revoked", JobState=FAILED).
  sleep 5
  scontrol update JobId="$jid" StartTime=now || fail "cannot release the requeued job"
}

# 1. The --signal route: USR1 to the ranks; they exit 75 and the template requeues the job.
preempt 1 scancel --signal=USR1 "$jid"
grep -q 'restart 0: requeuing' "$log" || fail "the template did not requeue the job itself"
# 2. Slurm's own requeue (as for preemption and `scontrol requeue`): SIGTERM to everything,
#    srun included; the ranks still save; the template must not requeue a second time.
preempt 2 scontrol requeue "$jid"
grep -q 'restart 1: requeuing' "$log" && fail "the template requeued a job that Slurm was requeuing"
# 3. SIGTERM to the batch shell alone (a site's tooling, a user's kill): the template must
#    pass it on as USR1 (srun would turn SIGTERM into SIGKILL of the ranks) and requeue.
preempt 3 scancel --batch --signal=TERM "$jid"
grep -q 'restart 2: got SIGTERM: passing SIGUSR1 to the ranks' "$log" ||
  fail "the template did not pass the shell's SIGTERM on as SIGUSR1"
grep -q 'restart 2: requeuing' "$log" || fail "the template did not requeue the job after its SIGTERM"

wait_until 300 "job $jid finished after its restarts" job_gone
state=$(job_field JobState)
[[ $state == COMPLETED ]] || fail "job $jid ended $state after the restarts, expected COMPLETED"
grep -q 'restart 3: stepvideo exited 0' "$log" || fail "the thrice restarted job did not log 'stepvideo exited 0'"
continued=$(cat "$out"/journal*.jsonl | grep -cE '"continued_from_step"|"event": *"suspended"' || true)
echo "suspended or continued batch records: $continued"
check_outputs "$out" "${ids[@]}"
echo "slurm preempt: ok (job $jid stopped by USR1, scontrol requeue and SIGTERM to its shell, resumed three times, all ${#ids[@]} items done once)"
