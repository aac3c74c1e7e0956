#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/comm/comm_log.h"
#include "core/config/config.h"
#include "core/data/tokenizer.h"
#include "core/io/safetensors.h"
#include "core/mesh/device_mesh.h"
#include "core/runtime/logging.h"
#include "core/runtime/threads.h"
#include "train/generate.h"

namespace trident {

namespace {

std::string format_duration(double s) {
  const int64_t t = static_cast<int64_t>(std::llround(s));
  return t >= 60 ? fmt::format("{}m{:02d}s", t / 60, t % 60) : fmt::format("{}s", t);
}

}  // namespace

namespace {
// Data-parallel bucket size: 25 MB of fp32 gradients unless the config says otherwise (PyTorch DDP's
// default).
int64_t bucket_numel(const config::Config& cfg) {
  const double mb = cfg.parallel().bucket_mb() > 0 ? cfg.parallel().bucket_mb() : 25.0;
  return std::max<int64_t>(1, static_cast<int64_t>(mb * (1 << 20) / 4));
}
}  // namespace

Trainer::Trainer(const config::Config& cfg, std::string out_dir, comm::Communicator& world)
    : cfg_(cfg), out_dir_(std::move(out_dir)), world_(world) {
  init_logging();
  // Only rank 0 prints progress; TRIDENT_LOG_ALL_RANKS=1 lets every rank speak.
  if (!is_main() && std::getenv("TRIDENT_LOG_ALL_RANKS") == nullptr) spdlog::set_level(spdlog::level::warn);
  check_same_config();
  make_groups();
  const auto& t = cfg_.train();
  set_cpu_threads(cfg_.runtime().threads());

  // Data first: a missing or bad shard should fail before any model memory is spent.
  train_shard_ = std::make_unique<data::TokenShard>(cfg_.data().train_path());
  train_shard_->check_vocab(cfg_.model().vocab_size());
  train_sampler_ = std::make_unique<data::TrainSampler>(*train_shard_, t.seq_len(), t.seed());
  if (!cfg_.data().val_path().empty()) {
    val_shard_ = std::make_unique<data::TokenShard>(cfg_.data().val_path());
    val_shard_->check_vocab(cfg_.model().vocab_size());
    eval_sampler_ = std::make_unique<data::EvalSampler>(*val_shard_, t.seq_len(), t.micro_batch_size());
  }

  model_ =
      std::make_unique<models::Transformer>(models::ModelSpec::from_config(cfg_), tp::TpGroup::of(*tp_comm_));
  model_->params().initialize(t.seed());
  const auto& o = cfg_.optim();
  optim_ =
      std::make_unique<AdamW>(model_->params(), AdamWConfig{o.beta1(), o.beta2(), o.eps(), o.weight_decay()});
  schedule_ = {o.lr(), o.min_lr(), o.warmup_steps(), t.steps()};
  accum_steps_ = t.global_batch_size() / (int64_t{t.micro_batch_size()} * dp_->size());
  if (dp_->size() > 1)
    reducer_ = std::make_unique<zero::GradReducer>(model_->params().flat_grads(), *dp_, bucket_numel(cfg_));

  if (!out_dir_.empty() && is_main()) {
    std::error_code ec;
    std::filesystem::create_directories(out_dir_, ec);
    if (ec) fail("cannot create output directory '{}': {}", out_dir_, ec.message());
    std::ofstream(out_dir_ + "/config.pbtxt") << to_text(cfg_);
    metrics_ = MetricsWriter(out_dir_ + "/metrics.jsonl");
  }
}

void Trainer::make_groups() {
  // Every rank splits the world into its own tensor- and data-parallel groups, the mesh's rank lists.
  const DeviceMesh mesh(world_.size(), mesh_sizes(cfg_.parallel()), cfg_.parallel().order());
  const auto split = [&](const std::vector<Axis>& axes) {
    const std::vector<int> ranks = mesh.group_of(world_.rank(), axes);
    return world_.split(ranks, fmt::format("{}[{}]", axes_name(axes), comm::ranks_str(ranks)));
  };
  tp_comm_ = split({Axis::tp});
  dp_comm_ = split({Axis::dp, Axis::cp});
  dp_ = dp_comm_.get();
}

void Trainer::check_same_config() {
  if (world_.size() == 1) return;
  const uint64_t hash = config_hash(cfg_);
  Tensor mine = Tensor::empty({2}, DType::u32);
  mine.data<uint32_t>()[0] = static_cast<uint32_t>(hash);
  mine.data<uint32_t>()[1] = static_cast<uint32_t>(hash >> 32);
  Tensor all = Tensor::empty({2 * world_.size()}, DType::u32);
  world_.all_gather(all, mine);
  const uint32_t* h = all.data<uint32_t>();
  std::string differ;
  for (int r = 1; r < world_.size(); ++r) {
    if (h[2 * r] != h[0] || h[2 * r + 1] != h[1]) differ += (differ.empty() ? "" : ", ") + std::to_string(r);
  }
  if (!differ.empty()) {
    fail(
        "ranks {} hold a different resolved config than rank 0; launch every rank with the same CONFIG and "
        "--set options",
        differ);
  }
}

void Trainer::train_step(int64_t step, double& loss, double& norm, double& lr) {
  const int64_t B = cfg_.train().micro_batch_size();
  // This rank's slice of the global batch: sequences [rank * B * accum, (rank + 1) * B * accum).
  const int64_t first = dp_->rank() * B * accum_steps_;
  const double scale = 1.0 / static_cast<double>(accum_steps_);
  model_->params().zero_grads();
  loss = 0.0;
  for (int64_t micro = 0; micro < accum_steps_; ++micro) {
    train_sampler_->fill(step, first + micro * B, B, tokens_, targets_);
    loss += model_->forward(acts_, tokens_, targets_) * scale;
    // Only the last micro-batch communicates: its backward starts each gradient bucket's all-reduce.
    if (reducer_ && micro + 1 == accum_steps_) {
      reducer_->begin();
      model_->backward(acts_, scale, [this](int64_t n) { reducer_->grads_ready(n); });
      reducer_->finish();
    } else {
      model_->backward(acts_, scale);
    }
  }
  // Gradients that are partial sums over tp ranks (sequence-parallel norms, replicated kv heads) are summed
  // once, after the data-parallel reduction (both are sums, so the order does not matter).
  model_->finalize_grads();
  if (dp_->size() > 1) {
    Tensor l = Tensor::full({1}, loss, DType::f64);
    dp_->all_reduce(l, comm::ReduceOp::avg);
    loss = l.item(0);
  }
  if (!std::isfinite(loss))
    fail("training diverged: loss is {} at step {} (try a lower optim.lr)", loss, step);
  norm = model_->grad_norm();  // over the tp shards; data-parallel replicas hold equal gradients
  clip_grads(model_->params(), norm, cfg_.optim().grad_clip());
  lr = schedule_.at(step);
  optim_->step(lr);
}

void Trainer::log_step(int64_t step, double loss, double norm, double lr, double step_s) {
  const auto& t = cfg_.train();
  const double tokens = static_cast<double>(t.global_batch_size()) * t.seq_len();
  const double tok_s = tokens / step_s;
  const double eta = (elapsed_s_ / static_cast<double>(step + 1)) * static_cast<double>(t.steps() - step - 1);
  spdlog::info("step {:>5}/{} | loss {:.4f} | lr {:.2e} | norm {:.3f} | {:.0f} tok/s | ETA {}", step + 1,
               t.steps(), loss, lr, norm, tok_s, format_duration(eta));
  metrics_.write({{"step", step + 1},
                  {"loss", loss},
                  {"lr", lr},
                  {"grad_norm", norm},
                  {"tokens_per_s", tok_s},
                  {"elapsed_s", elapsed_s_}});
}

double Trainer::evaluate() {
  if (!eval_sampler_) return -1.0;
  const int64_t B = cfg_.train().micro_batch_size();
  const int64_t n = cfg_.train().eval_steps();
  // Data-parallel ranks take every dp-th evaluation batch and sum their losses.
  Tensor sum = Tensor::zeros({1}, DType::f64);
  models::ModelActs acts;
  for (int64_t e = dp_->rank(); e < n; e += dp_->size()) {
    eval_sampler_->fill(e, 0, B, tokens_, targets_);
    sum.data<double>()[0] += model_->forward(acts, tokens_, targets_);
  }
  if (dp_->size() > 1) dp_->all_reduce(sum, comm::ReduceOp::sum);
  return sum.item(0) / static_cast<double>(n);
}

std::string Trainer::sample_text() {
  const auto& t = cfg_.train();
  const auto& d = cfg_.data();
  auto tokenizer = data::make_tokenizer(d.tokenizer(), d.vocab_path(), d.merges_path());
  SampleOptions opt;
  opt.max_new_tokens = t.sample_tokens();
  opt.temperature = t.sample_temperature();
  opt.top_k = t.sample_top_k();
  opt.seed = t.seed();
  const std::vector<uint32_t> out = generate(*model_, tokenizer->encode(t.sample_prompt()), opt);
  return tokenizer->decode(out);
}

TrainResult Trainer::run() {
  const auto& t = cfg_.train();
  const auto& spec = model_->spec();
  spdlog::info("model: {} | {} layers, d_model {}, {} heads ({} kv), {:.2f}M parameters", cfg_.model().arch(),
               spec.n_layer, spec.d_model, spec.n_head, spec.n_kv_head,
               static_cast<double>(spec.num_params()) / 1e6);
  if (tp_comm_->size() > 1) {
    spdlog::info("layout: tensor-parallel {}{} x data-parallel {} | {:.2f}M parameters per rank",
                 tp_comm_->size(), spec.sequence_parallel ? " (sequence parallel)" : "", dp_->size(),
                 static_cast<double>(model_->params().numel()) / 1e6);
  }
  spdlog::info(
      "data: {} train tokens{} | batch {} x {} tokens = {} data-parallel rank{} x {} micro-batch{} of {}",
      train_shard_->count(), val_shard_ ? fmt::format(", {} val tokens", val_shard_->count()) : "",
      t.global_batch_size(), t.seq_len(), dp_->size(), dp_->size() == 1 ? "" : "s", accum_steps_,
      accum_steps_ == 1 ? "" : "es", t.micro_batch_size());

  TrainResult result;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t step = 0; step < t.steps(); ++step) {
    const auto step_start = std::chrono::steady_clock::now();
    double loss = 0, norm = 0, lr = 0;
    train_step(step, loss, norm, lr);
    const auto now = std::chrono::steady_clock::now();
    elapsed_s_ = std::chrono::duration<double>(now - start).count();
    result.final_loss = loss;
    const bool last = step + 1 == t.steps();
    if ((step + 1) % t.log_interval() == 0 || step == 0 || last) {
      log_step(step, loss, norm, lr, std::chrono::duration<double>(now - step_start).count());
    }
    if (eval_sampler_ && ((t.eval_interval() > 0 && (step + 1) % t.eval_interval() == 0) || last)) {
      result.final_val_loss = evaluate();
      spdlog::info("step {:>5}/{} | val loss {:.4f}", step + 1, t.steps(), result.final_val_loss);
      metrics_.write({{"step", step + 1}, {"val_loss", result.final_val_loss}});
    }
  }
  spdlog::info("trained {} steps in {}", t.steps(), format_duration(elapsed_s_));

  if (!out_dir_.empty()) {
    // Global tensors: the tp shards gathered (every rank of a tp group takes part), written by rank 0.
    const std::map<std::string, Tensor> weights = model_->gather_params();
    if (is_main()) {
      io::save_safetensors(out_dir_ + "/model.safetensors", weights, {{"config", to_text(cfg_)}});
      spdlog::info("wrote {}/model.safetensors, config.pbtxt and metrics.jsonl", out_dir_);
    }
  }
  // The first data-parallel replica samples; all of its tp ranks take part, rank 0 prints.
  if (t.sample_tokens() > 0 && dp_->rank() == 0) {
    result.sample = sample_text();
    if (is_main())
      spdlog::info("sample (temperature {}, top-k {}):\n{}", t.sample_temperature(), t.sample_top_k(),
                   result.sample);
  }
  return result;
}

}  // namespace trident
