#pragma once
// Device memory and copies for Storage and the communicators. The CUDA build implements these in
// core/runtime/cuda/device_storage.cpp; a CPU-only build has stubs (cuda_memory.cpp) that throw
// trident::Error, so code that only reaches them with device tensors needs no #ifdef.
//
// Copies are synchronous with respect to the host and go through the device's legacy default stream, so they
// are ordered before any later work there (the communicators' streams wait on that stream before each op).
#include <cstddef>

#include "core/runtime/caching_allocator.h"
#include "core/tensor/device.h"
#include "core/tensor/dtype.h"

namespace trident {

// Device memory from the device's caching allocator (core/runtime/caching_allocator.h): cudaMalloc only
// when no cached block of the size class is free on the default stream. Out of memory throws, naming the
// numbers.
void* cuda_alloc(size_t bytes, int device);
// Back to the allocator's cache; cudaFree happens in cuda_empty_cache() or at exit.
void cuda_free(void* p, int device);
// Returns `device`'s cached blocks to CUDA, and its allocator's bytes in use / cached / peaks.
void cuda_empty_cache(int device);
CachingAllocator::Stats cuda_allocator_stats(int device);
// cudaMemset(p, 0, bytes) on `device`.
void cuda_zero(void* p, int device, size_t bytes);
// `bytes` from src to dst, either of them host or device memory (device-to-device included).
void cuda_copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

// n elements of src_dtype at src into dst_dtype at dst, both on CUDA `device` (a kernel on its compute
// stream, no host round trip).
void cuda_convert(void* dst, DType dst_dtype, const void* src, DType src_dtype, int64_t n, int device);

// Page-locked host memory (cudaMallocHost), for staging device buffers through MPI.
void* cuda_alloc_pinned(size_t bytes);
void cuda_free_pinned(void* p);

}  // namespace trident
