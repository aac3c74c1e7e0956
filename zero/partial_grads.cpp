#include "zero/partial_grads.h"

#include <string>

#include "core/comm/coalesced.h"

namespace trident::zero {

namespace {

// The local flat ranges of p's blocks held by more than one rank, and how many ranks hold each (one count for
// all of them: the model replicates every key/value block the same way).
std::vector<std::pair<int64_t, int64_t>> replicated_ranges(const Param& p, int& replicas) {
  const ShardSpec& s = p.shard;
  TRIDENT_CHECK(s.dim == 0 && !s.block_replicas.empty(), "{} declares replicated blocks along dim {}", p.name,
                s.dim);
  const int64_t inner = p.value.numel() / p.value.dim(0);
  const std::vector<int64_t> blocks = s.blocks(p.global_shape);
  std::vector<std::pair<int64_t, int64_t>> out;
  int64_t row = 0;
  for (size_t b = 0; b < blocks.size(); ++b) {
    const int rep = s.replicas(b);
    const int64_t rows = blocks[b] / (s.parts / rep);  // the rows of block b this rank holds
    if (rep > 1) {
      TRIDENT_CHECK(replicas == 0 || replicas == rep, "{}: blocks replicated on {} and {} ranks", p.name,
                    replicas, rep);
      replicas = rep;
      out.emplace_back(row * inner, rows * inner);
    }
    row += rows;
  }
  return out;
}

}  // namespace

PartialGrads::PartialGrads(const ParamSet& params, tp::TpGroup tp, comm::Communicator* embedding)
    : tp_(tp), embedding_(embedding) {
  tp.check("partial gradient sums");
  int replicas = 0;
  const auto& ps = params.params();
  for (size_t i = 0; i < ps.size(); ++i) {
    const Param& p = ps[i];
    const int64_t n = p.value.numel();
    if (p.partial == GradPartial::tensor && tp.size > 1) tensor_.push_back({i, 0, n});
    if (p.partial == GradPartial::replicas)
      for (const auto& [begin, count] : replicated_ranges(p, replicas))
        replicas_.push_back({i, begin, count});
    if (p.tied) {
      TRIDENT_CHECK(embedding != nullptr, "{} is a tied copy, but no first + last stage group was given",
                    p.name);
      tied_.push_back({i, 0, n});
    }
  }
  if (replicas > 1) {
    // The ranks whose slices are the same: consecutive runs of `replicas` tp ranks (ShardSpec::global_index).
    std::vector<int> ranks;
    const int first = tp.rank / replicas * replicas;
    for (int r = first; r < first + replicas; ++r) ranks.push_back(r);
    replica_group_ = tp.comm->split(ranks, tp.comm->name() + ".kv" + std::to_string(tp.rank / replicas));
  }
}

void PartialGrads::sum(const ParamSet& grads_of) const {
  const auto& ps = grads_of.params();
  const auto sum_over = [&](const std::vector<Range>& ranges, comm::Communicator* group) {
    if (ranges.empty() || group == nullptr || group->size() == 1) return;
    std::vector<Tensor> parts;
    for (const Range& r : ranges) parts.push_back(ps.at(r.index).grad.flat(r.begin, {r.n}));
    comm::all_reduce_coalesced(*group, parts, comm::ReduceOp::sum);
  };
  sum_over(tensor_, tp_.comm);
  sum_over(replicas_, replica_group_.get());
  sum_over(tied_, embedding_);
}

}  // namespace trident::zero
