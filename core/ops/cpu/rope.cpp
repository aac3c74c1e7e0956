// Rotary position embedding kernel on CPU, rotate-half pairing (i, i + D/2) as in GPT-NeoX / Hugging Face
// LLaMA.
#include <cmath>
#include <vector>

#include "core/ops/cpu/cpu_common.h"
#include "core/ops/cpu/cpu_kernels.h"

namespace trident::ops::cpu {
namespace {

// Rotates every (i, i + D/2) pair of x (B, T, H, D) by angle (pos0 + t) * theta^(-2i/D); sign = -1 undoes it.
// Reads both halves of a pair before writing either, so out may alias in.
void rope(std::string_view op, Tensor& out, const Tensor& in, double theta, int64_t pos0, double sign) {
  const int64_t b = in.dim(0), t = in.dim(1), h = in.dim(2), d = in.dim(3), half = d / 2;

  // cos/sin table (T, D/2), built in double whatever the dtype.
  std::vector<double> cos_table(static_cast<size_t>(t * half)), sin_table(static_cast<size_t>(t * half));
  for (int64_t ti = 0; ti < t; ++ti) {
    for (int64_t i = 0; i < half; ++i) {
      const double freq = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(d));
      const double angle = static_cast<double>(pos0 + ti) * freq;
      cos_table[ti * half + i] = std::cos(angle);
      sin_table[ti * half + i] = sign * std::sin(angle);
    }
  }

  cpu::dispatch_float(op, in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = in.data<T>();
    T* y = out.data<T>();
#pragma omp parallel for collapse(2) schedule(static) if (in.numel() > cpu::kParallelGrain)
    for (int64_t bi = 0; bi < b; ++bi) {
      for (int64_t ti = 0; ti < t; ++ti) {
        const double* cs = cos_table.data() + ti * half;
        const double* sn = sin_table.data() + ti * half;
        for (int64_t hi = 0; hi < h; ++hi) {
          const int64_t base = ((bi * t + ti) * h + hi) * d;
          for (int64_t i = 0; i < half; ++i) {
            const double x1 = x[base + i], x2 = x[base + i + half];
            y[base + i] = static_cast<T>(x1 * cs[i] - x2 * sn[i]);
            y[base + i + half] = static_cast<T>(x2 * cs[i] + x1 * sn[i]);
          }
        }
      }
    }
  });
}

}  // namespace

void rope_forward(Tensor& out, const Tensor& in, double theta, int64_t pos0) {
  if (cpu::ran_in_f32(rope_forward, out, in, theta, pos0)) return;
  rope("rope_forward", out, in, theta, pos0, 1.0);
}

// The rotation is orthogonal, so its transpose (backward) is the rotation by the opposite angle.
void rope_backward(Tensor& din, const Tensor& dout, double theta, int64_t pos0) {
  if (cpu::ran_in_f32(rope_backward, din, dout, theta, pos0)) return;
  rope("rope_backward", din, dout, theta, pos0, -1.0);
}

}  // namespace trident::ops::cpu
