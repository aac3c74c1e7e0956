#!/usr/bin/env bash
# expect_error.sh REGEXES COMMAND...: passes when COMMAND exits non-zero with output matching every one of
# REGEXES (separated by ';;'), and did not crash (no signal, no "internal error", no uncaught exception).
set -u
regex="$1"
shift
out=$("$@" 2>&1)
rc=$?
echo "$out"
echo "exit code: $rc"
if [ "$rc" -eq 0 ]; then echo "FAIL: expected a non-zero exit"; exit 1; fi
if [ "$rc" -ge 128 ]; then echo "FAIL: killed by a signal (crash)"; exit 1; fi
if echo "$out" | grep -q -E "internal error|terminate called|Segmentation|Aborted"; then
  echo "FAIL: crashed instead of a clear message"; exit 1
fi
IFS=';' read -r -a patterns <<< "${regex//;;/;}"
for p in "${patterns[@]}"; do
  if ! echo "$out" | grep -q -E -- "$p"; then echo "FAIL: message does not match /$p/"; exit 1; fi
done
echo "ok"
