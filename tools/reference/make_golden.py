"""Writes Trident's golden fixtures: tests/golden/<name>.{json,safetensors} for the model fixtures
({gpt2,llama}_golden and the mixture-of-experts gpt2_moe_golden, llama_moe_golden, gpt2_moe_capacity_golden)
and the step fixtures ({gpt2,llama}_step).

Each fixture holds float32 initial weights and a batch, then what the PyTorch twin computes from them in
float64: logits, loss, every gradient, and the losses and final weights of 10 AdamW steps on that batch.
Before writing, self-checks compare the twin's gradients with finite differences and its float64 loss with a
float32 run. Usage: python3 tools/reference/make_golden.py [--out DIR] [--skip-checks] [--only NAME[,NAME]]
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
    # Mixture of experts (model.moe). Block 0 MoE and block 1 dense (every 2), experts narrower than the dense
    # MLP (d_ff_expert 48, d_ff 128), dropless.
    "gpt2_moe_golden": {
        "model": dict(GPT2, moe={"num_experts": 4, "top_k": 2, "every": 2, "d_ff_expert": 48,
                                 "capacity_factor": 0.0, "aux_loss_coeff": 0.01, "z_loss_coeff": 0.001}),
        "train": dict(TRAIN, seed=2399),
        "optim": dict(OPTIM, grad_clip=1.0),
        "data": {"train_path": "unused"},
        "runtime": {"device": "cpu"},
    },
    # Every block MoE, a shared expert, top-k gates renormalised, dropless.
    "llama_moe_golden": {
        "model": dict(LLAMA, moe={"num_experts": 4, "top_k": 2, "every": 1, "d_ff_expert": 32,
                                  "shared_experts": 1, "normalize_topk": True, "aux_loss_coeff": 0.01,
                                  "z_loss_coeff": 0.001}),
        "train": dict(TRAIN, seed=5738),
        "optim": dict(OPTIM, grad_clip=0.5),
        "data": {"train_path": "unused"},
        "runtime": {"device": "cpu"},
    },
    # Capacity drops: cap = ceil(0.5 * 32 tokens * 2 / 4 experts) = 8 of the 16 assignments an expert gets on
    # average, so at least half the assignments are dropped (build() raises under 20%). The aux and z-loss
    # coefficients are left to their defaults (1e-2, 1e-3).
    "gpt2_moe_capacity_golden": {
        "model": dict(GPT2, moe={"num_experts": 4, "top_k": 2, "every": 1, "d_ff_expert": 32,
                                 "capacity_factor": 0.5}),
        "train": dict(TRAIN, seed=3780),
        "optim": dict(OPTIM, grad_clip=1.0),
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
    for name, cfg in CONFIGS.items() if "moe" not in cfg["model"]  # no MoE step fixtures
}

MIN_CAPACITY_DROPPED = 0.2  # a capacity fixture's initial forward must drop at least this fraction
# An MoE fixture's initial routing must not sit near a tie: among each token's first top_k + 1 router
# probabilities, neighbours at least this far apart (bf16 rounding moves a probability by ~3e-3), and PyTorch's
# bf16 run must route exactly as float64 does. Otherwise a bf16 check compares two coin flips (one assignment
# routed elsewhere moves the logits by ~10%), not the arithmetic. The seeds are the first from the config's
# original seed upwards that satisfy this (and the capacity fixture's drop rate): 2399, 5738, 3780.
MIN_ROUTER_GAP = 0.01

def as_f64(params, requires_grad=True):
    return {k: v.detach().to(torch.float64).clone().requires_grad_(requires_grad) for k, v in params.items()}


def make_batch(m, t):
    g = torch.Generator().manual_seed(t.seed + 1)
    shape = (t.micro_batch_size, t.seq_len)
    tokens = torch.randint(0, m.vocab_size, shape, generator=g)
    targets = torch.randint(0, m.vocab_size, shape, generator=g)
    return tokens, targets


def routing(moe_out):
    """The routing decisions of a forward (chosen experts and kept assignments per MoE layer), comparable."""
    return [(d["experts"].tolist(), d["kept"].tolist()) for d in moe_out]


def routing_differences(a, b):
    """How many (token, slot) assignments differ (expert or kept) between two forwards' moe_out lists."""
    n = 0
    for da, db in zip(a, b):
        n += ((da["experts"] != db["experts"]) | (da["kept"] != db["kept"])).sum().item()
    return n


