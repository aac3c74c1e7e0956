#!/usr/bin/env bash
# save_on_exit.sh TRIDENT COMPARE OUT NP CONFIG [--set ...]: `train --save-on-exit` on NP ranks gets SIGTERM
# mid-run (every rank, as a scheduler's preemption sends it): the ranks finish the step, save a checkpoint and
# exit 0. Resumed with --resume auto, the run ends bit for bit like an uninterrupted one.
set -uo pipefail
trident="$1" compare="$2" out="$3" np="$4"
shift 4
fail() { echo "FAIL: $*"; exit 1; }
launch=()
[ "$np" -gt 1 ] && launch=(mpirun --oversubscribe -np "$np")
rm -rf "$out"
mkdir -p "$out"
"${launch[@]}" "$trident" train "$@" --out "$out/full" > "$out/full.log" 2>&1 || { tail "$out/full.log"; fail "uninterrupted run"; }
"${launch[@]}" "$trident" train "$@" --out "$out/stopped" --save-on-exit > "$out/stopped.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  grep -q "step    12/" "$out/stopped.log" && break
  sleep 0.1
done
pkill -TERM -f "^$trident train .*--out $out/stopped " || fail "no rank to signal"  # the ranks, not mpirun
wait "$pid"
rc=$?
[ "$rc" -eq 0 ] || { tail "$out/stopped.log"; fail "exit status $rc after SIGTERM, expected 0"; }
step=$(grep -o "stopped by SIGTERM after step [0-9]*" "$out/stopped.log" | grep -o "[0-9]*$")
[ -n "$step" ] || { tail "$out/stopped.log"; fail "the run did not stop on SIGTERM"; }
[ -f "$out/stopped/checkpoints/step_$(printf '%08d' "$step")/manifest.pbtxt" ] || fail "no checkpoint of step $step"
grep -q "run summary" "$out/stopped.log" && fail "the run went on to the end"
"${launch[@]}" "$trident" train "$@" --out "$out/stopped" --resume auto > "$out/resumed.log" 2>&1 ||
  { tail "$out/resumed.log"; fail "resume"; }
grep -q "resumed from auto after step $step" "$out/resumed.log" || fail "did not resume after step $step"
echo "stopped after step $step by SIGTERM, exit 0, resumed"
"$compare" "$out/full" "$out/stopped" --bitwise
