#!/usr/bin/env bash
# run_layout.sh TRIDENT COMPARE REF_DIR OUT_DIR NP CONFIG [--set ...]: trains CONFIG on NP ranks (mpirun when
# NP > 1) into OUT_DIR, keeping its console output in OUT_DIR.log, then compares it with the single-rank run in
# REF_DIR: losses, grad norms, weights, and proof that the run used the layout launched (its "layout:" line
# and traffic on every group of size > 1; compare_runs --layout).
#
# EQ_INDEPENDENT_RANKS=1 launches the NP ranks with mpirun's environment removed, so each one trains alone as
# a single rank: the failure the layout proof must catch (tests/equivalence/equivalence_tests.cmake).
set -euo pipefail
trident="$1" compare="$2" ref="$3" out="$4" np="$5"
shift 5
tp=1 pp=1 ep=1
for arg in "$@"; do
  case "$arg" in
    parallel.tensor=*) tp="${arg#*=}" ;;
    parallel.pipeline=*) pp="${arg#*=}" ;;
    parallel.expert=*) ep="${arg#*=}" ;;
  esac
done
dp=$((np / (tp * pp)))
rm -rf "$out" "$out.log"
launch=()
if [ "$np" -gt 1 ]; then
  launch=(mpirun --oversubscribe -np "$np")
  if [ "${EQ_INDEPENDENT_RANKS:-0}" = 1 ]; then
    launch+=(env -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK -u PMI_SIZE -u PMI_RANK)
  fi
fi
# Ranks that each train alone all write into the same run directory and may trip over each other's files; in
# that mode a failed launch still goes on to the check that must name the layout.
"${launch[@]}" "$trident" train "$@" --out "$out" 2>&1 | tee "$out.log" || [ "${EQ_INDEPENDENT_RANKS:-0}" = 1 ]
"$compare" "$ref" "$out" --rtol 1e-5 --layout "tp=$tp,pp=$pp,dp=$dp,ep=$ep" --log "$out.log"
