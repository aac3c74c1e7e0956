#pragma once
// Text sampling from a trained model: temperature and top-k over the real vocabulary, one token at a time.
#include <cstdint>
#include <vector>

#include "models/transformer.h"

namespace trident {

struct SampleOptions {
  int64_t max_new_tokens = 200;
  double temperature = 1.0;
  int64_t top_k = 0;  // 0: the whole vocabulary
  uint64_t seed = 0;
  int64_t stop_token = -1;  // stop early at this id (e.g. end-of-text); -1: never
};

// Returns the prompt followed by the sampled tokens. The context is the last max_seq_len tokens. Over a tp
// group every rank of the group calls it together and gets the same tokens (same logits, same seed); the
// trainer samples from an unsplit model on rank 0 (a sequence-parallel model would need every context length
// to split over tp).
std::vector<uint32_t> generate(models::Transformer& model, const std::vector<uint32_t>& prompt,
                               const SampleOptions& opt);

}  // namespace trident
