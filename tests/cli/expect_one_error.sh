#!/usr/bin/env bash
# expect_one_error.sh REGEX... -- COMMAND...: for a problem found before the ranks communicate, under mpirun:
# passes when COMMAND ends within 60 s with a non-zero exit, prints exactly one "trident: error:" line, its
# output matches every REGEX (extended regexes), and MPI's abort banner (MPI_ABORT) is not in it.
set -u
patterns=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  patterns+=("$1")
  shift
done
shift  # --
out=$(timeout --kill-after=5 60 "$@" 2>&1)
rc=$?
echo "$out"
echo "exit code: $rc"
fail() {
  echo "FAIL: $*"
  exit 1
}
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then fail "still running after 60 s (a hang)"; fi
[ "$rc" -ne 0 ] || fail "expected a non-zero exit"
lines=$(echo "$out" | grep -c "trident: error:")
[ "$lines" -eq 1 ] || fail "expected exactly one 'trident: error:' line, got $lines"
for p in "${patterns[@]}"; do
  echo "$out" | grep -q -E -- "$p" || fail "output does not match /$p/"
done
if echo "$out" | grep -q "MPI_ABORT"; then fail "MPI_Abort's banner is in the output"; fi
if echo "$out" | grep -q -E "internal error|terminate called|Segmentation"; then fail "crashed"; fi
echo "ok"
