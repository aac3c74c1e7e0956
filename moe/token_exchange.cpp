#include "moe/token_exchange.h"

#include "core/ops/ops.h"

namespace trident::moe {

namespace {

std::vector<int64_t> times(const std::vector<int64_t>& rows, int64_t c) {
  std::vector<int64_t> out(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) out[i] = rows[i] * c;
  return out;
}

// out (n, C) = in (m, C)[index], an embedding lookup; nothing to do for no rows.
void gather_rows(Tensor& out, const Tensor& index, const Tensor& in) {
  if (out.dim(0) > 0) ops::embedding_forward(out, index, in);
}

}  // namespace

ExchangePlan plan_exchange(const std::vector<int64_t>& expert_offset, const ExpertGroup& g, Device device) {
  const int P = g.size;
  const int64_t E = static_cast<int64_t>(expert_offset.size()) - 1;
  TRIDENT_CHECK(P >= 1 && E % P == 0, "{} experts over {} expert-parallel ranks", E, P);
  const int64_t local = E / P;
  // counts (E): this rank's rows per global expert, in expert order, which is destination order.
  Tensor mine = Tensor::empty({E}, DType::f64);
  for (int64_t e = 0; e < E; ++e)
    mine.data<double>()[e] = static_cast<double>(expert_offset[e + 1] - expert_offset[e]);
  Tensor theirs = Tensor::empty({E}, DType::f64);  // (P, local): rows from rank s for each local expert
  if (P > 1) {
    g.comm->all_to_all(theirs, mine);
  } else {
    theirs.copy_from(mine);
  }
  ExchangePlan plan;
  plan.send_rows.assign(P, 0);
  plan.recv_rows.assign(P, 0);
  for (int d = 0; d < P; ++d) plan.send_rows[d] = expert_offset[(d + 1) * local] - expert_offset[d * local];
  const auto from = [&](int s, int64_t j) {
    return static_cast<int64_t>(theirs.data<double>()[s * local + j]);
  };
  // Received rows come source by source, each source's by local expert; regrouped, expert by expert, each
  // expert's by source (so a rank's own rows keep their order within an expert).
  std::vector<int64_t> start(P * local);  // where (source s, expert j) begins among the received rows
  int64_t at = 0;
  for (int s = 0; s < P; ++s)
    for (int64_t j = 0; j < local; ++j)
      start[s * local + j] = at, at += from(s, j), plan.recv_rows[s] += from(s, j);
  plan.local_offset.assign(local + 1, 0);
  Tensor order = Tensor::empty({at}, DType::i32), inverse = Tensor::empty({at}, DType::i32);
  int64_t m = 0;
  for (int64_t j = 0; j < local; ++j) {
    for (int s = 0; s < P; ++s)
      for (int64_t i = 0; i < from(s, j); ++i, ++m) {
        order.data<int32_t>()[m] = static_cast<int32_t>(start[s * local + j] + i);
        inverse.data<int32_t>()[start[s * local + j] + i] = static_cast<int32_t>(m);
      }
    plan.local_offset[j + 1] = m;
  }
  plan.order = order.to(device);
  plan.inverse = inverse.to(device);
  return plan;
}

void dispatch(Tensor& out, const Tensor& rows, const ExchangePlan& plan, const ExpertGroup& g) {
  const int64_t C = rows.dim(1);
  Tensor received = Tensor::empty({plan.received(), C}, rows.dtype(), rows.device());
  if (g.size > 1) {
    g.comm->all_to_allv_async(received, times(plan.recv_rows, C), rows, times(plan.send_rows, C))->wait();
  } else {
    received.copy_from(rows);
  }
  gather_rows(out, plan.order, received);
}

void combine(Tensor& out, const Tensor& rows, const ExchangePlan& plan, const ExpertGroup& g) {
  const int64_t C = rows.dim(1);
  Tensor received = Tensor::empty({plan.received(), C}, rows.dtype(), rows.device());  // in received order
  gather_rows(received, plan.inverse, rows);
  if (g.size > 1) {
    g.comm->all_to_allv_async(out, times(plan.send_rows, C), received, times(plan.recv_rows, C))->wait();
  } else {
    out.copy_from(received);
  }
}

std::map<std::string, Tensor> gather_experts(const ParamSet& experts, const ExpertGroup& g) {
  std::map<std::string, Tensor> out;
  for (const Param& p : experts.params()) {
    TRIDENT_CHECK(
        p.shard.dim == 0 && p.shard.parts == g.size && p.shard.index == g.rank,
        "{} is split into {} parts along dim {} (this one {}), the expert-parallel group is rank {} of {}",
        p.name, p.shard.parts, p.shard.dim, p.shard.index, g.rank, g.size);
    // Rank r holds rows [r * E / ep, (r + 1) * E / ep): the blocks in rank order are the whole tensor.
    Tensor all = Tensor::empty(p.global_shape, p.value.dtype(), p.value.device());
    Tensor flat = all.view({all.numel()});
    g.comm->all_gather(flat, p.value.view({p.value.numel()}));
    out[p.name] = all.to(Device::cpu());
  }
  return out;
}

}  // namespace trident::moe
