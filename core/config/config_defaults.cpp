// Every default of a Trident run, in one place, and the derived values resolve() fills in.
#include <algorithm>
#include <cstdint>
#include <numeric>

#include "core/config/config.h"

namespace trident {

// Fields not set here default to protobuf's zero/empty, and 0 means "required" for sizes (validation says
// so): model shape, vocab_size, max_seq_len, train.steps, data.train_path.
config::Config default_config() {
  config::Config c;

  config::ModelConfig& m = *c.mutable_model();
  m.set_arch("gpt2");
  m.set_n_kv_head(0);  // resolve: n_head (plain multi-head attention)
  m.set_d_ff(0);       // resolve: 4*d_model (gpt2), round_up(8*d_model/3, 64) (llama)
  m.set_norm_eps(1e-5f);
  m.set_rope_theta(10000.0f);
  m.set_tie_embeddings(false);  // the shipped configs say it explicitly: gpt2 true, llama false
  m.set_vocab_pad_multiple(1);  // no padding
  m.set_init_std(0.02f);
  config::MoeConfig& moe = *m.mutable_moe();
  moe.set_num_experts(0);  // dense
  moe.set_top_k(2);
  moe.set_every(1);
  moe.set_d_ff_expert(0);         // resolve: model.d_ff
  moe.set_capacity_factor(0.0f);  // dropless
  moe.set_aux_loss_coeff(1e-2f);
  moe.set_z_loss_coeff(1e-3f);
  moe.set_shared_experts(0);
  moe.set_normalize_topk(false);

  config::ParallelConfig& p = *c.mutable_parallel();
  p.set_data(0);  // whatever ranks remain after tensor and pipeline parallelism
  p.set_tensor(1);
  p.set_pipeline(1);
  p.set_expert(1);
  p.set_context(1);
  p.set_expert_tensor(1);
  p.set_zero_stage(0);
  p.set_sequence_parallel(false);  // needs tensor > 1 to change anything
  p.set_virtual_stages(1);
  p.set_order("tp-cp-ep-dp-pp");  // Megatron's: tensor innermost (fastest links), pipeline outermost
  p.set_grad_reduce_dtype("fp32");
  p.set_zero_prefetch(1);
  p.set_zero_reshard_after_forward(true);

  config::TrainConfig& t = *c.mutable_train();
  t.set_micro_batch_size(1);
  t.set_global_batch_size(0);  // resolve: micro_batch_size * data-parallel size (no accumulation)
  t.set_seq_len(0);            // resolve: model.max_seq_len
  t.set_seed(1337);
  t.set_eval_interval(0);  // evaluate only at the end
  t.set_eval_steps(10);
  t.set_log_interval(10);
  t.set_precision("fp32");
  t.set_schedule("1f1b");
  t.set_loss_scale(65536.0f);  // 2^16, PyTorch GradScaler's
  t.set_loss_scale_window(2000);
  t.set_sample_tokens(0);
  t.set_sample_temperature(1.0f);
  t.set_sample_top_k(0);  // sample from the whole vocabulary
  t.set_sample_prompt("");
  t.set_init_weights("");  // the seeded initialisation
  t.set_recompute("none");

  // AdamW as in nanoGPT/llm.c GPT-2 runs: betas (0.9, 0.95), decay 0.1, clip 1.0, cosine down to lr/10.
  config::OptimConfig& o = *c.mutable_optim();
  o.set_lr(3e-4f);
  o.set_min_lr(kMinLrFromLr);  // resolve: lr / 10, whatever lr ends up being
  o.set_warmup_steps(0);
  o.set_weight_decay(0.1f);
  o.set_beta1(0.9f);
  o.set_beta2(0.95f);
  o.set_eps(1e-8f);
  o.set_grad_clip(1.0f);

  c.mutable_data()->set_tokenizer("byte");

  c.mutable_checkpoint()->set_interval(0);  // no checkpoints unless asked
  c.mutable_checkpoint()->set_keep(2);
  c.mutable_checkpoint()->set_dir("");  // the run directory's checkpoints/

  c.mutable_logging()->set_tensorboard(true);  // RUN_DIR/tb/, next to metrics.jsonl

  c.mutable_runtime()->set_device("auto");
  c.mutable_runtime()->set_threads(0);      // all cores
  c.mutable_runtime()->set_peak_tflops(0);  // MFU: a GPU's bf16 dense peak, this CPU's measured GEMM rate
  c.mutable_comm()->set_timeout_s(300);     // watchdog: seconds before an unfinished collective ends the job
  c.mutable_comm()->set_backend("auto");    // nccl on a cuda device, mpi otherwise
  return c;
}

namespace {

// LLaMA's MLP width: two thirds of 4*d_model (the gated MLP has three matrices, not two), rounded up.
int llama_d_ff(int64_t d_model) {
  constexpr int64_t multiple = 64;
  int64_t hidden = 8 * d_model / 3;
  return static_cast<int>((hidden + multiple - 1) / multiple * multiple);
}

}  // namespace

int data_parallel_size(const config::Config& cfg, int world_size) {
  if (cfg.parallel().data() > 0) return cfg.parallel().data();
  // Expert parallelism is carved out of the data-parallel ranks (as in Megatron), so it does not divide here.
  int64_t model_parallel =
      int64_t{std::max(cfg.parallel().tensor(), 1)} * std::max(cfg.parallel().pipeline(), 1);
  return static_cast<int>(std::max<int64_t>(world_size / model_parallel, 1));
}

void resolve(config::Config& cfg, int world_size) {
  config::ModelConfig& m = *cfg.mutable_model();
  if (m.n_kv_head() == 0) m.set_n_kv_head(m.n_head());
  // Guard the int32 range: a wild d_model is reported by validation, not turned into overflow here.
  if (m.d_ff() == 0 && m.d_model() > 0 && m.d_model() <= (1 << 28))
    m.set_d_ff(m.arch() == "llama" ? llama_d_ff(m.d_model()) : 4 * m.d_model());

  config::TrainConfig& t = *cfg.mutable_train();
  if (t.seq_len() == 0) t.set_seq_len(m.max_seq_len());
  if (t.global_batch_size() == 0) {
    int64_t global = int64_t{t.micro_batch_size()} * data_parallel_size(cfg, world_size);
    if (global > 0 && global <= INT32_MAX) t.set_global_batch_size(static_cast<int>(global));
  }

  config::OptimConfig& o = *cfg.mutable_optim();
  if (o.min_lr() == kMinLrFromLr) o.set_min_lr(o.lr() / 10);
}

// Rounds up to lcm(pad multiple, tp): the embedding and head rows split evenly over the tensor-parallel
// ranks, and whenever tp divides vocab_pad_multiple the padded size, and so every checkpoint shape, is the
// same under every tp (Megatron pads to pad_multiple * tp instead, so its shapes change with tp).
int64_t padded_vocab(const config::ModelConfig& m, int tensor_parallel) {
  int64_t multiple =
      std::lcm(int64_t{std::max(m.vocab_pad_multiple(), 1)}, int64_t{std::max(tensor_parallel, 1)});
  return (int64_t{m.vocab_size()} + multiple - 1) / multiple * multiple;
}

int head_dim(const config::ModelConfig& m) {
  return m.n_head() > 0 ? m.d_model() / m.n_head() : 0;
}

}  // namespace trident
