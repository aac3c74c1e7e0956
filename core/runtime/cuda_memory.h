#pragma once
// Device memory and copies for Storage and the communicators. The CUDA build implements these in
// core/runtime/cuda/device_storage.cu; a CPU-only build has stubs (cuda_memory.cpp) that throw
// trident::Error, so code that only reaches them with device tensors needs no #ifdef.
//
// Copies are synchronous with respect to the host and go through the device's legacy default stream, so they
// are ordered before any later work there (the communicators' streams wait on that stream before each op).
#include <cstddef>

#include "core/tensor/device.h"

namespace trident {

// cudaMalloc on `device`. No caching yet: a caching allocator (size-class free lists per stream) replaces
// these two calls later, without changing Storage.
void* cuda_alloc(size_t bytes, int device);
// cudaFree; a failure throws, except when the CUDA runtime is already unloading at process exit.
void cuda_free(void* p, int device);
// cudaMemset(p, 0, bytes) on `device`.
void cuda_zero(void* p, int device, size_t bytes);
// `bytes` from src to dst, either of them host or device memory (device-to-device included).
void cuda_copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

// Page-locked host memory (cudaMallocHost), for staging device buffers through MPI.
void* cuda_alloc_pinned(size_t bytes);
void cuda_free_pinned(void* p);

}  // namespace trident
