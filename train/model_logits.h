#pragma once
// The logits of a whole model, on one rank, from its global weights: what `trident export hf --logits` writes
// next to an export (for tools/reference/check_hf_export.py to hold transformers' logits against), and what
// the Hugging Face tests compare with the logits transformers computed.
#include <map>
#include <string>

#include "core/config/trident.pb.h"
#include "core/tensor/tensor.h"

namespace trident {

// tokens (B, T) i32 -> logits (B, T, V) fp32 on the host, the real vocabulary only (padding columns dropped).
// global: every parameter at its global shape (a run's model.safetensors); computed in fp32 on the CPU.
Tensor model_logits(const config::Config& cfg, const std::map<std::string, Tensor>& global,
                    const Tensor& tokens);

// A fixed batch for comparing logits across frameworks: 2 sequences of min(64, max_seq_len) tokens spread
// over the whole vocabulary (its last id included), (2, T) i32.
Tensor probe_tokens(const config::Config& cfg);

}  // namespace trident
