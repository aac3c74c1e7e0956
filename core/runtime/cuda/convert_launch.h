#pragma once
// Launcher for the element-type conversion kernel (core/runtime/cuda/convert.cu).
#include <cuda_runtime.h>

#include <cstdint>

#include "core/tensor/dtype.h"

namespace trident {

// dst[i] = src[i] converted, for i < n, on `stream`; both device pointers (or one of them pinned/unified).
cudaError_t launch_convert(void* dst, DType dst_dtype, const void* src, DType src_dtype, int64_t n,
                           cudaStream_t stream);

}  // namespace trident
