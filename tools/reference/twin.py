"""The PyTorch twin: an independent, deliberately plain implementation of Trident's GPT-2 and LLaMA models
(dense, or with mixture-of-experts blocks), AdamW training step and learning-rate schedule, used to write the
golden fixtures (make_golden.py) and as the speed reference (bench_twin.py).

Parameters live in a flat {global name: tensor} dict using Trident's names and (out, in) weight layout, so a
fixture maps one-to-one onto Trident's parameters. Nothing here imports Trident.
"""

import json
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


def round_up(x, m):
    return (x + m - 1) // m * m


def f32(x):
    """Trident's schema stores these fields as protobuf `float`; the twin sees exactly the value Trident sees."""
    return float(np.float32(x))


@dataclass
class ModelCfg:
    arch: str
    n_layer: int
    d_model: int
    n_head: int
    n_kv_head: int
    d_ff: int
    vocab_size: int
    vocab_padded: int
    max_seq_len: int
    norm_eps: float
    rope_theta: float
    tie_embeddings: bool
    init_std: float
    gelu_approximate: str = "tanh"  # Trident's GPT-2 GELU; "none" (erf) only in make_golden's sensitivity checks
    # Mixture of experts (model.moe; num_experts 0: a dense model), see moe() below.
    num_experts: int = 0
    top_k: int = 2
    every: int = 1  # block l is an MoE block when l % every == 0 (block 0 always is)
    d_ff_expert: int = 0  # resolved: 0 in the config means the model's d_ff
    capacity_factor: float = 0.0  # 0: dropless
    aux_loss_coeff: float = f32(1e-2)
    z_loss_coeff: float = f32(1e-3)
    shared_experts: int = 0
    normalize_topk: bool = False
    # The spec's capacity order, (token, slot): "slot" (every token's first choice before any second choice,
    # GShard's priority) only in make_golden's sensitivity checks.
    moe_drop_order: str = "token"

    @property
    def head_dim(self):
        return self.d_model // self.n_head


@dataclass
class TrainCfg:
    micro_batch_size: int
    seq_len: int
    steps: int
    seed: int
    lr: float
    min_lr: float
    warmup_steps: int
    weight_decay: float
    beta1: float
    beta2: float
    eps: float
    grad_clip: float


def model_cfg(m):
    """ModelCfg from the `model` section of a Trident config (a dict), applying Trident's defaults."""
    arch = m["arch"]
    if arch not in ("gpt2", "llama"):
        raise ValueError(f"unknown arch {arch}")
    C, H = m["d_model"], m["n_head"]
    d_ff = m.get("d_ff", 0) or (4 * C if arch == "gpt2" else round_up(int(8 * C / 3), 64))
    V = m["vocab_size"]
    pad = m.get("vocab_pad_multiple", 0) or 1
    moe = m.get("moe", {})
    E, k = moe.get("num_experts", 0), moe.get("top_k", 2)
    if E and not 1 <= k <= E:
        raise ValueError(f"moe.top_k {k} must be in [1, num_experts {E}]")
    return ModelCfg(
        arch=arch,
        n_layer=m["n_layer"],
        d_model=C,
        n_head=H,
        n_kv_head=m.get("n_kv_head", 0) or H,
        d_ff=d_ff,
        vocab_size=V,
        vocab_padded=round_up(V, pad),
        max_seq_len=m["max_seq_len"],
        norm_eps=f32(m.get("norm_eps", 0) or 1e-5),
        rope_theta=f32(m.get("rope_theta", 0) or 10000.0),
        tie_embeddings=bool(m.get("tie_embeddings", False)),
        init_std=f32(m.get("init_std", 0) or 0.02),
        num_experts=E,
        top_k=k,
        every=moe.get("every", 0) or 1,
        d_ff_expert=moe.get("d_ff_expert", 0) or d_ff,
        capacity_factor=f32(moe.get("capacity_factor", 0)),
        # An absent coefficient takes its default; an explicit 0 turns the term off.
        aux_loss_coeff=f32(moe.get("aux_loss_coeff", 1e-2)),
        z_loss_coeff=f32(moe.get("z_loss_coeff", 1e-3)),
        shared_experts=moe.get("shared_experts", 0),
        normalize_topk=bool(moe.get("normalize_topk", False)),
    )


