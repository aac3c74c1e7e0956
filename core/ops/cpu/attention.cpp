// Causal self-attention with grouped-query heads on CPU, flash-attention style: no T x T matrix is kept.
// Forward keeps one T-length row of scores per query and saves its log-sum-exp; backward recomputes the
// probabilities from it: P_ij = exp(s_ij - lse_i), D_i = dout_i . out_i, dS_ij = P_ij (dP_ij - D_i).
#include <cmath>
#include <limits>
#include <vector>

#include "core/ops/cpu/cpu_common.h"

namespace trident::ops {
namespace {

struct AttnShape {
  int64_t b, t, h, hkv, d;
  int64_t group() const { return h / hkv; }  // query heads per kv head
  // Row offsets into q/out (B, T, H, D) and k/v (B, T, Hkv, D).
  int64_t q_row(int64_t bi, int64_t ti, int64_t hi) const { return ((bi * t + ti) * h + hi) * d; }
  int64_t kv_row(int64_t bi, int64_t ti, int64_t gi) const { return ((bi * t + ti) * hkv + gi) * d; }
};

template <typename T>
double dot(const T* a, const T* b, int64_t n) {
  double acc = 0.0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(a[i]) * b[i];
  return acc;
}

template <typename T>
void attention_forward_kernel(T* out, T* lse, const T* q, const T* k, const T* v, const AttnShape& s) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.d));
  const int64_t rows = s.b * s.h * s.t;
#pragma omp parallel if (rows * s.t * s.d > cpu::kParallelGrain)
  {
    std::vector<double> scores(static_cast<size_t>(s.t));  // (T) one query row
    std::vector<double> acc(static_cast<size_t>(s.d));     // (D)
    // Row cost grows with the query position (causal), so hand rows out dynamically.
#pragma omp for schedule(dynamic, 16)
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t bi = row / (s.h * s.t), hi = (row / s.t) % s.h, i = row % s.t;
      const int64_t gi = hi / s.group();
      const T* qi = q + s.q_row(bi, i, hi);
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j <= i; ++j) {
        scores[j] = scale * dot(qi, k + s.kv_row(bi, j, gi), s.d);
        m = std::max(m, scores[j]);
      }
      double sum = 0.0;
      for (int64_t j = 0; j <= i; ++j) sum += (scores[j] = std::exp(scores[j] - m));
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t j = 0; j <= i; ++j) {
        const T* vj = v + s.kv_row(bi, j, gi);
        const double p = scores[j] / sum;
        for (int64_t c = 0; c < s.d; ++c) acc[c] += p * vj[c];
      }
      T* oi = out + s.q_row(bi, i, hi);
      for (int64_t c = 0; c < s.d; ++c) oi[c] = static_cast<T>(acc[c]);
      lse[(bi * s.h + hi) * s.t + i] = static_cast<T>(m + std::log(sum));
    }
  }
}

// One task per (batch, kv head): it owns dk/dv of that kv head and dq of the query heads in its group, so
// threads never write the same element and the summation order does not depend on the thread count.
template <typename T>
void attention_backward_kernel(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                               const T* out, const T* lse, const AttnShape& s) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.d));
  const int64_t tasks = s.b * s.hkv;
