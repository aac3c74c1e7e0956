"""Times the PyTorch twin's training step (forward + backward + clip + AdamW) for comparison with
`trident bench train` on the same shapes. Prints ONE JSON line.

CPU (--device cpu, the default): float32, foreach AdamW, torch.set_num_threads(--threads):
  {"tokens_per_s": ..., "step_ms": ..., "torch": "...", "threads": n, "params": ..., "loss": ...}

CUDA (--device cuda): the mixed precision Trident uses on a GPU, in PyTorch's idiom: fp32 parameters and
optimizer state, the forward and backward under bf16 autocast (--precision: fp16, or fp32 without autocast;
fp16 is timed without a loss scaler), fused AdamW (torch.optim.AdamW(fused=True)).
The twin's plain norms are swapped for PyTorch's fused F.layer_norm / F.rms_norm (same math) and attention
runs through F.scaled_dot_product_attention (flash), so the eager row is what a tuned eager model gets. Each
mode times --steps steps after --warmup-steps (torch.compile gets at least 3: its first calls compile),
synchronizing the device around the timed loop, and reports the peak of torch.cuda.max_memory_allocated over
the timed steps:
  {"device": "cuda", "torch": "...", "gpu": "...", "params": ..., "tokens_per_step": ...,
   "eager": {"step_ms": ..., "tokens_per_s": ..., "peak_mb": ..., "loss": ...},
   "compile": {... the same ...} or {"error": "why torch.compile did not run"},
   "step_ms": ..., "tokens_per_s": ...}   (top-level: the eager numbers, as in CPU mode)
--modes picks eager, compile or both (default).

Example: python3 tools/reference/bench_twin.py --arch llama --n-layer 4 --d-model 256 --n-head 8 \
           --n-kv-head 4 --vocab 8192 --seq-len 256 --batch 8 --steps 10 --warmup-steps 2 --threads 2
         python3 tools/reference/bench_twin.py --device cuda --arch gpt2 --n-layer 12 --d-model 768 \
           --n-head 12 --vocab 50304 --seq-len 1024 --batch 16 --steps 20 --warmup-steps 5
"""

import argparse
import gc
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

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
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--modes", default="eager,compile",
                    help="cuda only: comma-separated subset of eager,compile")
    ap.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="bf16",
                    help="cuda only: the autocast dtype of forward and backward (fp32: no autocast)")
    return ap.parse_args(argv)


def model_and_train_cfg(a):
    tie = (a.arch == "gpt2") if a.tie_embeddings is None else bool(a.tie_embeddings)
    m = twin.model_cfg({
        "arch": a.arch, "n_layer": a.n_layer, "d_model": a.d_model, "n_head": a.n_head, "n_kv_head": a.n_kv_head,
        "d_ff": a.d_ff, "vocab_size": a.vocab, "vocab_pad_multiple": a.vocab_pad_multiple,
        "max_seq_len": a.seq_len, "tie_embeddings": tie,
    })
    t = twin.TrainCfg(micro_batch_size=a.batch, seq_len=a.seq_len, steps=a.warmup_steps + a.steps, seed=a.seed,
                      lr=3e-4, min_lr=3e-5, warmup_steps=0, weight_decay=0.1, beta1=0.9, beta2=0.95, eps=1e-8,
                      grad_clip=a.grad_clip)
    return m, t


def main(argv=None):
    a = parse_args(argv)
    if a.device == "cuda":
        return main_cuda(a)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    m, t = model_and_train_cfg(a)
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


# ---- CUDA ----------------------------------------------------------------------------------------------------------


def _rope_on_device(x, theta):
    """twin.rope with its position tables made on x's device (the twin builds them on the CPU)."""
    B, T, _, D = x.shape
    half = D // 2
    i = torch.arange(half, dtype=torch.float64, device=x.device)
    freq = theta ** (-2.0 * i / D)
    angle = torch.arange(T, dtype=torch.float64, device=x.device)[:, None] * freq[None, :]
    cos = angle.cos().to(x.dtype)[None, :, None, :]
    sin = angle.sin().to(x.dtype)[None, :, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def _fused_layer_norm(x, w, b, eps):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def _fused_rms_norm(x, w, eps):
    return F.rms_norm(x, (x.shape[-1],), w, eps)


def use_cuda_kernels():
    """Points the twin at device-side position tables and PyTorch's fused norms (same math as the twin's)."""
    twin.rope = _rope_on_device
    twin.layer_norm = _fused_layer_norm
    if hasattr(F, "rms_norm"):  # torch >= 2.4
        twin.rms_norm = _fused_rms_norm


def time_cuda_mode(a, m, t, mode):
    """One mode's numbers, from fresh parameters and optimizer (so peak memory is this mode's alone)."""
    dev = torch.device("cuda")
    p = {k: v.to(dev).requires_grad_(True) for k, v in twin.init_params(m, a.seed).items()}
    g = torch.Generator().manual_seed(a.seed + 1)
    tokens = torch.randint(0, m.vocab_size, (a.batch, a.seq_len), generator=g).to(dev)
    targets = torch.randint(0, m.vocab_size, (a.batch, a.seq_len), generator=g).to(dev)
    decay = [v for v in p.values() if v.dim() >= 2]
    no_decay = [v for v in p.values() if v.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": t.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=t.lr, betas=(t.beta1, t.beta2), eps=t.eps, fused=True)
    params = list(p.values())

    amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.precision)

    def fwd_loss(p, tokens, targets):
        with torch.autocast("cuda", dtype=amp or torch.bfloat16, enabled=amp is not None):
            return twin.loss_fn(twin.forward(p, m, tokens, use_sdpa=True), targets, m)

    loss_fn = torch.compile(fwd_loss) if mode == "compile" else fwd_loss

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(p, tokens, targets)
        loss.backward()
        if t.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, t.grad_clip, foreach=True)
        opt.step()
        return loss

    warmup = max(a.warmup_steps, 3 if mode == "compile" else 1)
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start_ev, end_ev = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start_ev.record()
    for _ in range(a.steps):
        loss = step()
    end_ev.record()
    torch.cuda.synchronize()
    ms = start_ev.elapsed_time(end_ev) / a.steps
    row = {
        "step_ms": ms,
        "tokens_per_s": a.batch * a.seq_len / (ms / 1000.0),
        "peak_mb": torch.cuda.max_memory_allocated() / 2**20,
        "loss": loss.item(),
        "warmup_steps": warmup,
    }
    return row, sum(v.numel() for v in params)


def main_cuda(a):
    if not torch.cuda.is_available():
        sys.exit(f"torch {torch.__version__} sees no CUDA device (built for CUDA {torch.version.cuda})")
    use_cuda_kernels()
    m, t = model_and_train_cfg(a)
    out = {"device": "cuda", "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0),
           "precision": a.precision, "tokens_per_step": a.batch * a.seq_len}
    for mode in [x for x in a.modes.split(",") if x]:
        if mode not in ("eager", "compile"):
            sys.exit(f"--modes: '{mode}' is not eager or compile")
        try:
            out[mode], out["params"] = time_cuda_mode(a, m, t, mode)
        except Exception as e:  # noqa: BLE001 -- one mode failing (OOM, no compiler) must not hide the other
            msg = str(e).strip().splitlines()
            out[mode] = {"error": f"{type(e).__name__}: {msg[0] if msg else ''}"[:300]}
        gc.collect()
        torch.cuda.empty_cache()
    first = next((out[x] for x in ("eager", "compile") if x in out and "step_ms" in out[x]), None)
    if first is not None:
        out["step_ms"], out["tokens_per_s"] = first["step_ms"], first["tokens_per_s"]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
