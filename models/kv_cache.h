#pragma once
// KV cache for incremental decoding: every layer's keys and values of the positions a sequence has run so
// far, so that each new token runs one position through the model and attends to the cached ones instead of
// re-running the whole context (Transformer::forward_cached).
//
// One sequence (batch 1) on an unsplit model: the cache holds all Hkv key/value heads. Keys are stored after
// RoPE (LLaMA), at the absolute position they were computed for; GPT-2's learned positions are already in the
// residual stream. Positions cannot be shifted afterwards: every key and value past layer 0 depends on the
// tokens before it, so a context that drops its oldest tokens is prefilled again from an empty cache (see
// train/generate.h for the sliding window built on this).
#include <cstdint>
#include <vector>

#include "core/tensor/tensor.h"
#include "models/model_spec.h"

namespace trident::models {

// One layer's keys and values, head-major so that each head's cached rows are one contiguous (S, D) matrix.
class LayerKvCache {
 public:
  LayerKvCache(int64_t kv_heads, int64_t head_dim, int64_t capacity, DType dtype, Device device);

  // k, v (1, T, Hkv, D) of positions [pos0, pos0 + T) written into the cache.
  void write(const Tensor& k, const Tensor& v, int64_t pos0);
  // out (1, 1, H, D) = softmax(q k^T / sqrt(D)) v for the query q (1, 1, H, D) of position `length` - 1, over
  // the cached positions [0, length) (the query's own key included: write it first). Query head h reads kv
  // head h / (H / Hkv), as ops::attention_forward does.
  void attend(Tensor& out, const Tensor& q, int64_t length);

 private:
  // src (1, T, Hkv, D) into cache (Hkv, capacity, D) at positions [pos0, pos0 + T).
  void write_heads(Tensor& cache, const Tensor& src, int64_t pos0) const;

  int64_t kv_heads_, head_dim_, capacity_;
  Tensor k_, v_;           // (Hkv, capacity, D)
  Tensor scores_, probs_;  // (H/Hkv, capacity) scratch: one kv head's query rows against the cache
};

class KvCache {
 public:
  // Room for `capacity` positions (at most model.max_seq_len) of every layer of the model `spec`.
  KvCache(const ModelSpec& spec, int64_t capacity);

  int64_t length() const { return length_; }  // positions cached so far
  int64_t capacity() const { return capacity_; }
  LayerKvCache& layer(int l) { return layers_.at(static_cast<size_t>(l)); }
  // After every layer has written positions [length, length + T).
  void advance(int64_t T);
  // Forget every position (the buffers are kept): the next forward_cached is a prefill from position 0.
  void clear() { length_ = 0; }

 private:
  std::vector<LayerKvCache> layers_;
  int64_t length_ = 0, capacity_;
};

}  // namespace trident::models
