#include "models/kv_cache.h"

#include <cmath>

#include "core/ops/layout.h"
#include "core/ops/ops.h"

namespace trident::models {

LayerKvCache::LayerKvCache(int64_t kv_heads, int64_t head_dim, int64_t capacity, DType dtype, Device device)
    : kv_heads_(kv_heads),
      head_dim_(head_dim),
      capacity_(capacity),
      k_(Tensor::empty({kv_heads, capacity, head_dim}, dtype, device)),
      v_(Tensor::empty({kv_heads, capacity, head_dim}, dtype, device)) {}

void LayerKvCache::write(const Tensor& k, const Tensor& v, int64_t pos0) {
  const int64_t T = k.dim(1), D = head_dim_;
  TRIDENT_CHECK(
      k.ndim() == 4 && k.dim(0) == 1 && k.dim(2) == kv_heads_ && k.dim(3) == D && v.shape() == k.shape(),
      "kv cache: keys {} and values {} should be (1, T, {}, {})", k.str(), v.str(), kv_heads_, D);
  TRIDENT_CHECK(pos0 >= 0 && pos0 + T <= capacity_, "kv cache: positions [{}, {}) past its capacity {}", pos0,
                pos0 + T, capacity_);
  write_heads(k_, k, pos0);
  write_heads(v_, v, pos0);
}

void LayerKvCache::write_heads(Tensor& cache, const Tensor& src, int64_t pos0) const {
  const int64_t T = src.dim(1), D = head_dim_;
  // src (T, Hkv*D) -> Hkv blocks (T, D), each straight into its head's rows [pos0, pos0 + T) of the cache.
  std::vector<Tensor> heads;
  std::vector<Tensor*> outs;
  heads.reserve(static_cast<size_t>(kv_heads_));
  for (int64_t g = 0; g < kv_heads_; ++g) {
    heads.push_back(cache.flat((g * capacity_ + pos0) * D, {T, D}));
    outs.push_back(&heads.back());
  }
  ops::split_last_dim(src.view({T, kv_heads_ * D}), outs);
}

void LayerKvCache::attend(Tensor& out, const Tensor& q, int64_t length) {
  const int64_t D = head_dim_, H = q.numel() / D, group = H / kv_heads_;  // query heads per kv head
  TRIDENT_CHECK(q.numel() == H * D && H % kv_heads_ == 0 && out.numel() == q.numel(),
                "kv cache: query {} and output {} should be (1, 1, H, {}) with H a multiple of {}", q.str(),
                out.str(), D, kv_heads_);
  TRIDENT_CHECK(length > 0 && length <= capacity_, "kv cache: attending to {} of {} positions", length,
                capacity_);
  ensure(scores_, {group, capacity_}, q.dtype(), q.device());
  ensure(probs_, {group, capacity_}, q.dtype(), q.device());
  Tensor scores = scores_.flat(0, {group, length}), probs = probs_.flat(0, {group, length});  // (H/Hkv, S)
  const Tensor q2 = q.view({H, D});
  Tensor out2 = out.view({H, D});
  for (int64_t g = 0; g < kv_heads_; ++g) {
    const Tensor k = k_.flat(g * capacity_ * D, {length, D}), v = v_.flat(g * capacity_ * D, {length, D});
    Tensor o = out2.narrow0(g * group, (g + 1) * group);  // (H/Hkv, D): the query heads reading kv head g
    ops::matmul(scores, q2.narrow0(g * group, (g + 1) * group), k, false, true,
                1.0 / std::sqrt(static_cast<double>(D)));
    ops::softmax_forward(probs, scores);
    ops::matmul(o, probs, v);
  }
}

KvCache::KvCache(const ModelSpec& spec, int64_t capacity) : capacity_(capacity) {
  TRIDENT_CHECK(capacity > 0 && capacity <= spec.max_seq_len,
                "kv cache of {} positions for model.max_seq_len {}", capacity, spec.max_seq_len);
  layers_.reserve(static_cast<size_t>(spec.n_layer));
  for (int l = 0; l < spec.n_layer; ++l)
    layers_.emplace_back(spec.n_kv_head, spec.head_dim, capacity, spec.dtype, spec.device);
}

void KvCache::advance(int64_t T) {
  TRIDENT_CHECK(length_ + T <= capacity_, "kv cache: {} + {} positions past its capacity {}", length_, T,
                capacity_);
  length_ += T;
}

}  // namespace trident::models
