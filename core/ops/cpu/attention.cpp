// Causal self-attention with grouped-query heads on CPU, flash-attention style: no T x T matrix is kept
// between forward and backward. Each task works through its (b, head) in blocks of query rows with GEMMs on a
// (block, T) scratch. Forward saves the log-sum-exp of each score row; backward recomputes the probabilities
// from it: P_ij = exp(s_ij - lse_i), D_i = dout_i . out_i, dS_ij = P_ij (dP_ij - D_i).
#include <cblas.h>

#include <climits>
#include <cmath>
#include <limits>
#include <vector>

#include "core/ops/cpu/cpu_common.h"
#include "core/ops/cpu/cpu_kernels.h"

namespace trident::ops::cpu {
namespace {

// Query rows per GEMM. Block i0..i1 sees keys 0..i1, so the causal triangle costs about (1 + 1/blocks) / 2
// of the full T x T square.
constexpr int64_t kRowBlock = 64;

struct AttnShape : checks::AttentionDims {
  int64_t group() const { return h / hkv; }  // query heads per kv head
  // Row offsets into q/out (B, T, H, D) and k/v (B, T, Hkv, D).
  int64_t q_row(int64_t bi, int64_t ti, int64_t hi) const { return ((bi * t + ti) * h + hi) * d; }
  int64_t kv_row(int64_t bi, int64_t ti, int64_t gi) const { return ((bi * t + ti) * hkv + gi) * d; }
  int ldq() const { return static_cast<int>(h * d); }     // row stride of one head's (T, D) in q/out
  int ldkv() const { return static_cast<int>(hkv * d); }  // row stride of one kv head's (T, D) in k/v
};

// c (m, n; ldc) = alpha op(a) op(b) + beta c, row-major with leading dimensions. Called inside the OpenMP
// region, where OpenBLAS's OpenMP build runs single-threaded.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int lda,
          const T* b, int ldb, T beta, T* c, int ldc) {
  const auto ta = trans_a ? CblasTrans : CblasNoTrans;
  const auto tb = trans_b ? CblasTrans : CblasNoTrans;
  const int M = static_cast<int>(m), N = static_cast<int>(n), K = static_cast<int>(k);
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
  } else {
    cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}

template <typename T>
double dot(const T* a, const T* b, int64_t n) {
  double acc = 0.0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(a[i]) * b[i];
  return acc;
}

// Softmax of one score row in place: row[0, visible) becomes probabilities and row[visible, n) zeros.
// Returns the row's log-sum-exp.
template <typename T>
T causal_softmax_row(T* row, int64_t visible, int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < visible; ++j) m = std::max(m, row[j]);
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < visible; ++j) sum += (row[j] = cpu::exp_of(row[j] - m));
  const T inv = static_cast<T>(1.0 / sum);
  for (int64_t j = 0; j < visible; ++j) row[j] *= inv;
  std::fill(row + visible, row + n, T(0));
  return static_cast<T>(m + std::log(sum));
}

// Scores of one row to probabilities from the saved log-sum-exp: row[j] = exp(row[j] - lse), masked to zero.
template <typename T>
void causal_probs_row(T* row, T lse, int64_t visible, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < visible; ++j) row[j] = cpu::exp_of(row[j] - lse);
  std::fill(row + visible, row + n, T(0));
}

// One task per (batch, query head); scratch p is (kRowBlock, T) per thread.
template <typename T>
void attention_forward_kernel(T* out, T* lse, const T* q, const T* k, const T* v, const AttnShape& s) {
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(s.d)));
  const int64_t tasks = s.b * s.h;
#pragma omp parallel if (s.b * s.h * s.t * s.t * s.d > cpu::kParallelGrain)
  {
    std::vector<T> p(static_cast<size_t>(std::min(kRowBlock, s.t) * s.t));  // (rows, cols) of one block
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t bi = task / s.h, hi = task % s.h, gi = hi / s.group();
      const T* qh = q + s.q_row(bi, 0, hi);    // (T, D), ld H D
      const T* kg = k + s.kv_row(bi, 0, gi);   // (T, D), ld Hkv D
      const T* vg = v + s.kv_row(bi, 0, gi);   // (T, D), ld Hkv D
      T* oh = out + s.q_row(bi, 0, hi);        // (T, D), ld H D
      T* lse_h = lse + (bi * s.h + hi) * s.t;  // (T)
      for (int64_t i0 = 0; i0 < s.t; i0 += kRowBlock) {
        const int64_t rows = std::min(kRowBlock, s.t - i0), cols = i0 + rows;  // keys 0..cols are visible
        // P (rows, cols) = scale Q[i0:] K[:cols]^T, then softmax with the causal mask.
        gemm(false, true, rows, cols, s.d, scale, qh + i0 * s.ldq(), s.ldq(), kg, s.ldkv(), T(0), p.data(),
             static_cast<int>(cols));
        for (int64_t r = 0; r < rows; ++r)
          lse_h[i0 + r] = causal_softmax_row(p.data() + r * cols, i0 + r + 1, cols);
        // O[i0:] (rows, D) = P V[:cols]
        gemm(false, false, rows, s.d, cols, T(1), p.data(), static_cast<int>(cols), vg, s.ldkv(), T(0),
             oh + i0 * s.ldq(), s.ldq());
      }
    }
  }
}

