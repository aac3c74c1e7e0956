#include "zero/distributed_optimizer.h"

#include <algorithm>
#include <cmath>

#include "core/ops/ops.h"
#include "core/runtime/spans.h"

namespace trident::zero {

namespace {

// Copies the shard's pieces between a flat buffer and a shard buffer (either direction; dtypes convert).
void copy_pieces(const Shard& shard, Tensor& to, bool to_flat, const Tensor& from) {
  for (const Piece& p : shard.pieces) {
    Tensor dst = to.flat(to_flat ? p.flat : p.shard, {p.n});
    dst.copy_from(from.flat(to_flat ? p.shard : p.flat, {p.n}));
  }
}

}  // namespace

DistributedOptimizer::DistributedOptimizer(std::vector<ChunkParams> chunks, const Groups& groups,
                                           OptimizerConfig cfg)
    : groups_(groups), cfg_(cfg), scaler_(cfg.scaler) {
  TRIDENT_CHECK(groups.world && groups.tp && groups.pp && groups.dp, "the gradient path needs its groups");
  TRIDENT_CHECK(cfg.stage >= 0 && cfg.stage <= 3, "ZeRO stage {} does not exist", cfg.stage);
  comm::Communicator& dp = *groups.dp;
  TRIDENT_CHECK(!groups.shard == !groups.replica, "hybrid sharding needs both its shard and replica groups");
  shard_group_ = groups.shard ? groups.shard : groups.dp;
  if (dp.size() == 1) cfg_.stage = 0;  // one data-parallel rank: nothing to shard
  if (cfg_.stage >= 1) shards_ = shard_group_->size(), shard_rank_ = shard_group_->rank();
  if (std::any_of(chunks.begin(), chunks.end(), [](const ChunkParams& c) { return c.experts != nullptr; }))
    TRIDENT_CHECK(groups.ep && groups.edp, "expert parameters need the expert-parallel groups");
  for (ChunkParams& chunk : chunks) {
    Chunk c = make_chunk(chunk, dp, {shard_group_, groups.replica, cfg_.stage, shards_, shard_rank_});
    if (chunk.experts) {
      // Experts shard over the ranks that hold the same ones (all of edp, hybrid sharding or not); with one
      // such rank there is nothing to shard.
      comm::Communicator& edp = *groups.edp;
      const int stage = edp.size() > 1 ? cfg_.stage : 0;
      ChunkParams experts{chunk.experts, chunk.expert_units, {}};
      c.experts = std::make_unique<Chunk>(make_chunk(
          experts, edp,
          {&edp, nullptr, stage, stage >= 1 ? edp.size() : 1, stage >= 1 ? edp.rank() : 0, false}));
      c.experts->grad_scale = static_cast<double>(edp.size()) / dp.size();
      c.expert_unit = chunk.expert_unit_of;
    }
    chunks_.push_back(std::move(c));
  }
}

DistributedOptimizer::Chunk DistributedOptimizer::make_chunk(ChunkParams& chunk, comm::Communicator& dp,
                                                             const Sharding& sharding) {
  const OptimizerConfig& cfg = cfg_;
  ParamSet* model = chunk.params;
  TRIDENT_CHECK(model->finalized(), "an optimizer over unfinalized parameters");
  if (chunk.units.empty()) chunk.units = {{0, model->params().size()}};
  Chunk c;
  c.model = model;
  c.units = chunk.units;
  c.group = sharding.group;
  c.replica = sharding.replica;
  c.stage = sharding.stage;
  c.shards = sharding.shards;
  c.shard_rank = sharding.rank;
  comm::Communicator& shard_group = *c.group;
  // Stage 3 gathers unit by unit: one unit per bucket.
  c.layout = plan_flat_layout(*model, chunk.units, c.stage == 3 ? 1 : cfg.bucket_numel, c.shards);
  model->relayout(c.layout.offsets, c.layout.total);
  c.shard = shard_of(c.layout, c.shard_rank);
  const DType dtype = model->dtype();
  const Device device = model->device();
  c.mixed = dtype == DType::bf16 || dtype == DType::f16;
  if (c.mixed || c.stage == 3) {
    const MemoryScope scope(MemoryCategory::optimizer_state);
    c.master = Tensor::zeros({c.shard.numel}, DType::f32, device);
    copy_pieces(c.shard, c.master, /*to_flat=*/false, model->flat_params());  // exact: widening
  }
  // An fp32 model that keeps its whole buffer reads its gradients in place; otherwise they come to a
  // buffer.
  {
    const MemoryScope scope(MemoryCategory::gradients);
    c.grads =
        !c.mixed && c.shards == 1 ? model->flat_grads() : Tensor::zeros({c.shard.numel}, DType::f32, device);
  }
  {
    const MemoryScope scope(MemoryCategory::optimizer_state);
    c.adamw = std::make_unique<ShardedAdamW>(*model, c.shard, cfg.adamw, device);
  }
  const MemoryScope comm_scope(MemoryCategory::comm_buffers);  // reducers' staging (each scopes the rest)
  c.partial = std::make_unique<PartialGrads>(*model, tp::TpGroup::of(*groups_.tp), groups_.embedding);
  c.norm = std::make_unique<ShardNorm>(*model, c.shard, groups_.tp->size());
  if (c.mixed && c.shards == 1) c.accum = c.grads;
  if (c.mixed && c.stage == 1 && cfg.microbatches > 1) {
    const MemoryScope scope(MemoryCategory::gradients);
    c.accum = Tensor::zeros({c.layout.total}, DType::f32, device);
  }
  if (c.stage >= 2) {
    c.staged = std::make_unique<StagedGrads>(*model, c.layout, shard_group, cfg.reduce_dtype, c.grads,
                                             c.shard, sharding.traced ? &trace_ : nullptr);
  } else if (dp.size() > 1 && c.shards == 1) {
    // A bf16/fp16 model's averages go straight to its fp32 gradients, which hold its earlier micro-batches.
    c.reducer = std::make_unique<GradReducer>(model->flat_grads(), c.layout.buckets, dp, cfg.reduce_dtype,
                                              c.mixed ? c.grads : Tensor{});
    if (c.mixed) c.reducer->accumulate_from(c.accum);
  } else if (c.shards > 1) {
    c.reducer = std::make_unique<GradReducer>(model->flat_grads(), c.layout.buckets, shard_group,
                                              cfg.reduce_dtype, c.grads, c.shard);
    if (c.accum.defined()) c.reducer->accumulate_from(c.accum);
    // A tied embedding's two stages sum their copies before the reduce-scatter splits them.
    for (const auto& [begin, end] : c.partial->tied_ranges())
      for (size_t b = 0; b < c.layout.buckets.size(); ++b)
        if (begin < c.layout.buckets[b].end && c.layout.buckets[b].begin < end) c.reducer->defer(b);
  }
  if (c.stage == 3) {
    std::vector<std::vector<size_t>> reads = chunk.unit_reads;
    if (reads.empty())
      for (size_t u = 0; u < chunk.units.size(); ++u) reads.push_back({u});
    c.gather = std::make_unique<UnitGather>(*model, c.layout, shard_group, c.master, c.shard,
                                            std::move(reads), cfg.prefetch, cfg.reshard_after_forward,
                                            sharding.traced ? &trace_ : nullptr);
  }
  return c;
}

std::vector<DistributedOptimizer::Chunk*> DistributedOptimizer::all_chunks() {
  std::vector<Chunk*> out;
  for (Chunk& c : chunks_) {
    out.push_back(&c);
    if (c.experts) out.push_back(c.experts.get());
  }
  return out;
}

std::vector<std::pair<std::string, DistributedOptimizer::Chunk*>> DistributedOptimizer::named_chunks() {
  std::vector<std::pair<std::string, Chunk*>> out;
  for (size_t i = 0; i < chunks_.size(); ++i) {
    out.emplace_back("chunk" + std::to_string(i) + ".", &chunks_[i]);
    if (chunks_[i].experts)
      out.emplace_back("chunk" + std::to_string(i) + ".experts.", chunks_[i].experts.get());
  }
  return out;
}

DistributedOptimizer::Chunk& DistributedOptimizer::chunk_at(size_t chunk, bool experts) {
  Chunk& c = chunks_.at(chunk);
  if (!experts) return c;
  TRIDENT_CHECK(c.experts != nullptr, "chunk {} has no expert parameters", chunk);
  return *c.experts;
}

void DistributedOptimizer::zero_grads() {
  trace_.clear();  // a new step
  for (Chunk* c : all_chunks()) {
    if (!c->staged) {
      c->model->zero_grads();
      if (c->accum.defined()) c->accum.zero();
      continue;
    }
    c->grads.zero();  // stage 2 adds every micro-batch's average into it
    c->staged->zero_grads();
  }
}

// Stages 0 and 1 reduce once per step: only the chunk's last backward communicates. Stage 2 reduces in every
// backward.
void DistributedOptimizer::backward_begin(int chunk, bool last) {
  Chunk& c = chunks_.at(chunk);
  if (c.staged) c.staged->backward_begin();
  if (c.experts && c.experts->staged) c.experts->staged->backward_begin();
  // The chunk's experts reduce all at once when its last backward ends (expert_grads_done).
  for (Chunk* r : {&c, c.experts.get()}) {
    if (r == nullptr || !last || !r->reducer) continue;
    r->reducer->begin();
    r->reducing = true;
  }
}

void DistributedOptimizer::backward_end(int chunk, bool last) {
  Chunk& c = chunks_.at(chunk);
  if (c.staged) c.staged->backward_end();
  accumulate_micro_batch(c, last);
  if (!c.experts) return;
  Chunk& e = *c.experts;
  if (e.staged) {
    e.staged->grads_ready(e.model->flat_numel());
    e.staged->backward_end();
  }
  if (e.reducing) e.reducer->grads_ready(e.model->flat_numel());
  accumulate_micro_batch(e, last);
}

void DistributedOptimizer::accumulate_micro_batch(Chunk& c, bool last) {
  if (!c.mixed || c.staged || last) return;
  // A bf16/fp16 micro-batch's gradients join the fp32 sum, and the model's buffer starts over.
  if (!c.accum.defined()) {
    const MemoryScope scope(MemoryCategory::gradients);
    c.accum = Tensor::zeros({c.layout.total}, DType::f32, c.model->device());
    if (c.reducer) c.reducer->accumulate_from(c.accum);
  }
  ops::add_inplace(c.accum, c.model->flat_grads().to(DType::f32));
  c.model->zero_grads();
}

DistributedOptimizer::Chunk* DistributedOptimizer::experts_of(Chunk& c, size_t unit, size_t& expert_unit) {
  if (!c.experts || unit >= c.expert_unit.size() || c.expert_unit[unit] < 0) return nullptr;
  expert_unit = static_cast<size_t>(c.expert_unit[unit]);
  return c.experts.get();
}

// At stage 3 each unit's compute goes into the step's trace too, between its gather and its release, so that
// prefetched gathers show against the units that computed meanwhile. An MoE block's experts (expert
// parallelism) are a unit of the chunk's experts, gathered and staged alongside it.
void DistributedOptimizer::unit_forward_begin(int chunk, size_t unit) {
  Chunk& c = chunks_.at(chunk);
  size_t eu = 0;
  if (Chunk* e = experts_of(c, unit, eu); e && e->gather) e->gather->forward_begin(eu);
  if (!c.gather) return;
  c.gather->forward_begin(unit);
  c.unit_event = trace_.issued("forward", static_cast<int>(unit), static_cast<int>(unit));
}

void DistributedOptimizer::unit_forward_end(int chunk, size_t unit) {
  Chunk& c = chunks_.at(chunk);
  size_t eu = 0;
  if (Chunk* e = experts_of(c, unit, eu); e && e->gather) e->gather->forward_end(eu);
  if (!c.gather) return;
  trace_.done(c.unit_event);
  c.gather->forward_end(unit);
}

void DistributedOptimizer::unit_backward_begin(int chunk, size_t unit) {
  Chunk& c = chunks_.at(chunk);
  size_t eu = 0;
  if (Chunk* e = experts_of(c, unit, eu)) {
    if (e->staged) e->staged->unit_begin(eu);
    if (e->gather) e->gather->backward_begin(eu);
  }
  if (c.staged) c.staged->unit_begin(unit);
  if (!c.gather) return;
  c.gather->backward_begin(unit);
  c.unit_event = trace_.issued("backward", static_cast<int>(unit), static_cast<int>(unit));
}

void DistributedOptimizer::unit_backward_end(int chunk, size_t unit) {
  Chunk& c = chunks_.at(chunk);
  size_t eu = 0;
  if (Chunk* e = experts_of(c, unit, eu)) {
    // The experts' buffer runs in reverse too: this unit's and every later one's gradients are final.
    const Param& first = e->model->params()[e->units.at(eu).first];
    if (e->staged) e->staged->grads_ready(first.flat_offset + first.local_numel());
    if (e->gather) e->gather->backward_end(eu);
  }
  if (!c.gather) return;
  trace_.done(c.unit_event);
  c.gather->backward_end(unit);
}

void DistributedOptimizer::grads_ready(int chunk, int64_t ready_numel) {
  Chunk& c = chunks_.at(chunk);
  if (c.staged) c.staged->grads_ready(ready_numel);
  if (c.reducing) c.reducer->grads_ready(ready_numel);
}

void DistributedOptimizer::finish() {
  for (Chunk& c : chunks_) {
    if (c.staged) c.staged->finish([&c] { c.partial->sum_tied(*c.model); });
    if (c.reducer) {
      TRIDENT_CHECK(c.reducing, "a step ended without its last backward reducing the gradients");
      if (c.shards > 1) {
        c.reducer->finish([&c] { c.partial->sum_tied(*c.model); });
      } else {
        c.reducer->finish();
      }
      c.reducing = false;
    }
    // Hybrid sharding: each shard group averaged its own ranks; the replicas of a shard average across.
    if (c.replica && c.shards > 1) c.replica->all_reduce(c.grads, comm::ReduceOp::avg);
    if (!c.experts) continue;
    Chunk& e = *c.experts;
    if (e.staged) e.staged->finish();
    if (e.reducer) {
      TRIDENT_CHECK(e.reducing, "a step ended without its last backward reducing the experts");
      e.reducer->finish();
      e.reducing = false;
    }
  }
}

bool DistributedOptimizer::unscale() {
  bool finite = true;
  for (Chunk* c : all_chunks()) {
    if (scaler_.scale() != 1.0) ops::scale_inplace(c->grads, 1.0 / scaler_.scale());
    // inf or nan anywhere makes the sum of squares inf or nan; finite f32 squares cannot overflow a double.
    finite = std::isfinite(ops::sum_squares(c->grads)) && finite;
  }
  // Every rank must agree to skip: an overflow on one stage or shard skips the step everywhere.
  Tensor bad = Tensor::full({1}, finite ? 0.0 : 1.0, DType::f64);
  if (groups_.world->size() > 1) groups_.world->all_reduce(bad, comm::ReduceOp::max);
  return bad.item(0) == 0.0;
}

double DistributedOptimizer::global_grad_norm() {
  // Each element is counted once: tp replicas weigh 1/tp, shard pieces are disjoint, stages hold their own.
  Tensor sq = Tensor::zeros({1}, DType::f64);
  for (Chunk& c : chunks_) sq.data<double>()[0] += c.norm->squares(c.grads);
  for (comm::Communicator* g : {groups_.tp, shards_ > 1 ? shard_group_ : nullptr})
    if (g && g->size() > 1) g->all_reduce(sq, comm::ReduceOp::sum);
  if (groups_.ep) {
    // Experts: disjoint pieces over edp when sharded, different experts on each rank of an ep group; the
    // sum is then the same on every rank of the stage, like the dense one.
    Tensor experts = Tensor::zeros({1}, DType::f64);
    bool sharded = false;
    for (Chunk& c : chunks_) {
      if (!c.experts) continue;
      experts.data<double>()[0] += c.experts->norm->squares(c.experts->grads);
      sharded = c.experts->shards > 1;
    }
    if (sharded) groups_.edp->all_reduce(experts, comm::ReduceOp::sum);
    if (groups_.ep->size() > 1) groups_.ep->all_reduce(experts, comm::ReduceOp::sum);
    sq.data<double>()[0] += experts.item(0);
  }
  if (groups_.pp->size() > 1) groups_.pp->all_reduce(sq, comm::ReduceOp::sum);
  return std::sqrt(sq.item(0));
}

DistributedOptimizer::StepResult DistributedOptimizer::step(double lr) {
  spans::Span span(spans::Kind::optimizer, spans::Phase::none);  // its collectives' waits are communication
  StepResult out;
  for (Chunk* c : all_chunks())
    if (c->gather) c->gather->release_all();  // the values change: nothing gathered stays (experts' neither)
  for (Chunk* c : all_chunks()) {
    // A bf16/fp16 model without data parallelism: its last micro-batch joins the fp32 sum now (a reducer
    // put the whole average there already).
    if (c->mixed && !c->reducer && !c->staged)
      ops::add_inplace(c->grads, c->model->flat_grads().to(DType::f32));
    c->partial->sum(c->grads, c->shard,
                    /*tied=*/c->shards == 1);  // sharded: the tied sum ran before the scatter
    if (c->grad_scale != 1.0) ops::scale_inplace(c->grads, c->grad_scale);
  }
  if (chunks_.front().mixed && !scaler_.update(/*found_inf=*/!unscale())) {
    out.skipped = true;  // the weights stay; fp16 backed its scale off
    return out;
  }
  out.grad_norm = global_grad_norm();
  // Bucket by bucket: update this rank's piece, round it into the model, and (stages 1, 2) start sending it
  // to the shard group at once, while the next piece is updated.
  std::vector<std::pair<comm::WorkPtr, Tensor>> inflight;
  const MemoryScope scope(MemoryCategory::comm_buffers);
  for (Chunk* c : all_chunks()) {
    if (cfg_.grad_clip > 0 && out.grad_norm > cfg_.grad_clip)  // PyTorch's clip_grad_norm_
      ops::scale_inplace(c->grads, cfg_.grad_clip / (out.grad_norm + 1e-6));
    c->adamw->begin_step();
    for (size_t b = 0; b < c->shard.pieces.size(); ++b) {
      const Piece& p = c->shard.pieces[b];
      if (c->master.defined()) {
        c->adamw->update(b, lr, c->master, /*flat=*/false, c->grads);
        if (!c->gather) c->model->flat_params().flat(p.flat, {p.n}).copy_from(c->master.flat(p.shard, {p.n}));
      } else {
        c->adamw->update(b, lr, c->model->flat_params(), /*flat=*/true, c->grads);
      }
      if (c->shards > 1 && c->stage < 3) inflight.push_back(all_gather_bucket(*c, b));
    }
  }
  for (auto& [work, mine] : inflight) work->wait();
  return out;
}

std::pair<comm::WorkPtr, Tensor> DistributedOptimizer::all_gather_bucket(Chunk& c, size_t b) {
  const Bucket& bucket = c.layout.buckets[b];
  const Piece& p = c.shard.pieces[b];
  Tensor out = c.model->flat_params().flat(bucket.begin, {bucket.end - bucket.begin});
  Tensor mine = c.model->flat_params().flat(p.flat, {p.n}).clone();  // the input may not alias the output
  return {c.group->all_gather_async(out, mine), mine};
}

void DistributedOptimizer::all_gather_params() {
  const MemoryScope scope(MemoryCategory::comm_buffers);
  std::vector<std::pair<comm::WorkPtr, Tensor>> inflight;
  for (Chunk* c : all_chunks())
    if (c->shards > 1 && c->stage < 3)
      for (size_t b = 0; b < c->layout.buckets.size(); ++b) inflight.push_back(all_gather_bucket(*c, b));
  for (auto& [work, mine] : inflight) work->wait();
}

ParamSet DistributedOptimizer::fp32_params(size_t chunk, bool experts) {
  Chunk& c = chunk_at(chunk, experts);
  const MemoryScope scope(MemoryCategory::comm_buffers);  // a gathered copy for saving or sampling
  ParamSet out = c.model->mirror(DType::f32, c.model->device());
  if (!c.master.defined()) {
    out.flat_params().copy_from(c.model->flat_params());  // whole after every step's all-gather
    return out;
  }
  copy_pieces(c.shard, out.flat_params(), /*to_flat=*/true, c.master);
  if (c.shards == 1) return out;
  std::vector<std::pair<comm::WorkPtr, Tensor>> inflight;
  for (size_t b = 0; b < c.layout.buckets.size(); ++b) {
    const Bucket& bucket = c.layout.buckets[b];
    Tensor all = out.flat_params().flat(bucket.begin, {bucket.end - bucket.begin});
    Tensor mine = c.master.flat(c.shard.pieces[b].shard, {c.shard.pieces[b].n}).clone();
    inflight.emplace_back(c.group->all_gather_async(all, mine), mine);
  }
  for (auto& [work, mine] : inflight) work->wait();
  return out;
}

void DistributedOptimizer::load_fp32(size_t chunk, const ParamSet& values, bool experts) {
  Chunk& c = chunk_at(chunk, experts);
  TRIDENT_CHECK(values.flat_numel() == c.model->flat_numel(), "fp32 values of {} elements for a layout of {}",
                values.flat_numel(), c.model->flat_numel());
  if (c.gather) c.gather->release_all();
  if (!c.gather) c.model->flat_params().copy_from(values.flat_params());
  if (c.master.defined()) copy_pieces(c.shard, c.master, /*to_flat=*/false, values.flat_params());
}

std::map<std::string, Tensor> DistributedOptimizer::state_dict() {
  std::map<std::string, Tensor> out;
  for (auto& [prefix, c] : named_chunks()) {
    out[prefix + "exp_avg"] = c->adamw->exp_avg().clone();
    out[prefix + "exp_avg_sq"] = c->adamw->exp_avg_sq().clone();
    if (c->master.defined()) out[prefix + "master"] = c->master.clone();
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
  for (auto& [prefix, c] : named_chunks()) {
    const Shape shape{c->shard.numel};
    c->adamw->exp_avg().copy_from(get(prefix + "exp_avg", shape));
    c->adamw->exp_avg_sq().copy_from(get(prefix + "exp_avg_sq", shape));
    c->adamw->set_steps_taken(static_cast<int64_t>(get("step", {1}).item(0)));
    if (c->master.defined()) {
      if (c->gather) c->gather->release_all();
      c->master.copy_from(get(prefix + "master", shape));
      if (!c->gather) copy_pieces(c->shard, c->model->flat_params(), /*to_flat=*/true, c->master);
    }
  }
  if (chunks_.front().mixed) all_gather_params();
  scaler_.restore(get("loss_scale", {1}).item(0),
                  static_cast<int64_t>(get("loss_scale_good_steps", {1}).item(0)),
                  static_cast<int64_t>(get("loss_scale_skipped", {1}).item(0)));
}

std::vector<DistributedOptimizer::ShardState> DistributedOptimizer::shard_states() {
  std::vector<ShardState> out;
  for (size_t i = 0; i < chunks_.size(); ++i) {
    for (Chunk* c : {&chunks_[i], chunks_[i].experts.get()}) {
      if (c == nullptr) continue;
      ShardState s;
      s.chunk = i;
      s.experts = c != &chunks_[i];
      s.params = c->model;
      s.layout = &c->layout;
      s.shard = &c->shard;
      s.exp_avg = c->adamw->exp_avg();
      s.exp_avg_sq = c->adamw->exp_avg_sq();
      if (c->shards == 1)
        s.holders = c->group->size(), s.holder = c->group->rank();
      else if (c->replica)
        s.holders = c->replica->size(), s.holder = c->replica->rank();
      out.push_back(std::move(s));
    }
  }
  return out;
}

Tensor DistributedOptimizer::shard_weights(size_t chunk, bool experts) {
  Chunk& c = chunk_at(chunk, experts);
  if (c.master.defined()) return c.master;
  Tensor out = Tensor::empty({c.shard.numel}, DType::f32, c.model->device());
  copy_pieces(c.shard, out, /*to_flat=*/false, c.model->flat_params());
  return out;
}

DistributedOptimizer::Progress DistributedOptimizer::progress() const {
  return {chunks_.front().adamw->steps_taken(), scaler_.scale(), scaler_.good_steps(),
          scaler_.skipped_steps()};
}

void DistributedOptimizer::restore(const Progress& p) {
  for (Chunk* c : all_chunks()) c->adamw->set_steps_taken(p.steps);
  scaler_.restore(p.loss_scale, p.good_steps, p.skipped);
}

}  // namespace trident::zero
