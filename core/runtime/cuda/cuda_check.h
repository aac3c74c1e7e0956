#pragma once
// Every CUDA runtime call is checked; a failure names the call, the file and the line.
#include <cuda_runtime.h>

#include "core/runtime/error.h"

#define TRIDENT_CUDA_CHECK(call)                                                                   \
  do {                                                                                             \
    const cudaError_t trident_cuda_status = (call);                                                \
    if (trident_cuda_status != cudaSuccess)                                                        \
      throw ::trident::Error(::fmt::format("{}:{}: {} failed: {} ({})", __FILE__, __LINE__, #call, \
                                           cudaGetErrorName(trident_cuda_status),                  \
                                           cudaGetErrorString(trident_cuda_status)));              \
  } while (0)