def train_cfg(cfg):
    t, o = cfg["train"], cfg["optim"]
    return TrainCfg(
        micro_batch_size=t["micro_batch_size"],
        seq_len=t["seq_len"],
        steps=t["steps"],
        seed=int(t.get("seed", 0)),
        lr=f32(o["lr"]),
        min_lr=f32(o.get("min_lr", 0)),
        warmup_steps=o.get("warmup_steps", 0),
        weight_decay=f32(o.get("weight_decay", 0)),
        beta1=f32(o.get("beta1", 0.9)),
        beta2=f32(o.get("beta2", 0.95)),
        eps=f32(o.get("eps", 1e-8)),
        grad_clip=f32(o.get("grad_clip", 0)),
    )


def load_config(path):
    with open(path) as f:
        cfg = json.load(f)
    return model_cfg(cfg["model"]), train_cfg(cfg)


# ---- parameters ------------------------------------------------------------------------------------------------


def is_moe_block(c: ModelCfg, l):
    return c.num_experts > 0 and l % c.every == 0


def moe_blocks(c: ModelCfg):
    """The indices of the MoE blocks, in order (forward's moe_out has one entry per block listed here)."""
    return [l for l in range(c.n_layer) if is_moe_block(c, l)]


def ffn_shapes(c: ModelCfg, pre, F_):
    """A dense MLP of the model's kind with hidden size F_, its weights under `pre` (ending in ".")."""
    C = c.d_model
    if c.arch == "gpt2":
        return {pre + "fc.weight": (F_, C), pre + "fc.bias": (F_,), pre + "proj.weight": (C, F_),
                pre + "proj.bias": (C,)}
    return {pre + "gate_up.weight": (2 * F_, C), pre + "down.weight": (C, F_)}


def moe_shapes(c: ModelCfg, pre):
    """An MoE layer's parameters under `pre` ("blocks.l.moe."): the router, the E routed experts stacked on a
    leading expert axis, then the shared expert (S*Fe wide) when shared_experts > 0."""
    C, E, Fe = c.d_model, c.num_experts, c.d_ff_expert
    shapes = {pre + "router.weight": (E, C)}
    if c.arch == "gpt2":
        shapes[pre + "experts.fc.weight"] = (E, Fe, C)
        shapes[pre + "experts.fc.bias"] = (E, Fe)
        shapes[pre + "experts.proj.weight"] = (E, C, Fe)
        shapes[pre + "experts.proj.bias"] = (E, C)
    else:
        shapes[pre + "experts.gate_up.weight"] = (E, 2 * Fe, C)  # per expert: rows [gate (Fe) | up (Fe)]
        shapes[pre + "experts.down.weight"] = (E, C, Fe)
    if c.shared_experts > 0:
        shapes.update(ffn_shapes(c, pre + "shared.", c.shared_experts * Fe))
    return shapes


def param_shapes(c: ModelCfg):
    """Trident's parameter names and shapes, in a fixed order (the order the initializer draws them)."""
    C, F_, D, Vp = c.d_model, c.d_ff, c.head_dim, c.vocab_padded
    qkv_rows = c.n_head * D + 2 * c.n_kv_head * D
    gpt2 = c.arch == "gpt2"
    shapes = {"embed.wte": (Vp, C)}
    if gpt2:
        shapes["embed.wpe"] = (c.max_seq_len, C)
    for l in range(c.n_layer):
        p = f"blocks.{l}."
        shapes[p + "attn_norm.weight"] = (C,)
        if gpt2:
            shapes[p + "attn_norm.bias"] = (C,)
        shapes[p + "attn.qkv.weight"] = (qkv_rows, C)
        if gpt2:
            shapes[p + "attn.qkv.bias"] = (qkv_rows,)
        shapes[p + "attn.proj.weight"] = (C, c.n_head * D)
        if gpt2:
            shapes[p + "attn.proj.bias"] = (C,)
        shapes[p + "mlp_norm.weight"] = (C,)
        if gpt2:
            shapes[p + "mlp_norm.bias"] = (C,)
        if is_moe_block(c, l):
            shapes.update(moe_shapes(c, p + "moe."))  # in place of the dense mlp
        else:
            shapes.update(ffn_shapes(c, p + "mlp.", F_))
    shapes["final_norm.weight"] = (C,)
    if gpt2:
        shapes["final_norm.bias"] = (C,)
    if not c.tie_embeddings:
        shapes["head.weight"] = (Vp, C)
    return shapes


