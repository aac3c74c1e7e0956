#include "moe/experts.h"

#include "core/ops/ops.h"
#include "core/runtime/error.h"
#include "core/runtime/spans.h"

namespace trident::moe {

namespace {

// Expert e's slice of a stacked parameter tensor (its value or its gradient), as a matrix or a vector.
Tensor slice(const Tensor& stacked, int e) {
  Shape shape(stacked.shape().begin() + 1, stacked.shape().end());
  return stacked.narrow0(e, e + 1).view(shape);
}

Tensor rows(const Tensor& t, const std::vector<int64_t>& offset, int e) {
  return t.narrow0(offset[e], offset[e + 1]);
}

}  // namespace

Experts::Experts(ParamSet& params, const std::string& name, int num_experts, int64_t d_model, int64_t d_ff,
                 bool gpt2, double init_std, double proj_std, bool partial_over_tp, int ep_size, int ep_rank)
    : num_experts_(num_experts / ep_size), d_model_(d_model), d_ff_(d_ff), swiglu_(!gpt2) {
  TRIDENT_CHECK(ep_size >= 1 && num_experts % ep_size == 0 && ep_rank >= 0 && ep_rank < ep_size,
                "{} experts over expert-parallel rank {} of {}", num_experts, ep_rank, ep_size);
  const int64_t E = num_experts;
  const ShardSpec shard = ep_size > 1 ? ShardSpec{0, ep_size, ep_rank} : ShardSpec{};
  up_w_ = &params.add(name + (gpt2 ? ".fc.weight" : ".gate_up.weight"), {E, up_width(), d_model},
                      {Init::normal, 0.0, init_std}, shard);
  if (gpt2) up_b_ = &params.add(name + ".fc.bias", {E, d_ff}, {Init::zeros}, shard);
  down_w_ = &params.add(name + (gpt2 ? ".proj.weight" : ".down.weight"), {E, d_model, d_ff},
                        {Init::normal, 0.0, proj_std}, shard);
  if (gpt2) down_b_ = &params.add(name + ".proj.bias", {E, d_model}, {Init::zeros}, shard);
  for (Param* p : {up_w_, up_b_, down_w_, down_b_}) {
    if (p == nullptr) continue;
    if (partial_over_tp) p->partial = GradPartial::tensor;
  }
  // Stacked biases are 2-D, but biases all the same: no weight decay.
  for (Param* b : {up_b_, down_b_})
    if (b != nullptr) b->weight_decay = false;
}

namespace {

// The experts' GEMMs on the R rows routed this call (2mnk each): up x (R, C) -> h (R, up), down a (R, F) ->
// y.
double expert_gemm_flops(const Tensor& x, const Tensor& h, const Tensor& a, const Tensor& y) {
  const double R = static_cast<double>(x.dim(0));
  return 2.0 * R * static_cast<double>(x.dim(1) * h.dim(1) + a.dim(1) * y.dim(1));
}

}  // namespace

void Experts::forward(Tensor& h, Tensor& a, Tensor& y, const Tensor& x,
                      const std::vector<int64_t>& offset) const {
  if (x.dim(0) == 0) return;
  // Nested in the block's MoE span: the FLOPs of the layer are the experts' (and the router's), counted from
  // the rows the routing produced.
  spans::Span span(spans::Kind::moe, spans::Phase::forward, expert_gemm_flops(x, h, a, y));
  for (int e = 0; e < num_experts_; ++e) {
    if (offset[e + 1] == offset[e]) continue;
    Tensor he = rows(h, offset, e);
    ops::linear_forward(he, rows(x, offset, e), slice(up_w_->value, e),
                        up_b_ ? slice(up_b_->value, e) : Tensor{});
  }
  if (swiglu_) {
    ops::swiglu_forward(a, h);
  } else {
    ops::gelu_forward(a, h);
  }
  for (int e = 0; e < num_experts_; ++e) {
    if (offset[e + 1] == offset[e]) continue;
    Tensor ye = rows(y, offset, e);
    ops::linear_forward(ye, rows(a, offset, e), slice(down_w_->value, e),
                        down_b_ ? slice(down_b_->value, e) : Tensor{});
  }
}

void Experts::backward(Tensor& dx, Tensor& dh, Tensor& da, const Tensor& dy, const Tensor& x, const Tensor& h,
                       const Tensor& a, const std::vector<int64_t>& offset) const {
  if (x.dim(0) == 0) return;
  // Each GEMM twice backward: the input gradient and the weight gradient.
  spans::Span span(spans::Kind::moe, spans::Phase::backward, 2.0 * expert_gemm_flops(x, h, a, dy));
  for (int e = 0; e < num_experts_; ++e) {
    if (offset[e + 1] == offset[e]) continue;
    Tensor dae = rows(da, offset, e);
    Tensor dw = slice(down_w_->grad, e);
    Tensor db = down_b_ ? slice(down_b_->grad, e) : Tensor{};
    ops::linear_backward(dae, dw, db, rows(dy, offset, e), rows(a, offset, e), slice(down_w_->value, e));
  }
  if (swiglu_) {
    ops::swiglu_backward(dh, da, h);
  } else {
    ops::gelu_backward(dh, da, h);
  }
  for (int e = 0; e < num_experts_; ++e) {
    if (offset[e + 1] == offset[e]) continue;
    Tensor dxe = rows(dx, offset, e);
    Tensor dw = slice(up_w_->grad, e);
    Tensor db = up_b_ ? slice(up_b_->grad, e) : Tensor{};
    ops::linear_backward(dxe, dw, db, rows(dh, offset, e), rows(x, offset, e), slice(up_w_->value, e));
  }
}

}  // namespace trident::moe
