#include "zero/sharded_adamw.h"

#include "core/ops/ops.h"

namespace trident::zero {

ShardedAdamW::ShardedAdamW(const ParamSet& params, const Shard& shard, AdamWConfig cfg, Device device)
    : cfg_(cfg) {
  // Neighbouring parameters (in flat order: the reverse of registration) with one weight decay form a run,
  // cut where the shard's pieces end.
  const auto& ps = params.params();
  runs_.resize(shard.pieces.size());
  for (size_t end = ps.size(); end > 0;) {
    size_t begin = end - 1;
    while (begin > 0 && ps[begin - 1].weight_decay == ps[end - 1].weight_decay &&
           ps[begin - 1].flat_offset == ps[begin].flat_offset + ps[begin].local_numel())
      --begin;
    const int64_t flat = ps[end - 1].flat_offset;
    const int64_t n = ps[begin].flat_offset + ps[begin].local_numel() - flat;
    for (const Piece& p : shard.intersect(flat, n)) {
      size_t piece = 0;  // the shard piece this part lies in
      while (shard.pieces[piece].shard + shard.pieces[piece].n <= p.shard) ++piece;
      runs_[piece].push_back({p.flat, p.n, p.shard, ps[begin].weight_decay});
    }
    end = begin;
  }
  m_ = Tensor::zeros({shard.numel}, DType::f32, device);
  v_ = Tensor::zeros({shard.numel}, DType::f32, device);
}

void ShardedAdamW::set_steps_taken(int64_t steps) {
  TRIDENT_CHECK(steps >= 0, "AdamW step count {} must be >= 0", steps);
  step_ = steps;
}

void ShardedAdamW::step(double lr, Tensor& params, bool flat, const Tensor& grads) {
  begin_step();
  for (size_t piece = 0; piece < runs_.size(); ++piece) update(piece, lr, params, flat, grads);
}

void ShardedAdamW::update(size_t piece, double lr, Tensor& params, bool flat, const Tensor& grads) {
  for (const Run& r : runs_.at(piece)) {
    Tensor value = params.flat(flat ? r.flat : r.shard, {r.n});
    Tensor m = m_.flat(r.shard, {r.n}), v = v_.flat(r.shard, {r.n});
    const ops::AdamWParams hp{lr, cfg_.beta1, cfg_.beta2, cfg_.eps, r.decay ? cfg_.weight_decay : 0.0, step_};
    ops::adamw_step(value, grads.flat(r.shard, {r.n}), m, v, hp);
  }
}

}  // namespace trident::zero
