// The CUDA build's device query (see core/runtime/devices.h).
#include "core/runtime/devices.h"
#include "core/runtime/cuda/cuda_check.h"

namespace trident {

bool built_with_cuda() {
  return true;
}

std::vector<CudaDeviceInfo> cuda_devices(std::string* why_none) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    // No driver or no device is an answer here, not an error: the caller falls back to the CPU.
    if (why_none) *why_none = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(status);
    return {};
  }
  std::vector<CudaDeviceInfo> out;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    TRIDENT_CUDA_CHECK(cudaGetDeviceProperties(&prop, i));
    out.push_back({i, prop.name, prop.major, prop.minor, prop.totalGlobalMem});
  }
  if (out.empty() && why_none) *why_none = "the CUDA driver reports no devices";
  return out;
}

}  // namespace trident
