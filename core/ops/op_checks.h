#pragma once
// Argument checks of the ops' public entries (core/ops/<op>.cpp), written once for both backends: each
// failure names the op, the argument and what was expected.
#include <initializer_list>
#include <string>
#include <string_view>

#include "core/tensor/tensor.h"

namespace trident::ops::checks {

inline void require_defined(std::string_view op, std::string_view name, const Tensor& t) {
  TRIDENT_CHECK(t.defined(), "ops::{}: {} is undefined", op, name);
}

// Every defined tensor in `tensors` holds `dtype`.
inline void require_dtype(std::string_view op, DType dtype, std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors) {
    TRIDENT_CHECK(!t->defined() || t->dtype() == dtype, "ops::{}: {} should hold {}", op, t->str(),
                  dtype_name(dtype));
  }
}

// The dtype an argument computes in: bf16/f16 are read as f32 (ops.h), the others compute as they are.
inline DType compute_dtype(DType dtype) {
  return dtype == DType::bf16 || dtype == DType::f16 ? DType::f32 : dtype;
}

// Every defined tensor in `tensors` computes in the dtype `ref` computes in: one dtype, except that bf16/f16
// storage may mix with f32. A backend narrows this where its kernels need one dtype (the CUDA ops do).
inline void require_compute_dtype(std::string_view op, const Tensor& ref,
                                  std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors) {
    TRIDENT_CHECK(!t->defined() || compute_dtype(t->dtype()) == compute_dtype(ref.dtype()),
                  "ops::{}: {} should hold {} (or bf16/f16 storage with f32)", op, t->str(),
                  dtype_name(ref.dtype()));
  }
}

inline void require_shape(std::string_view op, std::string_view name, const Tensor& t, const Shape& shape) {
  TRIDENT_CHECK(t.defined() && t.shape() == shape, "ops::{}: {} is {}, expected shape {}", op, name,
                t.defined() ? t.str() : std::string("undefined"), shape_str(shape));
}

inline void require_numel(std::string_view op, std::string_view name, const Tensor& t, int64_t numel) {
  TRIDENT_CHECK(t.defined() && t.numel() == numel, "ops::{}: {} is {}, expected {} elements", op, name,
                t.defined() ? t.str() : std::string("undefined"), numel);
}

// Rows of a tensor read as (N, C): its last dimension must be C; N = numel / C.
inline int64_t rows_of(std::string_view op, std::string_view name, const Tensor& t, int64_t c) {
  TRIDENT_CHECK(t.defined() && t.ndim() >= 1 && t.dim(-1) == c,
                "ops::{}: {} is {}, expected last dimension {}", op, name,
                t.defined() ? t.str() : std::string("undefined"), c);
  return c == 0 ? 0 : t.numel() / c;
}

// Rows of a per-channel row op (the norms): weight (C), `in` read as (N, C). Returns N.
inline int64_t channel_rows(std::string_view op, const Tensor& in, const Tensor& weight) {
  require_defined(op, "weight", weight);
  TRIDENT_CHECK(weight.ndim() == 1, "ops::{}: weight {} should be (C)", op, weight.str());
  return rows_of(op, "in", in, weight.dim(0));
}

// out (M, N) = op(a) (M, K) @ op(b) (K, N).
struct MatmulDims {
  int64_t m, n, k;
};

// The dims of a product the entry has checked (the backends' view of it).
inline MatmulDims matmul_shape(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  return {trans_a ? a.dim(1) : a.dim(0), trans_b ? b.dim(0) : b.dim(1), trans_a ? a.dim(0) : a.dim(1)};
}

// matmul's checks: defined 2-D tensors of one compute dtype, matching inner dimensions, out (M, N).
inline MatmulDims matmul_dims(const Tensor& out, const Tensor& a, const Tensor& b, bool trans_a,
                              bool trans_b) {
  constexpr std::string_view op = "matmul";
  require_defined(op, "a", a);
  require_defined(op, "b", b);
  require_defined(op, "out", out);
  TRIDENT_CHECK(a.ndim() == 2 && b.ndim() == 2 && out.ndim() == 2,
                "ops::matmul: expects 2-D tensors, got {}, {}, {}", a.str(), b.str(), out.str());
  require_compute_dtype(op, a, {&b, &out});
  const int64_t m = trans_a ? a.dim(1) : a.dim(0);
  const int64_t k = trans_a ? a.dim(0) : a.dim(1);
  const int64_t kb = trans_b ? b.dim(1) : b.dim(0);
  const int64_t n = trans_b ? b.dim(0) : b.dim(1);
  TRIDENT_CHECK(k == kb, "ops::matmul: inner dimensions differ: op(a) is ({}, {}), op(b) is ({}, {})", m, k,
                kb, n);
  require_shape(op, "out", out, {m, n});
  return {m, n, k};
}

// The linear layer: in (N, IC) rows, weight (OC, IC), and `rows` (out or dout) (N, OC).
struct LinearDims {
  int64_t n, oc, ic;
};

// The dims of a linear layer the entry has checked (the backends' view of it).
inline LinearDims linear_shape(const Tensor& in, const Tensor& weight) {
  const int64_t oc = weight.dim(0), ic = weight.dim(1);
  return {ic == 0 ? 0 : in.numel() / ic, oc, ic};
}

// The shape checks both linear ops share; `rows_name` names `rows` in the messages.
inline LinearDims linear_dims(std::string_view op, std::string_view rows_name, const Tensor& rows,
                              const Tensor& in, const Tensor& weight) {
  require_defined(op, "weight", weight);
  TRIDENT_CHECK(weight.ndim() == 2, "ops::{}: weight {} should be (OC, IC)", op, weight.str());
  const int64_t oc = weight.dim(0), ic = weight.dim(1);
  const int64_t n = rows_of(op, "in", in, ic);
  TRIDENT_CHECK(rows_of(op, rows_name, rows, oc) == n, "ops::{}: {} {} vs in {}", op, rows_name, rows.str(),
                in.str());
  return {n, oc, ic};
}

// Causal attention: q (B, T, H, D), k and v (B, T, Hkv, D).
struct AttentionDims {
  int64_t b, t, h, hkv, d;
};

// The layout checks of q and k: 4-D, H a multiple of Hkv, D > 0. The entry then checks k and v against the
// returned dims; each backend calls it again for the dims, and checks its own index limits.
inline AttentionDims attention_dims(std::string_view op, const Tensor& q, const Tensor& k) {
  require_defined(op, "q", q);
  require_defined(op, "k", k);
  TRIDENT_CHECK(q.ndim() == 4 && k.ndim() == 4,
                "ops::{}: q {} and k {} should be (B, T, H, D) and (B, T, Hkv, D)", op, q.str(), k.str());
  const AttentionDims s{q.dim(0), q.dim(1), q.dim(2), k.dim(2), q.dim(3)};
  TRIDENT_CHECK(s.hkv > 0 && s.h % s.hkv == 0, "ops::{}: {} query heads are not a multiple of {} kv heads",
                op, s.h, s.hkv);
  TRIDENT_CHECK(s.d > 0, "ops::{}: head dim of q {} is zero", op, q.str());
  return s;
}

}  // namespace trident::ops::checks
