// Spans timed by CUDA events (core/runtime/span_clock.h): every mark records a timing event on the device's
// compute stream, where every op's kernels run, so a span covers the kernels launched inside it from the
// moment the stream reaches its open to the moment it passes its close.
#include <memory>
#include <vector>

#include "core/runtime/clock.h"
#include "core/runtime/cuda/device_guard.h"
#include "core/runtime/cuda/stream.h"
#include "core/runtime/error.h"
#include "core/runtime/spans.h"

namespace trident {
namespace {

class CudaSpanClock : public spans::Clock {
 public:
  // The anchor ties the device's timeline to the steady clock: recorded on an idle-waited stream, it is
  // reached at about the host time read just after it completes. Made under the guard: an event belongs to
  // the device current when it is created.
  explicit CudaSpanClock(int device) : device_(device) {
    DeviceGuard guard(device_);
    anchor_ = std::make_unique<CudaEvent>(/*timing=*/true);
    const cudaStream_t stream = compute_stream(device_);
    TRIDENT_CUDA_CHECK(cudaStreamSynchronize(stream));
    anchor_->record(stream);
    anchor_->synchronize();
    anchor_s_ = now_s();
  }

  uint64_t mark() override {
    DeviceGuard guard(device_);
    if (used_ == events_.size()) events_.push_back(std::make_unique<CudaEvent>(/*timing=*/true));
    events_[used_]->record(compute_stream(device_));
    return ++used_;
  }

  double seconds(uint64_t mark) override {
    TRIDENT_CHECK(mark >= 1 && mark <= used_, "span clock: mark {} was never made (or was reset)", mark);
    const CudaEvent& event = *events_[mark - 1];
    event.synchronize();
    return anchor_s_ + 1e-3 * event.elapsed_ms_since(*anchor_);
  }

  void reset() override { used_ = 0; }  // the events are recorded again by later marks

 private:
  int device_;
  std::unique_ptr<CudaEvent> anchor_;
  double anchor_s_ = 0;
  std::vector<std::unique_ptr<CudaEvent>> events_;
  size_t used_ = 0;
};

}  // namespace

std::shared_ptr<spans::Clock> cuda_span_clock(int device) {
  return std::make_shared<CudaSpanClock>(device);
}

}  // namespace trident
