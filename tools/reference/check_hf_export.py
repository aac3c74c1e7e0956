"""Loads a `trident export hf` directory with transformers and compares its logits with Trident's own.

    build/trident export hf runs/tiny hf/tiny --logits      # also writes hf/tiny/trident_logits.safetensors
    python3 tools/reference/check_hf_export.py hf/tiny [--logits FILE] [--tol 1e-5]

FILE (default DIR/trident_logits.safetensors) holds input.tokens I32 (B, T) and out.logits (B, T, V): the
logits Trident computed from the exported run's weights (`--logits`), or those of any reference, such as the
fixtures tests/hf/<arch>_logits.safetensors. The model is loaded with from_pretrained in fp32 (eager attention);
every weight must load (no missing, unexpected or mismatched keys). It runs the tokens in fp32 and, to see how
far fp32 rounding alone carries the logits, in float64. Prints the max abs difference between transformers'
fp32 logits and FILE's, and exits 1 when it is above the bar: --tol, or twice transformers' own fp32 distance
from its float64 run when that is larger (a trained model's logits are larger, and so is fp32 rounding: two
fp32 implementations of the same function land a few 1e-6 apart).

Needs torch, transformers and safetensors (pip install transformers safetensors).
"""

import argparse
import os
import sys

import torch
import transformers
from safetensors.torch import load_file


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", help="directory written by `trident export hf`")
    ap.add_argument("--logits", help="reference logits (default: DIR/trident_logits.safetensors)")
    ap.add_argument("--tol", type=float, default=1e-5, help="largest max abs difference accepted")
    args = ap.parse_args()
    path = args.logits or os.path.join(args.dir, "trident_logits.safetensors")
    if not os.path.exists(path):
        sys.exit(f"{path} does not exist: export with `trident export hf SRC {args.dir} --logits`, or pass --logits")
    ref = load_file(path)
    tokens, want = ref["input.tokens"].long(), ref["out.logits"].double()

    model, info = transformers.AutoModelForCausalLM.from_pretrained(
        args.dir, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    problems = {k: v for k, v in info.items() if k != "error_msgs" and v} | (
        {"error_msgs": info["error_msgs"]} if info.get("error_msgs") else {})
    if problems:
        sys.exit(f"{args.dir}: from_pretrained did not load every weight: {problems}")
    model.eval()
    with torch.no_grad():
        got = model(tokens).logits.double()
        exact = model.double()(tokens).logits
    if got.shape != want.shape:
        sys.exit(f"logits shape {tuple(got.shape)} differs from the reference's {tuple(want.shape)}")
    diff = (got - want).abs().max().item()
    own = (got - exact).abs().max().item()
    bar = max(args.tol, 2 * own)
    print(f"{args.dir}: {type(model).__name__} (transformers {transformers.__version__}), "
          f"{tokens.shape[0]} x {tokens.shape[1]} tokens, largest logit {want.abs().max().item():.3g}: "
          f"max abs logit difference {diff:.3e} (from transformers' float64 run: "
          f"{(want - exact).abs().max().item():.3e}; transformers' fp32 from its float64: {own:.3e}; bar {bar:.3g})")
    sys.exit(0 if diff <= bar else 1)


if __name__ == "__main__":
    main()
