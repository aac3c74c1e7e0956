#pragma once
// Ops: free functions over contiguous tensors, dispatched on the device of their arguments. Each op's one
// entry (core/ops/<op>.cpp) checks its arguments against the contracts below, then runs the CUDA backend
// (core/ops/cuda/cuda_ops.h) when any argument is on a GPU, else the CPU kernel (core/ops/cpu/cpu_kernels.h);
// the backends hold only kernels and their own limits. The CPU implementation is the reference: f32 for
// training, f64 for finite-difference checks. Every op supports DType::f32 and DType::f64 on CPU (all float
// arguments share one dtype; token ids are i32). bf16/f16 are storage on CPU for every op but adamw_step:
// compute is f32, they may mix with f32 arguments (f32 mean/rstd/lse), and each output is rounded once
// (core/ops/cpu/cpu_common.h, ran_in_f32).
//
// Conventions:
//   * forward ops write their outputs (overwrite);
//   * backward ops WRITE input gradients (din, dq, ...) and ACCUMULATE (+=) into parameter gradients
//     (dweight, dbias), so gradient accumulation over micro-batches needs no extra pass;
//   * an output may not alias an input unless the comment says it may;
//   * shapes in comments: N = rows (B*T), C = channels, V = vocab, H = heads, D = head dim.
#include <cstdint>

#include "core/tensor/tensor.h"

