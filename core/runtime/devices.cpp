#include "core/runtime/devices.h"

namespace trident {

#ifndef TRIDENT_WITH_CUDA
bool built_with_cuda() {
  return false;
}

std::vector<CudaDeviceInfo> cuda_devices(std::string* why_none) {
  if (why_none) *why_none = "this Trident was built without CUDA (no nvcc at build time)";
  return {};
}
#endif

}  // namespace trident