def is_norm_weight(name):
    return name.endswith("norm.weight")


def init_params(c: ModelCfg, seed):
    """float32 weights from one seeded generator. Norm weights are 1 + 0.1*N(0,1) and biases 0.02*N(0,1) (not
    ones/zeros) so that a fixture exercises every term of the norms and biases."""
    g = torch.Generator().manual_seed(seed)
    params = {}
    for name, shape in param_shapes(c).items():
        z = torch.randn(shape, generator=g, dtype=torch.float32)
        if is_norm_weight(name):
            params[name] = 1.0 + 0.1 * z
        elif name.endswith(".bias"):
            params[name] = 0.02 * z
        else:
            params[name] = c.init_std * z
    return params


# ---- the forward pass --------------------------------------------------------------------------------------------


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)  # biased variance
    return (x - mu) * torch.rsqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def linear(x, w, b=None):
    y = x @ w.t()
    return y if b is None else y + b


def rope(x, theta):
    """x: (B, T, heads, D). Rotate-half pairing: element i pairs with i + D/2."""
    B, T, _, D = x.shape
    half = D // 2
    i = torch.arange(half, dtype=torch.float64)
    freq = theta ** (-2.0 * i / D)  # (D/2,)
    angle = torch.arange(T, dtype=torch.float64)[:, None] * freq[None, :]  # (T, D/2)
    cos = angle.cos().to(x.dtype)[None, :, None, :]
    sin = angle.sin().to(x.dtype)[None, :, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def attention(x, p, pre, c: ModelCfg, use_sdpa=False):
    B, T, _ = x.shape
    H, Hkv, D = c.n_head, c.n_kv_head, c.head_dim
    qkv = linear(x, p[pre + "attn.qkv.weight"], p.get(pre + "attn.qkv.bias"))
    q, k, v = qkv.split([H * D, Hkv * D, Hkv * D], dim=-1)
    q = q.reshape(B, T, H, D)
    k = k.reshape(B, T, Hkv, D)
    v = v.reshape(B, T, Hkv, D)
    if c.arch == "llama":
        q, k = rope(q, c.rope_theta), rope(k, c.rope_theta)
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, heads, T, D)
    group = H // Hkv
    # Query head h reads kv head h // group.
    k = k.repeat_interleave(group, dim=1)
    v = v.repeat_interleave(group, dim=1)
    if use_sdpa:
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    else:
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(D)  # (B, H, T, T)
        future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(future, float("-inf"))
        y = torch.softmax(scores, dim=-1) @ v  # (B, H, T, D)
    y = y.transpose(1, 2).reshape(B, T, H * D)
    return linear(y, p[pre + "attn.proj.weight"], p.get(pre + "attn.proj.bias"))


def ffn(x, p, pre, c: ModelCfg):
    """The dense MLP whose weights are under `pre` ("blocks.l.mlp." or "blocks.l.moe.shared.")."""
    if c.arch == "gpt2":
        h = F.gelu(linear(x, p[pre + "fc.weight"], p[pre + "fc.bias"]), approximate=c.gelu_approximate)
        return linear(h, p[pre + "proj.weight"], p[pre + "proj.bias"])
    gate, up = linear(x, p[pre + "gate_up.weight"]).chunk(2, dim=-1)
    return linear(F.silu(gate) * up, p[pre + "down.weight"])


def mlp(x, p, pre, c: ModelCfg):
    return ffn(x, p, pre + "mlp.", c)


def expert(x, p, pre, e, c: ModelCfg):
    """Routed expert e of the MoE layer under `pre`: the dense MLP with the e-th slice of the stacked weights."""
    if c.arch == "gpt2":
        h = linear(x, p[pre + "experts.fc.weight"][e], p[pre + "experts.fc.bias"][e])
        h = F.gelu(h, approximate=c.gelu_approximate)
        return linear(h, p[pre + "experts.proj.weight"][e], p[pre + "experts.proj.bias"][e])
    gate, up = linear(x, p[pre + "experts.gate_up.weight"][e]).chunk(2, dim=-1)
    return linear(F.silu(gate) * up, p[pre + "experts.down.weight"][e])


