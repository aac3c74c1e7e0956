#include "moe/router.h"

#include <cmath>

#include "core/ops/ops.h"
#include "core/runtime/spans.h"

namespace trident::moe {

Router::Router(ParamSet& params, const std::string& name, int64_t d_model, const MoeSpec& spec,
               double init_std, tp::TpGroup group, bool sequence_parallel)
    : spec_(spec), group_(group), sequence_parallel_(sequence_parallel && group.size > 1) {
  weight_ = &params.add(name + ".weight", {spec.num_experts, d_model}, {Init::normal, 0.0, init_std});
  // Each tensor-parallel rank routes its own rows under sequence parallelism: a partial sum over tp.
  if (sequence_parallel_) weight_->partial = GradPartial::tensor;
}

Tensor Router::weight_in_stat_dtype() const {
  const Tensor& w = weight_->value;
  return w.dtype() == stat_dtype(w.dtype()) ? w : w.to(stat_dtype(w.dtype()));
}

void Router::forward(MoeActs& acts, const Tensor& x) const {
  const int64_t R = x.dim(0);
  const int E = spec_.num_experts, k = spec_.top_k;
  const DType dt = stat_dtype(x.dtype());
  acts.router_in = x.dtype() == dt ? x : x.to(dt);
  Tensor logits = Tensor::empty({R, E}, dt, x.device());
  {
    spans::Span span(spans::Kind::moe, spans::Phase::forward, 2.0 * R * x.dim(1) * E);
    ops::linear_forward(logits, acts.router_in, weight_in_stat_dtype(), Tensor{});
  }
  const Tensor host = logits.to(Device::cpu()).to(DType::f64);
  const double* z = host.data<double>();
  acts.routing = route(std::vector<double>(z, z + R * E), R, spec_);
  Routing& r = acts.routing;

  // This rank's statistics: [counts (E), probability sums (E), sum of lse^2, rows], then those of the whole
  // micro-batch over the sequence-parallel group.
  const int64_t width = 2 * E + 2;
  Tensor mine = Tensor::zeros({width}, DType::f64);
  double* s = mine.data<double>();
  for (int e = 0; e < E; ++e) s[e] = static_cast<double>(r.counts[e]);
  for (int64_t t = 0; t < R; ++t) {
    for (int e = 0; e < E; ++e) s[E + e] += r.probs[t * E + e];
    s[2 * E] += r.lse[t] * r.lse[t];
  }
  s[2 * E + 1] = static_cast<double>(R);
  const int ranks = sequence_parallel_ ? group_.size : 1;
  Tensor all = mine;
  if (ranks > 1) {
    all = Tensor::empty({width * ranks}, DType::f64);
    group_.comm->all_gather(all, mine);
  }
  const double* a = all.data<double>();
  std::vector<double> total(width, 0.0);
  std::vector<int64_t> earlier(E, 0);
  for (int q = 0; q < ranks; ++q) {
    for (int64_t i = 0; i < width; ++i) total[i] += a[q * width + i];
    if (q < group_.rank && sequence_parallel_)
      for (int e = 0; e < E; ++e) earlier[e] += static_cast<int64_t>(a[q * width + e]);
  }
  const int64_t N = static_cast<int64_t>(total[2 * E + 1]);
  acts.stat_tokens = N;
  acts.counts.assign(total.begin(), total.begin() + E);
  double balance = 0.0;
  for (int e = 0; e < E; ++e) balance += acts.counts[e] / (static_cast<double>(N) * k) * (total[E + e] / N);
  acts.aux_loss = spec_.aux_loss_coeff * E * balance;
  acts.z_loss = spec_.z_loss_coeff * total[2 * E] / static_cast<double>(N);

  apply_capacity(r, spec_.capacity(N), sequence_parallel_ ? earlier : std::vector<int64_t>{});
  permute(r);
}

void Router::backward(Tensor& dx, const std::vector<double>& dgate, const MoeActs& acts,
                      double loss_scale) const {
  const Routing& r = acts.routing;
  const int64_t R = r.tokens;
  const int E = r.num_experts, k = r.top_k;
  const double N = static_cast<double>(acts.stat_tokens);
  // d(aux)/d(p_ti) = coeff * E * c_i / (N^2 k): the same for every token.
  std::vector<double> daux(E);
  for (int e = 0; e < E; ++e) daux[e] = loss_scale * spec_.aux_loss_coeff * E * acts.counts[e] / (N * N * k);
  Tensor dz = Tensor::empty({R, E}, DType::f64);
  double* g = dz.data<double>();
  std::vector<double> dp(E);
  for (int64_t t = 0; t < R; ++t) {
    const double* p = r.probs.data() + t * E;
    for (int e = 0; e < E; ++e) dp[e] = daux[e];
    const double* dg = dgate.data() + t * k;
    if (spec_.normalize_topk) {
      // g_j = p_j / S with S the sum of the k chosen: dp_j = (dg_j - sum_l dg_l g_l) / S.
      double S = 0.0, dot = 0.0;
      for (int j = 0; j < k; ++j) S += p[r.expert[t * k + j]], dot += dg[j] * r.gate[t * k + j];
      for (int j = 0; j < k; ++j) dp[r.expert[t * k + j]] += (dg[j] - dot) / S;
    } else {
      for (int j = 0; j < k; ++j) dp[r.expert[t * k + j]] += dg[j];
    }
    // Softmax backward, then the z-loss: d(lse^2 / N)/dz_i = 2 lse p_i / N.
    double dot = 0.0;
    for (int e = 0; e < E; ++e) dot += dp[e] * p[e];
    const double zterm = loss_scale * spec_.z_loss_coeff * 2.0 * r.lse[t] / N;
    for (int e = 0; e < E; ++e) g[t * E + e] = p[e] * (dp[e] - dot) + zterm * p[e];
  }
  const Tensor& x = acts.router_in;
  const DType dt = x.dtype();
  const Tensor dlogits = dz.to(dt).to(x.device());
  spans::Span span(spans::Kind::moe, spans::Phase::backward, 4.0 * x.dim(0) * x.dim(1) * E);  // dx and dW
  Tensor no_bias;
  if (dx.dtype() == dt && weight_->grad.dtype() == dt) {
    ops::linear_backward(dx, weight_->grad, no_bias, dlogits, x, weight_->value);
    return;
  }
  // A bf16/f16 model: the router's gradients in fp32, each rounded once into the model's dtype.
  Tensor dx32 = Tensor::empty(dx.shape(), dt, dx.device());
  Tensor dw32 = Tensor::zeros(weight_->grad.shape(), dt, dx.device());
  ops::linear_backward(dx32, dw32, no_bias, dlogits, x, weight_in_stat_dtype());
  dx.copy_from(dx32);
  ops::add_inplace(weight_->grad, dw32);
}

}  // namespace trident::moe
