#!/usr/bin/env bash
# `bench train --layout` under real ranks: for dp=2, tp=2, sp=2 (2 ranks) and
# tp=2 x sp=2, sp=2 x dp=2 (4 ranks) the bytes the busiest rank sends in a
# training step equal the analytic count the benchmark prints beside them,
# also when the step ends with AdamW (--optimizer on) or ZeRO-1 (--zero 1);
# ZeRO-1 divides the optimizer state per rank by the dp x sp size (up to the
# buckets' padding).
# bench_bytes_test.sh SV, with MPIEXEC ("mpirun -np") and MPIEXEC_FLAGS in the environment.
set -euo pipefail
SV=$1
source "$(dirname "$0")/lib.sh"
read -r -a MPI <<< "$MPIEXEC"
read -r -a MPI_FLAGS <<< "${MPIEXEC_FLAGS:-}"
SMALL=(--heads 4 --layers 2 --caption 256 --text 32 --frames 2 --height 8 --width 6 --reps 1)
declare -A STATE
for run in "2 dp=2" "2 tp=2" "2 sp=2" "4 tp=2,sp=2" "4 sp=2,dp=2" "2 dp=2 --optimizer on" "2 dp=2 --zero 1" \
           "4 sp=2,dp=2 --zero 1" "4 tp=2,dp=2 --zero 1"; do
  read -r ranks layout extra <<< "$run"
  # shellcheck disable=SC2086
  line=$("${MPI[@]}" "$ranks" "${MPI_FLAGS[@]}" "$SV" bench train "${SMALL[@]}" --layout "$layout" ${extra:-} \
    2>/dev/null) || fail "$layout ${extra:-}: bench train failed"
  STATE["$layout ${extra:-}"]=$(jq -r .optimizer_state_bytes_max_rank <<< "$line")
  jq -e '.bytes_sent_per_step_max_rank > 0 and .bytes_sent_per_step_max_rank == .bytes_sent_per_step_analytic' \
    <<< "$line" > /dev/null || fail "$layout: $(jq -c '{bytes_sent_per_step_max_rank, bytes_sent_per_step_analytic}' <<< "$line")"
  echo "$layout ${extra:-}: $(jq -r .bytes_sent_per_step_max_rank <<< "$line") bytes per step, as counted;" \
    "optimizer state $(jq -r .optimizer_state_bytes_max_rank <<< "$line") bytes"
done
# Every rank of dp=2 holds all moments without ZeRO; with it each holds its
# share (each bucket padded to a multiple of the group: a few bytes more).
full=${STATE["dp=2 --optimizer on"]}
for run in "dp=2 --zero 1:2" "sp=2,dp=2 --zero 1:4"; do
  share=${STATE["${run%:*}"]} n=${run#*:}
  ((full > 0 && share * n >= full && share * n - full <= 1024)) ||
    fail "${run%:*}: optimizer state $share bytes per rank, not 1/$n of $full"
done
echo "PASS"
