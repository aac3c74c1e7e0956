"""Writes Trident's golden fixtures: tests/golden/{gpt2,llama}_golden.{json,safetensors}.

Each fixture holds float32 initial weights and a batch, then what the PyTorch twin computes from them in
float64: logits, loss, every gradient, and the losses and final weights of 10 AdamW steps on that batch.
Before writing, self-checks compare the twin's gradients with finite differences and its float64 loss with a
float32 run. Usage: python3 tools/reference/make_golden.py [--out DIR] [--skip-checks]
"""

import argparse
import copy
import dataclasses
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
import twin  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TRAIN = {"micro_batch_size": 2, "global_batch_size": 2, "seq_len": 16, "steps": 10, "log_interval": 1,
         "precision": "fp32"}
OPTIM = {"lr": 1e-2, "min_lr": 1e-3, "warmup_steps": 3, "weight_decay": 0.1, "beta1": 0.9, "beta2": 0.95,
         "eps": 1e-8}

# init_std 0.2 puts GPT-2's GELU inputs at an RMS of about 1 (at 0.02 they sit near 0.1, where tanh-GELU and
# erf-GELU agree to 1e-7), and makes attention scores large enough that RoPE's angles matter; norm_eps and
# rope_theta are not Trident's defaults, so a model that ignored them would fail. The sensitivity self-check
# proves each of these moves the logits well past the tests' 1e-5 bar.
GPT2 = {"arch": "gpt2", "n_layer": 2, "d_model": 32, "n_head": 4, "n_kv_head": 4, "d_ff": 0, "vocab_size": 67,
        "vocab_pad_multiple": 8, "max_seq_len": 32, "norm_eps": 1e-3, "tie_embeddings": True, "init_std": 0.2}
LLAMA = {"arch": "llama", "n_layer": 2, "d_model": 32, "n_head": 4, "n_kv_head": 2, "d_ff": 64,
         "vocab_size": 67, "vocab_pad_multiple": 1, "max_seq_len": 32, "norm_eps": 1e-3, "rope_theta": 500.0,
         "tie_embeddings": False, "init_std": 0.2}

CONFIGS = {
    # One batch, 10 AdamW steps on it, clipping active at every step.
    "gpt2_golden": {
        "model": GPT2,
        "train": dict(TRAIN, seed=1234),
        "optim": dict(OPTIM, grad_clip=1.0),
        "data": {"train_path": "unused"},
        "runtime": {"device": "cpu"},
    },
    "llama_golden": {
        "model": LLAMA,
        "train": dict(TRAIN, seed=4321),
        "optim": dict(OPTIM, grad_clip=0.5),
        "data": {"train_path": "unused"},
        "runtime": {"device": "cpu"},
    },
}

# The real training step (tests/golden/test_golden_step.cpp runs these through ParallelModel and the pipeline
# executor): 10 steps, each a fresh global batch of 8 sequences taken as 4 micro-batches of 2, gradient
# accumulation, clipping off, so every gradient's scale reaches the weights. lr 3e-3: unclipped at 1e-2, fp32
# rounding is amplified chaotically (a half-ulp nudge of the initial weights moves PyTorch's own fp32 final
# weights by anything from 7e-7 to 3e-4 relative); at 3e-3 by at most 4e-5, under the 1e-4 weight bar.
STEP_MICRO = 4
STEP_CONFIGS = {
    name.replace("_golden", "_step"): dict(cfg, train=dict(cfg["train"], global_batch_size=2 * STEP_MICRO),
                                           optim=dict(cfg["optim"], grad_clip=0.0, lr=3e-3, min_lr=3e-4))
    for name, cfg in CONFIGS.items()
}

def as_f64(params, requires_grad=True):
    return {k: v.detach().to(torch.float64).clone().requires_grad_(requires_grad) for k, v in params.items()}


def make_batch(m, t):
    g = torch.Generator().manual_seed(t.seed + 1)
    shape = (t.micro_batch_size, t.seq_len)
    tokens = torch.randint(0, m.vocab_size, shape, generator=g)
    targets = torch.randint(0, m.vocab_size, shape, generator=g)
    return tokens, targets


