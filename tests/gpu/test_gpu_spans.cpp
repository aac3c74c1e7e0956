// The profiler's spans on a GPU (core/runtime/span_clock.h): with the CUDA-event clock a span times the
// kernels launched inside it where they run, which the host's clock cannot (a launch returns at once).
// Reference: the same GEMMs timed by a pair of CUDA events around them. Skips without a GPU.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include "core/ops/ops.h"
#include "core/runtime/clock.h"
#include "core/runtime/cuda/stream.h"
#include "core/runtime/devices.h"
#include "core/runtime/span_clock.h"
#include "core/runtime/spans.h"

namespace trident {
namespace {

TEST(GpuSpans, CudaEventsTimeKernelsNotLaunches) {
  std::string why;
  if (cuda_devices(&why).empty()) GTEST_SKIP() << "no CUDA device: " << why;
  const Device gpu = Device::cuda(0);
  constexpr int64_t n = 4096;  // 8 GEMMs of 2 n^3 = 1.1 TFLOP: milliseconds on any GPU, far beyond launches
  constexpr int kGemms = 8;
  Tensor a = Tensor::full({n, n}, 0.5, DType::f32).to(gpu);
  Tensor b = Tensor::full({n, n}, 0.25, DType::f32).to(gpu);
  Tensor c = Tensor::empty({n, n}, DType::f32, gpu);
  const cudaStream_t stream = compute_stream(0);
  ops::matmul(c, a, b);  // warm-up: cuBLAS handles and workspaces
  TRIDENT_CUDA_CHECK(cudaStreamSynchronize(stream));

  // The reference: events around the same GEMMs.
  CudaEvent start(true), stop(true);
  start.record(stream);
  for (int i = 0; i < kGemms; ++i) ops::matmul(c, a, b);
  stop.record(stream);
  stop.synchronize();
  const double reference_s = 1e-3 * stop.elapsed_ms_since(start);

  std::vector<spans::Record> records;
  double launch_s = 0;
  {
    const ScopedSpanClock clock(gpu);
    spans::take();
    spans::enable(true);
    {
      spans::Span s(spans::Kind::mlp_up, spans::Phase::forward, 2.0 * n * n * n * kGemms);
      const double t0 = now_s();
      for (int i = 0; i < kGemms; ++i) ops::matmul(c, a, b);
      launch_s = now_s() - t0;
    }
    spans::enable(false);
    records = spans::take();
  }
  ASSERT_EQ(records.size(), 1u);
  const double span_s = records[0].end_s - records[0].start_s;
  // The span holds the kernels (within 25% of the events' own measure, or 2 ms for scheduling), while the
  // host spent only the launches.
  EXPECT_NEAR(span_s, reference_s, std::max(0.25 * reference_s, 2e-3))
      << "span " << span_s << " s, events " << reference_s << " s, launches " << launch_s << " s";
  EXPECT_DOUBLE_EQ(records[0].self_s, span_s);
  EXPECT_EQ(records[0].start_mark, 0u);
  std::printf("8 GEMMs 4096^3 f32: events %.3f ms, span (CUDA events) %.3f ms, host launches %.3f ms\n",
              1e3 * reference_s, 1e3 * span_s, 1e3 * launch_s);
}

}  // namespace
}  // namespace trident
