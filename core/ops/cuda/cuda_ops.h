#pragma once
// The CUDA backend: the kernels' Tensor entry points behind the public ops of core/ops/ops.h (contracts,
// shapes and argument checks are there and in core/ops/<op>.cpp, written once). The public ops::X checks its
// arguments, then dispatches here when any argument is on a GPU:
//
//   void gelu_forward(Tensor& out, const Tensor& in) {
//     ... checks ...
//     if constexpr (cuda::kBuilt)
//       if (cuda::on_gpu(out, in)) return cuda::gelu_forward(out, in);
//     cpu::gelu_forward(out, in);
//
// Each entry here checks only what is this backend's: that every tensor is on one device, the dtypes its
// kernels take (f32, bf16 and f16, all float arguments one dtype, per-row statistics such as mean, rstd, lse
// and losses f32; f64 is the CPU reference's), and its index limits. Every op runs on the device's compute
// stream (core/runtime/cuda/stream.h) and returns without waiting for it, except sum_squares, which returns a
// host double, and the ops that read back a bad token or target id. Compute is f32 throughout (GEMMs
// accumulate in f32).
//
// On a CPU-only build nothing here is defined: `kBuilt` is constexpr false there and the calls behind it are
// discarded statements, so they need no definition.
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/ops/ops.h"

namespace trident::ops::cuda {

#ifdef TRIDENT_WITH_CUDA
inline constexpr bool kBuilt = true;
#else
inline constexpr bool kBuilt = false;
#endif

// True when any defined argument is a CUDA tensor (the op then checks that all of them are on its device).
template <typename... T>
bool on_gpu(const T&... tensors) {
  return ((tensors.defined() && tensors.device().is_cuda()) || ...);
}

// GEMM (cuBLASLt: bf16/f16 in, f32 accumulate; the bias rides in the GEMM's epilogue).
void matmul(Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, double alpha,
            double beta);
void linear_forward(Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias);
void linear_backward(Tensor& din, Tensor& dweight, Tensor& dbias, const Tensor& dout, const Tensor& in,
                     const Tensor& weight);

// Rows [vocab_start, vocab_start + V_local) of a (vocab, C) table (the whole table for ops::embedding_*);
// `op` names the public op in the messages.
void embedding_forward(std::string_view op, Tensor& out, const Tensor& tokens, const Tensor& weight,
                       int64_t vocab_start, int64_t vocab);
void embedding_backward(std::string_view op, Tensor& dweight, const Tensor& dout, const Tensor& tokens,
                        int64_t vocab_start, int64_t vocab);

void layernorm_forward(Tensor& out, Tensor& mean, Tensor& rstd, const Tensor& in, const Tensor& weight,
                       const Tensor& bias, double eps);
void layernorm_backward(Tensor& din, Tensor& dweight, Tensor& dbias, const Tensor& dout, const Tensor& in,
                        const Tensor& weight, const Tensor& mean, const Tensor& rstd);
void rmsnorm_forward(Tensor& out, Tensor& rstd, const Tensor& in, const Tensor& weight, double eps);
void rmsnorm_backward(Tensor& din, Tensor& dweight, const Tensor& dout, const Tensor& in,
                      const Tensor& weight, const Tensor& rstd);
void residual_layernorm_forward(Tensor& residual, Tensor& out, Tensor& mean, Tensor& rstd, const Tensor& x,
                                const Tensor& y, const Tensor& weight, const Tensor& bias, double eps);
void residual_rmsnorm_forward(Tensor& residual, Tensor& out, Tensor& rstd, const Tensor& x, const Tensor& y,
                              const Tensor& weight, double eps);

void gelu_forward(Tensor& out, const Tensor& in);
void gelu_backward(Tensor& din, const Tensor& dout, const Tensor& in);
void swiglu_forward(Tensor& out, const Tensor& in);
void swiglu_backward(Tensor& din, const Tensor& dout, const Tensor& in);

void rope_forward(Tensor& out, const Tensor& in, double theta, int64_t pos0);
void rope_backward(Tensor& din, const Tensor& dout, double theta, int64_t pos0);

// Flash-style: tiles of q against tiles of k/v in shared memory with an online softmax, so no (T, T) score
// matrix is ever stored; backward recomputes the probabilities from lse.
void attention_forward(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v);
void attention_backward(Tensor& dq, Tensor& dk, Tensor& dv, const Tensor& dout, const Tensor& q,
                        const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse);

void softmax_forward(Tensor& out, const Tensor& in);
void softmax_backward(Tensor& din, const Tensor& dout, const Tensor& out);

void cross_entropy_forward(Tensor& losses, Tensor& lse, const Tensor& logits, const Tensor& targets,
                           int64_t vocab);
// logits (N, V_local): the columns [vocab_start, vocab_start + V_local) (vocab_start 0 for the whole
// vocabulary).
void cross_entropy_backward(std::string_view op, Tensor& dlogits, const Tensor& logits, const Tensor& lse,
                            const Tensor& targets, int64_t vocab_start, int64_t vocab, double dloss_scale);
void cross_entropy_partial_max(Tensor& row_max, const Tensor& logits, int64_t vocab_start, int64_t vocab);
void cross_entropy_partial_sums(Tensor& sums, const Tensor& logits, const Tensor& row_max,
                                const Tensor& targets, int64_t vocab_start, int64_t vocab);
void cross_entropy_partial_loss(Tensor& losses, Tensor& lse, const Tensor& row_max, const Tensor& sums,
                                const Tensor& targets);

void add_bias(Tensor& out, const Tensor& bias);

void add(Tensor& out, const Tensor& a, const Tensor& b);
void add_inplace(Tensor& a, const Tensor& b);
void scale_inplace(Tensor& a, double s);
double sum_squares(const Tensor& a);

// Fused over the whole flat f32 buffers: one kernel reads p, g, m, v once and writes p, m, v.
void adamw_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWParams& hp);

// split_last_dim (to_parts) and concat_last_dim: fused (N, sum Ci) and parts (N, Ci), one strided copy each.
void copy_column_blocks(std::string_view op, const Tensor& fused, const std::vector<const Tensor*>& parts,
                        bool to_parts);

}  // namespace trident::ops::cuda
