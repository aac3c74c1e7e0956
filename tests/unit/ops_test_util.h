#pragma once
// Helpers for the op tests: seeded random tensors, tensor comparison, and the finite-difference gradient
// check.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/ops/ops.h"

namespace trident::test {

// Standard normal values (times `scale`) from a seeded generator: fresh, non-trivial inputs.
inline Tensor randn(const Shape& shape, std::mt19937& gen, DType dtype = DType::f64, double scale = 1.0) {
  std::normal_distribution<double> dist(0.0, scale);
  Tensor t = Tensor::empty(shape, DType::f64);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(gen);
  return dtype == DType::f64 ? t : t.to(dtype);
}

inline Tensor int_tensor(const std::vector<int32_t>& values) {
  Tensor t = Tensor::empty({static_cast<int64_t>(values.size())}, DType::i32);
  std::copy(values.begin(), values.end(), t.data<int32_t>());
  return t;
}

// sum(a * r) in double: the scalar loss L whose gradient w.r.t. a is r.
inline double dot_sum(const Tensor& a, const Tensor& r) {
  EXPECT_EQ(a.numel(), r.numel());
  double s = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) s += a.item(i) * r.item(i);
  return s;
}

inline double max_abs(const Tensor& a) {
  double m = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(a.item(i)));
  return m;
}

// Elementwise |a - b| <= atol + rtol * |b|.
inline void expect_close(const Tensor& a, const Tensor& b, double rtol, double atol,
                         const std::string& what) {
  ASSERT_EQ(a.numel(), b.numel()) << what;
  int reported = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = a.item(i), y = b.item(i);
    if (!(std::abs(x - y) <= atol + rtol * std::abs(y))) {
      ADD_FAILURE() << what << ": element " << i << " is " << x << ", expected " << y;
      if (++reported == 5) return;
    }
  }
}

// Tolerance of a reduced-precision result against its f64 twin: max |a - b| <= rel * max(1, max |b|).
inline void expect_close_scaled(const Tensor& a, const Tensor& b, double rel, const std::string& what) {
  ASSERT_EQ(a.numel(), b.numel()) << what;
  const double bound = rel * std::max(1.0, max_abs(b));
  double worst = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::abs(a.item(i) - b.item(i)));
  EXPECT_LE(worst, bound) << what;
}

// Finite-difference check of an analytic gradient. `x` (f64) is perturbed in place by +-h and restored;
// `loss` recomputes L from the current inputs. Pass: |analytic - fd| <= tol * max(1, |analytic|, |fd|).
// With h = 1e-6 in double the central difference is accurate to ~1e-9 on these small shapes.
constexpr double kFdStep = 1e-6;
constexpr double kFdTol = 1e-6;

inline void check_grad(const std::string& what, Tensor& x, const Tensor& analytic,
                       const std::function<double()>& loss) {
  ASSERT_EQ(x.dtype(), DType::f64) << what;
  ASSERT_EQ(x.numel(), analytic.numel()) << what;
  ASSERT_GT(max_abs(analytic), 1e-3) << what << ": gradient is trivially zero, the check would prove nothing";
  double* p = x.data<double>();
  double worst = 0.0;
  int reported = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double saved = p[i];
    p[i] = saved + kFdStep;
    const double lp = loss();
    p[i] = saved - kFdStep;
    const double lm = loss();
    p[i] = saved;
    const double fd = (lp - lm) / (2 * kFdStep);
    const double a = analytic.item(i);
    const double err = std::abs(a - fd) / std::max({1.0, std::abs(a), std::abs(fd)});
    worst = std::max(worst, err);
    if (err > kFdTol && reported++ < 5) {
      ADD_FAILURE() << what << ": element " << i << " analytic " << a << " vs finite difference " << fd;
    }
  }
  ::testing::Test::RecordProperty(what + "_max_rel_err", fmt::format("{:.2e}", worst));
}

}  // namespace trident::test
