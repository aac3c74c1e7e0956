#include "models/model_spec.h"

#include "core/config/config.h"
#include "core/runtime/devices.h"
#include "core/runtime/error.h"

namespace trident::models {

ModelSpec ModelSpec::from_config(const config::ModelConfig& m, int tensor_parallel, bool sequence_parallel) {
  ModelSpec s;
  if (m.arch() == "gpt2") {
    s.arch = Arch::gpt2;
  } else if (m.arch() == "llama") {
    s.arch = Arch::llama;
  } else {
    fail("model.arch '{}' is not one of: gpt2, llama", m.arch());
  }
  s.n_layer = m.n_layer();
  s.d_model = m.d_model();
  s.n_head = m.n_head();
  s.n_kv_head = m.n_kv_head() > 0 ? m.n_kv_head() : m.n_head();
  TRIDENT_CHECK(s.n_head > 0 && s.d_model % s.n_head == 0, "d_model {} / n_head {}", s.d_model, s.n_head);
  s.head_dim = s.d_model / s.n_head;
  s.d_ff = m.d_ff() > 0 ? m.d_ff() : 4 * s.d_model;
  s.vocab = m.vocab_size();
  s.padded_vocab = trident::padded_vocab(m, std::max(1, tensor_parallel));
  s.sequence_parallel = sequence_parallel;
  s.max_seq_len = m.max_seq_len();
  s.norm_eps = m.norm_eps();
  s.rope_theta = m.rope_theta();
  s.init_std = m.init_std() > 0 ? m.init_std() : 0.02;
  s.tie_embeddings = m.tie_embeddings();
  s.moe = moe::MoeSpec::from_config(m.moe(), s.d_ff);
  return s;
}

ModelSpec ModelSpec::from_config(const config::Config& c) {
  ModelSpec s = from_config(c.model(), c.parallel().tensor(), c.parallel().sequence_parallel());
  const std::string& p = c.train().precision();
  s.dtype = p == "bf16" ? DType::bf16 : p == "fp16" ? DType::f16 : DType::f32;
  // MoE's gate arithmetic (ops::scale_rows, row_dot) has no CUDA kernels yet: auto keeps an MoE model on the
  // CPU (an explicit cuda is refused by the validator).
  const std::string& device = c.runtime().device();
  s.device = s.moe.enabled() && (device.empty() || device == "auto") ? Device::cpu() : resolve_device(device);
  s.recompute = c.train().recompute() == "full";
  return s;
}

int64_t ModelSpec::ffn_params(int layer, bool active) const {
  const int64_t c = d_model;
  const auto mlp = [&](int64_t f) { return gpt2() ? 2 * c * f + f + c : 3 * c * f; };
  if (!moe.is_moe_block(layer)) return mlp(d_ff);
  const int64_t experts = active ? moe.top_k : moe.num_experts;
  return c * moe.num_experts + experts * mlp(moe.d_ff_expert) +
         (moe.shared_experts > 0 ? mlp(int64_t{moe.shared_experts} * moe.d_ff_expert) : 0);
}

int64_t ModelSpec::num_params() const {
  const int64_t c = d_model;
  const int64_t attn = c * qkv_dim() + c * c + (gpt2() ? qkv_dim() + c : 0);
  const int64_t norms = (gpt2() ? 4 : 2) * c;
  const int64_t embed = padded_vocab * c + (gpt2() ? max_seq_len * c : 0);
  const int64_t head = tie_embeddings ? 0 : padded_vocab * c;
  int64_t blocks = 0;
  for (int l = 0; l < n_layer; ++l) blocks += attn + ffn_params(l, false) + norms;
  return blocks + embed + head + (gpt2() ? 2 : 1) * c;
}

int64_t ModelSpec::matmul_params() const {
  const int64_t tables = padded_vocab * d_model + (gpt2() ? max_seq_len * d_model : 0);
  const int64_t head_gemm = padded_vocab * d_model;
  int64_t inactive = 0;  // experts a token does not use
  for (int l = 0; l < n_layer; ++l) inactive += ffn_params(l, false) - ffn_params(l, true);
  // num_params holds the head's weights only when untied; the GEMM runs either way.
  return num_params() - inactive - tables - (tie_embeddings ? 0 : head_gemm) + head_gemm;
}

double ModelSpec::flops_per_token(int64_t seq_len) const {
  return 6.0 * static_cast<double>(matmul_params()) + 6.0 * n_layer * static_cast<double>(seq_len) * d_model;
}

}  // namespace trident::models
