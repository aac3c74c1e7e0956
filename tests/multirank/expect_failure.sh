#!/usr/bin/env bash
# expect_failure.sh SECONDS REGEX... -- COMMAND...: passes when COMMAND ends within SECONDS with a non-zero exit
# and output matching every REGEX; a REGEX written !REGEX must match nothing. For the watchdog tests: a broken
# collective must end the job with a message naming it, never hang.
set -u
limit="$1"
shift
patterns=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  patterns+=("$1")
  shift
done
shift  # --
start=$(date +%s)
out=$(timeout --kill-after=5 "$limit" "$@" 2>&1)
rc=$?
elapsed=$(($(date +%s) - start))
echo "$out"
echo "exit code: $rc after ${elapsed} s"
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "FAIL: still running after ${limit} s (a hang)"
  exit 1
fi
if [ "$rc" -eq 0 ]; then
  echo "FAIL: expected a non-zero exit"
  exit 1
fi
for p in "${patterns[@]}"; do
  if [ "${p:0:1}" = "!" ]; then
    if echo "$out" | grep -q -E -- "${p:1}"; then
      echo "FAIL: output matches /${p:1}/, which it must not"
      exit 1
    fi
  elif ! echo "$out" | grep -q -E -- "$p"; then
    echo "FAIL: output does not match /$p/"
    exit 1
  fi
done
echo "ok"
