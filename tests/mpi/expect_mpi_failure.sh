#!/usr/bin/env bash
# expect_mpi_failure.sh EXIT_CODE REGEX MAX_SECONDS COMMAND...
# A failing multi-rank run must end every rank promptly (no hang), exit with
# the failing category's code, and print the error line exactly once.
set -uo pipefail
want_code=$1 regex=$2 max_s=$3
shift 3
err=$(mktemp)
start=$(date +%s)
timeout $((max_s * 3)) "$@" >/dev/null 2>"$err"
code=$?
elapsed=$(($(date +%s) - start))
matches=$(grep -Ec -- "$regex" "$err")
status=0
[[ $code -eq $want_code ]] || { echo "FAIL: exit code $code, expected $want_code"; status=1; }
[[ $elapsed -le $max_s ]] || { echo "FAIL: took ${elapsed}s, limit ${max_s}s"; status=1; }
[[ $matches -eq 1 ]] || { echo "FAIL: /$regex/ printed $matches times, expected once"; status=1; }
echo "command: $*"; echo "exit $code after ${elapsed}s; stderr:"; cat "$err"
rm -f "$err"
exit $status
