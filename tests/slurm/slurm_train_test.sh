#!/usr/bin/env bash
# slurm_train_test.sh STEPVIDEO MODEL WORK SLURM_DIR: slurm/train.sbatch on a real (local,
# single-node) Slurm cluster: `stepvideo train` over 2 tasks under srun --mpi=pmix gets
# SIGUSR1 mid-training (what --signal delivers before a time limit or preemption), every
# rank stops at one step with a checkpoint and exits 75, the template requeues the job,
# and the restarted job resumes from the same run directory to the last step. Its
# per-step losses and final checkpoint equal those of an uninterrupted 2-rank run.
set -euo pipefail
(($# == 4)) || { echo "usage: $0 STEPVIDEO MODEL WORK SLURM_DIR" >&2; exit 2; }
sv=$(realpath "$1") model=$(realpath "$2") work=$3 slurm_dir=$(realpath "$4")
rm -rf "$work" && mkdir -p "$work" && work=$(realpath "$work")
# shellcheck source=tests/train/lib.sh
source "$(dirname "$(realpath "$0")")/../train/lib.sh"
# shellcheck source=tests/slurm/slurm_lib.sh
source "$(dirname "$(realpath "$0")")/slurm_lib.sh"

export OMP_NUM_THREADS=1
make_dataset "$sv" "$model" "$work" 4
steps=100
train_args="--steps $steps --batch-size 2 --lr 1e-3 --checkpoint-every 10 --log-every 10"

# The reference: the same 2-rank run, uninterrupted, under mpirun.
read -r -a extra <<< "$train_args"
mpirun -np 2 --oversubscribe --allow-run-as-root "$sv" train --model "$model" --data "$work/data" \
  --out "$work/reference" "${extra[@]}" > "$work/reference.log" 2>&1 ||
  { cat "$work/reference.log"; fail "the uninterrupted mpirun run failed"; }

start_cluster
run=$work/run
jid=$(STEPVIDEO=$sv MODEL=$model DATA=$work/data OUT=$run EXTRA_ARGS="$train_args" \
  sbatch --parsable -n 2 -D "$work" -o "$work/job-%j.out" "$slurm_dir/train.sbatch") ||
  fail "sbatch refused the job"
echo "submitted job $jid"
log=$work/job-$jid.out
steps_done() { [[ -f $run/metrics.jsonl ]] && (($(wc -l < "$run/metrics.jsonl") >= 15)); }
wait_until 240 "15 steps are done" steps_done
job_gone && fail "job $jid finished before it could be preempted"
scancel --signal=USR1 "$jid" || fail "scancel --signal=USR1 failed"
requeued() { [[ $(job_field JobState) == PENDING && $(job_field Restarts) -ge 1 ]]; }
wait_until 120 "job $jid is requeued after SIGUSR1" requeued
grep -q 'restart 0: stepvideo exited 75' "$log" || fail "the job log does not say 'restart 0: stepvideo exited 75'"
grep -q 'restart 0: requeuing' "$log" || fail "the template did not requeue the job"
stopped_at=$(sed -n 's/.*stopping at step \([0-9]*\).*/\1/p' "$log" | sort -u)
[[ $(wc -l <<< "$stopped_at") == 1 && -n $stopped_at ]] || fail "the ranks stopped at steps '$stopped_at'"
((stopped_at < steps)) || fail "the job was stopped only at its last step"
echo "stopped at step $stopped_at of $steps with a checkpoint; requeued"
# Slurm holds a requeued job ~120 s (BeginTime): release it (not within the first second,
# see slurm_preempt_test.sh).
sleep 5
scontrol update JobId="$jid" StartTime=now || fail "cannot release the requeued job"
wait_until 300 "job $jid finished after its restart" job_gone
state=$(job_field JobState)
[[ $state == COMPLETED ]] || fail "job $jid ended $state after the restart, expected COMPLETED"
grep -q 'restart 1: stepvideo exited 0' "$log" || fail "the restarted job did not log 'stepvideo exited 0'"
grep -q "resuming .* at step $stopped_at of $steps" "$log" || fail "the restarted job did not resume at $stopped_at"

# Same per-step losses, each step once, and the same final weights, moments and EMA.
[[ $(jq -c '[.step, .loss, .grad_norm]' "$run/metrics.jsonl") == \
   "$(jq -c '[.step, .loss, .grad_norm]' "$work/reference/metrics.jsonl")" ]] ||
  fail "the preempted run's per-step losses differ from the uninterrupted run's"
cmp "$run/checkpoints/step-$steps.h5" "$work/reference/checkpoints/step-$steps.h5" ||
  fail "the final checkpoints differ"
echo "slurm train: ok (job $jid stopped by USR1 at step $stopped_at, requeued, resumed; losses and final" \
  "checkpoint identical to an uninterrupted run's)"
