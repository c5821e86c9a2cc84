#!/usr/bin/env bash
# slurm_generate_test.sh STEPVIDEO MODEL WORK SLURM_DIR: on a real (local, single-node)
# Slurm cluster, slurm/generate.sbatch runs `stepvideo run` over 2 tasks under
# srun --mpi=pmix, and slurm/generate-array.sbatch runs a 2-task array of shards into
# one output tree; each generates every item once. Fails, never skips, when the
# cluster cannot start: a broken Slurm setup must not pass unnoticed.
set -euo pipefail
(($# == 4)) || { echo "usage: $0 STEPVIDEO MODEL WORK SLURM_DIR" >&2; exit 2; }
sv=$(realpath "$1") model=$(realpath "$2") work=$3 slurm_dir=$(realpath "$4")
rm -rf "$work" && mkdir -p "$work" && work=$(realpath "$work")
# shellcheck source=tests/slurm/slurm_lib.sh
source "$(dirname "$(realpath "$0")")/slurm_lib.sh"

start_cluster
ids=(kite fox lantern)
write_manifest "$work/manifest.jsonl" 4 "${ids[@]}"
export OMP_NUM_THREADS=1
# No LAYOUT: the 2 ranks are 2 data-parallel replicas sharing the manifest.
jid=$(STEPVIDEO=$sv MODEL=$model MANIFEST=$work/manifest.jsonl OUT=$work/out \
  sbatch --parsable -n 2 -D "$work" -o "$work/job-%j.out" "$slurm_dir/generate.sbatch") ||
  fail "sbatch refused the job"
# The array runs beside it (the node has room for both): shard K/2 in each task.
aids=(a1 a2 a3)
write_manifest "$work/array.jsonl" 4 "${aids[@]}"
array_jid=$(STEPVIDEO=$sv MODEL=$model MANIFEST=$work/array.jsonl OUT=$work/out-array \
  sbatch --parsable --array=0-1 -n 1 -D "$work" -o "$work/job-array-%A_%a.out" \
  "$slurm_dir/generate-array.sbatch") || fail "sbatch refused the array job"
echo "submitted job $jid and array job $array_jid"
wait_until 240 "job $jid finished" job_gone
array_gone() { [[ -z $(squeue -h -r -j "$array_jid" 2>/dev/null) ]]; }
wait_until 120 "array job $array_jid finished" array_gone

log=$work/job-$jid.out
state=$(job_field JobState)
[[ $state == COMPLETED ]] || fail "job $jid ended $state, expected COMPLETED"
grep -q 'stepvideo exited 0' "$log" || fail "the job log does not say 'stepvideo exited 0'"
check_outputs "$work/out" "${ids[@]}"
[[ -f $work/out/summary.json ]] || fail "no summary.json"

for k in 0 1; do
  grep -q "stepvideo exited 0: every item of shard $k/2 done" "$work/job-array-${array_jid}_$k.out" ||
    fail "array task $k did not log 'stepvideo exited 0' for shard $k/2"
  [[ -f $work/out-array/journal.shard-$k-of-2.jsonl ]] || fail "no journal for shard $k/2"
done
check_outputs "$work/out-array" "${aids[@]}"
echo "slurm generate: ok (job $jid: ${#ids[@]} items over 2 tasks; array $array_jid: ${#aids[@]} items in 2 shards)"
