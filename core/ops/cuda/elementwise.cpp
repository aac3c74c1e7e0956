// Elementwise helpers on CUDA: stream choice and launch of elementwise.cu, after the checks of
// core/ops/elementwise.cpp.
#include "core/ops/cuda/cuda_op_util.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/cuda/elementwise_launch.h"

namespace trident::ops::cuda {

void add(Tensor& out, const Tensor& a, const Tensor& b) {
  constexpr std::string_view op = "add";
  const cudaStream_t stream = stream_for(op, {&out, &a, &b});
  require_kernel_dtype(op, a.dtype(), {&out, &b});
  TRIDENT_CUDA_CHECK(launch_add(out.raw(), a.raw(), b.raw(), a.numel(), a.dtype(), stream));
}

void add_inplace(Tensor& a, const Tensor& b) {
  constexpr std::string_view op = "add_inplace";
  const cudaStream_t stream = stream_for(op, {&a, &b});
  require_kernel_dtype(op, a.dtype(), {&b});
  TRIDENT_CUDA_CHECK(launch_add(a.raw(), a.raw(), b.raw(), a.numel(), a.dtype(), stream));
}

void scale_inplace(Tensor& a, double s) {
  constexpr std::string_view op = "scale_inplace";
  const cudaStream_t stream = stream_for(op, {&a});
  require_kernel_dtype(op, a.dtype());
  TRIDENT_CUDA_CHECK(launch_scale(a.raw(), a.numel(), s, a.dtype(), stream));
}

// The one op here that waits: the caller needs the number on the host (the global gradient norm).
double sum_squares(const Tensor& a) {
  constexpr std::string_view op = "sum_squares";
  const cudaStream_t stream = stream_for(op, {&a});
  require_kernel_dtype(op, a.dtype());
  const int64_t n = a.numel();
  if (n == 0) return 0.0;
  const int blocks = sum_squares_blocks(n);
  Tensor scratch =
      Tensor::empty({blocks + 1}, DType::f64, a.device());  // (blocks) partial sums, then the total
  double* partial = static_cast<double*>(scratch.raw());
  TRIDENT_CUDA_CHECK(launch_sum_squares(partial + blocks, partial, a.raw(), n, a.dtype(), stream));
  double total = 0.0;
  TRIDENT_CUDA_CHECK(
      cudaMemcpyAsync(&total, partial + blocks, sizeof(double), cudaMemcpyDeviceToHost, stream));
  TRIDENT_CUDA_CHECK(cudaStreamSynchronize(stream));
  return total;
}

}  // namespace trident::ops::cuda
