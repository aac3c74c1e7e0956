#include "train/parallel_model.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "core/comm/bootstrap.h"
#include "core/comm/comm_log.h"
#include "core/io/param_io.h"
#include "core/mesh/device_mesh.h"
#include "pipeline/partition.h"
#include "train/traced_communicator.h"

namespace trident {

namespace {
// Data-parallel bucket size: 25 MB of fp32 gradients unless the config says otherwise (PyTorch DDP's
// default).
int64_t bucket_numel(const config::Config& cfg) {
  const double mb = cfg.parallel().bucket_mb() > 0 ? cfg.parallel().bucket_mb() : 25.0;
  return std::max<int64_t>(1, static_cast<int64_t>(mb * (1 << 20) / 4));
}

// Checkpoint gathering sends with tags above the pipeline steps' (executor.cpp).
constexpr int kGatherTag = 32700;

// Every group the model uses records its ops for the profiler and the trace (a no-op while they are off).
std::unique_ptr<comm::Communicator> traced(std::unique_ptr<comm::Communicator> group) {
  return std::make_unique<TracedCommunicator>(std::move(group));
}
}  // namespace

ParallelModel::ParallelModel(const config::Config& cfg, comm::Communicator& world) : world_(world) {
  make_groups(cfg, world);
  const auto& t = cfg.train();
  const auto& o = cfg.optim();
  const int pp = pp_->size(), v = std::max(1, cfg.parallel().virtual_stages());
  microbatches_ = static_cast<int>(t.global_batch_size() / (int64_t{t.micro_batch_size()} * dp_->size()));
  zero_stage_ = dp_->size() > 1 ? cfg.parallel().zero_stage() : 0;

  const models::ModelSpec spec = models::ModelSpec::from_config(cfg);
  const std::vector<int> layers = pp::stage_layers(cfg);
  std::vector<models::Transformer*> chunks;
  std::vector<zero::ChunkParams> params;
  for (int c = 0; c < v; ++c) {
    const int stage = c * pp + pp_->rank();
    chunks_.push_back(
        std::make_unique<models::Transformer>(spec, tp::TpGroup::of(*tp_), pp::stage_chunk(layers, stage),
                                              ep_ ? moe::ExpertGroup::of(*ep_) : moe::ExpertGroup{}));
    models::Transformer& chunk = *chunks_.back();
    chunk.params().initialize(t.seed());  // rounded to bf16/fp16 for a low-precision model
    if (chunk.expert_params().finalized()) chunk.expert_params().initialize(t.seed());
    chunks.push_back(&chunk);
    std::vector<std::vector<size_t>> reads;
    for (size_t u = 0; u < chunk.units().size(); ++u) reads.push_back(chunk.units_read(u));
    params.push_back({&chunk.params(), chunk.units(), std::move(reads),
                      chunk.expert_params().finalized() ? &chunk.expert_params() : nullptr,
                      chunk.expert_units(), chunk.expert_unit_of()});
  }
  zero::OptimizerConfig opt;
  opt.adamw = {o.beta1(), o.beta2(), o.eps(), o.weight_decay()};
  opt.grad_clip = o.grad_clip();
  opt.bucket_numel = bucket_numel(cfg);
  opt.reduce_dtype = cfg.parallel().grad_reduce_dtype() == "bf16" ? DType::bf16 : DType::f32;
  opt.stage = cfg.parallel().zero_stage();
  opt.prefetch = cfg.parallel().zero_prefetch();
  opt.reshard_after_forward = cfg.parallel().zero_reshard_after_forward();
  opt.microbatches = microbatches_;
  if (spec.dtype == DType::f16) {
    LossScalerConfig ls;
    ls.init_scale = t.loss_scale();
    ls.growth_interval = t.loss_scale_window();
    opt.scaler = LossScaler(ls);
  }
  const zero::Groups groups{&world,       tp_.get(),      pp_.get(), dp_.get(), embedding_.get(),
                            shard_.get(), replica_.get(), ep_.get(), edp_.get()};
  optimizer_ = std::make_unique<zero::DistributedOptimizer>(params, groups, opt);
  executor_ = std::make_unique<pp::PipelineExecutor>(chunks, *pp_, optimizer_.get(), microbatches_,
                                                     int64_t{t.micro_batch_size()} * t.seq_len());
  actions_ = pp::schedule_actions(pp::parse_schedule(t.schedule()), pp, v, microbatches_, pp_->rank());
  eval_actions_ = pp::forward_only_actions(pp, v, microbatches_, pp_->rank());
}

void ParallelModel::make_groups(const config::Config& cfg, comm::Communicator& world) {
  // Every rank splits the world into its own groups: the mesh's rank lists.
  const DeviceMesh mesh(world.size(), mesh_sizes(cfg.parallel()), cfg.parallel().order());
  // comm.backend: with nccl every group below also gets an NCCL communicator on the model's device; host
  // tensors keep going through the group's MPI communicator (comm::RoutedCommunicator).
  const Device device = models::ModelSpec::from_config(cfg).device;
  backend_ = comm::resolve_backend(cfg.comm().backend(), device);
  // The pipeline's sends and recvs stay on MPI under the interleaved schedule: NCCL's grouped point-to-point
  // deadlocks it (RoutedCommunicator; tests/unit/test_p2p_order.cpp).
  pp_p2p_on_device_ = pp::parse_schedule(cfg.train().schedule()) != pp::ScheduleKind::interleaved_1f1b;
  const auto group = [&](const std::vector<int>& ranks, const std::string& name, bool p2p_on_device = true) {
    return traced(comm::make_group(world, ranks, name, backend_, device, p2p_on_device));
  };
  const auto split = [&](const std::vector<Axis>& axes, bool p2p_on_device = true) {
    const std::vector<int> ranks = mesh.group_of(world.rank(), axes);
    return group(ranks, fmt::format("{}[{}]", axes_name(axes), comm::ranks_str(ranks)), p2p_on_device);
  };
  tp_ = split({Axis::tp});
  dp_ = split({Axis::dp, Axis::cp});
  pp_ = split({Axis::pp}, pp_p2p_on_device_);  // ascending ranks: pipeline rank = stage order
  // Expert parallelism folds over the tp and dp ranks of each stage (the expert grid, etp x ep x edp x pp).
  if (mesh.size(Axis::ep) > 1) {
    ep_ = split({Axis::ep});
    edp_ = split({Axis::edp});
  }
  // Hybrid ZeRO: shard groups of zero_shard_size consecutive data-parallel ranks, replicas across them.
  const int k = cfg.parallel().zero_shard_size();
  if (cfg.parallel().zero_stage() > 0 && k > 0 && k < dp_->size()) {
    const DeviceMesh::HybridGroups h = mesh.hybrid_groups(world.rank(), k);
    shard_ = group(h.shard, fmt::format("zero_shard[{}]", comm::ranks_str(h.shard)));
    replica_ = group(h.replica, fmt::format("zero_replica[{}]", comm::ranks_str(h.replica)));
  }
  const int pp = pp_->size(), r = pp_->rank();
  if (cfg.model().tie_embeddings() && pp > 1) {
    // The first and last stage hold the tied embedding; the stages between take no part.
    const bool ends = r == 0 || r == pp - 1;
    auto group = pp_->split(ends ? std::vector<int>{0, pp - 1} : std::vector<int>{r},
                            pp_->name() + (ends ? ".embedding" : ".none"));
    if (ends) embedding_ = std::move(group);
  }
}

std::string ParallelModel::comm_line() const {
  std::vector<std::string> names;
  for (const auto* g : {&tp_, &pp_, &dp_, &embedding_, &shard_, &replica_, &ep_, &edp_})
    if (*g) names.push_back((*g)->name());
  if (backend_ == comm::Backend::mpi)
    return fmt::format("comm: mpi for every group ({})", fmt::join(names, ", "));
  return fmt::format("comm: nccl for {} on device tensors; host tensors{} and barriers over mpi",
                     fmt::join(names, ", "),
                     pp_p2p_on_device_ ? "" : ", the pipeline's sends (interleaved schedule)");
}

int64_t ParallelModel::local_numel() const {
  int64_t n = 0;
  for (const auto& c : chunks_) n += c->params().numel() + c->expert_params().numel();
  return n;
}

void ParallelModel::load_global(const std::map<std::string, Tensor>& tensors, const std::string& prefix) {
  for (size_t c = 0; c < chunks_.size(); ++c) {
    const ParamSet& model = chunks_[c]->params();
    ParamSet values = model.mirror(DType::f32, model.device());
    io::load_shards(values, tensors, prefix);
    optimizer_->load_fp32(c, values);
    const ParamSet& experts = chunks_[c]->expert_params();
    if (!experts.finalized()) continue;
    ParamSet expert_values = experts.mirror(DType::f32, experts.device());
    io::load_shards(expert_values, tensors, prefix);
    optimizer_->load_fp32(c, expert_values, /*experts=*/true);
  }
}

ParallelModel::StepResult ParallelModel::train_step(double lr, const BatchFn& batch) {
  optimizer_->zero_grads();
  StepResult out;
  out.loss_scale = optimizer_->loss_scale();
  for (auto& chunk : chunks_) chunk->moe_stats().clear();
  out.loss = executor_->run(actions_, batch, out.loss_scale);  // the optimizer heard of every backward
  out.times = executor_->times();
  out.moe = moe_step_stats();
  // The loss lives on the last stage: sum over the pipeline, average over data-parallel replicas.
  Tensor l = Tensor::full({1}, out.loss, DType::f64);
  if (pp_->size() > 1) pp_->all_reduce(l, comm::ReduceOp::sum);
  if (dp_->size() > 1) dp_->all_reduce(l, comm::ReduceOp::avg);
  out.loss = l.item(0);
  if (!std::isfinite(out.loss)) return out;  // the caller stops; no update from a diverged step
  const zero::DistributedOptimizer::StepResult r = optimizer_->step(lr);
  out.grad_norm = r.grad_norm;
  out.skipped = r.skipped;
  return out;
}

moe::MoeStats ParallelModel::moe_step_stats() {
  moe::MoeStats stats;
  for (auto& chunk : chunks_) stats.add(chunk->moe_stats());
  if (stats.empty()) return stats;
  // Each stage holds its own layers (zeros elsewhere) and each replica its own tokens: sum both, then the
  // losses become the mean over the step's micro-batches and replicas, like the loss.
  Tensor all = Tensor::empty({static_cast<int64_t>(stats.values().size())}, DType::f64);
  std::copy(stats.values().begin(), stats.values().end(), all.data<double>());
  if (pp_->size() > 1) pp_->all_reduce(all, comm::ReduceOp::sum);
  if (dp_->size() > 1) dp_->all_reduce(all, comm::ReduceOp::sum);
  std::copy(all.data<double>(), all.data<double>() + all.numel(), stats.values().begin());
  stats.scale_losses(1.0 / (microbatches_ * dp_->size()));
  return stats;
}

double ParallelModel::eval_loss(const BatchFn& batch) {
  Tensor loss = Tensor::full({1}, executor_->run(eval_actions_, batch), DType::f64);  // on the last stage
  if (pp_->size() > 1) pp_->all_reduce(loss, comm::ReduceOp::sum);
  return loss.item(0);
}

namespace {
// "name:d0,d1;name:d0;..." as u32 characters, and back: how a stage tells pipeline rank 0 what it sends.
Tensor encode_names(const std::map<std::string, Tensor>& tensors) {
  std::string text;
  for (const auto& [name, t] : tensors) text += fmt::format("{}:{};", name, fmt::join(t.shape(), ","));
  Tensor out = Tensor::empty({static_cast<int64_t>(text.size())}, DType::u32);
  for (size_t i = 0; i < text.size(); ++i) out.data<uint32_t>()[i] = static_cast<uint8_t>(text[i]);
  return out;
}

std::vector<std::pair<std::string, Shape>> decode_names(const Tensor& t) {
  std::string text;
  for (int64_t i = 0; i < t.numel(); ++i) text += static_cast<char>(t.data<uint32_t>()[i]);
  std::vector<std::pair<std::string, Shape>> out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t colon = text.find(':', pos), semi = text.find(';', pos);
    Shape shape;
    for (size_t p = colon + 1; p < semi;) {
      const size_t comma = std::min(text.find(',', p), semi);
      shape.push_back(std::stoll(text.substr(p, comma - p)));
      p = comma + 1;
    }
    out.emplace_back(text.substr(pos, colon - pos), shape);
    pos = semi + 1;
  }
  return out;
}
}  // namespace

