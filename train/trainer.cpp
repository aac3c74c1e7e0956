#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/config/config.h"
#include "core/data/tokenizer.h"
#include "core/io/checkpoint_files.h"
#include "core/io/param_io.h"
#include "core/io/safetensors.h"
#include "core/runtime/logging.h"
#include "train/comm_summary.h"
#include "train/generate.h"
#include "train/init_weights.h"
#include "train/loss_plot.h"
#include "train/node_setup.h"
#include "train/step_trace.h"
#include "train/stop_signal.h"
#include "train/trace_writer.h"

namespace trident {

namespace {

std::string format_duration(double s) {
  const int64_t t = static_cast<int64_t>(std::llround(s));
  return t >= 60 ? fmt::format("{}m{:02d}s", t / 60, t % 60) : fmt::format("{}s", t);
}

}  // namespace

Trainer::Trainer(const config::Config& cfg, std::string out_dir, comm::Communicator& world,
                 std::string resume, bool save_on_exit)
    : cfg_(cfg),
      out_dir_(std::move(out_dir)),
      world_(world),
      resume_(std::move(resume)),
      save_on_exit_(save_on_exit) {
  init_logging();
  // Only rank 0 prints progress; TRIDENT_LOG_ALL_RANKS=1 lets every rank speak.
  if (!is_main() && std::getenv("TRIDENT_LOG_ALL_RANKS") == nullptr) spdlog::set_level(spdlog::level::warn);
  const Device device = models::ModelSpec::from_config(cfg_).device;
  // Hosts and affinity masks first: the thread count depends on them, the warnings on the node map.
  setup_nodes(cfg_, world_, device);
  // MFU's peak, before the first collective: a CPU's GEMM rate is measured (once, then cached) while the
  // other ranks wait rather than compute on the same cores.
  if (is_main()) peak_ = peak_flops(cfg_.runtime().peak_tflops(), device);
  check_same_config();
  const auto& t = cfg_.train();

  // Data first: a missing or bad shard should fail before any model memory is spent.
  train_shard_ = std::make_unique<data::TokenShard>(cfg_.data().train_path());
  train_shard_->check_vocab(cfg_.model().vocab_size());
  train_sampler_ = std::make_unique<data::TrainSampler>(*train_shard_, t.seq_len(), t.seed());
  if (!cfg_.data().val_path().empty()) {
    val_shard_ = std::make_unique<data::TokenShard>(cfg_.data().val_path());
    val_shard_->check_vocab(cfg_.model().vocab_size());
    eval_sampler_ = std::make_unique<data::EvalSampler>(*val_shard_, t.seq_len(), t.global_batch_size());
  }

  const std::vector<int64_t> before = zero::memory_baseline(device);
  model_ = std::make_unique<ParallelModel>(cfg_, world_);
  if (!cfg_.train().init_weights().empty()) load_init_weights(*model_, cfg_, world_);
  const zero::DistributedOptimizer& opt = model_->optimizer();
  memory_ = zero::memory_report(opt.stage(), opt.mixed(), opt.mixed() && model_->microbatches() > 1,
                                model_->local_numel(), opt.shards(), device, before);
  device_ = device;
  // Peaks from here on are training's: building the model whole before the optimizer shards it is not.
  reset_peak_memory(device);
  const auto& o = cfg_.optim();
  schedule_ = {o.lr(), o.min_lr(), o.warmup_steps(), t.steps()};

  if (!out_dir_.empty() && is_main()) {
    std::error_code ec;
    std::filesystem::create_directories(out_dir_, ec);
    if (ec) fail("cannot create output directory '{}': {}", out_dir_, ec.message());
    std::ofstream(out_dir_ + "/config.pbtxt") << to_text(cfg_);
    metrics_ = MetricsWriter(out_dir_ + "/metrics.jsonl", /*append=*/!resume_.empty());
    if (cfg_.logging().tensorboard()) {
      metrics_.add_tensorboard(out_dir_ + "/tb");
      spdlog::info("TensorBoard: tensorboard --logdir {}/tb", out_dir_);
    }
  }
  const std::string root = !cfg_.checkpoint().dir().empty() ? cfg_.checkpoint().dir()
                           : out_dir_.empty()               ? ""
                                                            : out_dir_ + "/checkpoints";
  if (root.empty() && resume_ == "auto")
    fail("--resume auto needs a run directory (--out) or checkpoint.dir to look in");
  if (root.empty() && save_on_exit_)
    fail("--save-on-exit needs a run directory (--out) or checkpoint.dir to save in");
  checkpointer_ = std::make_unique<Checkpointer>(cfg_, *model_, world_, root);
  if (save_on_exit_) install_stop_handlers();
}

bool Trainer::stop_requested(int64_t step) {
  if (!save_on_exit_ || step + 1 == cfg_.train().steps()) return false;
  Tensor flag = Tensor::full({1}, stop_signalled() ? 1.0 : 0.0, DType::f64);
  if (world_.size() > 1) world_.all_reduce(flag, comm::ReduceOp::max);
  return flag.item(0) > 0;
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

void Trainer::log_step(int64_t step, const ParallelModel::StepResult& r, double lr, double step_s) {
  const auto& t = cfg_.train();
  const double tokens = static_cast<double>(t.global_batch_size()) * t.seq_len();
  const double tok_s = tokens / step_s;
  // From this run's own pace: a resumed run has done step + 1 - first_step_ steps so far.
  const double eta =
      (elapsed_s_ / static_cast<double>(step + 1 - first_step_)) * static_cast<double>(t.steps() - step - 1);
  const MemoryStats mem = memory_stats(device_);  // this rank's
  nlohmann::json m = {{"step", step + 1},
                      {"loss", r.loss},
                      {"lr", lr},
                      {"grad_norm", r.grad_norm},
                      {"tokens_per_s", tok_s},
                      {"elapsed_s", elapsed_s_},
                      {"peak_memory_mb", static_cast<double>(mem.peak) / 1e6},
                      {"memory_bytes", mem.current},
                      {"memory_peak_bytes", mem.peak}};
  std::string mfu;
  if (peak_.tflops > 0) {
    const double u = model_flops_utilization(tok_s, flops_per_token_, world_.size(), peak_.tflops);
    m["mfu"] = u;
    mfu = fmt::format(" | MFU {:.1f}%", 100 * u);
    if (u > 1.0 && !mfu_warned_) {  // the peak is wrong, not the run: say how to fix it, once
      spdlog::warn(
          "MFU above 100%: the peak of {:.3g} TFLOP/s per rank ({}) is too low; a CPU rate measured while "
          "the "
          "machine was busy stays cached: delete that file to measure again, or set runtime.peak_tflops",
          peak_.tflops, peak_.what);
      mfu_warned_ = true;
    }
  }
  std::string pipeline;
  if (t.precision() == "fp16") {
    m["loss_scale"] = r.loss_scale;
    m["skipped"] = r.skipped;
    pipeline = fmt::format(" | scale {:g}{}", r.loss_scale, r.skipped ? " (overflow: step skipped)" : "");
  }
  ParallelModel& pm = *model_;
  if (pm.pp().size() > 1) {
    // Every stage's compute and wait time this step; the bubble is the idle share of the busiest step time.
    Tensor mine = Tensor::empty({3}, DType::f64);
    mine.data<double>()[0] = r.times.compute_s;
    mine.data<double>()[1] = r.times.wait_s;
    mine.data<double>()[2] = r.times.step_s;
    Tensor all = Tensor::empty({3 * pm.pp().size()}, DType::f64);
    pm.pp().all_gather(all, mine);
    std::vector<double> compute, wait;
    double step_max = 0, compute_sum = 0;
    for (int s = 0; s < pm.pp().size(); ++s) {
      compute.push_back(all.item(3 * s));
      wait.push_back(all.item(3 * s + 1));
      compute_sum += compute.back();
      step_max = std::max(step_max, all.item(3 * s + 2));
    }
    const double bubble = 1.0 - compute_sum / (pm.pp().size() * step_max);
    m["pp_compute_s"] = compute;
    m["pp_wait_s"] = wait;
    m["pp_bubble"] = bubble;
    pipeline += fmt::format(" | bubble {:.0f}%", 100 * bubble);
  }
  if (!r.moe.empty()) {
    m["moe_aux_loss"] = r.moe.aux_loss();
    m["moe_z_loss"] = r.moe.z_loss();
    m["moe_dropped"] = r.moe.dropped_fraction();
    nlohmann::json load = nlohmann::json::array();
    for (int l = 0; l < r.moe.num_layers(); ++l)
      if (r.moe.has_layer(l))
        load.push_back({{"layer", l}, {"tokens", r.moe.tokens(l)}, {"min_max", r.moe.min_max_ratio(l)}});
    m["moe_load"] = load;
    pipeline += fmt::format(
        " | aux {:.4f} z {:.4f}{}", r.moe.aux_loss(), r.moe.z_loss(),
        r.moe.dropped_fraction() > 0 ? fmt::format(" dropped {:.1f}%", 100 * r.moe.dropped_fraction()) : "");
  }
  spdlog::info("step {:>5}/{} | loss {:.4f} | lr {:.2e} | norm {:.3f} | {:.0f} tok/s{} | mem {}{} | ETA {}",
               step + 1, t.steps(), r.loss, lr, r.grad_norm, tok_s, mfu, format_memory(mem.current, mem.peak),
               pipeline, format_duration(eta));
  metrics_.write(m);
}

double Trainer::evaluate() {
  if (!eval_sampler_) return -1.0;
  // Each evaluation batch is a global batch, split as training splits it (data-parallel slices of
  // micro-batches), so the val loss is the same under every layout: the mean over eval_steps x
  // global_batch_size sequences.
  const int64_t B = cfg_.train().micro_batch_size(), m = model_->microbatches();
  comm::Communicator& dp = model_->dp();
  Tensor sum = Tensor::zeros({1}, DType::f64);
  for (int64_t e = 0; e < cfg_.train().eval_steps(); ++e) {
    const auto batch = [&](int micro, Tensor& tokens, Tensor& targets) {
      eval_sampler_->fill(e, (dp.rank() * m + micro) * B, B, tokens, targets);
    };
    sum.data<double>()[0] += model_->eval_loss(batch);  // the mean over this replica's m micro-batches
  }
  if (dp.size() > 1) dp.all_reduce(sum, comm::ReduceOp::sum);
  return sum.item(0) / static_cast<double>(cfg_.train().eval_steps() * dp.size());
}

std::string Trainer::sample_text(const std::map<std::string, Tensor>& weights) {
  const auto& t = cfg_.train();
  const auto& d = cfg_.data();
  auto tokenizer = data::make_tokenizer(d.tokenizer(), d.vocab_path(), d.merges_path());
  SampleOptions opt;
  opt.max_new_tokens = t.sample_tokens();
  opt.temperature = t.sample_temperature();
  opt.top_k = t.sample_top_k();
  opt.seed = t.seed();
  opt.max_context = t.seq_len();  // positions past the trained length never trained
  const std::vector<uint32_t> prompt = tokenizer->encode(t.sample_prompt());
  if (models::Transformer* whole = model_->whole_model())
    return tokenizer->decode(generate(*whole, prompt, opt));
  // A split model samples on rank 0 from its gathered weights, as one unsplit model.
  models::Transformer whole(models::ModelSpec::from_config(cfg_.model(), cfg_.parallel().tensor()));
  io::load_params(whole.params(), weights);
  return tokenizer->decode(generate(whole, prompt, opt));
}

TrainResult Trainer::run() {
  const auto& t = cfg_.train();
  ParallelModel& pm = *model_;
  const auto& spec = pm.spec();
  spdlog::info("model: {} | {} layers, d_model {}, {} heads ({} kv), {:.2f}M parameters", cfg_.model().arch(),
               spec.n_layer, spec.d_model, spec.n_head, spec.n_kv_head,
               static_cast<double>(spec.num_params()) / 1e6);
  // Always printed, one rank or many: the equivalence tests check it against the layout they launched.
  spdlog::info(
      "layout: tensor-parallel {}{} x pipeline {} ({} schedule, {} chunk{} per rank) x data-parallel {}{} | "
      "{:.2f}M parameters on rank 0",
      pm.tp().size(), spec.sequence_parallel ? " (sequence parallel)" : "", pm.pp().size(), t.schedule(),
      cfg_.parallel().virtual_stages(), cfg_.parallel().virtual_stages() == 1 ? "" : "s", pm.dp().size(),
      pm.ep() ? fmt::format(" (experts: expert-parallel {} x expert-data-parallel {})", pm.ep()->size(),
                            pm.edp()->size())
              : "",
      static_cast<double>(pm.local_numel()) / 1e6);
  spdlog::info("{}", pm.comm_line());
  if (memory_.stage > 0)
    spdlog::info("ZeRO stage {}: optimizer state{}{} sharded over {} data-parallel ranks{}", memory_.stage,
                 memory_.stage >= 2 ? ", gradients" : "", memory_.stage == 3 ? " and parameters" : "",
                 memory_.shards,
                 memory_.shards < pm.dp().size()
                     ? fmt::format(" (hybrid: replicated {} times)", pm.dp().size() / memory_.shards)
                     : "");
  spdlog::info("{}", memory_.table());
  flops_per_token_ = spec.flops_per_token(t.seq_len());
  if (is_main()) {
    if (peak_.tflops > 0) {
      spdlog::info(
          "MFU: 6N + 6*L*T*C = {:.2f} MFLOP per token (N = {:.2f}M matmul parameters) against {:.3g} "
          "TFLOP/s per rank ({})",
          flops_per_token_ / 1e6, static_cast<double>(spec.matmul_params()) / 1e6, peak_.tflops, peak_.what);
    } else {
      spdlog::info("MFU: not shown, {}", peak_.what);
    }
  }
  const int m = pm.microbatches();
  spdlog::info(
      "data: {} train tokens{} | batch {} x {} tokens = {} data-parallel rank{} x {} micro-batch{} of {}",
      train_shard_->count(), val_shard_ ? fmt::format(", {} val tokens", val_shard_->count()) : "",
      t.global_batch_size(), t.seq_len(), pm.dp().size(), pm.dp().size() == 1 ? "" : "s", m,
      m == 1 ? "" : "es", t.micro_batch_size());

  const int64_t B = t.micro_batch_size();
  int64_t first_step = 0;
  if (!resume_.empty()) {
    first_step = checkpointer_->load(resume_);
    if (first_step < 0) {
      spdlog::info("--resume auto: no complete checkpoint under {}; starting at step 0",
                   checkpointer_->root());
      first_step = 0;
    } else {
      spdlog::info("resumed from {} after step {} (layout {})", resume_, first_step, checkpointer_->layout());
    }
    if (first_step >= t.steps())
      fail("the checkpoint holds {} steps, train.steps is {}: nothing left to train", first_step, t.steps());
    const int64_t dropped = metrics_.resume_after(first_step);
    if (dropped > 0)
      spdlog::info("metrics.jsonl: {} row{} after step {} dropped (those steps are trained again)", dropped,
                   dropped == 1 ? "" : "s", first_step);
  }
  first_step_ = first_step;
  const double step_tokens = static_cast<double>(t.global_batch_size()) * t.seq_len();
  TrainResult result;
  moe::MoeStats moe_run;  // routing over the whole run
  const auto start = std::chrono::steady_clock::now();
  StepTracer tracer(cfg_.logging().trace_steps(), out_dir_, world_, first_step, t.steps(), device_);
  for (int64_t step = first_step; step < t.steps(); ++step) {
    const auto step_start = std::chrono::steady_clock::now();
    // This replica's slice of the global batch: sequences [dp_rank * B * m, (dp_rank + 1) * B * m).
    const int64_t first = pm.dp().rank() * B * m;
    const auto batch = [&](int micro, Tensor& tokens, Tensor& targets) {
      train_sampler_->fill(step, first + micro * B, B, tokens, targets);
    };
    const double lr = schedule_.at(step);
    tracer.begin(step);
    const ParallelModel::StepResult r = pm.train_step(lr, batch);
    tracer.end(step, r.times);
    moe_run.add(r.moe);
    if (!std::isfinite(r.loss))
      fail("training diverged: loss is {} at step {} (try a lower optim.lr)", r.loss, step);
    const auto now = std::chrono::steady_clock::now();
    elapsed_s_ = std::chrono::duration<double>(now - start).count();
    summary_.add_step(step_tokens, std::chrono::duration<double>(now - step_start).count());
    result.final_loss = r.loss;
    const bool last = step + 1 == t.steps();
    if ((step + 1) % t.log_interval() == 0 || step == 0 || last) {
      log_step(step, r, lr, std::chrono::duration<double>(now - step_start).count());
    }
    if (last && !out_dir_.empty()) write_step_trace(pm, r.times, out_dir_);
    // Evaluate before saving: a checkpoint after step N promises that every metrics row of step N is written,
    // so a run killed after the save resumes with none of them missing.
    if (eval_sampler_ && ((t.eval_interval() > 0 && (step + 1) % t.eval_interval() == 0) || last)) {
      result.final_val_loss = evaluate();
      spdlog::info("step {:>5}/{} | val loss {:.4f}", step + 1, t.steps(), result.final_val_loss);
      metrics_.write({{"step", step + 1}, {"val_loss", result.final_val_loss}});
    }
    const int interval = cfg_.checkpoint().interval();
    const bool saved = !checkpointer_->root().empty() && interval > 0 && (step + 1) % interval == 0;
    if (saved)
      checkpointer_->save(step + 1);
    else
      checkpointer_->poll();  // an async save commits once every rank has written it
    if (stop_requested(step)) {
      if (!saved) checkpointer_->save(step + 1);
      checkpointer_->poll(/*wait=*/true);
      spdlog::info("stopped by {} after step {}: checkpoint saved, exiting", stop_signal_name(), step + 1);
      result.stopped = true;
      return result;
    }
  }
  checkpointer_->poll(/*wait=*/true);
  summary_.time_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (checkpointer_->stall_s() > 0)
    spdlog::info("checkpoints: training waited {:.2f} s for saves", checkpointer_->stall_s());
  if (!moe_run.empty()) {
    spdlog::info("expert load over the run:\n{}", moe_run.table());
    moe::MoeTimes times;  // this rank's MoE layers
    for (size_t c = 0; c < pm.num_chunks(); ++c) times += pm.chunk(c).moe_times();
    const double all = std::max(times.total(), 1e-12);
    spdlog::info(
        "MoE layer time (this rank, forward + backward): {:.2f} s | router {:.1f}% | permutation {:.1f}% | "
        "all-to-all {:.1f}% | experts {:.1f}%",
        times.total(), 100 * times.router_s / all, 100 * times.permute_s / all, 100 * times.exchange_s / all,
        100 * times.experts_s / all);
  }
  const CommSummary comm = comm_summary(pm, world_);
  spdlog::info("{}", comm.line);
  metrics_.write(comm.record);
  // This rank's peak bytes per memory category over the run (rank 0's, like every record here).
  nlohmann::json peaks;
  for (int c = 0; c < kMemoryCategories; ++c)
    peaks[memory_category_name(MemoryCategory(c))] = memory_stats(device_, MemoryCategory(c)).peak;
  peaks["total"] = memory_stats(device_).peak;
  metrics_.write({{"peak_memory_bytes", peaks}});
  summary_.flops_per_token = flops_per_token_;
  summary_.ranks = world_.size();
  summary_.peak_tflops = peak_.tflops;
  summary_.peak_memory = memory_stats(device_).peak;
  Tensor most = Tensor::full({1}, static_cast<double>(summary_.peak_memory), DType::f64);
  if (world_.size() > 1) world_.all_reduce(most, comm::ReduceOp::max);
  summary_.max_peak_memory = static_cast<int64_t>(most.item(0));
  summary_.final_loss = result.final_loss;
  summary_.final_val_loss = result.final_val_loss;

  // Global tensors on rank 0: tp shards gathered, pipeline stages sent to it.
  const bool need = !out_dir_.empty() || t.sample_tokens() > 0;
  const std::map<std::string, Tensor> weights = need ? pm.gather_to_main() : std::map<std::string, Tensor>{};
  if (!out_dir_.empty() && is_main()) {
    io::save_safetensors(out_dir_ + "/model.safetensors", weights, {{"config", to_text(cfg_)}});
    spdlog::info("wrote {}/model.safetensors, config.pbtxt and metrics.jsonl{}", out_dir_,
                 pm.pp().size() > 1 ? ", pipeline_trace.json" : "");
    write_run_loss_plot(out_dir_);
  }
  if (t.sample_tokens() > 0 && is_main()) {
    result.sample = sample_text(weights);
    spdlog::info("sample (temperature {}, top-k {}):\n{}", t.sample_temperature(), t.sample_top_k(),
                 result.sample);
  }
  spdlog::info("{}", summary_.table());
  return result;
}

}  // namespace trident
