#!/usr/bin/env bash
# trace_dp2.sh TRIDENT PYTHON CHECK TRACE CONFIG [profile options ...]: two data-parallel ranks profile with
# --trace TRACE, then CHECK reads the trace.
set -euo pipefail
trident=$1 python=$2 check=$3 trace=$4
shift 4
mkdir -p "$(dirname "$trace")"
rm -f "$trace"
mpirun --oversubscribe -np 2 "$trident" profile "$@" --trace "$trace"
"$python" "$check" "$trace"
