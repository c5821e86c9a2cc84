#!/usr/bin/env bash
# expect.sh EXIT_CODE STDERR_REGEX COMMAND...
# Runs COMMAND and checks that it exits with EXIT_CODE and that its stderr is
# exactly one line matching STDERR_REGEX (bad input gets one clear line).
set -uo pipefail
want_code=$1 want_regex=$2
shift 2
err=$(mktemp)
"$@" >/dev/null 2>"$err"
code=$?
lines=$(wc -l <"$err")
status=0
if [[ $code -ne $want_code ]]; then
  echo "FAIL: exit code $code, expected $want_code"; status=1
fi
if [[ $lines -ne 1 ]]; then
  echo "FAIL: stderr has $lines lines, expected 1"; status=1
fi
if ! grep -Eq -- "$want_regex" "$err"; then
  echo "FAIL: stderr does not match /$want_regex/"; status=1
fi
echo "command: $*"
echo "stderr:"; cat "$err"
rm -f "$err"
exit $status
