#include "zero/distributed_optimizer.h"

#include <cmath>

#include "tensor_parallel/sharded_params.h"

namespace trident::zero {

DistributedOptimizer::DistributedOptimizer(std::vector<ChunkParams> chunks, const Groups& groups,
                                           OptimizerConfig cfg)
    : groups_(groups), cfg_(cfg), scaler_(cfg.scaler) {
  TRIDENT_CHECK(groups.world && groups.tp && groups.pp && groups.dp, "the gradient path needs its groups");
  for (ChunkParams& chunk : chunks) {
    ParamSet* model = chunk.params;
    TRIDENT_CHECK(model->finalized(), "an optimizer over unfinalized parameters");
    if (chunk.units.empty()) chunk.units = {{0, model->params().size()}};
    Chunk c;
    c.model = model;
    c.layout = plan_flat_layout(*model, chunk.units, cfg.bucket_numel, /*shards=*/1);
    model->relayout(c.layout.offsets, c.layout.total);
    const DType dtype = model->flat_params().dtype();
    if (dtype == DType::bf16 || dtype == DType::f16) c.masters = std::make_unique<MasterWeights>(*model);
    c.adamw = std::make_unique<AdamW>(c.masters ? c.masters->master() : *model, cfg.adamw);
    if (groups.dp->size() > 1)
      c.reducer =
          std::make_unique<GradReducer>(model->flat_grads(), c.layout.buckets, *groups.dp, cfg.reduce_dtype);
    c.partial = std::make_unique<PartialGrads>(*model, tp::TpGroup::of(*groups.tp), groups.embedding);
    chunks_.push_back(std::move(c));
  }
}

ParamSet& DistributedOptimizer::optimized(size_t chunk) {
  Chunk& c = chunks_.at(chunk);
  return c.masters ? c.masters->master() : *c.model;
}

void DistributedOptimizer::copy_to_model() {
  for (Chunk& c : chunks_)
    if (c.masters) c.masters->copy_to_model();
}

void DistributedOptimizer::zero_grads() {
  for (Chunk& c : chunks_) c.model->zero_grads();
}

// Stage 0 reduces once per step: only the chunk's last backward communicates.
void DistributedOptimizer::backward_begin(int chunk, bool last) {
  Chunk& c = chunks_.at(chunk);
  if (!last || !c.reducer) return;
  c.reducer->begin();
  c.reducing = true;
}

void DistributedOptimizer::grads_ready(int chunk, int64_t ready_numel) {
  Chunk& c = chunks_.at(chunk);
  if (c.reducing) c.reducer->grads_ready(ready_numel);
}

void DistributedOptimizer::finish() {
  for (Chunk& c : chunks_) {
    if (!c.reducer) continue;
    TRIDENT_CHECK(c.reducing, "a step ended without its last backward reducing the gradients");
    c.reducer->finish();
    c.reducing = false;
  }
}

bool DistributedOptimizer::unscale_into_masters() {
  bool finite = true;
  for (Chunk& c : chunks_) finite = c.masters->unscale_grads(scaler_.scale()) && finite;
  // Every rank must agree to skip: an overflow on one stage or shard skips the step everywhere.
  Tensor bad = Tensor::full({1}, finite ? 0.0 : 1.0, DType::f64);
  if (groups_.world->size() > 1) groups_.world->all_reduce(bad, comm::ReduceOp::max);
  return bad.item(0) == 0.0;
}

double DistributedOptimizer::global_grad_norm() {
  Tensor sq = Tensor::zeros({1}, DType::f64);
  const tp::TpGroup tp = tp::TpGroup::of(*groups_.tp);
  // Over tp shards inside grad_squares (the last stage's tied copy left out); data-parallel replicas hold
  // the same averaged gradients.
  for (size_t c = 0; c < chunks_.size(); ++c) sq.data<double>()[0] += tp::grad_squares(optimized(c), tp);
  if (groups_.pp->size() > 1) groups_.pp->all_reduce(sq, comm::ReduceOp::sum);
  return std::sqrt(sq.item(0));
}

DistributedOptimizer::StepResult DistributedOptimizer::step(double lr) {
  StepResult out;
  for (Chunk& c : chunks_) c.partial->sum(*c.model);
  const bool mixed = chunks_.front().masters != nullptr;
  if (mixed && !scaler_.update(/*found_inf=*/!unscale_into_masters())) {
    out.skipped = true;  // fp16 overflow: the scale was backed off, the weights stay
    return out;
  }
  out.grad_norm = global_grad_norm();
  for (size_t c = 0; c < chunks_.size(); ++c) {
    clip_grads(optimized(c), out.grad_norm, cfg_.grad_clip);
    chunks_[c].adamw->step(lr);
  }
  copy_to_model();
  return out;
}

std::map<std::string, Tensor> DistributedOptimizer::state_dict() {
  std::map<std::string, Tensor> out;
  for (size_t c = 0; c < chunks_.size(); ++c) {
    AdamW& adamw = *chunks_[c].adamw;
    for (const Param& p : optimized(c).params()) {
      const Shape shape = p.value.shape();
      out["exp_avg." + p.name] = adamw.exp_avg().flat(p.flat_offset, shape).clone();
      out["exp_avg_sq." + p.name] = adamw.exp_avg_sq().flat(p.flat_offset, shape).clone();
      if (chunks_[c].masters) out["master." + p.name] = p.value.clone();
    }
  }
  const auto scalar = [](double v) { return Tensor::full({1}, v, DType::f64); };
  out["step"] = scalar(static_cast<double>(chunks_.front().adamw->steps_taken()));
  out["loss_scale"] = scalar(scaler_.scale());
  out["loss_scale_good_steps"] = scalar(static_cast<double>(scaler_.good_steps()));
  out["loss_scale_skipped"] = scalar(static_cast<double>(scaler_.skipped_steps()));
  return out;
}

void DistributedOptimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  const auto get = [&](const std::string& key, const Shape& shape) -> const Tensor& {
    auto it = state.find(key);
    if (it == state.end()) fail("optimizer state has no '{}'", key);
    if (it->second.shape() != shape)
      fail("optimizer state '{}' has shape {}, this rank's shard is {}", key, shape_str(it->second.shape()),
           shape_str(shape));
    return it->second;
  };
  for (size_t c = 0; c < chunks_.size(); ++c) {
    AdamW& adamw = *chunks_[c].adamw;
    for (Param& p : optimized(c).params()) {
      const Shape shape = p.value.shape();
      adamw.exp_avg().flat(p.flat_offset, shape).copy_from(get("exp_avg." + p.name, shape));
      adamw.exp_avg_sq().flat(p.flat_offset, shape).copy_from(get("exp_avg_sq." + p.name, shape));
      if (chunks_[c].masters) p.value.copy_from(get("master." + p.name, shape));
    }
    adamw.set_steps_taken(static_cast<int64_t>(get("step", {1}).item(0)));
  }
  scaler_.restore(get("loss_scale", {1}).item(0),
                  static_cast<int64_t>(get("loss_scale_good_steps", {1}).item(0)),
                  static_cast<int64_t>(get("loss_scale_skipped", {1}).item(0)));
  copy_to_model();
}

}  // namespace trident::zero
