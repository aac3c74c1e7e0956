#pragma once
// Helpers for the multi-rank tests: the world communicator set up by multirank_main.cpp, and inputs that are
// a deterministic function of (rank, index), so every rank can compute every other rank's data and the
// result.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/comm/communicator.h"
#include "core/runtime/error.h"
#include "tests/unit/test_util.h"

namespace trident::test {

comm::Communicator& world();

// Small integers: every partial sum over <= 8 ranks stays exact in bf16 (8 significant bits, < 256).
inline double value(int rank, int64_t i) {
  return static_cast<double>((3 * rank + 5 * i + 1) % 23);
}

inline Tensor make(DType dtype, int64_t n, const std::function<double(int64_t)>& f) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(f(i));
  return Tensor::from_vector(v, {n}, dtype);
}

// What a reduction of `sum` over n ranks gives in `dtype` for avg: the sum divided on completion, rounded as
// the dtype rounds (integer division for integer tensors).
inline double avg_of(DType dtype, double sum, int n) {
  switch (dtype) {
    case DType::f32:
      return static_cast<float>(static_cast<float>(sum) / static_cast<float>(n));
    case DType::bf16:
      return static_cast<float>(bf16(static_cast<float>(sum) / static_cast<float>(n)));
    case DType::f16:
      return static_cast<float>(f16(static_cast<float>(sum) / static_cast<float>(n)));
    case DType::f64:
      return sum / n;
    default:
      return std::floor(sum / n);  // inputs are non-negative
  }
}

// The expected reduction over ranks q = 0..size-1 of the values v(q), as a rank computes it locally.
inline double reduce(comm::ReduceOp op, DType dtype, int size, const std::function<double(int)>& v) {
  double sum = 0, max = v(0);
  for (int q = 0; q < size; ++q) {
    sum += v(q);
    max = std::max(max, v(q));
  }
  if (op == comm::ReduceOp::max) return max;
  return op == comm::ReduceOp::avg ? avg_of(dtype, sum, size) : sum;
}

inline bool is_float(DType t) {
  return t == DType::f32 || t == DType::f64 || t == DType::bf16 || t == DType::f16;
}

// Exact for integers and for float values that are exactly representable; a relative 1e-6 otherwise.
#define EXPECT_VALUE(dtype, got, want, ...)                                        \
  do {                                                                             \
    if (::trident::test::is_float(dtype))                                          \
      EXPECT_NEAR(got, want, 1e-6 * std::max(1.0, std::abs(want))) << __VA_ARGS__; \
    else                                                                           \
      EXPECT_EQ(got, want) << __VA_ARGS__;                                         \
  } while (0)

inline const std::vector<DType>& all_dtypes() {
  static const std::vector<DType> d{DType::f32, DType::f64, DType::bf16, DType::f16,
                                    DType::i32, DType::u16, DType::u32};
  return d;
}

}  // namespace trident::test
