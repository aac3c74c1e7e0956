#pragma once
// Per-micro-batch activation contexts: what each module saves in forward for its backward. A pipeline stage
// keeps one ModelActs per micro-batch in flight; dropping a block's acts and re-running its forward is
// activation checkpointing.
//
// Shapes: N = B*T token rows of the micro-batch; R = the rows a tp rank holds between tensor-parallel
// regions: N, or N/tp under sequence parallelism. Inside attention and the MLP every rank holds all N rows of
// its heads and columns.
#include <vector>

#include "core/tensor/tensor.h"
#include "moe/moe_acts.h"

namespace trident::models {

struct NormActs {
  Tensor out;   // (R, C)
  Tensor mean;  // (R) layernorm only
  Tensor rstd;  // (R)
};

struct AttentionActs {
  Tensor qkv;  // (B, T, (H + 2*Hkv) * D / tp)
  Tensor q;    // (B, T, H/tp, D) after RoPE
  Tensor k;    // (B, T, Hkv/tp, D) after RoPE
  Tensor v;    // (B, T, Hkv/tp, D)
  Tensor out;  // (B, T, H/tp, D)
  Tensor lse;  // (B, H/tp, T)
};

struct MlpActs {
  Tensor h;  // (B, T, F/tp) for GELU, (B, T, 2F/tp) [gate | up] for SwiGLU: pre-activation
  Tensor a;  // (B, T, F/tp) activation
};

struct BlockActs {
  NormActs norm1;
  AttentionActs attn;
  Tensor x_mid;  // (R, C) residual after attention
  NormActs norm2;
  MlpActs mlp;       // the dense MLP; in an MoE block, the shared experts (when there are any)
  moe::MoeActs moe;  // an MoE block's routed experts
};

struct HeadActs {
  NormActs norm;
  Tensor logits;  // (N, Vp/tp) this rank's vocabulary columns; overwritten by dlogits in backward
  Tensor losses;  // (N)
  Tensor lse;     // (N)
  int64_t n_targets = 0;
};

struct ModelActs {
  Tensor tokens;                  // (B, T) i32
  Tensor targets;                 // (B, T) i32, -1 = ignored; undefined for inference
  std::vector<Tensor> residual;   // L + 1 tensors (R, C): the input of block l, then the last output
  std::vector<BlockActs> blocks;  // L
  HeadActs head;
};

// Scratch for backward, shared by every block (backward runs one block at a time).
struct Workspace {
  Tensor y;                  // (R, C) a sub-layer's output before the residual add
  Tensor dnorm, dtmp, dmid;  // (R, C)
  Tensor datt, dq, dk, dv;   // attention gradients
  Tensor dqkv;               // (B, T, qkv/tp)
  Tensor dh, da;             // MLP gradients
  Tensor y2, dnorm2;         // (R, C) an MoE block's shared experts: output, input gradient
  Tensor positions;          // (R) i32 for learned position embeddings: each row's position in its sequence
  int64_t positions_T = 0;   // the sequence length `positions` was built for
  int64_t positions_0 = 0;   // ... and the position of its first token (incremental decoding)
};

}  // namespace trident::models
