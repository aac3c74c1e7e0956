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
      out.emplace_back(p.flat_offset + row * inner, p.flat_offset + (row + rows) * inner);
    }
    row += rows;
  }
  return out;
}

}  // namespace

Shard whole(int64_t n) {
  return Shard{{{0, n, 0}}, n};
}

PartialGrads::PartialGrads(const ParamSet& params, tp::TpGroup tp, comm::Communicator* embedding)
    : tp_(tp), embedding_(embedding) {
  tp.check("partial gradient sums");
  int replicas = 0;
  for (size_t i = 0; i < params.params().size(); ++i) {
    const Param& p = params.params()[i];
    const std::pair<int64_t, int64_t> all{p.flat_offset, p.flat_offset + p.value.numel()};
    if (p.partial == GradPartial::tensor && tp.size > 1) tensor_.push_back(all);
    if (p.partial == GradPartial::replicas)
      for (const auto& range : replicated_ranges(p, replicas)) replicas_.push_back(range);
    if (p.tied) {
      TRIDENT_CHECK(embedding != nullptr, "{} is a tied copy, but no first + last stage group was given",
                    p.name);
      tied_.push_back(all);
      tied_params_.push_back(i);
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

void PartialGrads::sum_over(const Ranges& ranges, comm::Communicator* group, const Tensor& grads,
                            const Shard& shard) {
  if (ranges.empty() || group == nullptr || group->size() == 1) return;
  std::vector<Tensor> parts;
  for (const auto& [begin, end] : ranges)
    for (const Piece& p : shard.intersect(begin, end - begin)) parts.push_back(grads.flat(p.shard, {p.n}));
  // Every rank of the group holds the same pieces: all of them have parts, or none has.
  if (!parts.empty()) comm::all_reduce_coalesced(*group, parts, comm::ReduceOp::sum);
}

void PartialGrads::sum(const Tensor& grads, const Shard& shard, bool tied) const {
  sum_over(tensor_, tp_.comm, grads, shard);
  sum_over(replicas_, replica_group_.get(), grads, shard);
  if (tied) sum_over(tied_, embedding_, grads, shard);
}

void PartialGrads::sum(const ParamSet& grads_of) const {
  sum(grads_of.flat_grads(), whole(grads_of.flat_grads().numel()));
}

void PartialGrads::sum_tied(const ParamSet& params) const {
  if (tied_params_.empty()) return;
  std::vector<Tensor> grads;
  for (size_t i : tied_params_) grads.push_back(params.params()[i].grad);
  comm::all_reduce_coalesced(*embedding_, grads, comm::ReduceOp::sum);
}

}  // namespace trident::zero