std::map<std::string, Tensor> ParallelModel::gather_to_main() {
  std::map<std::string, Tensor> mine;
  // Over tp (every tp rank takes part); a mixed-precision model is saved from its fp32 master weights.
  for (size_t c = 0; c < chunks_.size(); ++c) {
    const ParamSet full = optimizer_->fp32_params(c);  // a collective over dp when the masters are sharded
    if (chunks_[c]->expert_params().finalized()) {
      const ParamSet experts = optimizer_->fp32_params(c, /*experts=*/true);
      mine.merge(chunks_[c]->gather_params(&full, &experts));
    } else {
      mine.merge(chunks_[c]->gather_params(&full));
    }
  }
  const DType dtype = DType::f32;
  // Only the replica of world rank 0 (tp rank 0, data-parallel rank 0) sends its stages to pipeline rank 0.
  if (tp_->rank() != 0 || dp_->rank() != 0) return {};
  if (pp_->rank() != 0) {
    Tensor names = encode_names(mine);
    int64_t total = 0;
    for (const auto& [n, t] : mine) total += t.numel();
    Tensor sizes = Tensor::full({2}, 0.0, DType::f64);
    sizes.data<double>()[0] = static_cast<double>(names.numel());
    sizes.data<double>()[1] = static_cast<double>(total);
    Tensor data = Tensor::empty({total}, dtype);
    int64_t off = 0;
    for (const auto& [n, t] : mine) {
      data.flat(off, t.shape()).copy_from(t);
      off += t.numel();
    }
    pp_->send(sizes, 0, kGatherTag);
    pp_->send(names, 0, kGatherTag + 1);
    pp_->send(data, 0, kGatherTag + 2);
    return {};
  }
  for (int src = 1; src < pp_->size(); ++src) {
    Tensor sizes = Tensor::empty({2}, DType::f64);
    pp_->recv(sizes, src, kGatherTag);
    Tensor names = Tensor::empty({static_cast<int64_t>(sizes.item(0))}, DType::u32);
    pp_->recv(names, src, kGatherTag + 1);
    Tensor data = Tensor::empty({static_cast<int64_t>(sizes.item(1))}, dtype);
    pp_->recv(data, src, kGatherTag + 2);
    int64_t off = 0;
    for (const auto& [name, shape] : decode_names(names)) {
      Tensor t = Tensor::empty(shape, dtype);
      t.copy_from(data.flat(off, shape));
      off += t.numel();
      mine.emplace(name, std::move(t));
    }
  }
  return mine;
}

}  // namespace trident
