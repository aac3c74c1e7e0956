#!/usr/bin/env bash
# expect_one_error.sh REGEX... -- COMMAND...: for a problem found before the ranks communicate, under mpirun:
# passes when COMMAND ends within 60 s with a non-zero exit and output matching every REGEX (extended regexes;
# tests/multirank/expect_failure.sh checks those), prints exactly one "trident: error:" line, and MPI's abort
# banner (MPI_ABORT) is not in it.
set -u
out=$(bash "$(dirname "$0")/../multirank/expect_failure.sh" 60 "$@")
rc=$?
echo "$out"
fail() {
  echo "FAIL: $*"
  exit 1
}
[ "$rc" -eq 0 ] || exit 1  # expect_failure.sh said why
lines=$(echo "$out" | grep -c "trident: error:")
[ "$lines" -eq 1 ] || fail "expected exactly one 'trident: error:' line, got $lines"
if echo "$out" | grep -q "MPI_ABORT"; then fail "MPI_Abort's banner is in the output"; fi
if echo "$out" | grep -q -E "internal error|terminate called|Segmentation"; then fail "crashed"; fi
echo "ok"
