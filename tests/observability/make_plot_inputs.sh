#!/usr/bin/env bash
# make_plot_inputs.sh DIR: run directories that `trident plot` must refuse with one clear message each.
set -euo pipefail
dir="$1"
rm -rf "$dir"
mkdir -p "$dir/not_a_run" "$dir/empty_run" "$dir/garbled_run" "$dir/no_loss_run" "$dir/negative_run"
: > "$dir/empty_run/metrics.jsonl"
printf '{"step": 1, "loss": 5.5}\n{"step": 2, "loss": 5.\n' > "$dir/garbled_run/metrics.jsonl"
printf '{"step": 10, "val_loss": 5.1}\n' > "$dir/no_loss_run/metrics.jsonl"
printf '{"step": 1, "loss": 0.5}\n{"step": 2, "loss": -0.25}\n' > "$dir/negative_run/metrics.jsonl"
