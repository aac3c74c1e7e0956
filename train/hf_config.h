#pragma once
// A model's shape between Trident's config (model section) and a Hugging Face config.json: GPT2LMHeadModel
// for model.arch gpt2, LlamaForCausalLM for llama. Either direction refuses, by name, what the other side
// cannot express: mixture-of-experts and grouped-query GPT-2 on the way out; RoPE scaling, biases on LLaMA,
// activations other than GPT-2's tanh GELU and LLaMA's SiLU, and the like on the way in.
#include <nlohmann/json.hpp>
#include <string>

#include "core/config/trident.pb.h"

namespace trident {

// "gpt2" or "llama": the Trident architecture of config.json's model (architectures, model_type); anything
// else is refused by name.
std::string trident_arch_of(const nlohmann::json& hf, const std::string& where);

// config.json for a resolved Trident config (fp32 weights; no dropout, as Trident trains).
nlohmann::json hf_config_from(const config::Config& cfg);

// A Trident config whose model section is config.json's and everything else is `base`'s (the shipped tiny
// config of the same architecture: training, data and parallel defaults); the vocabulary is padded as
// base.model.vocab_pad_multiple says, and train.seq_len is cut to the model's positions. Resolved and
// validated. `where` names the file in messages.
config::Config trident_config_from(const nlohmann::json& hf, const config::Config& base,
                                   const std::string& where);

}  // namespace trident