def self_check(name, m, t, p32, tokens, targets, logits64, loss64, grads):
    """Raises if the twin disagrees with finite differences or with its own float32 and SDPA variants. The loss
    checked is the training objective (cross-entropy + the MoE auxiliary terms)."""
    report = {}

    # 1. torch.autograd.gradcheck (central differences, float64) on the whole first qkv weight, which sees
    #    every attention feature (RoPE and GQA for llama, biases for gpt2).
    check = "blocks.0.attn.qkv.weight"
    base = as_f64(p32, requires_grad=False)

    def loss_of(w):
        q = dict(base)
        q[check] = w
        return twin.objective(q, m, tokens, targets)[0]

    w = base[check].clone().requires_grad_(True)
    ok = torch.autograd.gradcheck(loss_of, (w,), eps=1e-6, atol=1e-8, rtol=1e-5)
    assert ok
    report["gradcheck"] = f"{check} ({w.numel()} elements) ok"

    # 2. Spot finite differences on 3 elements of EVERY parameter against the gradients written to the file.
    #    The objective is piecewise smooth in an MoE model: a difference across a routing change (a top-k choice
    #    or a drop flipped by the perturbation) is no derivative, so such an element is skipped and reported.
    rng = np.random.default_rng(0)
    worst = 0.0
    h = 1e-6
    base_out = []
    twin.objective(base, m, tokens, targets, moe_out=base_out)
    base_routing = routing(base_out)
    skipped = []
    for pname, g in grads.items():
        for idx in rng.integers(0, g.numel(), size=3):
            q = dict(base)
            flat = base[pname].clone().reshape(-1)
            old = flat[idx].item()
            flat[idx] = old + h
            q[pname] = flat.reshape(g.shape)
            up_out = []
            up = twin.objective(q, m, tokens, targets, moe_out=up_out)[0].item()
            flat = flat.clone()
            flat[idx] = old - h
            q[pname] = flat.reshape(g.shape)
            down_out = []
            down = twin.objective(q, m, tokens, targets, moe_out=down_out)[0].item()
            if routing(up_out) != base_routing or routing(down_out) != base_routing:
                skipped.append(f"{pname}[{idx}]")
                continue
            fd = (up - down) / (2 * h)
            err = abs(fd - g.reshape(-1)[idx].item())
            assert err < 1e-8 + 1e-5 * abs(fd), f"{name}: grad {pname}[{idx}]: fd {fd} vs autograd {g.reshape(-1)[idx]}"
            worst = max(worst, err)
    report["finite_diff_all_params_max_abs_err"] = worst
    if m.num_experts:
        report["finite_diff_elements_checked"] = 3 * len(grads) - len(skipped)
        report["finite_diff_skipped_routing_changed"] = skipped or "none"

    # 3. The float64 reference against a float32 run of the same weights.
    with torch.no_grad():
        out32 = []
        logits32 = twin.forward(p32, m, tokens, moe_out=out32)
        loss32 = twin.total_loss(logits32, targets, m, out32)[0].item()
    if m.num_experts:
        report["routing_f32_vs_f64_assignments_differing"] = routing_differences(out32, base_out)
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


