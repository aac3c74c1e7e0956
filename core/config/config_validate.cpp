// Validation: every problem with a config, in plain words, collected before anything runs.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/runtime/devices.h"
#include "core/runtime/error.h"

namespace trident {

namespace {

class Problems {
 public:
  template <typename... Args>
  void add(fmt::format_string<Args...> f, Args&&... args) {
    list.push_back(fmt::format(f, std::forward<Args>(args)...));
  }
  // Comparisons are written so that NaN fails them.
  template <typename T>
  void positive(const char* name, T v) {
    if (!(v > 0)) add("{} ({}) must be > 0", name, v);
  }
  template <typename T>
  void non_negative(const char* name, T v) {
    if (!(v >= 0)) add("{} ({}) must be >= 0", name, v);
  }
  void one_of(const char* name, const std::string& v, std::initializer_list<const char*> allowed) {
    for (const char* a : allowed)
      if (v == a) return;
    add("{} '{}' is not one of {}", name, v, fmt::join(allowed, ", "));
  }

  std::vector<std::string> list;
};

std::string ranks(int n) {
  return fmt::format("{} rank{}", n, n == 1 ? "" : "s");
}

void check_model(const config::Config& c, Problems& p) {
  const config::ModelConfig& m = c.model();
  p.one_of("model.arch", m.arch(), {"gpt2", "llama"});
  p.positive("model.n_layer", m.n_layer());
  p.positive("model.d_model", m.d_model());
  p.positive("model.n_head", m.n_head());
  // n_kv_head and d_ff are derived from n_head and d_model when 0; report only the source when that is wrong.
  if (m.n_head() > 0 || m.n_kv_head() < 0) p.positive("model.n_kv_head", m.n_kv_head());
  if (m.d_model() > 0 || m.d_ff() < 0) p.positive("model.d_ff", m.d_ff());
  p.positive("model.vocab_size", m.vocab_size());
  p.positive("model.max_seq_len", m.max_seq_len());
  p.positive("model.norm_eps", m.norm_eps());
  p.positive("model.init_std", m.init_std());
  if (m.vocab_pad_multiple() < 1)
    p.add("model.vocab_pad_multiple ({}) must be >= 1 (1: no padding)", m.vocab_pad_multiple());
  if (m.d_model() > 0 && m.n_head() > 0 && m.d_model() % m.n_head() != 0)
    p.add("model.d_model ({}) is not divisible by model.n_head ({})", m.d_model(), m.n_head());
  if (m.n_head() > 0 && m.n_kv_head() > 0 && m.n_head() % m.n_kv_head() != 0)
    p.add(
        "model.n_head ({}) is not divisible by model.n_kv_head ({}); each key/value head serves "
        "n_head / n_kv_head query heads",
        m.n_head(), m.n_kv_head());
  if (m.arch() == "llama") {
    p.positive("model.rope_theta", m.rope_theta());
    if (m.d_model() > 0 && m.n_head() > 0 && m.d_model() % m.n_head() == 0 && head_dim(m) % 2 != 0)
      p.add("model head dimension d_model / n_head = {} / {} = {} is odd; RoPE rotates pairs of dimensions",
            m.d_model(), m.n_head(), head_dim(m));
  }
}

// Mixture of experts: the knobs of model.moe, and that none is set on a dense model (nothing ignored).
void check_moe(const config::Config& c, int world_size, Problems& p) {
  const config::MoeConfig& moe = c.model().moe();
  if (moe.num_experts() < 0)
    return p.add("model.moe.num_experts ({}) must be >= 0 (0: a dense model)", moe.num_experts());
  if (moe.num_experts() == 0) {
    std::vector<std::string> set;
    if (moe.capacity_factor() != 0) set.push_back("capacity_factor");
    if (moe.shared_experts() != 0) set.push_back("shared_experts");
    if (moe.d_ff_expert() != 0) set.push_back("d_ff_expert");
    if (moe.normalize_topk()) set.push_back("normalize_topk");
    if (!set.empty())
      p.add(
          "model.moe.{} {} set, but model.moe.num_experts is 0 (a dense model has no experts); set "
          "num_experts to use them",
          fmt::join(set, ", "), set.size() == 1 ? "is" : "are");
    if (c.parallel().expert() > 1)
      p.add("parallel.expert ({}) splits experts over ranks, but model.moe.num_experts is 0 (a dense model)",
            c.parallel().expert());
    return;
  }
  if (moe.top_k() < 1 || moe.top_k() > moe.num_experts())
    p.add("model.moe.top_k ({}) must be between 1 and model.moe.num_experts ({})", moe.top_k(),
          moe.num_experts());
  if (moe.every() < 1)
    p.add("model.moe.every ({}) must be >= 1 (1: every block is an MoE block)", moe.every());
  if (moe.d_ff_expert() < 0)
    p.add("model.moe.d_ff_expert ({}) must be >= 0 (0: model.d_ff)", moe.d_ff_expert());
  if (!(moe.capacity_factor() >= 0))
    p.add(
        "model.moe.capacity_factor ({}) must be >= 0 (0: dropless; c > 0: each expert takes at most "
        "ceil(c x tokens x top_k / num_experts) assignments)",
        moe.capacity_factor());
  if (!(moe.aux_loss_coeff() >= 0))
    p.add("model.moe.aux_loss_coeff ({}) must be >= 0 (0: no load-balancing loss)", moe.aux_loss_coeff());
  if (!(moe.z_loss_coeff() >= 0))
    p.add("model.moe.z_loss_coeff ({}) must be >= 0 (0: no router z-loss)", moe.z_loss_coeff());
  if (moe.shared_experts() < 0)
    p.add("model.moe.shared_experts ({}) must be >= 0 (0: none)", moe.shared_experts());
  const int ep = c.parallel().expert();
  if (ep > 1 && moe.num_experts() % ep != 0)
    p.add(
        "parallel.expert ({}) must divide model.moe.num_experts ({}); each expert-parallel rank holds "
        "num_experts / expert whole experts",
        ep, moe.num_experts());
  const config::ParallelConfig& par = c.parallel();
  const int64_t dense = int64_t{std::max(par.tensor(), 1)} * data_parallel_size(c, world_size);
  if (ep > 1 && dense % ep != 0)
    p.add(
        "parallel.expert ({}) must divide the tensor x data-parallel ranks of a stage (tensor {} x data {} = "
        "{}): expert parallelism folds over them (the expert grid, expert x expert-data x pipeline)",
        ep, par.tensor(), data_parallel_size(c, world_size), dense);
  if (ep > 1 && par.tensor() > 1 && !par.sequence_parallel())
    p.add(
        "parallel.expert ({}) with parallel.tensor ({}) needs parallel.sequence_parallel: true, so that each "
        "tensor-parallel rank routes its own block of the micro-batch's tokens (as Megatron-core requires)",
        ep, par.tensor());
  const int tp = c.parallel().tensor();
  const int64_t shared =
      int64_t{moe.shared_experts()} * (moe.d_ff_expert() > 0 ? moe.d_ff_expert() : c.model().d_ff());
  if (tp > 1 && shared > 0 && shared % tp != 0)
    p.add(
        "the shared experts' width model.moe.shared_experts x d_ff_expert = {} is not divisible by "
        "parallel.tensor ({}); they are split over tensor-parallel ranks like the dense MLP",
        shared, tp);
}

// Megatron's layout: each tensor-parallel rank gets whole heads and whole MLP columns. The vocabulary needs
// no rule here: padded_vocab(m, tp) pads to a multiple of tp.
void check_tensor_parallel(const config::Config& c, Problems& p) {
  const config::ModelConfig& m = c.model();
  const int tp = c.parallel().tensor();
  if (m.n_head() > 0 && m.n_head() % tp != 0)
    p.add(
        "model.n_head ({}) is not divisible by parallel.tensor ({}); each tensor-parallel rank computes "
        "whole attention heads",
        m.n_head(), tp);
  // Fewer key/value heads than ranks: each is replicated on tp / n_kv_head ranks, as Megatron does.
  const int kv = m.n_kv_head();
  if (kv > 0 && kv % tp != 0 && tp % kv != 0)
    p.add(
        "model.n_kv_head ({}) and parallel.tensor ({}): key/value heads must split evenly over the "
        "tensor-parallel ranks (n_kv_head % tensor == 0) or be replicated evenly (tensor % n_kv_head == 0)",
        kv, tp);
  if (m.d_ff() > 0 && m.d_ff() % tp != 0)
    p.add(
        "model.d_ff ({}) is not divisible by parallel.tensor ({}); each tensor-parallel rank computes whole "
        "MLP columns",
        m.d_ff(), tp);
  // Sequence parallelism splits the micro-batch's B*T token rows into tp equal blocks.
  const config::TrainConfig& t = c.train();
  const int64_t rows = int64_t{t.micro_batch_size()} * t.seq_len();
  if (c.parallel().sequence_parallel() && rows > 0 && rows % tp != 0)
    p.add(
        "parallel.sequence_parallel needs train.micro_batch_size ({}) x train.seq_len ({}) = {} token rows "
        "divisible by parallel.tensor ({}); each tensor-parallel rank holds an equal block of them",
        t.micro_batch_size(), t.seq_len(), rows, tp);
}

// Each pipeline stage gets whole layers (at least one), and the schedule fits the micro-batches.
void check_pipeline(const config::Config& c, Problems& p) {
  const config::ParallelConfig& par = c.parallel();
  const int layers = c.model().n_layer(), pp = par.pipeline(), v = par.virtual_stages();
  if (v < 1) return p.add("parallel.virtual_stages ({}) must be >= 1", v);
  const int stages = pp * v;
  if (par.pipeline_layers_size() == 0) {
    if (layers > 0 && layers % stages != 0)
      p.add(
          "model.n_layer ({}) does not split evenly over parallel.pipeline ({}) x parallel.virtual_stages "
          "({}) "
          "= {} stages; change one of them or list the layers per stage in parallel.pipeline_layers",
          layers, pp, v, stages);
  } else {
    int sum = 0;
    bool positive = true;
    for (int n : par.pipeline_layers()) sum += n, positive = positive && n >= 1;
    if (par.pipeline_layers_size() != stages || sum != layers || !positive)
      p.add(
          "parallel.pipeline_layers [{}] must list {} stages (pipeline {} x virtual_stages {}) of at least "
          "one "
          "layer each, adding up to model.n_layer ({}); it lists {} adding up to {}",
          fmt::join(par.pipeline_layers(), ", "), stages, pp, v, layers, par.pipeline_layers_size(), sum);
  }
  // Whether train.schedule fits these stages and micro-batches is the pipeline's to say
  // (pipeline/config_checks.h).
}

void check_parallel(const config::Config& c, int world_size, Problems& p) {
  const config::ParallelConfig& par = c.parallel();
  struct Dim {
    const char* name;
    const char* what;
    int size;
  };
  if (par.tensor() < 1) p.add("parallel.tensor ({}) must be >= 1", par.tensor());
  if (par.pipeline() < 1) p.add("parallel.pipeline ({}) must be >= 1", par.pipeline());
  if (par.expert() < 1) p.add("parallel.expert ({}) must be >= 1", par.expert());
  for (Dim d : {Dim{"context", "context parallelism", par.context()},
                Dim{"expert_tensor", "expert tensor parallelism", par.expert_tensor()}}) {
    if (d.size < 1) p.add("parallel.{} ({}) must be >= 1", d.name, d.size);
    if (d.size > 1) p.add("parallel.{} = {}: {} is not supported yet; set it to 1", d.name, d.size, d.what);
  }
  if (par.data() < 0) p.add("parallel.data ({}) must be >= 0 (0: whatever ranks remain)", par.data());
  p.one_of("parallel.grad_reduce_dtype", par.grad_reduce_dtype(), {"fp32", "bf16"});
  if (par.zero_stage() < 0 || par.zero_stage() > 3)
    p.add("parallel.zero_stage ({}) must be 0, 1, 2 or 3", par.zero_stage());
  if (par.zero_shard_size() < 0)
    p.add("parallel.zero_shard_size ({}) must be >= 0 (0: the whole data-parallel group)",
          par.zero_shard_size());
  if (par.zero_shard_size() > 0 && par.zero_stage() == 0)
    p.add(
        "parallel.zero_shard_size ({}) shards ZeRO state, but parallel.zero_stage is 0 and nothing is "
        "sharded; "
        "set zero_stage to 1, 2 or 3, or zero_shard_size to 0",
        par.zero_shard_size());
  if (const int dp = data_parallel_size(c, world_size);
      par.zero_shard_size() > 0 && dp % par.zero_shard_size() != 0)
    p.add("parallel.zero_shard_size ({}) must divide the data-parallel size ({})", par.zero_shard_size(), dp);
  if (par.zero_prefetch() < 0)
    p.add("parallel.zero_prefetch ({}) must be >= 0 (units gathered ahead; 0: none)", par.zero_prefetch());

  std::vector<std::string> parts;
  std::stringstream order(par.order());
  for (std::string part; std::getline(order, part, '-');) parts.push_back(part);
  std::vector<std::string> sorted = parts;
  std::sort(sorted.begin(), sorted.end());
  if (sorted != std::vector<std::string>{"cp", "dp", "ep", "pp", "tp"})
    p.add(
        "parallel.order '{}' must name each of tp, cp, ep, dp, pp once, joined by '-' (e.g. tp-cp-ep-dp-pp)",
        par.order());

  if (par.tensor() > 1) check_tensor_parallel(c, p);
  if (par.pipeline() >= 1) check_pipeline(c, p);

  if (par.tensor() >= 1 && par.pipeline() >= 1 && par.data() >= 0) {
    int64_t model_parallel = int64_t{par.tensor()} * par.pipeline();
    if (par.data() > 0 && model_parallel * par.data() != world_size)
      p.add("parallel sizes tensor ({}) x pipeline ({}) x data ({}) = {} do not match the {} launched",
            par.tensor(), par.pipeline(), par.data(), model_parallel * par.data(), ranks(world_size));
    if (par.data() == 0 && world_size % model_parallel != 0)
      p.add("the {} launched are not divisible by tensor ({}) x pipeline ({}) = {}", ranks(world_size),
            par.tensor(), par.pipeline(), model_parallel);
  }
}

void check_train(const config::Config& c, int world_size, Problems& p) {
  const config::TrainConfig& t = c.train();
  p.positive("train.steps", t.steps());
  if (c.model().max_seq_len() > 0 && (t.seq_len() < 1 || t.seq_len() > c.model().max_seq_len()))
    p.add("train.seq_len ({}) must be between 1 and model.max_seq_len ({})", t.seq_len(),
          c.model().max_seq_len());
  p.positive("train.micro_batch_size", t.micro_batch_size());
  p.positive("train.global_batch_size", t.global_batch_size());
  int64_t per_step = int64_t{t.micro_batch_size()} * data_parallel_size(c, world_size);
  if (per_step > 0 && t.global_batch_size() > 0 && t.global_batch_size() % per_step != 0)
    p.add(
        "train.global_batch_size ({}) is not divisible by train.micro_batch_size ({}) x data-parallel size "
        "({}) = {}",
        t.global_batch_size(), t.micro_batch_size(), data_parallel_size(c, world_size), per_step);
  p.positive("train.log_interval", t.log_interval());
  p.non_negative("train.eval_interval", t.eval_interval());
  if (!c.data().val_path().empty() && t.eval_steps() <= 0)
    p.add("train.eval_steps ({}) must be > 0 when data.val_path is set", t.eval_steps());
  p.non_negative("train.sample_tokens", t.sample_tokens());
  p.positive("train.sample_temperature", t.sample_temperature());
  if (t.sample_top_k() < 0) p.add("train.sample_top_k ({}) must be >= 0 (0: no limit)", t.sample_top_k());

  p.one_of("train.precision", t.precision(), {"fp32", "bf16", "fp16"});
  if (!t.recompute().empty()) p.one_of("train.recompute", t.recompute(), {"none", "full"});
  // bf16 and fp16 train on CPU too: the ops store low precision and compute in fp32 (for testing the
  // mixed-precision path; fp32 is faster there).
  if (t.precision() == "fp16") {
    p.positive("train.loss_scale", t.loss_scale());
    p.positive("train.loss_scale_window", t.loss_scale_window());
  }
}

void check_optim(const config::Config& c, Problems& p) {
  const config::OptimConfig& o = c.optim();
  p.non_negative("optim.lr", o.lr());
  if (!(o.min_lr() >= 0 && o.min_lr() <= o.lr()))
    p.add("optim.min_lr ({}) must be between 0 and optim.lr ({})", o.min_lr(), o.lr());
  if (o.warmup_steps() < 0 || o.warmup_steps() > c.train().steps())
    p.add("optim.warmup_steps ({}) must be between 0 and train.steps ({})", o.warmup_steps(),
          c.train().steps());
  if (!(o.beta1() >= 0 && o.beta1() < 1)) p.add("optim.beta1 ({}) must be in [0, 1)", o.beta1());
  if (!(o.beta2() >= 0 && o.beta2() < 1)) p.add("optim.beta2 ({}) must be in [0, 1)", o.beta2());
  p.positive("optim.eps", o.eps());
  p.non_negative("optim.weight_decay", o.weight_decay());
  if (!(o.grad_clip() >= 0)) p.add("optim.grad_clip ({}) must be >= 0 (0: no clipping)", o.grad_clip());
}

void check_data(const config::Config& c, Problems& p) {
  const config::DataConfig& d = c.data();
  if (d.train_path().empty())
    p.add("data.train_path is empty; point it at a token file from `trident data prepare`");
  p.one_of("data.tokenizer", d.tokenizer(), {"byte", "gpt2"});
  if (d.tokenizer() == "byte" && c.model().vocab_size() > 0 && c.model().vocab_size() < 257)
    p.add(
        "model.vocab_size ({}) is too small for the byte tokenizer, which needs 257 (256 bytes + "
        "end-of-text)",
        c.model().vocab_size());
  if (d.tokenizer() == "gpt2") {
    if (d.vocab_path().empty()) p.add("data.vocab_path is empty; the gpt2 tokenizer needs its vocab.json");
    if (d.merges_path().empty()) p.add("data.merges_path is empty; the gpt2 tokenizer needs its merges.txt");
    if (c.model().vocab_size() > 0 && c.model().vocab_size() < 50257)
      p.add("model.vocab_size ({}) is too small for the gpt2 tokenizer, which has 50257 tokens",
            c.model().vocab_size());
  }
}

void check_runtime(const config::Config& c, Problems& p) {
  const config::RuntimeConfig& r = c.runtime();
  p.one_of("runtime.device", r.device(), {"auto", "cpu", "cuda"});
  if (r.device() == "cuda" && !built_with_cuda())
    p.add(
        "runtime.device 'cuda' needs the CUDA backend, which this build does not include (no nvcc was "
        "found); "
        "use cpu or auto");
  if (r.threads() < 0)
    p.add(
        "runtime.threads ({}) must be >= 0 (0: OMP_NUM_THREADS, else the affinity mask's cores shared among "
        "the ranks using them)",
        r.threads());
  if (r.device() == "cuda" && built_with_cuda() && c.model().moe().num_experts() > 0)
    p.add(
        "runtime.device 'cuda' with model.moe.num_experts {}: the MoE layers' gate arithmetic "
        "(ops::scale_rows, row_dot) has no CUDA kernels yet; use runtime.device cpu (or auto, which keeps "
        "MoE "
        "models on the CPU)",
        c.model().moe().num_experts());
  if (!(r.peak_tflops() >= 0))
    p.add("runtime.peak_tflops ({}) must be >= 0 (0: the GPU's bf16 dense peak, or this CPU's measured rate)",
          r.peak_tflops());
}

void check_comm(const config::Config& c, Problems& p) {
  const std::string& backend = c.comm().backend();  // empty (a config built without defaults): auto
  if (!backend.empty()) p.one_of("comm.backend", backend, {"auto", "nccl", "mpi"});
  if (backend != "nccl") return;
  if (!built_with_cuda()) {
    p.add(
        "comm.backend 'nccl' needs the CUDA backend, which this build does not include (no nvcc was found); "
        "use comm.backend mpi or auto");
  } else if (c.runtime().device() == "cpu") {
    p.add(
        "comm.backend 'nccl' on runtime.device 'cpu': NCCL works on GPU memory only; use comm.backend mpi "
        "(or auto) on CPU ranks, or runtime.device cuda");
  }
}

}  // namespace

std::vector<std::string> config_problems(const config::Config& cfg, int world_size) {
  config::Config c = cfg;  // validate what will run: derived values filled in
  resolve(c, world_size);
  Problems p;
  if (world_size < 1) p.add("world size ({}) must be >= 1", world_size);
  check_model(c, p);
  check_moe(c, world_size, p);
  check_parallel(c, world_size, p);
  check_train(c, world_size, p);
  check_optim(c, p);
  check_data(c, p);
  if (c.checkpoint().interval() < 0)
    p.add("checkpoint.interval ({}) must be >= 0 (0: no checkpoints)", c.checkpoint().interval());
  if (c.checkpoint().keep() < 1)
    p.add("checkpoint.keep ({}) must be >= 1 (the newest complete checkpoints kept)", c.checkpoint().keep());
  check_runtime(c, p);
  check_comm(c, p);
  return p.list;
}

void throw_config_problems(const std::vector<std::string>& problems) {
  if (problems.empty()) return;
  std::string message =
      fmt::format("config has {} problem{}:", problems.size(), problems.size() == 1 ? "" : "s");
  for (const std::string& problem : problems) message += "\n  - " + problem;
  throw Error(message);
}

}  // namespace trident
