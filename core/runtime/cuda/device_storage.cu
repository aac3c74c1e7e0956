// The CUDA build's device memory (see core/runtime/cuda_memory.h). Host API calls only, no kernels: compiled
// as C++20 by the host compiler (CMakeLists.txt), since it includes the C++20 tensor headers.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>

#include "core/runtime/cuda/cuda_check.h"
#include "core/runtime/cuda/device_guard.h"
#include "core/runtime/cuda_memory.h"

namespace trident {

void* cuda_alloc(size_t bytes, int device) {
  DeviceGuard guard(device);
  void* p = nullptr;
  // An empty tensor still gets a distinct, valid pointer, as on the CPU.
  TRIDENT_CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(bytes, 1)));
  return p;
}

void cuda_free(void* p, int device) {
  if (p == nullptr) return;
  int previous = 0;
  // At process exit the runtime may be gone before the last tensor: nothing is left to free then.
  if (cudaGetDevice(&previous) == cudaErrorCudartUnloading) return;
  DeviceGuard guard(device);
  const cudaError_t status = cudaFree(p);
  if (status == cudaErrorCudartUnloading) return;
  TRIDENT_CUDA_CHECK(status);
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
