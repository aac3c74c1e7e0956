"""Times the PyTorch twin's training step (float32, forward + backward + clip + AdamW) for comparison with
`trident bench train` on the same shapes. Prints ONE JSON line:
  {"tokens_per_s": ..., "step_ms": ..., "torch": "...", "threads": n, ...}

Example: python3 tools/reference/bench_twin.py --arch llama --n-layer 4 --d-model 256 --n-head 8 \
           --n-kv-head 4 --vocab 8192 --seq-len 256 --batch 8 --steps 10 --warmup-steps 2 --threads 2
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twin  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=["gpt2", "llama"], required=True)
    ap.add_argument("--n-layer", type=int, required=True)
    ap.add_argument("--d-model", type=int, required=True)
    ap.add_argument("--n-head", type=int, required=True)
    ap.add_argument("--n-kv-head", type=int, default=0, help="0: n_head")
    ap.add_argument("--d-ff", type=int, default=0, help="0: 4*d_model (gpt2) or the LLaMA 8/3 rule")
    ap.add_argument("--vocab", type=int, required=True)
    ap.add_argument("--vocab-pad-multiple", type=int, default=1)
    ap.add_argument("--tie-embeddings", type=int, choices=[0, 1], default=None,
                    help="default: tied for gpt2, untied for llama")
    ap.add_argument("--seq-len", type=int, required=True)
    ap.add_argument("--batch", type=int, required=True, help="sequences per step")
    ap.add_argument("--steps", type=int, default=10, help="timed steps")
    ap.add_argument("--warmup-steps", type=int, default=2, help="untimed steps before timing")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads; 0: torch's default")
    ap.add_argument("--grad-clip", type=float, default=1.0, help="0: no clipping")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    tie = (a.arch == "gpt2") if a.tie_embeddings is None else bool(a.tie_embeddings)
    m = twin.model_cfg({
        "arch": a.arch, "n_layer": a.n_layer, "d_model": a.d_model, "n_head": a.n_head, "n_kv_head": a.n_kv_head,
        "d_ff": a.d_ff, "vocab_size": a.vocab, "vocab_pad_multiple": a.vocab_pad_multiple,
        "max_seq_len": a.seq_len, "tie_embeddings": tie,
    })
    t = twin.TrainCfg(micro_batch_size=a.batch, seq_len=a.seq_len, steps=a.warmup_steps + a.steps, seed=a.seed,
                      lr=3e-4, min_lr=3e-5, warmup_steps=0, weight_decay=0.1, beta1=0.9, beta2=0.95, eps=1e-8,
                      grad_clip=a.grad_clip)
    p = {k: v.requires_grad_(True) for k, v in twin.init_params(m, a.seed).items()}
    g = torch.Generator().manual_seed(a.seed + 1)
    tokens = torch.randint(0, m.vocab_size, (a.batch, a.seq_len), generator=g)
    targets = torch.randint(0, m.vocab_size, (a.batch, a.seq_len), generator=g)
    opt = twin.make_optimizer(p, t, foreach=True)
    params = list(p.values())

    def step():
        opt.zero_grad(set_to_none=True)
        loss = twin.loss_fn(twin.forward(p, m, tokens, use_sdpa=True), targets, m)
        loss.backward()
        if t.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, t.grad_clip)
        opt.step()
        return loss

    for _ in range(a.warmup_steps):
        step()
    start = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    loss = loss.item()
    elapsed = time.perf_counter() - start
    print(json.dumps({
        "tokens_per_s": a.batch * a.seq_len * a.steps / elapsed,
        "step_ms": 1000.0 * elapsed / a.steps,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "params": sum(v.numel() for v in params),
        "loss": loss,
    }))


if __name__ == "__main__":
    main()
