"""trident profile on tiny GPT-2 (issue 15, part 3): the FLOPs column's total is 6N + 6*L*T*C per token within 1%,
every module kind has its row, and the shares add to 100% with a non-negative idle row (no time counted twice).

N is the weights of the GEMMs a token passes through: per layer q, k, v (3C^2), the attention projection (C^2) and
the MLP (4C^2 + 4C^2), plus the LM head's padded-vocab x C GEMM (tied to wte, it still runs); the lookups (wte,
wpe), biases and norms are not matrix multiplications. 6*L*T*C is the attention core (QK^T and AV, 2*T*C each
forward per layer and token, x3 with backward, halved for the causal mask).

usage: check_profile.py TRIDENT CONFIG [--set ...]   (the config must be configs/gpt2_tiny.pbtxt's dimensions)
"""
import re
import subprocess
import sys

L, C, VP = 4, 128, 320          # configs/gpt2_tiny.pbtxt: n_layer, d_model, vocab 257 padded to 320
T, B, M = 64, 4, 2              # the --set below: seq_len, micro batch, micro-batches per step
ARGS = ["--set", "train.seq_len=64", "--set", "train.micro_batch_size=4", "--set", "train.global_batch_size=8",
        "--set", "runtime.threads=1", "--steps", "2"]
KINDS = ["embedding", "qkv", "attention core", "attention proj", "MLP up/gate", "MLP down", "norms",
         "head + loss", "optimizer", "idle / wait"]


def main():
    trident, config, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
    out = subprocess.run([trident, "profile", config, *extra, *ARGS], capture_output=True, text=True)
    print(out.stdout)
    if out.returncode != 0:
        sys.exit(f"trident profile failed ({out.returncode}):\n{out.stderr}")
    rows = {}
    for line in out.stdout.splitlines():
        m = re.match(r"^(.+?)\s{2,}(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(\S+)\s+(\S+)\s+(-?[\d.]+)%", line)
        if m:
            rows[m.group(1).strip()] = (float(m.group(2)), float(m.group(3)), float(m.group(4)), float(m.group(7)))
        t = re.match(r"^total\s+([\d.]+)\s+([\d.]+)", line)
        if t:
            total_gflop, step_ms = float(t.group(1)), float(t.group(2))
    for k in KINDS:
        if k not in rows:
            sys.exit(f"no '{k}' row in the table")

    n = 12 * L * C * C + VP * C
    expected = (6 * n + 6 * L * T * C) * B * M * T / 1e9
    measured = sum(f + b for f, b, _, _ in rows.values())
    print(f"FLOPs: measured {measured:.4f} GFLOP per step, 6N + 6LTC = {expected:.4f} (N = {n})")
    if abs(measured - expected) > 0.01 * expected or abs(total_gflop - expected) > 0.01 * expected:
        sys.exit(f"FLOPs column {measured:.4f} (total row {total_gflop:.4f}) is not 6N + 6LTC = {expected:.4f} "
                 "within 1%")

    shares = sum(s for _, _, _, s in rows.values())
    times = sum(t for _, _, t, _ in rows.values())
    print(f"shares add to {shares:.1f}%, times to {times:.3f} of {step_ms:.3f} ms")
    if abs(shares - 100.0) > 0.05 * len(rows) + 0.01:  # each share is rounded to 0.1%
        sys.exit(f"the shares add to {shares:.2f}%, not 100%")
    if abs(times - step_ms) > 0.0005 * len(rows) + 0.001:
        sys.exit(f"the rows' times add to {times:.3f} ms, the step takes {step_ms:.3f} ms")
    if rows["idle / wait"][2] < 0:
        sys.exit("negative idle time: some time is counted twice")
    print("profile OK")


main()
