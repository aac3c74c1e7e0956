// RMSNorm over the last dimension on CPU; statistics accumulate in double.
#include <cmath>

#include "core/ops/cpu/cpu_common.h"
#include "core/ops/cpu/cpu_kernels.h"

namespace trident::ops::cpu {
namespace {

template <typename T>
void rmsnorm_forward_kernel(T* out, T* rstd, const T* in, const T* weight, int64_t n, int64_t c, double eps) {
#pragma omp parallel for schedule(static) if (n * c > cpu::kParallelGrain)
  for (int64_t r = 0; r < n; ++r) {
    const T* x = in + r * c;
    double ss = 0.0;
    for (int64_t j = 0; j < c; ++j) ss += static_cast<double>(x[j]) * x[j];
    const double rs = 1.0 / std::sqrt(ss / static_cast<double>(c) + eps);
    T* y = out + r * c;
    for (int64_t j = 0; j < c; ++j) y[j] = static_cast<T>(x[j] * rs * weight[j]);
    rstd[r] = static_cast<T>(rs);
  }
}

// din = rstd * (g - x * rstd^2 * mean(g * x)) with g = dout * weight.
template <typename T>
void rmsnorm_din_kernel(T* din, const T* dout, const T* in, const T* weight, const T* rstd, int64_t n,
                        int64_t c) {
#pragma omp parallel for schedule(static) if (n * c > cpu::kParallelGrain)
  for (int64_t r = 0; r < n; ++r) {
    const T* x = in + r * c;
    const T* dy = dout + r * c;
    const double rs = rstd[r];
    double gx = 0.0;
    for (int64_t j = 0; j < c; ++j) gx += static_cast<double>(dy[j]) * weight[j] * x[j];
    const double k = rs * rs * gx / static_cast<double>(c);
    T* dx = din + r * c;
    for (int64_t j = 0; j < c; ++j)
      dx[j] = static_cast<T>(rs * (static_cast<double>(dy[j]) * weight[j] - x[j] * k));
  }
}

// dweight += sum_rows dout * x * rstd. Parallel over column blocks: fixed order, no races.
template <typename T>
void rmsnorm_dweight_kernel(T* dweight, const T* dout, const T* in, const T* rstd, int64_t n, int64_t c) {
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (c + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n * c > cpu::kParallelGrain)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kBlock, c1 = std::min(c, c0 + kBlock);
    double dw[kBlock] = {};
    for (int64_t r = 0; r < n; ++r) {
      const T* x = in + r * c;
      const T* dy = dout + r * c;
      const double rs = rstd[r];
      for (int64_t j = c0; j < c1; ++j) dw[j - c0] += static_cast<double>(dy[j]) * x[j] * rs;
    }
    for (int64_t j = c0; j < c1; ++j) dweight[j] = static_cast<T>(dweight[j] + dw[j - c0]);
  }
}

}  // namespace

void rmsnorm_forward(Tensor& out, Tensor& rstd, const Tensor& in, const Tensor& weight, double eps) {
  if (cpu::ran_in_f32(rmsnorm_forward, out, rstd, in, weight, eps)) return;
  constexpr std::string_view op = "rmsnorm_forward";
  const int64_t c = weight.dim(0), n = c == 0 ? 0 : in.numel() / c;
  cpu::dispatch_float(op, in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    rmsnorm_forward_kernel<T>(out.data<T>(), rstd.data<T>(), in.data<T>(), weight.data<T>(), n, c, eps);
  });
}

void rmsnorm_backward(Tensor& din, Tensor& dweight, const Tensor& dout, const Tensor& in,
                      const Tensor& weight, const Tensor& rstd) {
  if (cpu::ran_in_f32(rmsnorm_backward, din, dweight, dout, in, weight, rstd)) return;
  constexpr std::string_view op = "rmsnorm_backward";
  const int64_t c = weight.dim(0), n = c == 0 ? 0 : in.numel() / c;
  cpu::dispatch_float(op, in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (din.defined()) {
      rmsnorm_din_kernel<T>(din.data<T>(), dout.data<T>(), in.data<T>(), weight.data<T>(), rstd.data<T>(), n,
                            c);
    }
    if (dweight.defined()) {
      rmsnorm_dweight_kernel<T>(dweight.data<T>(), dout.data<T>(), in.data<T>(), rstd.data<T>(), n, c);
    }
  });
}

}  // namespace trident::ops::cpu
