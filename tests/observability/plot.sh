#!/usr/bin/env bash
# plot.sh TRIDENT OUT CONFIG [--set ...]: trains two short runs of CONFIG (the second at a lower learning
# rate), each of which must write RUN/loss.svg and print its path; then `trident plot` draws both on one chart,
# against steps and against tokens on a log axis, and check_plot.py parses each SVG as XML and finds one
# polyline per series with one point per metrics.jsonl row.
set -euo pipefail
trident="$1" out="$2"
shift 2
here="$(dirname "$0")"
rm -rf "$out"
mkdir -p "$out"
for run in run_a run_b; do
  lr=()
  [ "$run" = run_b ] && lr=(--set optim.lr=1e-3)
  "$trident" train "$@" "${lr[@]}" --out "$out/$run" > "$out/$run.log" 2>&1 || { cat "$out/$run.log"; exit 1; }
  grep -q "loss curve: $out/$run/loss.svg" "$out/$run.log" ||
    { cat "$out/$run.log"; echo "FAIL: train did not print the path of $out/$run/loss.svg"; exit 1; }
  python3 "$here/check_plot.py" "$out/$run/loss.svg" step "$out/$run"
done
"$trident" plot "$out/run_a" "$out/run_b" --out "$out/compare.svg"
python3 "$here/check_plot.py" "$out/compare.svg" step "$out/run_a" "$out/run_b"
"$trident" plot "$out/run_a" "$out/run_b/" --out "$out/compare_tokens.svg" --x tokens --log-y --title "a vs b"
python3 "$here/check_plot.py" "$out/compare_tokens.svg" tokens "$out/run_a" "$out/run_b"
# One run without --out: RUN/loss.svg again.
rm "$out/run_b/loss.svg"
"$trident" plot "$out/run_b" | grep -q "wrote $out/run_b/loss.svg" || { echo "FAIL: no default --out"; exit 1; }
python3 "$here/check_plot.py" "$out/run_b/loss.svg" step "$out/run_b"
