// The CUDA build's device memory (see core/runtime/cuda_memory.h). Host API calls only, no kernels: compiled
// as C++20 by the host compiler (CMakeLists.txt), since it includes the C++20 tensor headers.
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "core/runtime/caching_allocator.h"

#include "core/runtime/cuda/cuda_check.h"
#include "core/runtime/cuda/device_guard.h"
#include "core/runtime/cuda_memory.h"

namespace trident {

namespace {

// cudaMalloc without the cache: null when the device is out of memory (the allocator then releases its cache
// and retries), any other failure throws.
void* raw_alloc(size_t bytes, int device) {
  DeviceGuard guard(device);
  void* p = nullptr;
  const cudaError_t status = cudaMalloc(&p, bytes);
  if (status == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // clear the sticky-free error state so later calls do not report it
    return nullptr;
  }
  TRIDENT_CUDA_CHECK(status);
  return p;
}

void raw_free(void* p, int device) {
  int previous = 0;
  // At process exit the runtime may be gone before the cache is released: nothing is left to free then.
  if (cudaGetDevice(&previous) == cudaErrorCudartUnloading) return;
  DeviceGuard guard(device);
  const cudaError_t status = cudaFree(p);
  if (status == cudaErrorCudartUnloading) return;
  TRIDENT_CUDA_CHECK(status);
}

constexpr int kMaxDevices = 16;

// One caching allocator per device, created on first use. Storage allocates on the legacy default stream
// (stream 0), which orders every kernel launched without an explicit stream.
CachingAllocator& allocator(int device) {
  static std::array<std::unique_ptr<CachingAllocator>, kMaxDevices> allocators;
  static std::mutex mu;
  TRIDENT_CHECK(device >= 0 && device < kMaxDevices, "cuda:{}: at most {} devices", device, kMaxDevices);
  std::lock_guard<std::mutex> lock(mu);
  if (!allocators[device]) {
    allocators[device] = std::make_unique<CachingAllocator>(
        CachingAllocator::Backend{[device](size_t bytes) { return raw_alloc(bytes, device); },
                                  [device](void* p) { raw_free(p, device); }},
        "cuda:" + std::to_string(device));
  }
  return *allocators[device];
}

}  // namespace

void* cuda_alloc(size_t bytes, int device) {
  // An empty tensor still gets a distinct, valid pointer, as on the CPU (the smallest size class).
  return allocator(device).allocate(bytes, /*stream=*/0);
}

void cuda_free(void* p, int device) {
  if (p == nullptr) return;
  allocator(device).free(p);  // back to the cache; cudaFree happens in empty_cache() or at exit
}

void cuda_empty_cache(int device) {
  allocator(device).empty_cache();
}

CachingAllocator::Stats cuda_allocator_stats(int device) {
  return allocator(device).stats();
}

void cuda_zero(void* p, int device, size_t bytes) {
  if (bytes == 0) return;
  DeviceGuard guard(device);
  TRIDENT_CUDA_CHECK(cudaMemset(p, 0, bytes));
}

void cuda_copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memmove(dst, src, bytes);
    return;
  }
  // Unified addressing tells the runtime which side is which; the copy runs on the device side's stream.
  DeviceGuard guard(src_device.is_cuda() ? src_device.index : dst_device.index);
  TRIDENT_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
}

void* cuda_alloc_pinned(size_t bytes) {
  void* p = nullptr;
  TRIDENT_CUDA_CHECK(cudaMallocHost(&p, std::max<size_t>(bytes, 1)));
  return p;
}

void cuda_free_pinned(void* p) {
  if (p == nullptr) return;
  const cudaError_t status = cudaFreeHost(p);
  if (status == cudaErrorCudartUnloading) return;
  TRIDENT_CUDA_CHECK(status);
}

}  // namespace trident