def sensitivity(name, m, p32, tokens, targets):
    """How far the float64 logits move when the model gets one detail wrong that a test must catch: each must
    move them past 5x the tests' 1e-5 bar (relative L2), or the fixture is too gentle to tell. For an MoE
    model, the aux and z-loss terms must each be more than 5e-5 of the total loss."""
    base = as_f64(p32, requires_grad=False)
    with torch.no_grad():
        moe_out = []
        ref = twin.forward(base, m, tokens, moe_out=moe_out)
        mutants = {"norm_eps at its default 1e-5": dataclasses.replace(m, norm_eps=1e-5)}
        if m.arch == "gpt2":
            mutants["erf GELU instead of tanh"] = dataclasses.replace(m, gelu_approximate="none")
        else:
            mutants["rope_theta 1% high"] = dataclasses.replace(m, rope_theta=m.rope_theta * 1.01)
            mutants["rope_theta at its default 10000"] = dataclasses.replace(m, rope_theta=10000.0)
        report = {}
        if m.num_experts:
            flip = "off" if m.normalize_topk else "on"
            mutants[f"normalize_topk {flip}"] = dataclasses.replace(m, normalize_topk=not m.normalize_topk)
            if m.capacity_factor > 0:
                mutants["dropless instead of capacity"] = dataclasses.replace(m, capacity_factor=0.0)
                mutants["drops in (slot, token) order"] = dataclasses.replace(m, moe_drop_order="slot")
            total, _, aux, zl = twin.total_loss(ref, targets, m, moe_out)
            for what, term in (("aux", aux), ("z", zl)):
                rel = (term / total).item()
                assert rel > 5e-5, f"{name}: the {what} term is only {rel:.2e} of the total loss"
                report[f"loss_rel_share[{what} term]"] = f"{rel:.2e}"
        for what, mutant in mutants.items():
            rel = ((twin.forward(base, mutant, tokens) - ref).norm() / ref.norm()).item()
            assert rel > 5e-5, f"{name}: {what} moves the logits by only {rel:.2e}"
            report[f"logits_rel_change[{what}]"] = f"{rel:.2e}"
        if m.arch == "gpt2":
            # RMS of the first block's GELU input: ~1 puts it where tanh and erf GELU differ. (An MoE block 0:
            # every expert's GELU input on every token.)
            x = base["embed.wte"][tokens] + base["embed.wpe"][: tokens.shape[1]][None]
            xn = twin.norm(x, base, "blocks.0.mlp_norm", m)
            if twin.is_moe_block(m, 0):
                pre = "blocks.0.moe.experts."
                h = torch.stack([twin.linear(xn, base[pre + "fc.weight"][e], base[pre + "fc.bias"][e])
                                 for e in range(m.num_experts)])
            else:
                h = twin.linear(xn, base["blocks.0.mlp.fc.weight"], base["blocks.0.mlp.fc.bias"])
            report["gelu_input_rms_block0"] = f"{h.pow(2).mean().sqrt().item():.3f}"
    return report


