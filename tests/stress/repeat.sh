#!/usr/bin/env bash
# repeat.sh CTEST_REGEX N [BUILD_DIR]: runs the ctest tests matching CTEST_REGEX
# N times in a row (one at a time) and counts the runs in which any failed.
# Each failing run's ctest output is kept in $REPEAT_LOGS (default
# /tmp/stepvideo-repeat) for a post-mortem. Evidence for flakiness hunts, not a
# CI test: CI runs every test once. Exit 0 only if every run passed.
set -uo pipefail
(($# >= 2)) || { echo "usage: $0 CTEST_REGEX N [BUILD_DIR]" >&2; exit 2; }
regex=$1 n=$2 build=${3:-$(dirname "$0")/../../build}
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "repeat: N must be a positive integer, got '$n'" >&2; exit 2; }
[[ -f $build/CTestTestfile.cmake ]] || { echo "repeat: $build is not a build directory" >&2; exit 2; }
logs=${REPEAT_LOGS:-/tmp/stepvideo-repeat}
mkdir -p "$logs"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# Each run includes the fixtures the tests need (writing the tiny model: a second).
tests=$(ctest --test-dir "$build" -R "$regex" -N | grep -c 'Test *#')
((tests > 0)) || { echo "repeat: no test matches '$regex'" >&2; exit 2; }
failed=0 start=$SECONDS
for ((i = 1; i <= n; ++i)); do
  out=$logs/run-$i.log
  if ctest --test-dir "$build" -R "$regex" --output-on-failure >"$out" 2>&1; then
    rm -f "$out"
    echo "run $i/$n: pass ($tests test(s))"
  else
    failed=$((failed + 1))
    echo "run $i/$n: FAIL: $(grep -E '\*\*\*|Failed|Timeout' "$out" | grep -v 'tests failed' | tr -s ' ' | paste -sd';' -) (log: $out)"
  fi
done
echo "repeat: '$regex' x $n ($tests test(s) each): $((n - failed)) passed, $failed failed, $((SECONDS - start)) s"
((failed == 0))