def moe(x, p, pre, c: ModelCfg, moe_out=None):
    """The MoE layer on x (B, T, C), weights under `pre` ("blocks.l.moe."). When moe_out is a list, appends
    this layer's {"aux", "z", "dropped", "counts", "probs", "experts", "kept"}: the auxiliary losses over this
    call's tokens, the fraction of assignments dropped, the per-expert assignment counts before drops, and the
    routing (detached): router probabilities (N, E), chosen experts (N, k), whether each assignment was kept."""
    shape = x.shape
    x = x.reshape(-1, shape[-1])  # (N, C): token rows in (b, t) order
    N, E, k = x.shape[0], c.num_experts, c.top_k

    # Router: logits, probabilities, and each token's top k experts in descending probability (a stable sort,
    # so ties go to the lower expert index). The router runs in the parameters' dtype, at least float32 (the
    # bf16 reference routes in float32, as Trident does).
    rdt = torch.promote_types(x.dtype, torch.float32)
    z = linear(x.to(rdt), p[pre + "router.weight"].to(rdt))  # (N, E)
    probs = torch.softmax(z, dim=-1)
    top = torch.sort(probs.detach(), dim=-1, descending=True, stable=True).indices[:, :k]  # (N, k)
    gates = probs.gather(1, top)  # (N, k), differentiable
    if c.normalize_topk:
        gates = gates / gates.sum(dim=-1, keepdim=True)

    # Capacity: visit the assignments (t, j) token by token, each token's choices in order; an assignment is
    # kept while its expert has kept fewer than cap. Dropless (capacity_factor 0) keeps them all.
    kept = torch.ones(N, k, dtype=torch.bool)
    if c.capacity_factor > 0:
        cap = math.ceil(c.capacity_factor * N * k / E)
        if c.moe_drop_order == "token":
            order = [(t, j) for t in range(N) for j in range(k)]
        else:
            order = [(t, j) for j in range(k) for t in range(N)]
        chosen = top.tolist()
        used = [0] * E
        for t, j in order:
            e = chosen[t][j]
            if used[e] < cap:
                used[e] += 1
            else:
                kept[t, j] = False

    # Each expert on its kept rows; y[t] += gate * expert(x[t]).
    y = torch.zeros_like(x)
    for e in range(E):
        rows, slots = ((top == e) & kept).nonzero(as_tuple=True)
        if rows.numel() == 0:
            continue
        out = expert(x[rows], p, pre, e, c)
        y = y.index_add(0, rows, gates[rows, slots].to(x.dtype)[:, None] * out)
    if c.shared_experts > 0:
        y = y + ffn(x, p, pre + "shared.", c)

    if moe_out is not None:
        counts = torch.bincount(top.reshape(-1), minlength=E)  # before drops; no gradient
        P = probs.mean(dim=0)  # (E,)
        aux = E * ((counts.to(rdt) / (N * k)) * P).sum()
        zl = (torch.logsumexp(z, dim=-1) ** 2).mean()
        moe_out.append({"aux": aux, "z": zl, "dropped": 1.0 - kept.sum().item() / (N * k),
                        "counts": counts.tolist(), "probs": probs.detach(), "experts": top, "kept": kept})
    return y.reshape(shape)


def norm(x, p, name, c: ModelCfg):
    if c.arch == "gpt2":
        return layer_norm(x, p[name + ".weight"], p[name + ".bias"], c.norm_eps)
    return rms_norm(x, p[name + ".weight"], c.norm_eps)


def forward(p, c: ModelCfg, tokens, use_sdpa=False, moe_out=None):
    """tokens (B, T) int64 -> logits (B, T, Vp) in the dtype of the parameters. When moe_out is a list, each
    MoE block appends its auxiliary terms and routing to it (see moe())."""
    B, T = tokens.shape
    x = p["embed.wte"][tokens]
    if c.arch == "gpt2":
        x = x + p["embed.wpe"][:T][None]
    for l in range(c.n_layer):
        pre = f"blocks.{l}."
        x = x + attention(norm(x, p, pre + "attn_norm", c), p, pre, c, use_sdpa)
        h = norm(x, p, pre + "mlp_norm", c)
        if is_moe_block(c, l):
            x = x + moe(h, p, pre + "moe.", c, moe_out)
        else:
            x = x + mlp(h, p, pre, c)
    x = norm(x, p, "final_norm", c)
    head = p["embed.wte"] if c.tie_embeddings else p["head.weight"]
    return x @ head.t()


