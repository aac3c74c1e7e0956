// LayerNorm over the last dimension on CPU; statistics accumulate in double.
#include <cmath>

#include "core/ops/cpu/cpu_common.h"
#include "core/ops/cpu/cpu_kernels.h"

namespace trident::ops::cpu {
namespace {

template <typename T>
void layernorm_forward_kernel(T* out, T* mean, T* rstd, const T* in, const T* weight, const T* bias,
                              int64_t n, int64_t c, double eps) {
#pragma omp parallel for schedule(static) if (n * c > cpu::kParallelGrain)
  for (int64_t r = 0; r < n; ++r) {
    const T* x = in + r * c;
    double sum = 0.0;
    for (int64_t j = 0; j < c; ++j) sum += x[j];
    const double mu = sum / static_cast<double>(c);
    double var = 0.0;  // two-pass: no cancellation when |mean| >> std
    for (int64_t j = 0; j < c; ++j) var += (x[j] - mu) * (x[j] - mu);
    const double rs = 1.0 / std::sqrt(var / static_cast<double>(c) + eps);
    T* y = out + r * c;
    for (int64_t j = 0; j < c; ++j) {
      const double xhat = (x[j] - mu) * rs;
      y[j] = static_cast<T>(xhat * weight[j] + (bias ? static_cast<double>(bias[j]) : 0.0));
    }
    mean[r] = static_cast<T>(mu);
    rstd[r] = static_cast<T>(rs);
  }
}

// din = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dout * weight.
template <typename T>
void layernorm_din_kernel(T* din, const T* dout, const T* in, const T* weight, const T* mean, const T* rstd,
                          int64_t n, int64_t c) {
#pragma omp parallel for schedule(static) if (n * c > cpu::kParallelGrain)
  for (int64_t r = 0; r < n; ++r) {
    const T* x = in + r * c;
    const T* dy = dout + r * c;
    const double mu = mean[r], rs = rstd[r];
    double g_mean = 0.0, gx_mean = 0.0;
    for (int64_t j = 0; j < c; ++j) {
      const double g = static_cast<double>(dy[j]) * weight[j];
      g_mean += g;
      gx_mean += g * (x[j] - mu) * rs;
    }
    g_mean /= static_cast<double>(c);
    gx_mean /= static_cast<double>(c);
    T* dx = din + r * c;
    for (int64_t j = 0; j < c; ++j) {
      const double g = static_cast<double>(dy[j]) * weight[j];
      const double xhat = (x[j] - mu) * rs;
      dx[j] = static_cast<T>(rs * (g - g_mean - xhat * gx_mean));
    }
  }
}

// dweight += sum_rows dout * xhat, dbias += sum_rows dout. Parallel over column blocks: fixed order, no
// races.
template <typename T>
void layernorm_dparams_kernel(T* dweight, T* dbias, const T* dout, const T* in, const T* mean, const T* rstd,
                              int64_t n, int64_t c) {
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (c + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n * c > cpu::kParallelGrain)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kBlock, c1 = std::min(c, c0 + kBlock);
    double dw[kBlock] = {}, db[kBlock] = {};
    for (int64_t r = 0; r < n; ++r) {
      const T* x = in + r * c;
      const T* dy = dout + r * c;
      const double mu = mean[r], rs = rstd[r];
      for (int64_t j = c0; j < c1; ++j) {
        dw[j - c0] += static_cast<double>(dy[j]) * (x[j] - mu) * rs;
        db[j - c0] += dy[j];
      }
    }
    for (int64_t j = c0; j < c1; ++j) {
      if (dweight) dweight[j] = static_cast<T>(dweight[j] + dw[j - c0]);
      if (dbias) dbias[j] = static_cast<T>(dbias[j] + db[j - c0]);
    }
  }
}

template <typename T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

}  // namespace

void layernorm_forward(Tensor& out, Tensor& mean, Tensor& rstd, const Tensor& in, const Tensor& weight,
                       const Tensor& bias, double eps) {
  if (cpu::ran_in_f32(layernorm_forward, out, mean, rstd, in, weight, bias, eps)) return;
  constexpr std::string_view op = "layernorm_forward";
  const int64_t c = weight.dim(0), n = c == 0 ? 0 : in.numel() / c;
  cpu::dispatch_float(op, in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    layernorm_forward_kernel<T>(out.data<T>(), mean.data<T>(), rstd.data<T>(), in.data<T>(), weight.data<T>(),
                                data_or_null<T>(bias), n, c, eps);
  });
}

void layernorm_backward(Tensor& din, Tensor& dweight, Tensor& dbias, const Tensor& dout, const Tensor& in,
                        const Tensor& weight, const Tensor& mean, const Tensor& rstd) {
  if (cpu::ran_in_f32(layernorm_backward, din, dweight, dbias, dout, in, weight, mean, rstd)) return;
  constexpr std::string_view op = "layernorm_backward";
  const int64_t c = weight.dim(0), n = c == 0 ? 0 : in.numel() / c;
  cpu::dispatch_float(op, in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (din.defined()) {
      layernorm_din_kernel<T>(din.data<T>(), dout.data<T>(), in.data<T>(), weight.data<T>(), mean.data<T>(),
                              rstd.data<T>(), n, c);
    }
    if (dweight.defined() || dbias.defined()) {
      layernorm_dparams_kernel<T>(data_or_null<T>(dweight), data_or_null<T>(dbias), dout.data<T>(),
                                  in.data<T>(), mean.data<T>(), rstd.data<T>(), n, c);
    }
  });
}

}  // namespace trident::ops::cpu