def self_check(name, m, t, p32, tokens, targets, logits64, loss64, grads):
    """Raises if the twin disagrees with finite differences or with its own float32 and SDPA variants."""
    report = {}

    # 1. torch.autograd.gradcheck (central differences, float64) on the whole first qkv weight, which sees
    #    every attention feature (RoPE and GQA for llama, biases for gpt2).
    check = "blocks.0.attn.qkv.weight"
    base = as_f64(p32, requires_grad=False)

    def loss_of(w):
        q = dict(base)
        q[check] = w
        return twin.loss_fn(twin.forward(q, m, tokens), targets, m)

    w = base[check].clone().requires_grad_(True)
    ok = torch.autograd.gradcheck(loss_of, (w,), eps=1e-6, atol=1e-8, rtol=1e-5)
    assert ok
    report["gradcheck"] = f"{check} ({w.numel()} elements) ok"

    # 2. Spot finite differences on 3 elements of EVERY parameter against the gradients written to the file.
    rng = np.random.default_rng(0)
    worst = 0.0
    h = 1e-6
    for pname, g in grads.items():
        for idx in rng.integers(0, g.numel(), size=3):
            q = dict(base)
            flat = base[pname].clone().reshape(-1)
            old = flat[idx].item()
            flat[idx] = old + h
            q[pname] = flat.reshape(g.shape)
            up = twin.loss_fn(twin.forward(q, m, tokens), targets, m).item()
            flat = flat.clone()
            flat[idx] = old - h
            q[pname] = flat.reshape(g.shape)
            down = twin.loss_fn(twin.forward(q, m, tokens), targets, m).item()
            fd = (up - down) / (2 * h)
            err = abs(fd - g.reshape(-1)[idx].item())
            assert err < 1e-8 + 1e-5 * abs(fd), f"{name}: grad {pname}[{idx}]: fd {fd} vs autograd {g.reshape(-1)[idx]}"
            worst = max(worst, err)
    report["finite_diff_all_params_max_abs_err"] = worst

    # 3. The float64 reference against a float32 run of the same weights.
    with torch.no_grad():
        logits32 = twin.forward(p32, m, tokens)
        loss32 = twin.loss_fn(logits32, targets, m).item()
    dl = abs(loss32 - loss64)
    assert dl < 1e-5, f"{name}: f32 loss {loss32} vs f64 {loss64}"
    report["loss_f64"] = loss64
    report["loss_f32_abs_diff"] = dl
    report["logits_f32_max_abs_diff"] = (logits32.double() - logits64).abs().max().item()

    # 4. Hand-written attention against torch's SDPA (what bench_twin.py times), in float64.
    with torch.no_grad():
        sdpa = twin.forward(base, m, tokens, use_sdpa=True)
    d = (sdpa - logits64).abs().max().item()
    assert d < 1e-12, f"{name}: SDPA differs from the explicit attention by {d}"
    report["sdpa_vs_explicit_max_abs_diff"] = d

    # 5. 10 training steps in float32 vs float64: how far fp32 drifts (informs Trident's tolerances).
    q32 = {k: v.clone().requires_grad_(True) for k, v in p32.items()}
    losses32, _ = twin.train(q32, m, t, tokens, targets)
    report["train_losses_f32_max_rel_diff"] = None  # filled by the caller, which has the f64 losses
    return report, losses32


def sensitivity(name, m, p32, tokens):
    """How far the float64 logits move when the model gets one detail wrong that a test must catch: each must
    move them past 5x the tests' 1e-5 bar (relative L2), or the fixture is too gentle to tell."""
    base = as_f64(p32, requires_grad=False)
    with torch.no_grad():
        ref = twin.forward(base, m, tokens)
        mutants = {"norm_eps at its default 1e-5": dataclasses.replace(m, norm_eps=1e-5)}
        if m.arch == "gpt2":
            mutants["erf GELU instead of tanh"] = dataclasses.replace(m, gelu_approximate="none")
        else:
            mutants["rope_theta 1% high"] = dataclasses.replace(m, rope_theta=m.rope_theta * 1.01)
            mutants["rope_theta at its default 10000"] = dataclasses.replace(m, rope_theta=10000.0)
        report = {}
        for what, mutant in mutants.items():
            rel = ((twin.forward(base, mutant, tokens) - ref).norm() / ref.norm()).item()
            assert rel > 5e-5, f"{name}: {what} moves the logits by only {rel:.2e}"
            report[f"logits_rel_change[{what}]"] = f"{rel:.2e}"
        if m.arch == "gpt2":
            # RMS of the first block's GELU input: ~1 puts it where tanh and erf GELU differ.
            x = base["embed.wte"][tokens] + base["embed.wpe"][: tokens.shape[1]][None]
            h = twin.linear(twin.norm(x, base, "blocks.0.mlp_norm", m), base["blocks.0.mlp.fc.weight"],
                            base["blocks.0.mlp.fc.bias"])
            report["gelu_input_rms_block0"] = f"{h.pow(2).mean().sqrt().item():.3f}"
    return report


