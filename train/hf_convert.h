#pragma once
// Trident's global weights <-> a Hugging Face model (GPT2LMHeadModel, LlamaForCausalLM), tensor by tensor.
//
// What differs between the two sides, and how it is mapped:
// - Layout: Trident's linear weights are (out, in), as torch.nn.Linear (LLaMA); GPT-2's Conv1D stores (in,
// out),
//   so every GPT-2 matrix is transposed.
// - Fused projections: Trident's qkv weight is [q | k | v] by rows (H*D, Hkv*D, Hkv*D), which is GPT-2's
// c_attn
//   (transposed) as is and LLaMA's q_proj, k_proj, v_proj cut apart; LLaMA's gate_proj and up_proj are the
//   two halves of Trident's gate_up, gate first. Grouped-query heads group the same way (query head h reads
//   kv head h / (H/Hkv)), so no rows move.
// - RoPE: Trident rotates the pairs (i, i + D/2) of each head, Hugging Face's rotate_half convention, so q
// and k
//   need no permutation.
// - Vocabulary: Trident pads the embedding and head rows to a multiple (model.vocab_pad_multiple); Hugging
// Face
//   gets the first model.vocab_size rows, and padding rows come back as zeros.
// - Tied embeddings: a tied model has no head tensor on either side (GPT-2's lm_head.weight is not stored).
// Tensors are fp32 throughout; a tensor either side does not expect is an error naming it.
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/config/trident.pb.h"
#include "core/tensor/tensor.h"

namespace trident {

// A Hugging Face model directory's contents: config.json and model.safetensors (Hugging Face names).
struct HfModel {
  nlohmann::json config;
  std::map<std::string, Tensor> tensors;
  std::string dir;  // where it was read from, for messages; empty: built in memory
};

// A Trident model: its resolved config and its global fp32 parameters by Trident name (a run's
// model.safetensors).
struct TridentWeights {
  config::Config config;
  std::map<std::string, Tensor> tensors;
};

// Refuses, by name, a model Hugging Face cannot express (train/hf_config.h) and any tensor missing, extra or
// of the wrong shape.
HfModel to_hf(const config::Config& cfg, const std::map<std::string, Tensor>& global);
// `base`: the config everything but the model section comes from (train/hf_config.h). Refuses unsupported
// options and any tensor missing, extra or of the wrong shape. train.init_weights is left empty.
TridentWeights from_hf(const HfModel& hf, const config::Config& base);

// Reads DIR/config.json and DIR/model.safetensors (one file: a sharded checkpoint is refused by name), every
// tensor converted to fp32.
HfModel read_hf_dir(const std::string& dir);
// Writes DIR/config.json and DIR/model.safetensors (creating DIR), as transformers' from_pretrained reads
// them.
void write_hf_dir(const HfModel& model, const std::string& dir);

}  // namespace trident
