#!/usr/bin/env bash
# expect.sh error REGEXES COMMAND...: passes when COMMAND exits non-zero with output matching every one of
# REGEXES (extended regexes, separated by ';;'), and did not crash (no signal, no "internal error", no uncaught
# exception): bad input gets one clear message.
# expect.sh ok REGEX COMMAND...: passes when COMMAND exits 0 and its output matches REGEX, a Perl regex over the
# whole output in which '.' also matches newlines. (ctest's PASS_REGULAR_EXPRESSION alone ignores the exit
# code: it would pass a command that printed the right text and then failed.)
# Output is stdout and stderr together.
set -u
mode="$1" regex="$2"
shift 2
out=$("$@" 2>&1)
rc=$?
echo "$out"
echo "exit code: $rc"
if [ "$mode" = ok ]; then
  if [ "$rc" -ne 0 ]; then echo "FAIL: expected exit code 0"; exit 1; fi
  if ! printf '%s' "$out" | grep -q -z -P -- "(?s)$regex"; then echo "FAIL: output does not match /$regex/"; exit 1; fi
  echo "ok"
  exit 0
fi
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