def build(name, cfg, out_dir, checks):
    m, t = twin.model_cfg(cfg["model"]), twin.train_cfg(cfg)
    p32 = twin.init_params(m, t.seed)
    tokens, targets = make_batch(m, t)

    # Forward/backward at the initial weights, in float64.
    p64 = as_f64(p32)
    logits = twin.forward(p64, m, tokens)
    loss = twin.loss_fn(logits, targets, m)
    loss.backward()
    grads = {k: v.grad.detach().clone() for k, v in p64.items()}
    logits, loss = logits.detach(), loss.item()

    # PyTorch's own bf16 run of the same forward/backward (bf16 weights, activations and gradients, as
    # Trident's bf16 storage): how far bf16 rounding carries this fixture's outputs from the float64 truth,
    # the bar Trident's bf16 logits and gradients are held to.
    pb = {k: v.detach().to(torch.bfloat16).requires_grad_(True) for k, v in p32.items()}
    logits_bf16 = twin.forward(pb, m, tokens)
    twin.loss_fn(logits_bf16, targets, m).backward()
    logits_bf16 = logits_bf16.detach().to(torch.float64)
    grads_bf16 = {k: v.grad.detach().to(torch.float64) for k, v in pb.items()}

    # 10 AdamW steps on the same batch, in float64.
    train_p = as_f64(p32)
    losses, norms = twin.train(train_p, m, t, tokens, targets)
    assert abs(losses[0] - loss) < 1e-12
    # The same 10 steps in float32: how far fp32 rounding alone carries PyTorch from the float64 weights,
    # the floor against which Trident's fp32 final weights are judged.
    train_p32 = {k: v.detach().clone().requires_grad_(True) for k, v in p32.items()}
    twin.train(train_p32, m, t, tokens, targets)

    report = {}
    if checks:
        report, losses32 = self_check(name, m, t, p32, tokens, targets, logits, loss, grads)
        report["train_losses_f32_max_rel_diff"] = max(abs(a - b) / abs(b) for a, b in zip(losses32, losses))
        report.update(sensitivity(name, m, p32, tokens))

    text = json.dumps(cfg, indent=2) + "\n"
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        f.write(text)
    tensors = {}
    for k, v in p32.items():
        tensors["param." + k] = v.numpy()
    tensors["input.tokens"] = tokens.to(torch.int32).numpy()
    tensors["input.targets"] = targets.to(torch.int32).numpy()
    tensors["out.logits"] = logits.numpy()
    tensors["out.loss"] = np.array([loss], dtype=np.float64)
    for k, g in grads.items():
        tensors["grad." + k] = g.numpy()
    tensors["bf16.logits"] = logits_bf16.numpy()
    for k, g in grads_bf16.items():
        tensors["bf16.grad." + k] = g.numpy()
    tensors["train.losses"] = np.array(losses, dtype=np.float64)
    tensors["train.lrs"] = np.array([twin.lr_at(s, t) for s in range(t.steps)], dtype=np.float64)
    tensors["train.grad_norms"] = np.array(norms, dtype=np.float64)
    for k, v in train_p.items():
        tensors["train.final." + k] = v.detach().to(torch.float32).numpy()
        tensors["train.final_f32." + k] = train_p32[k].detach().numpy()
    return write(name, text, tensors, out_dir), losses, report


