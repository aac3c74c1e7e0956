#include "train/parallel_model.h"

#include <fmt/ranges.h>

#include <cmath>

#include "core/comm/comm_log.h"
#include "core/io/param_io.h"
#include "core/mesh/device_mesh.h"
#include "pipeline/partition.h"

namespace trident {

namespace {
// Data-parallel bucket size: 25 MB of fp32 gradients unless the config says otherwise (PyTorch DDP's
// default).
int64_t bucket_numel(const config::Config& cfg) {
  const double mb = cfg.parallel().bucket_mb() > 0 ? cfg.parallel().bucket_mb() : 25.0;
  return std::max<int64_t>(1, static_cast<int64_t>(mb * (1 << 20) / 4));
}

// Evaluation and checkpoint gathering send with tags above the training steps' (executor.cpp).
constexpr int kEvalTag = 32000;
constexpr int kGatherTag = 32700;
}  // namespace

ParallelModel::ParallelModel(const config::Config& cfg, comm::Communicator& world) : world_(world) {
  make_groups(cfg, world);
  const auto& t = cfg.train();
  const auto& o = cfg.optim();
  const int pp = pp_->size(), v = std::max(1, cfg.parallel().virtual_stages());
  microbatches_ = static_cast<int>(t.global_batch_size() / (int64_t{t.micro_batch_size()} * dp_->size()));
  grad_clip_ = o.grad_clip();

  const models::ModelSpec spec = models::ModelSpec::from_config(cfg);
  const std::vector<int> layers = pp::stage_layers(cfg);
  std::vector<models::Transformer*> chunks;
  std::vector<zero::GradReducer*> reducers;
  for (int c = 0; c < v; ++c) {
    const int stage = c * pp + pp_->rank();
    chunks_.push_back(
        std::make_unique<models::Transformer>(spec, tp::TpGroup::of(*tp_), pp::stage_chunk(layers, stage)));
    models::Transformer& chunk = *chunks_.back();
    chunk.params().initialize(t.seed());  // rounded to bf16/fp16 for a low-precision model
    if (spec.dtype == DType::bf16 || spec.dtype == DType::f16)
      masters_.push_back(std::make_unique<MasterWeights>(chunk.params()));
    optims_.push_back(std::make_unique<AdamW>(optimized(chunks_.size() - 1),
                                              AdamWConfig{o.beta1(), o.beta2(), o.eps(), o.weight_decay()}));
    reducers_.push_back(dp_->size() > 1 ? std::make_unique<zero::GradReducer>(chunk.params().flat_grads(),
                                                                              *dp_, bucket_numel(cfg))
                                        : nullptr);
    chunks.push_back(&chunk);
    reducers.push_back(reducers_.back().get());
  }
  executor_ = std::make_unique<pp::PipelineExecutor>(chunks, *pp_, reducers, microbatches_,
                                                     int64_t{t.micro_batch_size()} * t.seq_len());
  if (spec.dtype == DType::f16) {
    LossScalerConfig ls;
    ls.init_scale = t.loss_scale();
    ls.growth_interval = t.loss_scale_window();
    scaler_ = LossScaler(ls);
  }
  actions_ = pp::schedule_actions(pp::parse_schedule(t.schedule()), pp, v, microbatches_, pp_->rank());
}

void ParallelModel::make_groups(const config::Config& cfg, comm::Communicator& world) {
  // Every rank splits the world into its own groups: the mesh's rank lists.
  const DeviceMesh mesh(world.size(), mesh_sizes(cfg.parallel()), cfg.parallel().order());
  const auto split = [&](const std::vector<Axis>& axes) {
    const std::vector<int> ranks = mesh.group_of(world.rank(), axes);
    return world.split(ranks, fmt::format("{}[{}]", axes_name(axes), comm::ranks_str(ranks)));
  };
  tp_ = split({Axis::tp});
  dp_ = split({Axis::dp, Axis::cp});
  pp_ = split({Axis::pp});  // ascending ranks: pipeline rank = stage order
  const int pp = pp_->size(), r = pp_->rank();
  if (cfg.model().tie_embeddings() && pp > 1) {
    // The first and last stage hold the tied embedding; the stages between take no part.
    const bool ends = r == 0 || r == pp - 1;
    auto group = pp_->split(ends ? std::vector<int>{0, pp - 1} : std::vector<int>{r},
                            pp_->name() + (ends ? ".embedding" : ".none"));
    if (ends) embedding_ = std::move(group);
  }
}

int64_t ParallelModel::local_numel() const {
  int64_t n = 0;
  for (const auto& c : chunks_) n += c->params().numel();
  return n;
}

void ParallelModel::load_global(const std::map<std::string, Tensor>& tensors, const std::string& prefix) {
  for (size_t c = 0; c < chunks_.size(); ++c) {
    io::load_shards(optimized(c), tensors, prefix);
    if (!masters_.empty()) masters_[c]->copy_to_model();
  }
}

void ParallelModel::sync_tied_embedding() {
  if (!embedding_) return;
  // Stage 0 is chunk 0 of pipeline rank 0; the last stage is the last chunk of the last pipeline rank.
  models::Transformer& chunk = pp_->rank() == 0 ? *chunks_.front() : *chunks_.back();
  Param* wte = chunk.tied_embedding();
  TRIDENT_CHECK(wte != nullptr, "stage without the tied embedding in the embedding group");
  embedding_->all_reduce(wte->grad, comm::ReduceOp::sum);
}

double ParallelModel::global_grad_norm() {
  Tensor sq = Tensor::zeros({1}, DType::f64);
  for (size_t c = 0; c < chunks_.size(); ++c)
    sq.data<double>()[0] += chunks_[c]->grad_squares(&optimized(c));  // over tp shards; fp32 masters if any
  if (pp_->size() > 1) pp_->all_reduce(sq, comm::ReduceOp::sum);      // over stages; dp replicas are equal
  return std::sqrt(sq.item(0));
}

bool ParallelModel::unscale_grads() {
  bool finite = true;
  for (auto& m : masters_) finite = m->unscale_grads(scaler_.scale()) && finite;
  // Every rank must agree to skip: an overflow on one stage or shard skips the step everywhere.
  Tensor bad = Tensor::full({1}, finite ? 0.0 : 1.0, DType::f64);
  if (world_.size() > 1) world_.all_reduce(bad, comm::ReduceOp::max);
  return bad.item(0) == 0.0;
}

ParallelModel::StepResult ParallelModel::train_step(double lr, const BatchFn& batch) {
  for (auto& c : chunks_) c->params().zero_grads();
  StepResult out;
  out.loss_scale = scaler_.scale();
  out.loss = executor_->run(actions_, batch, scaler_.scale());  // data-parallel reduction finished inside
  out.times = executor_->times();
  // Gradients that are partial sums over tp ranks (sequence-parallel norms, replicated kv heads), and the
  // tied embedding's two copies: summed once, after the data-parallel average (all linear, order-free).
  for (auto& c : chunks_) c->finalize_grads();
  sync_tied_embedding();
  // The loss lives on the last stage: sum over the pipeline, average over data-parallel replicas.
  Tensor l = Tensor::full({1}, out.loss, DType::f64);
  if (pp_->size() > 1) pp_->all_reduce(l, comm::ReduceOp::sum);
  if (dp_->size() > 1) dp_->all_reduce(l, comm::ReduceOp::avg);
  out.loss = l.item(0);
  if (!std::isfinite(out.loss)) return out;  // the caller stops; no update from a diverged step
  if (!masters_.empty() && !scaler_.update(/*found_inf=*/!unscale_grads())) {
    out.skipped = true;  // fp16 overflow: the scale was backed off, the weights stay
    return out;
  }
  out.grad_norm = global_grad_norm();
  for (size_t c = 0; c < chunks_.size(); ++c) {
    clip_grads(optimized(c), out.grad_norm, grad_clip_);
    optims_[c]->step(lr);
    if (!masters_.empty()) masters_[c]->copy_to_model();
  }
  return out;
}

double ParallelModel::eval_loss(const Tensor& tokens, const Tensor& targets) {
  // Forward only, stage after stage: a blocking receive from the previous stage, a send to the next.
  const int pp = pp_->size(), r = pp_->rank();
  double loss = 0;
  std::vector<std::pair<comm::WorkPtr, Tensor>> sends;
  for (size_t c = 0; c < chunks_.size(); ++c) {
    models::Transformer& chunk = *chunks_[c];
    const int stage = static_cast<int>(c) * pp + r;
    Tensor input;
    if (!chunk.chunk().first) {
      input = chunk.boundary_buffer(tokens.numel());
      pp_->recv(input, (r + pp - 1) % pp, kEvalTag + stage);
    }
    models::ModelActs acts;
    loss += chunk.forward(acts, tokens, targets, input);
    if (!chunk.chunk().last) {
      Tensor out = acts.residual.back();
      sends.emplace_back(pp_->send_async(out, (r + 1) % pp, kEvalTag + stage + 1), out);
    }
  }
  for (auto& s : sends) s.first->wait();
  if (pp > 1) {
    Tensor l = Tensor::full({1}, loss, DType::f64);
    pp_->all_reduce(l, comm::ReduceOp::sum);
    loss = l.item(0);
  }
  return loss;
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
  for (size_t c = 0; c < chunks_.size(); ++c) mine.merge(chunks_[c]->gather_params(&optimized(c)));
  const DType dtype = masters_.empty() ? spec().dtype : DType::f32;
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
