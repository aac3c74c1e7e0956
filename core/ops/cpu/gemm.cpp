// GEMM and linear layer kernels on CPU: OpenBLAS sgemm/dgemm, row-major.
#include <cblas.h>

#include <climits>
#include <vector>

#include "core/ops/cpu/cpu_common.h"
#include "core/ops/cpu/cpu_kernels.h"

namespace trident::ops::cpu {
namespace {

// out (M, N) = alpha * op(a) (M, K) @ op(b) (K, N) + beta * out, all row-major and contiguous.
template <typename T>
void gemm(T* out, const T* a, const T* b, int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b,
          double alpha, double beta) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // op(a) @ op(b) is all zeros; BLAS implementations disagree on this corner
    for (int64_t i = 0; i < m * n; ++i) out[i] = beta == 0.0 ? T(0) : static_cast<T>(beta * out[i]);
    return;
  }
  TRIDENT_CHECK(m < INT_MAX && n < INT_MAX && k < INT_MAX, "ops::matmul: ({}, {}, {}) exceeds BLAS int range",
                m, n, k);
  const auto ta = trans_a ? CblasTrans : CblasNoTrans;
  const auto tb = trans_b ? CblasTrans : CblasNoTrans;
  const int lda = static_cast<int>(trans_a ? m : k);  // a is stored (K, M) when transposed, else (M, K)
  const int ldb = static_cast<int>(trans_b ? k : n);
  const int M = static_cast<int>(m), N = static_cast<int>(n), K = static_cast<int>(k);
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, static_cast<float>(alpha), a, lda, b, ldb,
                static_cast<float>(beta), out, N);
  } else {
    cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, out, N);
  }
}

// dbias (C) += column sums of dout (N, C). Parallel over column blocks so the sum order is fixed.
template <typename T>
void accumulate_column_sums(T* dbias, const T* dout, int64_t n, int64_t c) {
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (c + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n * c > cpu::kParallelGrain)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kBlock, c1 = std::min(c, c0 + kBlock);
    double acc[kBlock] = {};
    for (int64_t r = 0; r < n; ++r) {
      const T* row = dout + r * c;
      for (int64_t j = c0; j < c1; ++j) acc[j - c0] += row[j];
    }
    for (int64_t j = c0; j < c1; ++j) dbias[j] = static_cast<T>(dbias[j] + acc[j - c0]);
  }
}

}  // namespace

void matmul(Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, double alpha,
            double beta) {
  if (cpu::ran_in_f32(matmul, out, a, b, trans_a, trans_b, alpha, beta)) return;
  const auto [m, n, k] = checks::matmul_shape(a, b, trans_a, trans_b);
  cpu::dispatch_float("matmul", a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    gemm<T>(out.data<T>(), a.data<T>(), b.data<T>(), m, n, k, trans_a, trans_b, alpha, beta);
  });
}

void linear_forward(Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias) {
  if (cpu::ran_in_f32(linear_forward, out, in, weight, bias)) return;
  const auto [n, oc, ic] = checks::linear_shape(in, weight);
  cpu::dispatch_float("linear_forward", in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* y = out.data<T>();
    double beta = 0.0;
    if (bias.defined()) {  // seed every row with the bias, then let the GEMM add on top
      const T* b = bias.data<T>();
#pragma omp parallel for schedule(static) if (n * oc > cpu::kParallelGrain)
      for (int64_t r = 0; r < n; ++r) std::copy(b, b + oc, y + r * oc);
      beta = 1.0;
    }
    gemm<T>(y, in.data<T>(), weight.data<T>(), n, oc, ic, false, true, 1.0, beta);
  });
}

void linear_backward(Tensor& din, Tensor& dweight, Tensor& dbias, const Tensor& dout, const Tensor& in,
                     const Tensor& weight) {
  if (cpu::ran_in_f32(linear_backward, din, dweight, dbias, dout, in, weight)) return;
  const auto [n, oc, ic] = checks::linear_shape(in, weight);
  cpu::dispatch_float("linear_backward", in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    // din (N, IC) = dout (N, OC) @ weight (OC, IC)
    if (din.defined())
      gemm<T>(din.data<T>(), dout.data<T>(), weight.data<T>(), n, ic, oc, false, false, 1.0, 0.0);
    // dweight (OC, IC) += dout^T (OC, N) @ in (N, IC)
    if (dweight.defined()) {
      gemm<T>(dweight.data<T>(), dout.data<T>(), in.data<T>(), oc, ic, n, true, false, 1.0, 1.0);
    }
    if (dbias.defined()) accumulate_column_sums<T>(dbias.data<T>(), dout.data<T>(), n, oc);
  });
}

}  // namespace trident::ops::cpu