def loss_fn(logits, targets, c: ModelCfg):
    """Mean cross-entropy over all B*T positions, on the real vocabulary only (padded columns excluded)."""
    V = c.vocab_size
    return F.cross_entropy(logits[..., :V].reshape(-1, V), targets.reshape(-1))


def total_loss(logits, targets, c: ModelCfg, moe_out):
    """(total, ce, aux_sum, z_sum) from a forward's logits and its moe_out: total = ce + sum over MoE layers of
    aux_loss_coeff * aux + sum of z_loss_coeff * z. A dense model's total is its cross-entropy itself."""
    ce = loss_fn(logits, targets, c)
    if not moe_out:
        return ce, ce, ce.new_zeros(()), ce.new_zeros(())
    aux = sum(c.aux_loss_coeff * d["aux"] for d in moe_out)
    zl = sum(c.z_loss_coeff * d["z"] for d in moe_out)
    return ce + aux + zl, ce, aux, zl


def objective(p, c: ModelCfg, tokens, targets, moe_out=None):
    """What training minimises on one micro-batch: (total, ce, aux_sum, z_sum), see total_loss. Pass a list
    as moe_out to also receive the MoE layers' terms and routing."""
    moe_out = [] if moe_out is None else moe_out
    return total_loss(forward(p, c, tokens, moe_out=moe_out), targets, c, moe_out)


# ---- training ------------------------------------------------------------------------------------------------------


def lr_at(s, t: TrainCfg):
    """Linear warmup over warmup_steps, then cosine from lr down to min_lr over the remaining steps."""
    if s < t.warmup_steps:
        return t.lr * (s + 1) / t.warmup_steps
    progress = (s - t.warmup_steps) / max(1, t.steps - t.warmup_steps)
    return t.min_lr + 0.5 * (t.lr - t.min_lr) * (1 + math.cos(math.pi * progress))


def make_optimizer(p, t: TrainCfg, foreach=False):
    """AdamW with weight decay on parameters of 2+ dims (embeddings, matrices), none on norms and biases (the
    MoE experts' biases are 2-D, (E, F): excluded by name)."""
    decay = [v for k, v in p.items() if v.dim() >= 2 and not k.endswith(".bias")]
    no_decay = [v for k, v in p.items() if not (v.dim() >= 2 and not k.endswith(".bias"))]
    groups = [{"params": decay, "weight_decay": t.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=t.lr, betas=(t.beta1, t.beta2), eps=t.eps, foreach=foreach)


def train(p, c: ModelCfg, t: TrainCfg, tokens, targets, steps=None):
    """Trains the leaf tensors in `p` in place on the same batch every step (one micro-batch). Returns the loss
    before each update (losses[s] is the loss after s updates) and the pre-clip gradient norms."""
    steps = t.steps if steps is None else steps
    return train_accumulated(p, c, t, [[(tokens, targets)]] * steps)


def train_accumulated(p, c: ModelCfg, t: TrainCfg, batches):
    """Gradient accumulation, one update per entry of `batches`, a list of m (tokens, targets) micro-batches:
    the step's loss is the mean of the m micro-batch losses, and each micro-batch's backward adds the gradient
    of its loss / m. A micro-batch's loss is objective()'s total (the cross-entropy, plus the auxiliary terms
    of an MoE model). Returns each step's loss (before its update) and its global gradient norm before
    clipping (clipped only when grad_clip > 0)."""
    opt = make_optimizer(p, t)
    params = list(p.values())
    losses, norms = [], []
    for s, micro in enumerate(batches):
        opt.zero_grad(set_to_none=True)
        m = len(micro)
        step_loss = 0.0
        for tokens, targets in micro:
            loss = objective(p, c, tokens, targets)[0] / m
            loss.backward()
            step_loss += loss.item()
        losses.append(step_loss)
        norm = torch.sqrt(sum((q.grad.double() ** 2).sum() for q in params)).item()
        if t.grad_clip > 0:
            clipped = torch.nn.utils.clip_grad_norm_(params, t.grad_clip).item()
            assert abs(clipped - norm) <= 1e-6 * norm, (clipped, norm)
        norms.append(norm)
        for g in opt.param_groups:
            g["lr"] = lr_at(s, t)
        opt.step()
    return losses, norms
