#pragma once
// RAII for CUDA streams and events, and the per-device compute stream every op and device copy runs on.
//
// Why one compute stream: the caching allocator hands a freed block to the next allocation at once, which is
// safe only when every kernel that touched it is ordered before every kernel that touches it next. All ops,
// memsets and copies go to compute_stream(device), so they are; a stream that must run beside it (NCCL) waits
// on an event recorded there, and its results are waited for before the compute stream reads them.
#include <cuda_runtime.h>

#include "core/runtime/cuda/cuda_check.h"

namespace trident {

class CudaStream {
 public:
  // Non-blocking: work on the legacy default stream never serialises with it (nothing should go there).
  explicit CudaStream(int device);
  ~CudaStream();
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
  cudaStream_t get() const { return stream_; }
  int device() const { return device_; }
  void synchronize() const { TRIDENT_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

 private:
  cudaStream_t stream_ = nullptr;
  int device_ = 0;
};

class CudaEvent {
 public:
  // Timing events record timestamps (for benchmarks); ordering events are cheaper without them.
  explicit CudaEvent(bool timing = false);
  ~CudaEvent();
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;
  cudaEvent_t get() const { return event_; }
  void record(cudaStream_t stream) { TRIDENT_CUDA_CHECK(cudaEventRecord(event_, stream)); }
  // `stream` waits, on the device, for the work recorded before this event; the host does not wait.
  void make_wait(cudaStream_t stream) const { TRIDENT_CUDA_CHECK(cudaStreamWaitEvent(stream, event_, 0)); }
  void synchronize() const { TRIDENT_CUDA_CHECK(cudaEventSynchronize(event_)); }
  // Milliseconds from `start` to this event; both recorded, both timing events.
  float elapsed_ms_since(const CudaEvent& start) const;

 private:
  cudaEvent_t event_ = nullptr;
};

// The device's compute stream, created on first use and kept for the life of the process.
cudaStream_t compute_stream(int device);

}  // namespace trident