// Zeroes `rows` rows of length d, ld apart.
template <typename T>
void zero_rows(T* a, int64_t rows, int64_t d, int64_t ld) {
  for (int64_t r = 0; r < rows; ++r) std::fill(a + r * ld, a + r * ld + d, T(0));
}

// One task per (batch, kv head): it owns dk/dv of that kv head and dq of the query heads in its group, so
// threads never write the same element and the summation order does not depend on the thread count.
// Scratch p and ds are (kRowBlock, T) per thread.
template <typename T>
void attention_backward_kernel(T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                               const T* out, const T* lse, const AttnShape& s) {
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(s.d)));
  const int64_t tasks = s.b * s.hkv;
  const int ldq = s.ldq(), ldkv = s.ldkv();
#pragma omp parallel if (s.b * s.h * s.t * s.t * s.d > cpu::kParallelGrain)
  {
    const size_t scratch = static_cast<size_t>(std::min(kRowBlock, s.t) * s.t);
    std::vector<T> p(scratch), ds(scratch);  // (rows, cols) of one block
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t bi = task / s.hkv, gi = task % s.hkv;
      const T* kg = k + s.kv_row(bi, 0, gi);  // (T, D), ld Hkv D
      const T* vg = v + s.kv_row(bi, 0, gi);
      T* dkg = dk + s.kv_row(bi, 0, gi);
      T* dvg = dv + s.kv_row(bi, 0, gi);
      zero_rows(dkg, s.t, s.d, ldkv);
      zero_rows(dvg, s.t, s.d, ldkv);
      for (int64_t hi = gi * s.group(); hi < (gi + 1) * s.group(); ++hi) {
        const int64_t h0 = s.q_row(bi, 0, hi);  // q, dq, out, dout: (T, D), ld H D
        const T* lse_h = lse + (bi * s.h + hi) * s.t;
        for (int64_t i0 = 0; i0 < s.t; i0 += kRowBlock) {
          const int64_t rows = std::min(kRowBlock, s.t - i0), cols = i0 + rows;
          const int ldp = static_cast<int>(cols);
          const T* qb = q + h0 + i0 * ldq;      // (rows, D)
          const T* dob = dout + h0 + i0 * ldq;  // (rows, D)
          // P (rows, cols) = exp(scale Q K^T - lse), masked; dP (rows, cols) = dO V^T.
          gemm(false, true, rows, cols, s.d, scale, qb, ldq, kg, ldkv, T(0), p.data(), ldp);
          gemm(false, true, rows, cols, s.d, T(1), dob, ldq, vg, ldkv, T(0), ds.data(), ldp);
          for (int64_t r = 0; r < rows; ++r) {
            T* pr = p.data() + r * cols;
            T* dsr = ds.data() + r * cols;
            causal_probs_row(pr, lse_h[i0 + r], i0 + r + 1, cols);
            const T d_i = static_cast<T>(dot(dob + r * ldq, out + h0 + (i0 + r) * ldq, s.d));
            // dS = P (dP - D) scale: the scale of S = scale Q K^T folded in once for dQ and dK.
#pragma omp simd
            for (int64_t j = 0; j < cols; ++j) dsr[j] = pr[j] * (dsr[j] - d_i) * scale;
          }
          // dV[:cols] += P^T dO, dQ[i0:] = dS K[:cols], dK[:cols] += dS^T Q (all (., D)).
          gemm(true, false, cols, s.d, rows, T(1), p.data(), ldp, dob, ldq, T(1), dvg, ldkv);
          gemm(false, false, rows, s.d, cols, T(1), ds.data(), ldp, kg, ldkv, T(0), dq + h0 + i0 * ldq, ldq);
          gemm(true, false, cols, s.d, rows, T(1), ds.data(), ldp, qb, ldq, T(1), dkg, ldkv);
        }
      }
    }
  }
}

// The shapes ops::attention_* checked, and this backend's limit: BLAS takes int sizes.
AttnShape attention_shape(std::string_view op, const Tensor& q, const Tensor& k) {
  const AttnShape s{checks::attention_dims(op, q, k)};
  TRIDENT_CHECK(s.t < INT_MAX && s.h * s.d < INT_MAX, "ops::{}: q {} exceeds BLAS int range", op, q.str());
  return s;
}

}  // namespace

void attention_forward(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v) {
  if (cpu::ran_in_f32(attention_forward, out, lse, q, k, v)) return;
  constexpr std::string_view op = "attention_forward";
  const AttnShape s = attention_shape(op, q, k);
  cpu::dispatch_float(op, q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    attention_forward_kernel<T>(out.data<T>(), lse.data<T>(), q.data<T>(), k.data<T>(), v.data<T>(), s);
  });
}

void attention_backward(Tensor& dq, Tensor& dk, Tensor& dv, const Tensor& dout, const Tensor& q,
                        const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse) {
  if (cpu::ran_in_f32(attention_backward, dq, dk, dv, dout, q, k, v, out, lse)) return;
  constexpr std::string_view op = "attention_backward";
  const AttnShape s = attention_shape(op, q, k);
  cpu::dispatch_float(op, q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    attention_backward_kernel<T>(dq.data<T>(), dk.data<T>(), dv.data<T>(), dout.data<T>(), q.data<T>(),
                                 k.data<T>(), v.data<T>(), out.data<T>(), lse.data<T>(), s);
  });
}

}  // namespace trident::ops::cpu