def build_step(name, cfg, out_dir, checks):
    """The real-step fixture: initial weights, 10 global batches of STEP_MICRO micro-batches, and what 10
    accumulated AdamW steps give in float64 (losses, pre-clip grad norms, final weights) and in float32."""
    m, t = twin.model_cfg(cfg["model"]), twin.train_cfg(cfg)
    G, B = cfg["train"]["global_batch_size"], t.micro_batch_size
    p32 = twin.init_params(m, t.seed)
    g = torch.Generator().manual_seed(t.seed + 2)
    tokens = torch.randint(0, m.vocab_size, (t.steps, G, t.seq_len), generator=g)
    targets = torch.randint(0, m.vocab_size, (t.steps, G, t.seq_len), generator=g)
    batches = [[(tokens[s, j * B:(j + 1) * B], targets[s, j * B:(j + 1) * B]) for j in range(G // B)]
               for s in range(t.steps)]

    report = {}
    if checks:
        # Accumulating loss / m over equal micro-batches is the gradient of the whole batch's mean loss.
        p = as_f64(p32)
        twin.loss_fn(twin.forward(p, m, tokens[0]), targets[0], m).backward()
        whole = {k: v.grad.clone() for k, v in p.items()}
        p = as_f64(p32)
        for tok, tgt in batches[0]:
            (twin.loss_fn(twin.forward(p, m, tok), tgt, m) / len(batches[0])).backward()
        worst = max((p[k].grad - whole[k]).norm().item() / max(whole[k].norm().item(), 1e-300) for k in whole)
        assert worst < 1e-12, f"{name}: accumulated gradient differs from the whole batch's by {worst}"
        report["accumulated_vs_whole_batch_grad_rel"] = worst

    train_p = as_f64(p32)
    losses, norms = twin.train_accumulated(train_p, m, t, batches)
    train_p32 = {k: v.detach().clone().requires_grad_(True) for k, v in p32.items()}
    losses32, _ = twin.train_accumulated(train_p32, m, t, batches)
    report["train_losses_f32_max_rel_diff"] = max(abs(a - b) / abs(b) for a, b in zip(losses32, losses))

    text = json.dumps(cfg, indent=2) + "\n"
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        f.write(text)
    tensors = {"param." + k: v.numpy() for k, v in p32.items()}
    tensors["input.tokens"] = tokens.to(torch.int32).numpy()
    tensors["input.targets"] = targets.to(torch.int32).numpy()
    tensors["train.losses"] = np.array(losses, dtype=np.float64)
    tensors["train.grad_norms"] = np.array(norms, dtype=np.float64)
    tensors["train.lrs"] = np.array([twin.lr_at(s, t) for s in range(t.steps)], dtype=np.float64)
    for k, v in train_p.items():
        tensors["train.final." + k] = v.detach().to(torch.float32).numpy()
        tensors["train.final_f32." + k] = train_p32[k].detach().numpy()
    return write(name, text, tensors, out_dir), losses, norms, report


def write(name, text, tensors, out_dir):
    """Writes the fixture's tensors with its metadata, then reads the file back: it is what the tests see."""
    metadata = {"generator": "tools/reference/make_golden.py", "torch": torch.__version__, "config": text}
    path = os.path.join(out_dir, name + ".safetensors")
    st.save(path, tensors, metadata)
    back, meta = st.load(path)
    assert meta == metadata and set(back) == set(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and np.array_equal(back[k], v), k
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden"))
    ap.add_argument("--skip-checks", action="store_true", help="skip the self-checks (they take ~30 s)")
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    os.makedirs(args.out, exist_ok=True)
    for name, cfg in CONFIGS.items():
        path, losses, report = build(name, copy.deepcopy(cfg), args.out, not args.skip_checks)
        print(f"{path}: {os.path.getsize(path)} bytes")
        print("  losses: " + " ".join(f"{x:.6f}" for x in losses))
        for k, v in report.items():
            print(f"  {k}: {v}")
    for name, cfg in STEP_CONFIGS.items():
        path, losses, norms, report = build_step(name, copy.deepcopy(cfg), args.out, not args.skip_checks)
        print(f"{path}: {os.path.getsize(path)} bytes")
        print("  losses: " + " ".join(f"{x:.6f}" for x in losses))
        print("  grad norms: " + " ".join(f"{x:.4f}" for x in norms))
        for k, v in report.items():
            print(f"  {k}: {v}")

if __name__ == "__main__":
    main()