#pragma omp parallel if (s.b * s.h * s.t * s.t * s.d > cpu::kParallelGrain)
  {
    std::vector<double> dk_acc(static_cast<size_t>(s.t * s.d)),
        dv_acc(static_cast<size_t>(s.t * s.d));            // (T, D)
    std::vector<double> dq_acc(static_cast<size_t>(s.d));  // (D)
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t bi = task / s.hkv, gi = task % s.hkv;
      std::fill(dk_acc.begin(), dk_acc.end(), 0.0);
      std::fill(dv_acc.begin(), dv_acc.end(), 0.0);
      for (int64_t hi = gi * s.group(); hi < (gi + 1) * s.group(); ++hi) {
        for (int64_t i = 0; i < s.t; ++i) {
          const T* qi = q + s.q_row(bi, i, hi);
          const T* doi = dout + s.q_row(bi, i, hi);
          const double lse_i = lse[(bi * s.h + hi) * s.t + i];
          const double d_i = dot(doi, out + s.q_row(bi, i, hi), s.d);
          std::fill(dq_acc.begin(), dq_acc.end(), 0.0);
          for (int64_t j = 0; j <= i; ++j) {
            const T* kj = k + s.kv_row(bi, j, gi);
            const T* vj = v + s.kv_row(bi, j, gi);
            const double p = std::exp(scale * dot(qi, kj, s.d) - lse_i);
            const double ds = p * (dot(doi, vj, s.d) - d_i);
            double* dvj = dv_acc.data() + j * s.d;
            double* dkj = dk_acc.data() + j * s.d;
            for (int64_t c = 0; c < s.d; ++c) {
              dvj[c] += p * doi[c];
              dkj[c] += ds * scale * qi[c];
              dq_acc[c] += ds * scale * kj[c];
            }
          }
          T* dqi = dq + s.q_row(bi, i, hi);
          for (int64_t c = 0; c < s.d; ++c) dqi[c] = static_cast<T>(dq_acc[c]);
        }
      }
      for (int64_t j = 0; j < s.t; ++j) {
        T* dkj = dk + s.kv_row(bi, j, gi);
        T* dvj = dv + s.kv_row(bi, j, gi);
        for (int64_t c = 0; c < s.d; ++c) {
          dkj[c] = static_cast<T>(dk_acc[j * s.d + c]);
          dvj[c] = static_cast<T>(dv_acc[j * s.d + c]);
        }
      }
    }
  }
}

AttnShape attention_shape(std::string_view op, const Tensor& q, const Tensor& k, const Tensor& v) {
  cpu::require_defined(op, "q", q);
  cpu::require_defined(op, "k", k);
  TRIDENT_CHECK(q.ndim() == 4 && k.ndim() == 4,
                "ops::{}: q {} and k {} should be (B, T, H, D) and (B, T, Hkv, D)", op, q.str(), k.str());
  AttnShape s{q.dim(0), q.dim(1), q.dim(2), k.dim(2), q.dim(3)};
  TRIDENT_CHECK(s.hkv > 0 && s.h % s.hkv == 0, "ops::{}: {} query heads are not a multiple of {} kv heads",
                op, s.h, s.hkv);
  TRIDENT_CHECK(s.d > 0, "ops::{}: head dim of q {} is zero", op, q.str());
  cpu::require_shape(op, "k", k, {s.b, s.t, s.hkv, s.d});
  cpu::require_shape(op, "v", v, {s.b, s.t, s.hkv, s.d});
  return s;
}

}  // namespace

void attention_forward(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v) {
  constexpr std::string_view op = "attention_forward";
  cpu::require_cpu(op, {&out, &lse, &q, &k, &v});
  const AttnShape s = attention_shape(op, q, k, v);
  cpu::require_shape(op, "out", out, q.shape());
  cpu::require_shape(op, "lse", lse, {s.b, s.h, s.t});
  cpu::require_dtype(op, q.dtype(), {&out, &lse, &k, &v});
  cpu::dispatch_float(op, q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    attention_forward_kernel<T>(out.data<T>(), lse.data<T>(), q.data<T>(), k.data<T>(), v.data<T>(), s);
  });
}

void attention_backward(Tensor& dq, Tensor& dk, Tensor& dv, const Tensor& dout, const Tensor& q,
                        const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse) {
  constexpr std::string_view op = "attention_backward";
  cpu::require_cpu(op, {&dq, &dk, &dv, &dout, &q, &k, &v, &out, &lse});
  const AttnShape s = attention_shape(op, q, k, v);
  cpu::require_shape(op, "dout", dout, q.shape());
  cpu::require_shape(op, "out", out, q.shape());
  cpu::require_shape(op, "lse", lse, {s.b, s.h, s.t});
  cpu::require_shape(op, "dq", dq, q.shape());
  cpu::require_shape(op, "dk", dk, k.shape());
  cpu::require_shape(op, "dv", dv, v.shape());
  cpu::require_dtype(op, q.dtype(), {&dq, &dk, &dv, &dout, &k, &v, &out, &lse});
  cpu::dispatch_float(op, q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    attention_backward_kernel<T>(dq.data<T>(), dk.data<T>(), dv.data<T>(), dout.data<T>(), q.data<T>(),
                                 k.data<T>(), v.data<T>(), out.data<T>(), lse.data<T>(), s);
  });
}

}  // namespace trident::ops
