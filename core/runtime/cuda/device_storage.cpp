// The CUDA build's device memory (see core/runtime/cuda_memory.h): host API calls, and the conversion
// kernel's launcher (core/runtime/cuda/convert.cu).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "core/runtime/caching_allocator.h"

#include "core/runtime/cuda/convert_launch.h"
#include "core/runtime/cuda/cuda_check.h"
#include "core/runtime/cuda/device_guard.h"
#include "core/runtime/cuda/per_device.h"
#include "core/runtime/cuda/stream.h"
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

// Best effort, never throws: it runs from the allocator's destructor at exit, where a throw would end the
// process in std::terminate and hide the error that ended the run. At exit the runtime may be gone before the
// cache is released, and after a sticky error (an illegal address in a kernel) every call fails: either way
// nothing is left to free. A failure is reported once; the next checked CUDA call reports a sticky error too.
void raw_free(void* p, int device) noexcept {
  int previous = 0;
  cudaError_t status = cudaGetDevice(&previous);
  const bool switched = status == cudaSuccess && previous != device;
  if (switched) status = cudaSetDevice(device);
  if (status == cudaSuccess) status = cudaFree(p);
  if (switched) (void)cudaSetDevice(previous);
  static bool reported = false;
  if (status != cudaSuccess && status != cudaErrorCudartUnloading && !reported) {
    reported = true;
    std::fprintf(stderr, "warning: cudaFree on cuda:%d failed: %s (device memory is released at exit)\n",
                 device, cudaGetErrorString(status));
  }
}

// One caching allocator per device. Blocks belong to the device's compute stream
// (core/runtime/cuda/stream.h), which orders every op, memset and copy.
CachingAllocator& allocator(int device) {
  static PerDevice<CachingAllocator> allocators;
  return allocators.get(device, [device] {
    return std::make_unique<CachingAllocator>(
        CachingAllocator::Backend{[device](size_t bytes) { return raw_alloc(bytes, device); },
                                  [device](void* p) { raw_free(p, device); }},
        "cuda:" + std::to_string(device));
  });
}

}  // namespace

void* cuda_alloc(size_t bytes, int device) {
  // An empty tensor still gets a distinct, valid pointer, as on the CPU (the smallest size class).
  return allocator(device).allocate(bytes,
                                    reinterpret_cast<CachingAllocator::Stream>(compute_stream(device)));
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
  TRIDENT_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, compute_stream(device)));
}

void cuda_copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memmove(dst, src, bytes);
    return;
  }
  // Unified addressing tells the runtime which side is which. The copy is ordered on the compute stream of
  // the device side; one that reads or writes host memory is waited for, since the host uses it next.
  const int device = src_device.is_cuda() ? src_device.index : dst_device.index;
  DeviceGuard guard(device);
  const cudaStream_t stream = compute_stream(device);
  if (src_device.is_cuda() && dst_device.is_cuda() && src_device.index != dst_device.index)
    TRIDENT_CUDA_CHECK(cudaStreamSynchronize(compute_stream(dst_device.index)));  // dst's earlier readers
  TRIDENT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream));
  if (src_device.is_cpu() || dst_device.is_cpu() || src_device.index != dst_device.index)
    TRIDENT_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void cuda_convert(void* dst, DType dst_dtype, const void* src, DType src_dtype, int64_t n, int device) {
  DeviceGuard guard(device);
  TRIDENT_CUDA_CHECK(launch_convert(dst, dst_dtype, src, src_dtype, n, compute_stream(device)));
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
