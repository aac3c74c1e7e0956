#include "moe/moe_layer.h"

#include <algorithm>
#include "core/ops/ops.h"
#include "core/runtime/clock.h"

namespace trident::moe {

namespace {

// Adds the seconds since the last mark to `into`, and marks now.
struct Stopwatch {
  double t = now_s();
  void lap(double& into) {
    const double n = now_s();
    into += n - t;
    t = n;
  }
};

}  // namespace

MoeLayer::MoeLayer(ParamSet& params, ParamSet& expert_params, const std::string& name, const MoeSpec& spec,
                   int64_t d_model, bool gpt2, double init_std, double proj_std, tp::TpGroup group,
                   bool sequence_parallel, ExpertGroup ep)
    : spec_(spec),
      ep_(ep),
      router_(params, name + ".router", d_model, spec, init_std, group, sequence_parallel),
      // Under expert parallelism the tokens of every rank of the ep group reach an expert through the
      // exchange, so its gradient is no partial sum over tp: the expert-data-parallel reduction completes it.
      experts_(ep.size > 1 ? expert_params : params, name + ".experts", spec.num_experts, d_model,
               spec.d_ff_expert, gpt2, init_std, proj_std,
               sequence_parallel && group.size > 1 && ep.size == 1, ep.size, ep.rank) {}

void MoeLayer::forward(MoeActs& acts, Tensor& y, const Tensor& x) const {
  Stopwatch clock;
  router_.forward(acts, x);
  clock.lap(times_.router_s);
  const Routing& r = acts.routing;
  const int64_t M = r.rows(), C = x.dim(1);
  const Device dev = x.device();
  const bool exchange = ep_.size > 1;

  // Statistics of the whole micro-batch: with drops in routing order an expert keeps exactly its first
  // `capacity` assignments.
  const int64_t capacity = spec_.capacity(acts.stat_tokens);
  acts.tokens_per_expert.resize(spec_.num_experts);
  acts.assignments = acts.stat_tokens * spec_.top_k;
  acts.dropped = 0;
  for (int e = 0; e < spec_.num_experts; ++e) {
    const auto c = static_cast<int64_t>(acts.counts[e]);
    acts.tokens_per_expert[e] = capacity < 0 ? c : std::min(c, capacity);
    acts.dropped += c - acts.tokens_per_expert[e];
  }

  y.zero();
  if (M == 0 && !exchange) return;  // under expert parallelism the other ranks still expect this one
  Tensor rows = Tensor::empty({M}, DType::i32);
  Tensor gates = Tensor::empty({M}, stat_dtype(x.dtype()));
  for (int64_t m = 0; m < M; ++m) {
    rows.data<int32_t>()[m] = r.token_of_row[m];
    const double g = r.gate[r.slot_of_row[m]];
    if (gates.dtype() == DType::f64) {
      gates.data<double>()[m] = g;
    } else {
      gates.data<float>()[m] = static_cast<float>(g);
    }
  }
  acts.rows = rows.to(dev);
  acts.gates = gates.to(dev);

  // Dispatch: row m of the permuted input is x[token_of_row[m]] (a row gather: an embedding lookup), sent to
  // the rank of its expert under expert parallelism.
  Tensor& permuted = ensure(exchange ? xp_ : acts.xp, {M, C}, x.dtype(), dev);
  if (M > 0) ops::embedding_forward(permuted, acts.rows, x);
  clock.lap(times_.permute_s);
  if (exchange) {
    acts.exchange = plan_exchange(r.expert_offset, ep_, dev);
    ensure(acts.xp, {acts.exchange.received(), C}, x.dtype(), dev);
    dispatch(acts.xp, xp_, acts.exchange, ep_);
    clock.lap(times_.exchange_s);
  }
  const int64_t Mr = acts.xp.dim(0);
  ensure(acts.h, {Mr, experts_.up_width()}, x.dtype(), dev);
  ensure(acts.a, {Mr, experts_.hidden()}, x.dtype(), dev);
  ensure(acts.yp, {M, C}, x.dtype(), dev);
  Tensor& out = ensure(exchange ? yl_ : acts.yp, {Mr, C}, x.dtype(), dev);
  experts_.forward(acts.h, acts.a, out, acts.xp, exchange ? acts.exchange.local_offset : r.expert_offset);
  clock.lap(times_.experts_s);
  if (exchange) {
    combine(acts.yp, yl_, acts.exchange, ep_);
    clock.lap(times_.exchange_s);
  }

  // Combine: y[t] = sum of gate * yp over t's kept assignments (a row scatter-add).
  if (M == 0) return;
  ensure(dyp_, {M, C}, x.dtype(), dev);
  ops::scale_rows(dyp_, acts.yp, acts.gates);
  ops::embedding_backward(y, dyp_, acts.rows);
  clock.lap(times_.permute_s);
}

void MoeLayer::backward(Tensor& dx, const Tensor& dy, const MoeActs& acts, double loss_scale) const {
  const Routing& r = acts.routing;
  const int64_t M = r.rows(), C = dy.dim(1);
  const Device dev = dy.device();
  const bool exchange = ep_.size > 1;
  std::vector<double> dgate(r.tokens * r.top_k, 0.0);  // dropped assignments: 0
  Stopwatch clock;
  dx.zero();
  if (M > 0 || exchange) {
    // d(gate) of each row = dy[token] . yp; the experts see dy[token] * gate.
    ensure(dyp_, {M, C}, dy.dtype(), dev);
    if (M > 0) {
      ops::embedding_forward(dyp_, acts.rows, dy);
      ensure(dgate_, {M}, stat_dtype(dy.dtype()), dev);
      ops::row_dot(dgate_, dyp_, acts.yp);
      const Tensor host = dgate_.to(Device::cpu()).to(DType::f64);
      for (int64_t m = 0; m < M; ++m) dgate[r.slot_of_row[m]] = host.data<double>()[m];
      ops::scale_rows(dyp_, dyp_, acts.gates);
    }
    // The gradient flows back the way the rows came: to the experts' ranks, then home again.
    const int64_t Mr = acts.xp.dim(0);
    clock.lap(times_.permute_s);
    if (exchange) {
      ensure(dyl_, {Mr, C}, dy.dtype(), dev);
      dispatch(dyl_, dyp_, acts.exchange, ep_);
      clock.lap(times_.exchange_s);
    }
    ensure(dxp_, {M, C}, dy.dtype(), dev);
    Tensor& dxl = ensure(exchange ? dxl_ : dxp_, {Mr, C}, dy.dtype(), dev);
    ensure(dh_, acts.h.shape(), dy.dtype(), dev);
    ensure(da_, acts.a.shape(), dy.dtype(), dev);
    experts_.backward(dxl, dh_, da_, exchange ? dyl_ : dyp_, acts.xp, acts.h, acts.a,
                      exchange ? acts.exchange.local_offset : r.expert_offset);
    clock.lap(times_.experts_s);
    if (exchange) {
      combine(dxp_, dxl_, acts.exchange, ep_);
      clock.lap(times_.exchange_s);
    }
    if (M > 0) ops::embedding_backward(dx, dxp_, acts.rows);  // un-permute: each token sums its rows
    clock.lap(times_.permute_s);
  }
  ensure(drouter_, dx.shape(), dx.dtype(), dev);
  router_.backward(drouter_, dgate, acts, loss_scale);
  ops::add_inplace(dx, drouter_);
  clock.lap(times_.router_s);
}

}  // namespace trident::moe
