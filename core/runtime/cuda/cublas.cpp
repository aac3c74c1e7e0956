#include "core/runtime/cuda/cublas.h"

#include <memory>

#include "core/runtime/cuda/cuda_check.h"
#include "core/runtime/cuda/device_guard.h"
#include "core/runtime/cuda/per_device.h"

namespace trident {

CublasLtHandle::CublasLtHandle(int device) : device_(device) {
  DeviceGuard guard(device);
  TRIDENT_CUBLAS_CHECK(cublasLtCreate(&handle_));
  // Straight from cudaMalloc, not the caching allocator: the handle outlives every tensor, and at exit the
  // allocator may be destroyed before it.
  TRIDENT_CUDA_CHECK(cudaMalloc(&workspace_, kWorkspaceBytes));
}

CublasLtHandle::~CublasLtHandle() {
  // At teardown a failure has nowhere to go (the runtime may be unloading): both are best effort.
  cudaFree(workspace_);
  cublasLtDestroy(handle_);
}

const CublasLtHandle& cublaslt(int device) {
  static PerDevice<CublasLtHandle> handles;
  return handles.get(device, [device] { return std::make_unique<CublasLtHandle>(device); });
}

}  // namespace trident