def build(name, cfg, out_dir, checks):
    m, t = twin.model_cfg(cfg["model"]), twin.train_cfg(cfg)
    p32 = twin.init_params(m, t.seed)
    tokens, targets = make_batch(m, t)

    # Forward/backward at the initial weights, in float64. The loss is the training objective: cross-entropy,
    # plus for an MoE model its auxiliary terms (ce, aux and z are written separately too).
    p64 = as_f64(p32)
    moe_out = []
    logits = twin.forward(p64, m, tokens, moe_out=moe_out)
    loss, ce, aux, zl = twin.total_loss(logits, targets, m, moe_out)
    loss.backward()
    grads = {k: v.grad.detach().clone() for k, v in p64.items()}
    logits, loss, ce, aux, zl = logits.detach(), loss.item(), ce.item(), aux.item(), zl.item()

    report = {}
    if m.num_experts:
        dropped = [d["dropped"] for d in moe_out]
        report["ce_loss"] = ce
        report["moe_aux_loss (sum of a*aux)"] = aux
        report["moe_z_loss (sum of zc*z)"] = zl
        report["moe_aux_per_layer (unweighted)"] = [d["aux"].item() for d in moe_out]
        report["moe_z_per_layer (unweighted)"] = [d["z"].item() for d in moe_out]
        report["moe_dropped"] = dropped
        report["moe_counts"] = {l: d["counts"] for l, d in zip(twin.moe_blocks(m), moe_out)}
        # The smallest gap between neighbouring probabilities among each token's first k + 1 (the choice of
        # the top k and their order): how far a twin with other rounding is from routing differently.
        gaps = [(d["probs"].sort(dim=-1, descending=True).values[:, : m.top_k + 1].diff(dim=-1).neg().min())
                for d in moe_out]
        report["router_min_prob_gap"] = min(g.item() for g in gaps)
        if report["router_min_prob_gap"] < MIN_ROUTER_GAP:
            raise RuntimeError(f"{name}: two router probabilities at the top-k boundary are only "
                               f"{report['router_min_prob_gap']:.2e} apart (want >= {MIN_ROUTER_GAP}); pick "
                               "another seed")
        if m.capacity_factor > 0:
            frac = sum(dropped) / len(dropped)
            if frac < MIN_CAPACITY_DROPPED:
                raise RuntimeError(f"{name}: the initial forward drops only {frac:.1%} of the assignments "
                                   f"(want >= {MIN_CAPACITY_DROPPED:.0%}); pick another seed")

    # PyTorch's own bf16 run of the same forward/backward (bf16 weights, activations and gradients, as
    # Trident's bf16 storage): how far bf16 rounding carries this fixture's outputs from the float64 truth,
    # the bar Trident's bf16 logits and gradients are held to.
    pb = {k: v.detach().to(torch.bfloat16).requires_grad_(True) for k, v in p32.items()}
    moe_out_bf16 = []
    logits_bf16 = twin.forward(pb, m, tokens, moe_out=moe_out_bf16)
    twin.total_loss(logits_bf16, targets, m, moe_out_bf16)[0].backward()
    if m.num_experts:
        report["routing_bf16_vs_f64_assignments_differing"] = routing_differences(moe_out_bf16, moe_out)
        if report["routing_bf16_vs_f64_assignments_differing"]:
            raise RuntimeError(f"{name}: PyTorch's bf16 run routes differently from float64; pick another seed")
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

    if checks:
        checked, losses32 = self_check(name, m, t, p32, tokens, targets, logits, loss, grads)
        report.update(checked)
        report["train_losses_f32_max_rel_diff"] = max(abs(a - b) / abs(b) for a, b in zip(losses32, losses))
        report.update(sensitivity(name, m, p32, tokens, targets))

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
    if m.num_experts:
        tensors["out.ce_loss"] = np.array([ce], dtype=np.float64)
        tensors["out.moe_aux_loss"] = np.array([aux], dtype=np.float64)
        tensors["out.moe_z_loss"] = np.array([zl], dtype=np.float64)
        tensors["out.moe_dropped"] = np.array([d["dropped"] for d in moe_out], dtype=np.float64)
        for l, d in zip(twin.moe_blocks(m), moe_out):
            tensors[f"out.moe_counts.{l}"] = np.array(d["counts"], dtype=np.float64)
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
    ap.add_argument("--only", metavar="NAME[,NAME]", help="write only these fixtures (default: all), e.g. "
                    "--only gpt2_moe_golden,llama_moe_golden")
    args = ap.parse_args()
    only = None
    if args.only:
        only = set(args.only.split(","))
        unknown = only - set(CONFIGS) - set(STEP_CONFIGS)
        if unknown:
            ap.error(f"unknown fixture(s) {sorted(unknown)}; known: {list(CONFIGS) + list(STEP_CONFIGS)}")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    os.makedirs(args.out, exist_ok=True)
    for name, cfg in CONFIGS.items():
        if only is not None and name not in only:
            continue
        path, losses, report = build(name, copy.deepcopy(cfg), args.out, not args.skip_checks)
        print(f"{path}: {os.path.getsize(path)} bytes")
        print("  losses: " + " ".join(f"{x:.6f}" for x in losses))
        for k, v in report.items():
            print(f"  {k}: {v}")
    for name, cfg in STEP_CONFIGS.items():
        if only is not None and name not in only:
            continue
        path, losses, norms, report = build_step(name, copy.deepcopy(cfg), args.out, not args.skip_checks)
        print(f"{path}: {os.path.getsize(path)} bytes")
        print("  losses: " + " ".join(f"{x:.6f}" for x in losses))
        print("  grad norms: " + " ".join(f"{x:.4f}" for x in norms))
        for k, v in report.items():
            print(f"  {k}: {v}")

if __name__ == "__main__":
    main()
