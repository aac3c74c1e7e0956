#pragma once
// Host-side helpers for the CUDA backend's Tensor entry points (core/ops/cuda/*.cpp), which run after the
// public op's checks (core/ops/<op>.cpp): where the op runs, and which element types its kernels take. The
// kernels themselves (core/ops/cuda/*.cu) see raw pointers only.
#include <cuda_runtime.h>

#include <algorithm>
#include <initializer_list>
#include <string_view>

#include "core/ops/op_checks.h"
#include "core/runtime/cuda/cuda_check.h"
#include "core/runtime/cuda/stream.h"

namespace trident::ops::cuda {

using checks::require_defined;
using checks::require_dtype;
using checks::require_numel;
using checks::require_shape;
using checks::rows_of;

// Every defined tensor is on one CUDA device (a CPU tensor among them is a caller's mistake, named here);
// makes that device current and returns its compute stream.
inline cudaStream_t stream_for(std::string_view op, std::initializer_list<const Tensor*> tensors) {
  int device = -1;
  for (const Tensor* t : tensors) {
    if (!t->defined()) continue;
    TRIDENT_CHECK(t->device().is_cuda(), "ops::{}: {} is on the CPU while other arguments are on a GPU", op,
                  t->str());
    if (device < 0) device = t->device().index;
    TRIDENT_CHECK(t->device().index == device, "ops::{}: {} is not on cuda:{} like the other arguments", op,
                  t->str(), device);
  }
  TRIDENT_CHECK(device >= 0, "ops::{}: no argument is defined", op);
  TRIDENT_CUDA_CHECK(cudaSetDevice(device));
  return compute_stream(device);
}

// The element types the CUDA kernels take.
inline void require_kernel_dtype(std::string_view op, DType dtype) {
  TRIDENT_CHECK(dtype == DType::f32 || dtype == DType::bf16 || dtype == DType::f16,
                "ops::{}: dtype {} is not supported on CUDA (f32, bf16 and f16; f64 is the CPU reference's)",
                op, dtype_name(dtype));
}

// The same, with every tensor of `same` holding `dtype` too: the kernels read one element type, where the CPU
// backend lets bf16/f16 storage mix with f32.
inline void require_kernel_dtype(std::string_view op, DType dtype,
                                 std::initializer_list<const Tensor*> same) {
  require_dtype(op, dtype, same);
  require_kernel_dtype(op, dtype);
}

// The dtype of per-row statistics (mean, rstd, lse, losses) for activations of `dtype`: always f32 on CUDA.
inline void require_stat_dtype(std::string_view op, std::initializer_list<const Tensor*> stats) {
  require_dtype(op, DType::f32, stats);
}

}  // namespace trident::ops::cuda
