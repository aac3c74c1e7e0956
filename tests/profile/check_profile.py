"""trident profile on tiny GPT-2 (issue 15, part 3): the FLOPs column's total is 6N + 6*L*T*C per token within 1%,
every module kind has its row, and the shares add to 100% with a non-negative idle row (no time counted twice).

N is the weights of the GEMMs a token passes through: per layer q, k, v (3C^2), the attention projection (C^2) and
the MLP (4C^2 + 4C^2), plus the LM head's padded-vocab x C GEMM (tied to wte, it still runs); the lookups (wte,
wpe), biases and norms are not matrix multiplications. 6*L*T*C is the attention core (QK^T and AV, 2*T*C each
forward per layer and token, x3 with backward, halved for the causal mask).

With --moe (configs/moe_tiny.pbtxt: blocks 0 and 2 route each token to 2 of 8 GELU experts of width 256,
dropless), the MoE layer row instead holds its router's and experts' GEMMs on the rows routed: per MoE layer and
micro-batch of N = B*T tokens, R = 2N rows through up (C x F) and down (F x C), 2*R*(C*F + F*C) forward and twice
that backward, plus the router's N x C x 8 GEMM (2NCE forward, 4NCE backward).

With --recompute (train.recompute full) every block's forward runs again before its backward: the total is
6N + 6*L*T*C plus the blocks' forward once more, (24*L*C^2 + 2*L*T*C) per token, and the table says so.

usage: check_profile.py TRIDENT CONFIG [--moe | --recompute] [--set ...]
(CONFIG: configs/gpt2_tiny.pbtxt's dimensions, or configs/moe_tiny.pbtxt's with --moe)
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


def check_moe(rows):
    moe_layers, experts, top_k, f = 2, 8, 2, 256
    n = B * T
    r = top_k * n
    fwd = M * moe_layers * (2 * r * (C * f + f * C) + 2 * n * C * experts) / 1e9
    bwd = M * moe_layers * (4 * r * (C * f + f * C) + 4 * n * C * experts) / 1e9
    if "MoE layer" not in rows:
        sys.exit("no 'MoE layer' row in the table")
    got_f, got_b = rows["MoE layer"][0], rows["MoE layer"][1]
    print(f"MoE layer: forward {got_f:.4f} GFLOP (expected {fwd:.4f}), backward {got_b:.4f} (expected {bwd:.4f})")
    if abs(got_f - fwd) > 0.01 * fwd or abs(got_b - bwd) > 0.01 * bwd:
        sys.exit("the MoE layer's FLOPs are not its router's and experts' GEMMs on the routed rows within 1%")


def main():
    trident, config, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
    moe = "--moe" in extra
    recompute = "--recompute" in extra
    extra = [a for a in extra if a not in ("--moe", "--recompute")]
    if recompute:
        extra += ["--set", "train.recompute=full"]
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

    if moe:
        check_moe(rows)
        print("profile OK")
        return
    n = 12 * L * C * C + VP * C
    expected = (6 * n + 6 * L * T * C) * B * M * T / 1e9
    if recompute:
        expected += (24 * L * C * C + 2 * L * T * C) * B * M * T / 1e9
        if "train.recompute full: every block's forward ran again" not in out.stdout:
            sys.exit("the table does not say that the blocks' forward ran twice")
    measured = sum(f + b for f, b, _, _ in rows.values())
    print(f"FLOPs: measured {measured:.4f} GFLOP per step, expected {expected:.4f} (N = {n}"
          f"{', the blocks recomputed' if recompute else ''})")
    if abs(measured - expected) > 0.01 * expected or abs(total_gflop - expected) > 0.01 * expected:
        sys.exit(f"FLOPs column {measured:.4f} (total row {total_gflop:.4f}) is not {expected:.4f} within 1%")

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