namespace trident::ops {

// ---- GEMM (OpenBLAS on CPU) ----------------------------------------------------------------------------
// out = alpha * op(a) @ op(b) + beta * out; a, b, out are 2-D; op(x) = x^T when trans_x.
void matmul(Tensor& out, const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false,
            double alpha = 1.0, double beta = 0.0);

// Linear layer with PyTorch's weight layout: out (N, OC) = in (N, IC) @ weight^T (OC, IC) + bias (OC).
// bias may be undefined (Tensor{}).
void linear_forward(Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias);
// din (N, IC) written (skipped when undefined); dweight (OC, IC) and dbias (OC) accumulated
// (dbias skipped when undefined).
void linear_backward(Tensor& din, Tensor& dweight, Tensor& dbias, const Tensor& dout, const Tensor& in,
                     const Tensor& weight);

// ---- Embedding -----------------------------------------------------------------------------------------
// out (N, C) = weight (V, C)[tokens (N) i32]. Tokens outside [0, V) are an error.
void embedding_forward(Tensor& out, const Tensor& tokens, const Tensor& weight);
// dweight (V, C) += scatter-add of dout (N, C) at tokens.
void embedding_backward(Tensor& dweight, const Tensor& dout, const Tensor& tokens);
// One rank's rows of a vocabulary-parallel table (tensor_parallel/VocabParallelEmbedding): weight (V_local,
// C) holds the rows of the ids [vocab_start, vocab_start + V_local) of a (vocab, C) table. out (N, C) row i =
// weight[tokens[i] - vocab_start] for the tokens in that range and zeros for the others (another rank's), so
// summing out over the ranks gives the whole lookup. Tokens outside [0, vocab) are an error.
void vocab_range_embedding_forward(Tensor& out, const Tensor& tokens, const Tensor& weight,
                                   int64_t vocab_start, int64_t vocab);
// dweight (V_local, C) += dout (N, C) rows of the tokens in this range; the others give no gradient here.
void vocab_range_embedding_backward(Tensor& dweight, const Tensor& dout, const Tensor& tokens,
                                    int64_t vocab_start, int64_t vocab);

// ---- Norms (over the last dim C; rows N = numel / C) ----------------------------------------------------
// out = (x - mean) * rstd * weight + bias; saves mean (N) and rstd (N) = 1 / sqrt(var + eps) (biased var).
void layernorm_forward(Tensor& out, Tensor& mean, Tensor& rstd, const Tensor& in, const Tensor& weight,
                       const Tensor& bias, double eps);
void layernorm_backward(Tensor& din, Tensor& dweight, Tensor& dbias, const Tensor& dout, const Tensor& in,
                        const Tensor& weight, const Tensor& mean, const Tensor& rstd);
// out = x * rstd * weight, rstd (N) = 1 / sqrt(mean(x^2) + eps).
void rmsnorm_forward(Tensor& out, Tensor& rstd, const Tensor& in, const Tensor& weight, double eps);
void rmsnorm_backward(Tensor& din, Tensor& dweight, const Tensor& dout, const Tensor& in,
                      const Tensor& weight, const Tensor& rstd);
// The pre-norm block's residual add fused with the next norm (one pass over the rows on a GPU):
// residual (N, C) = x + y, then out, mean, rstd as layernorm_forward / rmsnorm_forward of residual. residual
// may alias x or y. Backward is the norm's backward plus the residual stream's own gradient.
void residual_layernorm_forward(Tensor& residual, Tensor& out, Tensor& mean, Tensor& rstd, const Tensor& x,
                                const Tensor& y, const Tensor& weight, const Tensor& bias, double eps);
void residual_rmsnorm_forward(Tensor& residual, Tensor& out, Tensor& rstd, const Tensor& x, const Tensor& y,
                              const Tensor& weight, double eps);

// ---- Activations (elementwise) -------------------------------------------------------------------------
// GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
void gelu_forward(Tensor& out, const Tensor& in);
void gelu_backward(Tensor& din, const Tensor& dout, const Tensor& in);
// SwiGLU over a fused input: in (N, 2F) holds [gate | up] per row; out (N, F) = silu(gate) * up.
void swiglu_forward(Tensor& out, const Tensor& in);
void swiglu_backward(Tensor& din, const Tensor& dout, const Tensor& in);

// ---- Rotary position embedding ---------------------------------------------------------------------------
// x (B, T, H, D), D even, "rotate-half" pairing (i, i + D/2) as in GPT-NeoX / Hugging Face LLaMA:
//   freq_i = theta^(-2i/D), angle = (pos0 + t) * freq_i,
//   out[i] = x[i] cos - x[i+D/2] sin,  out[i+D/2] = x[i+D/2] cos + x[i] sin.
// out may alias in. Backward is the inverse rotation (dout -> din); din may alias dout.
void rope_forward(Tensor& out, const Tensor& in, double theta, int64_t pos0 = 0);
void rope_backward(Tensor& din, const Tensor& dout, double theta, int64_t pos0 = 0);

// ---- Causal self-attention with grouped-query heads ----
// q (B, T, H, D), k and v (B, T, Hkv, D) with H % Hkv == 0 (query head h uses kv head h / (H / Hkv)).
// out (B, T, H, D) = softmax(q k^T / sqrt(D) + causal mask) v; lse (B, H, T) saves the row log-sum-exp of the
// scaled scores so backward recomputes probabilities without keeping a T x T matrix.
void attention_forward(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v);
// dq (B, T, H, D), dk, dv (B, T, Hkv, D) written.
void attention_backward(Tensor& dq, Tensor& dk, Tensor& dv, const Tensor& dout, const Tensor& q,
                        const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse);

// ---- Softmax over the last dim ---------------------------------------------------------------------------
void softmax_forward(Tensor& out, const Tensor& in);
void softmax_backward(Tensor& din, const Tensor& dout, const Tensor& out);

// ---- Fused softmax cross-entropy ----
// logits (N, Vp) where only the first `vocab` columns are real (the rest is padding and ignored); targets (N)
// i32; losses (N) = lse - logit[target]; lse (N) saved. A target of -1 is ignored (loss 0).
void cross_entropy_forward(Tensor& losses, Tensor& lse, const Tensor& logits, const Tensor& targets,
                           int64_t vocab);
// dlogits (N, Vp) = (softmax(logits) - onehot(target)) * dloss_scale, padded columns 0, ignored rows 0.
// dlogits may alias logits (written in place).
void cross_entropy_backward(Tensor& dlogits, const Tensor& logits, const Tensor& lse, const Tensor& targets,
                            int64_t vocab, double dloss_scale);

// ---- Vocabulary-parallel cross-entropy, one rank's part (Megatron's _VocabParallelCrossEntropy) ----
// logits (N, V_local) hold the global columns [vocab_start, vocab_start + V_local) of (N, Vp) logits; the
// columns at or past `vocab` are padding and never enter. targets (N) i32 are global ids in [0, vocab) or -1
// (ignored). row_max (N) and sums (2, N) are statistics (f32; f64 for f64 logits). The caller reduces them
// over the ranks between the steps (tensor_parallel/vocab_parallel_cross_entropy.h):
//   cross_entropy_partial_max:  row_max = max over this rank's real columns (-inf where it has none);
//                               then all-reduce max;
//   cross_entropy_partial_sums: sums[0] = sum over them of exp(logit - row_max), sums[1] = the target's logit
//                               where this rank holds the target, else 0; then all-reduce sum;
//   cross_entropy_partial_loss: lse = row_max + log(sums[0]), losses = lse - sums[1] (0 for target -1).
void cross_entropy_partial_max(Tensor& row_max, const Tensor& logits, int64_t vocab_start, int64_t vocab);
void cross_entropy_partial_sums(Tensor& sums, const Tensor& logits, const Tensor& row_max,
                                const Tensor& targets, int64_t vocab_start, int64_t vocab);
void cross_entropy_partial_loss(Tensor& losses, Tensor& lse, const Tensor& row_max, const Tensor& sums,
                                const Tensor& targets);
// dlogits (N, V_local) = (exp(logit - lse) - onehot(target)) * dloss_scale over this rank's columns, padding
// columns and ignored rows 0, with lse (N) the global one; needs no communication. dlogits may alias logits.
void cross_entropy_partial_backward(Tensor& dlogits, const Tensor& logits, const Tensor& lse,
                                    const Tensor& targets, int64_t vocab_start, int64_t vocab,
                                    double dloss_scale);

// ---- Bias add (outside a GEMM: the row-parallel linear adds its bias after the all-reduce) ----
// out (N, C) += bias (C) on every row.
void add_bias(Tensor& out, const Tensor& bias);

// ---- Elementwise helpers ----
void add(Tensor& out, const Tensor& a, const Tensor& b);  // out may alias a or b
void add_inplace(Tensor& a, const Tensor& b);             // a += b
void scale_inplace(Tensor& a, double s);                  // a *= s
double sum_squares(const Tensor& a);                      // in double, for the global grad norm

// ---- Row ops (MoE token routing: gates on permuted rows; the gathers are embedding_forward/backward) ----
// out (M, C) = in (M, C) * scale (M) row by row; out may alias in. scale is f32 (f64 for f64 tensors).
void scale_rows(Tensor& out, const Tensor& in, const Tensor& scale);
// out (M) = the dot product of row m of a (M, C) and of b (M, C), summed in double; out f32 (f64 for f64).
void row_dot(Tensor& out, const Tensor& a, const Tensor& b);

// ---- AdamW (PyTorch semantics), over flat f32 ranges ----
// p -= lr * wd * p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// p -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps). step counts from 1.
struct AdamWParams {
  double lr, beta1, beta2, eps, weight_decay;
  int64_t step;
};
void adamw_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWParams& hp);

}  // namespace trident::ops
