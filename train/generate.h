#pragma once
// Text sampling from a trained model: temperature and top-k over the real vocabulary, one token at a time,
// with a KV cache (models/kv_cache.h) so that each new token runs one position through the model.
//
// The context window. The model sees at most W = max_context tokens at once: the length it was trained at,
// as nanoGPT crops to its block size (GPT-2's position embeddings past train.seq_len never trained). Once the
// sequence outgrows the window, the window jumps ahead to the newest ceil(W/2) tokens, instead of sliding by
// one token a step as nanoGPT's crop does. Positions shift when the window moves, and every cached key and
// value past layer 0 depends on the tokens that left, so a moved window is prefilled again from an empty
// cache: sliding by one would cost a whole W-token re-run per token, sliding by half costs one prefill of W/2
// tokens per W/2 new tokens. The model therefore sees between W/2 and W tokens of context. Without the cache
// the window moves the same way, so both paths see the same contexts and pick the same tokens (up to
// rounding in the logits: the cached attention sums in another order).
#include <cstdint>
#include <functional>
#include <vector>

#include "models/transformer.h"

namespace trident {

struct SampleOptions {
  int64_t max_new_tokens = 200;
  double temperature = 1.0;  // > 0; unused by greedy decoding (top_k 1)
  int64_t top_k = 0;  // 0: the whole vocabulary; 1: greedy, the argmax whatever the temperature and seed
  uint64_t seed = 0;
  int64_t stop_token = -1;  // stop early at this id (e.g. end-of-text); -1: never
  // The most tokens the model sees at once (W above): pass train.seq_len. 0: model.max_seq_len.
  int64_t max_context = 0;
  // Decode with a KV cache where the model supports one (Transformer::supports_kv_cache: a whole model on one
  // CPU rank, dropless MoE); elsewhere, and with false, every token re-runs the whole context.
  bool kv_cache = true;
  // Called with each step's logits (Vp, on the host; the first model.vocab are real; valid during the call)
  // before its token is picked: how tests compare the cached and uncached paths.
  std::function<void(const Tensor& logits)> on_logits;
};

// Whether generate() decodes `model` with a KV cache under `opt`.
bool uses_kv_cache(const models::Transformer& model, const SampleOptions& opt);

// Returns the prompt followed by the sampled tokens (an empty prompt starts from token 0). Over a tp group
// every rank of the group calls it together and gets the same tokens (same logits, same seed; the uncached
// path); the trainer samples from an unsplit model on rank 0 (a sequence-parallel model would need every
// context length to split over tp).
std::vector<uint32_t> generate(models::Transformer& model, const std::vector<uint32_t>& prompt,
                               const SampleOptions& opt);

}  // namespace trident
