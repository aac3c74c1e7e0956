#include "core/runtime/devices.h"

#include <cstdlib>

#include "core/runtime/error.h"

namespace trident {

int local_rank() {
  // Open MPI, MPICH/Hydra and Slurm each name it differently.
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID", "LOCAL_RANK"}) {
    const char* v = std::getenv(var);
    if (v == nullptr || *v == '\0') continue;
    char* end = nullptr;
    const long x = std::strtol(v, &end, 10);
    if (*end != '\0' || x < 0) fail("{}='{}' is not a non-negative integer", var, v);
    return static_cast<int>(x);
  }
  return 0;
}

Device resolve_device(const std::string& setting) {
  if (setting == "cpu") return Device::cpu();
  if (setting != "cuda" && setting != "auto" && !setting.empty())
    fail("runtime.device '{}' is not one of: auto, cpu, cuda", setting);
  std::string why;
  const auto gpus = cuda_devices(&why);
  if (gpus.empty()) {
    if (setting == "cuda") fail("runtime.device is 'cuda', but there is no usable GPU: {}", why);
    return Device::cpu();
  }
  return Device::cuda(local_rank() % static_cast<int>(gpus.size()));
}

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
