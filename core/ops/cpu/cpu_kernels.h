#pragma once
// The CPU backend: the kernels behind the public ops of core/ops/ops.h, on CPU tensors whose arguments the
// op's entry (core/ops/<op>.cpp) has already checked. Contracts, shapes and dtypes are ops.h's; what is left
// here is what only a kernel can check (token and target ids, read from host memory) and the f32/f64
// dispatch. `op` names the public op in the messages of those checks.
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/ops/ops.h"
#include "core/tensor/tensor.h"

namespace trident::ops::cpu {

void matmul(Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, double alpha,
            double beta);
void linear_forward(Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias);
void linear_backward(Tensor& din, Tensor& dweight, Tensor& dbias, const Tensor& dout, const Tensor& in,
                     const Tensor& weight);

// Rows [vocab_start, vocab_start + V_local) of a (vocab, C) table; embedding_* is the whole table.
void embedding_forward(std::string_view op, Tensor& out, const Tensor& tokens, const Tensor& weight,
                       int64_t vocab_start, int64_t vocab);
void embedding_backward(std::string_view op, Tensor& dweight, const Tensor& dout, const Tensor& tokens,
                        int64_t vocab_start, int64_t vocab);

void cross_entropy_forward(Tensor& losses, Tensor& lse, const Tensor& logits, const Tensor& targets,
                           int64_t vocab);
// logits (N, V_local): the columns [vocab_start, vocab_start + V_local); cross_entropy_backward has
// vocab_start 0.
void cross_entropy_backward(std::string_view op, Tensor& dlogits, const Tensor& logits, const Tensor& lse,
                            const Tensor& targets, int64_t vocab_start, int64_t vocab, double dloss_scale);
void cross_entropy_partial_max(Tensor& row_max, const Tensor& logits, int64_t vocab_start, int64_t vocab);
void cross_entropy_partial_sums(Tensor& sums, const Tensor& logits, const Tensor& row_max,
                                const Tensor& targets, int64_t vocab_start, int64_t vocab);
void cross_entropy_partial_loss(Tensor& losses, Tensor& lse, const Tensor& row_max, const Tensor& sums,
                                const Tensor& targets);

void add_bias(Tensor& out, const Tensor& bias);

void gelu_forward(Tensor& out, const Tensor& in);
void gelu_backward(Tensor& din, const Tensor& dout, const Tensor& in);
void swiglu_forward(Tensor& out, const Tensor& in);
void swiglu_backward(Tensor& din, const Tensor& dout, const Tensor& in);

void rope_forward(Tensor& out, const Tensor& in, double theta, int64_t pos0);
void rope_backward(Tensor& din, const Tensor& dout, double theta, int64_t pos0);

void softmax_forward(Tensor& out, const Tensor& in);
void softmax_backward(Tensor& din, const Tensor& dout, const Tensor& out);

void add(Tensor& out, const Tensor& a, const Tensor& b);  // out may alias a or b
void scale_inplace(Tensor& a, double s);
double sum_squares(const Tensor& a);

void scale_rows(Tensor& out, const Tensor& in, const Tensor& scale);
void row_dot(Tensor& out, const Tensor& a, const Tensor& b);

void layernorm_forward(Tensor& out, Tensor& mean, Tensor& rstd, const Tensor& in, const Tensor& weight,
                       const Tensor& bias, double eps);
void layernorm_backward(Tensor& din, Tensor& dweight, Tensor& dbias, const Tensor& dout, const Tensor& in,
                        const Tensor& weight, const Tensor& mean, const Tensor& rstd);

void rmsnorm_forward(Tensor& out, Tensor& rstd, const Tensor& in, const Tensor& weight, double eps);
void rmsnorm_backward(Tensor& din, Tensor& dweight, const Tensor& dout, const Tensor& in,
                      const Tensor& weight, const Tensor& rstd);

void attention_forward(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v);
void attention_backward(Tensor& dq, Tensor& dk, Tensor& dv, const Tensor& dout, const Tensor& q,
                        const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse);

// split_last_dim (to_parts) and concat_last_dim: fused (N, sum Ci) and parts (N, Ci), as bytes.
void copy_column_blocks(const Tensor& fused, const std::vector<const Tensor*>& parts, bool to_parts);

void adamw_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWParams& hp);

}  // namespace trident::ops::cpu
