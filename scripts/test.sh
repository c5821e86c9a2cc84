#!/usr/bin/env bash
# The README's test command: install packages, build, run the whole test
# suite. Prints how long each stage took. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

stage_start=$(date +%s)
stage() {  # stage NAME: prints the time the previous stage took
  local now; now=$(date +%s)
  echo "== stage '$1' took $((now - stage_start)) s"
  stage_start=$now
}

bash scripts/setup.sh
stage packages
bash scripts/build.sh
stage build
# Several OpenMP threads per test on 2 cores only fight each other.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
ctest --test-dir build --output-on-failure -j "${JOBS:-2}" --timeout 900
stage tests
