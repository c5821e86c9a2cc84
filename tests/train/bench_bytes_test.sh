#!/usr/bin/env bash
# `bench train --layout` under real ranks: for dp=2, tp=2, sp=2 (2 ranks) and
# tp=2 x sp=2, sp=2 x dp=2 (4 ranks) the bytes the busiest rank sends in a
# training step equal the analytic count the benchmark prints beside them.
# bench_bytes_test.sh SV, with MPIEXEC ("mpirun -np") and MPIEXEC_FLAGS in the environment.
set -euo pipefail
SV=$1
source "$(dirname "$0")/lib.sh"
read -r -a MPI <<< "$MPIEXEC"
read -r -a MPI_FLAGS <<< "${MPIEXEC_FLAGS:-}"
SMALL=(--heads 4 --layers 2 --caption 256 --text 32 --frames 2 --height 8 --width 6 --reps 1)
for run in "2 dp=2" "2 tp=2" "2 sp=2" "4 tp=2,sp=2" "4 sp=2,dp=2"; do
  read -r ranks layout <<< "$run"
  line=$("${MPI[@]}" "$ranks" "${MPI_FLAGS[@]}" "$SV" bench train "${SMALL[@]}" --layout "$layout" 2>/dev/null) ||
    fail "$layout: bench train failed"
  jq -e '.bytes_sent_per_step_max_rank > 0 and .bytes_sent_per_step_max_rank == .bytes_sent_per_step_analytic' \
    <<< "$line" > /dev/null || fail "$layout: $(jq -c '{bytes_sent_per_step_max_rank, bytes_sent_per_step_analytic}' <<< "$line")"
  echo "$layout: $(jq -r .bytes_sent_per_step_max_rank <<< "$line") bytes per step, as counted"
done
echo "PASS"
