#pragma once
// ModelSpec: the resolved numbers a model is built from (from config.model after defaults and validation).
#include <cstdint>

#include "core/config/trident.pb.h"
#include "core/tensor/device.h"
#include "core/tensor/dtype.h"
#include "moe/moe_spec.h"

namespace trident::models {

enum class Arch : uint8_t { gpt2, llama };

struct ModelSpec {
  Arch arch = Arch::gpt2;
  int n_layer = 0, d_model = 0, n_head = 0, n_kv_head = 0, head_dim = 0, d_ff = 0;
  int64_t vocab = 0;         // real vocabulary (loss ignores the padding)
  int64_t padded_vocab = 0;  // rows of the embedding and the head
  int64_t max_seq_len = 0;
  double norm_eps = 1e-5, rope_theta = 10000.0, init_std = 0.02;
  bool tie_embeddings = false;
  DType dtype = DType::f32;  // parameters and activations
  Device device;             // where they live (runtime.device, resolved)
  // parallel.sequence_parallel: between the tensor-parallel regions (norms, residual adds) each tp rank holds
  // its block of the micro-batch's B*T rows (tensor_parallel/mappings.h). No effect when tp is 1.
  bool sequence_parallel = false;
  // train.recompute full: blocks keep only their input; backward runs each block's forward again first.
  bool recompute = false;
  moe::MoeSpec moe;  // model.moe: which blocks hold experts instead of an MLP, and how tokens are routed

  bool gpt2() const { return arch == Arch::gpt2; }
  int64_t qkv_dim() const { return static_cast<int64_t>(n_head + 2 * n_kv_head) * head_dim; }

  // tensor_parallel only pads the vocabulary (to a multiple of it and of model.vocab_pad_multiple): a model
  // loaded for one rank from a run trained at tp > 1 passes that run's parallel.tensor to get its shapes.
  static ModelSpec from_config(const config::ModelConfig& m, int tensor_parallel = 1,
                               bool sequence_parallel = false);
  // ... and the parameter/activation dtype from train.precision (bf16, fp16; fp32 otherwise), and the device
  // from runtime.device ("auto": this rank's GPU when there is one).
  static ModelSpec from_config(const config::Config& c);
  // Parameters (global count); an MoE model counts every expert.
  int64_t num_params() const;
  // N of the FLOPs below: the parameters a token multiplies with. Every parameter but the lookup tables (wte,
  // and GPT-2's wpe), plus the head's padded_vocab x C GEMM, counted even when it is tied to wte (as Megatron
  // counts the logit layer); norms and biases are in, a rounding error. An MoE block counts what one token
  // uses: the router, top_k experts and the shared experts.
  int64_t matmul_params() const;
  // Training FLOPs per token, forward + backward: 6N + 6*L*T*C. 6N: a multiply-add (2 FLOPs) per parameter
  // forward, twice that backward; attention's scores QK^T and weighted values AV are 2*T*C FLOPs each per
  // layer forward over all T positions, x3 with backward = 12*L*T*C (PaLM appendix B), halved because the
  // causal mask leaves half of them to compute (what the profiler check and FlashAttention count).
  double flops_per_token(int64_t seq_len) const;

 private:
  // The feed-forward parameters of block `layer`: all of them, or only those one token uses.
  int64_t ffn_params(int layer, bool active) const;
};

}  // namespace trident::models
