#pragma once
// The CUDA ops: the signatures, contracts and shape conventions of core/ops/ops.h (read there), on tensors
// that all live on one CUDA device. The public ops::X dispatches here when any argument is on a GPU:
//
//   void gelu_forward(Tensor& out, const Tensor& in) {
//     if (cuda::dispatches(out, in)) return cuda::gelu_forward(out, in);
//
// Every op runs on the device's compute stream (core/runtime/cuda/stream.h) and returns without waiting for
// it, except sum_squares, which returns a host double. Dtypes: f32, bf16 and f16 (f64 is the CPU
// reference's); all float arguments share one dtype, except that per-row statistics (mean, rstd, lse, losses)
// are f32 when the activations are bf16/f16, as on the CPU. Compute is f32 throughout (GEMMs accumulate in
// f32).
//
// On a CPU-only build nothing here is defined: `dispatches` is constexpr false there and the calls behind it
// are discarded statements, so they need no definition.
#include <cstdint>
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

void embedding_forward(Tensor& out, const Tensor& tokens, const Tensor& weight);
void embedding_backward(Tensor& dweight, const Tensor& dout, const Tensor& tokens);

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
void cross_entropy_backward(Tensor& dlogits, const Tensor& logits, const Tensor& lse, const Tensor& targets,
                            int64_t vocab, double dloss_scale);

void add(Tensor& out, const Tensor& a, const Tensor& b);
void add_inplace(Tensor& a, const Tensor& b);
void scale_inplace(Tensor& a, double s);
double sum_squares(const Tensor& a);

// Fused over the whole flat f32 buffers: one kernel reads p, g, m, v once and writes p, m, v.
void adamw_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWParams& hp);

void split_last_dim(const Tensor& in, const std::vector<Tensor*>& outs);
void concat_last_dim(Tensor& out, const std::vector<const Tensor*>& ins);

}  // namespace trident::ops::cuda
