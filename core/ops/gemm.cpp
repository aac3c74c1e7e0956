// GEMM and the linear layer: the one entry of each op: argument checks, then the backend.
#include "core/ops/cpu/cpu_kernels.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/op_checks.h"

namespace trident::ops {

using namespace checks;

void matmul(Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, double alpha,
            double beta) {
  matmul_dims(out, a, b, trans_a, trans_b);
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(out, a, b)) return cuda::matmul(out, a, b, trans_a, trans_b, alpha, beta);
  cpu::matmul(out, a, b, trans_a, trans_b, alpha, beta);
}

void linear_forward(Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias) {
  constexpr std::string_view op = "linear_forward";
  const LinearDims dims = linear_dims(op, "out", out, in, weight);
  if (bias.defined()) require_shape(op, "bias", bias, {dims.oc});
  require_compute_dtype(op, in, {&out, &weight, &bias});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(out, in, weight, bias)) return cuda::linear_forward(out, in, weight, bias);
  cpu::linear_forward(out, in, weight, bias);
}

void linear_backward(Tensor& din, Tensor& dweight, Tensor& dbias, const Tensor& dout, const Tensor& in,
                     const Tensor& weight) {
  constexpr std::string_view op = "linear_backward";
  const auto [n, oc, ic] = linear_dims(op, "dout", dout, in, weight);
  if (din.defined()) require_numel(op, "din", din, n * ic);
  if (dweight.defined()) require_shape(op, "dweight", dweight, {oc, ic});
  if (dbias.defined()) require_shape(op, "dbias", dbias, {oc});
  require_compute_dtype(op, in, {&din, &dweight, &dbias, &dout, &weight});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(din, dweight, dbias, dout, in, weight))
      return cuda::linear_backward(din, dweight, dbias, dout, in, weight);
  cpu::linear_backward(din, dweight, dbias, dout, in, weight);
}

}  // namespace trident::ops
