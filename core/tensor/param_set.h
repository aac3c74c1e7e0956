#pragma once
// ParamSet: every parameter of a model chunk, registered with its global name, global shape and ShardSpec,
// then packed into one flat parameter buffer and one flat gradient buffer. The flat layout is the REVERSE of
// registration (= execution) order, so backward fills the gradient buffer front to back and a data-parallel
// bucket can start reducing as soon as its last gradient is written.
#include <deque>
#include <string>
#include <vector>

#include "core/tensor/tensor.h"

namespace trident {

// How the local tensor is cut out of the global one: `parts` equal slices along `dim` (-1: replicated), of
// which this rank holds slice `index`. A fused weight is cut per block: its `segments` equal blocks along
// `dim` (gate_up), or blocks of the given `segment_sizes` (qkv with grouped-query heads: q, k, v), are each
// split separately, so rank r holds slice r of every block, concatenated.
//
// A block may have fewer slices than there are ranks: with `block_replicas[b]` = k, block b is cut into
// parts / k slices and k consecutive ranks hold the same one (rank r holds slice r / k). This is how key and
// value heads are replicated when a model has fewer of them than tensor-parallel ranks (Megatron's GQA rule).
struct ShardSpec {
  int dim = -1;
  int parts = 1;
  int index = 0;
  int segments = 1;
  std::vector<int64_t> segment_sizes = {};  // global block sizes along dim; overrides `segments` when set
  std::vector<int> block_replicas = {};     // per block, ranks holding each slice; empty: 1 for every block

  bool replicated() const { return dim < 0 || parts == 1; }
  // The global sizes of the blocks along dim.
  std::vector<int64_t> blocks(const Shape& global) const;
  // How many ranks hold the same slice of block b (1 unless block_replicas says otherwise).
  int replicas(size_t b) const { return block_replicas.empty() ? 1 : block_replicas.at(b); }
  Shape local_shape(const Shape& global) const;
  // The global flat index of local flat element i.
  int64_t global_index(const Shape& global, int64_t i) const;
};

enum class Init : uint8_t { normal, zeros, ones };

struct InitSpec {
  Init kind = Init::normal;
  double mean = 0.0;
  double std = 0.02;
};

// Where a rank holds only part of a parameter's gradient after backward. Modules declare it when they
// register the parameter; the DistributedOptimizer (zero/distributed_optimizer.h) sums the parts once per
// step. No module reduces a gradient itself.
enum class GradPartial : uint8_t {
  none,      // whole on this rank (before the data-parallel average)
  tensor,    // a partial sum over the tensor-parallel group: a norm or wpe under sequence parallelism
  replicas,  // each block held by k > 1 ranks (ShardSpec::block_replicas) is a partial sum over those k ranks
};

struct Param {
  std::string name;  // global name, e.g. "blocks.3.attn.qkv.weight"
  Shape global_shape;
  ShardSpec shard;
  InitSpec init;
  bool weight_decay;  // AdamW decays matrices and embeddings, not norms and biases
  GradPartial partial = GradPartial::none;
  // One of the two copies of a tied embedding whose model is split into pipeline stages (the first stage's
  // embedding, the last stage's head): their gradients are summed between the two stages every step.
  bool tied = false;
  // The copy of a tied embedding counted on the other stage: left out of the global norm and the gathered
  // weights.
  bool duplicate = false;
  // Written by the backward of another unit than its own too (a tied embedding the head reads on the same
  // stage): its gradient is complete only after the last of them.
  bool shared = false;
  Tensor value;  // local shard, a view into the flat parameter buffer
  Tensor grad;   // same layout, a view into the flat gradient buffer
  int64_t flat_offset = 0;

  // This rank's shard's shape (what value and grad hold, also while ZeRO has them unbound).
  Shape local_shape() const { return shard.local_shape(global_shape); }
  int64_t local_numel() const { return shape_numel(local_shape()); }
};

class ParamSet {
 public:
  // Registration order must be execution order. The returned reference stays valid (deque storage).
  Param& add(const std::string& name, const Shape& global_shape, InitSpec init, ShardSpec shard = {});
  // Allocates the flat buffers (reverse order) and binds every Param's value/grad views.
  void finalize(DType dtype = DType::f32, Device device = Device::cpu());
  // Lays the finalized buffers out again: parameter i (registration order) at offsets[i] of buffers of
  // `total` elements, values kept, gradients and gaps zero. The gradient path pads its buckets this way
  // (zero/flat_layout.h); the offsets must keep the reverse order and must not overlap.
  void relayout(const std::vector<int64_t>& offsets, int64_t total);
  // A finalized ParamSet of the same parameters (names, shapes, ShardSpecs, declarations) and the same flat
  // layout, padding included, in `dtype` on `device`, all zero: fp32 master weights, a gathered fp32 copy.
  ParamSet mirror(DType dtype, Device device) const;
  // Layout-independent init: element value = f(seed, name, global index).
  void initialize(uint64_t seed);

  bool finalized() const { return finalized_; }
  // What finalize()/relayout() set up, still known after the buffers are dropped (ZeRO stage 3).
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  int64_t flat_numel() const { return flat_numel_; }  // elements of each flat buffer, padding included
  std::deque<Param>& params() { return params_; }
  const std::deque<Param>& params() const { return params_; }
  Param& get(const std::string& name);
  const Param* find(const std::string& name) const;
  int64_t numel() const { return numel_; }  // elements of all parameters (the flat buffers may hold padding)
  Tensor& flat_params() { return flat_params_; }
  Tensor& flat_grads() { return flat_grads_; }
  const Tensor& flat_params() const { return flat_params_; }
  const Tensor& flat_grads() const { return flat_grads_; }
  void zero_grads() {
    if (flat_grads_.defined()) flat_grads_.zero();
  }
  // Drops the flat gradient buffer and every Param::grad view: the gradient path binds the views to storage
  // of its own (ZeRO stage 2 and 3, zero/staged_grads.h).
  void drop_grads();
  // Drops the flat parameter buffer and every Param::value view: ZeRO stage 3 binds the views to gathered
  // storage of its own while a unit computes (zero/unit_gather.h).
  void drop_values();

 private:
  std::deque<Param> params_;
  Tensor flat_params_, flat_grads_;
  int64_t numel_ = 0, flat_numel_ = 0;
  DType dtype_ = DType::f32;
  Device device_ = Device::cpu();
  bool finalized_ = false;
};

}  // namespace trident
