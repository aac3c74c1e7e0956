#pragma once
// Which devices this build and this machine offer, and what `runtime.device: auto` resolves to.
#include <string>
#include <vector>

#include "core/tensor/device.h"

namespace trident {

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int sm_major = 0, sm_minor = 0;
  size_t total_bytes = 0;
};

// True when Trident was compiled with the CUDA backend (nvcc found at build time).
bool built_with_cuda();
// The CUDA devices the driver reports; empty on a CPU-only build or a machine without a GPU/driver.
// `why_none` says why the list is empty.
std::vector<CudaDeviceInfo> cuda_devices(std::string* why_none = nullptr);

// runtime.device for this process: "cpu"; "cuda", this rank's GPU (local rank modulo the GPU count, so the
// ranks of a node share its GPUs round-robin), an error naming why when there is none; "auto", that GPU when
// there is one, else the CPU. An empty setting is "auto".
Device resolve_device(const std::string& setting);
// The rank of this process among those of its node, from the launcher's environment (0 when not launched).
int local_rank();

}  // namespace trident
