#include "core/runtime/span_clock.h"

namespace trident {

#ifdef TRIDENT_WITH_CUDA
std::shared_ptr<spans::Clock> cuda_span_clock(int device);  // core/runtime/cuda/span_clock.cpp
#endif

std::shared_ptr<spans::Clock> span_clock_for(Device device) {
#ifdef TRIDENT_WITH_CUDA
  if (device.is_cuda()) return cuda_span_clock(device.index);
#endif
  (void)device;
  return nullptr;
}

}  // namespace trident
