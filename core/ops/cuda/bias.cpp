// The bias add on CUDA: stream choice and launch of core/ops/cuda/bias.cu, after the checks of
// core/ops/bias.cpp.
#include "core/ops/cuda/bias_launch.h"
#include "core/ops/cuda/cuda_op_util.h"
#include "core/ops/cuda/cuda_ops.h"

namespace trident::ops::cuda {

void add_bias(Tensor& out, const Tensor& bias) {
  constexpr std::string_view op = "add_bias";
  const cudaStream_t stream = stream_for(op, {&out, &bias});
  require_dtype(op, out.dtype(), {&bias});  // the kernel reads one dtype
  require_kernel_dtype(op, out.dtype());
  const int64_t c = bias.numel();
  TRIDENT_CUDA_CHECK(
      launch_add_rows(out.raw(), bias.raw(), c == 0 ? 0 : out.numel() / c, c, out.dtype(), stream));
}

}  // namespace trident::ops::cuda
