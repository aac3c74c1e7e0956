#include "core/runtime/cuda/stream.h"

#include <spdlog/spdlog.h>

#include <memory>

#include "core/runtime/cuda/device_guard.h"
#include "core/runtime/cuda/per_device.h"

namespace trident {

CudaStream::CudaStream(int device) : device_(device) {
  DeviceGuard guard(device);
  TRIDENT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}

CudaStream::~CudaStream() {
  // At process exit the runtime may already be unloaded; the stream went with it.
  const cudaError_t status = cudaStreamDestroy(stream_);
  if (status != cudaSuccess && status != cudaErrorCudartUnloading)
    spdlog::error("cudaStreamDestroy: {}", cudaGetErrorString(status));
}

CudaEvent::CudaEvent(bool timing) {
  TRIDENT_CUDA_CHECK(cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming));
}

CudaEvent::~CudaEvent() {
  const cudaError_t status = cudaEventDestroy(event_);
  if (status != cudaSuccess && status != cudaErrorCudartUnloading)
    spdlog::error("cudaEventDestroy: {}", cudaGetErrorString(status));
}

float CudaEvent::elapsed_ms_since(const CudaEvent& start) const {
  float ms = 0.0f;
  TRIDENT_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), event_));
  return ms;
}

cudaStream_t compute_stream(int device) {
  static PerDevice<CudaStream> streams;
  return streams.get(device, [device] { return std::make_unique<CudaStream>(device); }).get();
}

}  // namespace trident
