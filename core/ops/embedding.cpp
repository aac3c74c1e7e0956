// Token embedding: the one entry of each embedding op: argument checks, then the backend. Token ids live
// where the tensors do, so each backend checks them against the vocabulary itself (ops.h gives the message).
#include "core/ops/cpu/cpu_kernels.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/op_checks.h"

namespace trident::ops {
namespace {

using namespace checks;

// table (V_local, C): the rows [vocab_start, vocab_start + V_local) of a (vocab, C) table; `rows` (out or
// dout) holds one (C) row per token.
void check_embedding(std::string_view op, std::string_view table_name, const Tensor& table,
                     std::string_view rows_name, const Tensor& rows, const Tensor& tokens,
                     int64_t vocab_start, int64_t vocab) {
  require_defined(op, table_name, table);
  require_defined(op, "tokens", tokens);
  TRIDENT_CHECK(table.ndim() == 2, "ops::{}: {} {} should be (V, C)", op, table_name, table.str());
  TRIDENT_CHECK(tokens.dtype() == DType::i32, "ops::{}: tokens {} should hold i32", op, tokens.str());
  TRIDENT_CHECK(vocab_start >= 0 && vocab_start + table.dim(0) <= vocab,
                "ops::{}: the rows [{}, {}) of {} {} are not inside the vocabulary [0, {})", op, vocab_start,
                vocab_start + table.dim(0), table_name, table.str(), vocab);
  TRIDENT_CHECK(rows_of(op, rows_name, rows, table.dim(1)) == tokens.numel(),
                "ops::{}: {} {} does not hold one row per token of {}", op, rows_name, rows.str(),
                tokens.str());
}

// The vocabulary of an embedding over a whole table: its row count (0 for a table the checks then refuse).
int64_t whole_table(const Tensor& table) {
  return table.defined() && table.ndim() == 2 ? table.dim(0) : 0;
}

}  // namespace

void vocab_range_embedding_forward(Tensor& out, const Tensor& tokens, const Tensor& weight,
                                   int64_t vocab_start, int64_t vocab) {
  constexpr std::string_view op = "vocab_range_embedding_forward";
  check_embedding(op, "weight", weight, "out", out, tokens, vocab_start, vocab);
  require_dtype(op, weight.dtype(), {&out});  // a lookup copies rows: one dtype
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(out, tokens, weight))
      return cuda::embedding_forward(op, out, tokens, weight, vocab_start, vocab);
  cpu::embedding_forward(op, out, tokens, weight, vocab_start, vocab);
}

void vocab_range_embedding_backward(Tensor& dweight, const Tensor& dout, const Tensor& tokens,
                                    int64_t vocab_start, int64_t vocab) {
  constexpr std::string_view op = "vocab_range_embedding_backward";
  check_embedding(op, "dweight", dweight, "dout", dout, tokens, vocab_start, vocab);
  require_compute_dtype(op, dweight, {&dout});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(dweight, dout, tokens))
      return cuda::embedding_backward(op, dweight, dout, tokens, vocab_start, vocab);
  cpu::embedding_backward(op, dweight, dout, tokens, vocab_start, vocab);
}

void embedding_forward(Tensor& out, const Tensor& tokens, const Tensor& weight) {
  constexpr std::string_view op = "embedding_forward";
  check_embedding(op, "weight", weight, "out", out, tokens, 0, whole_table(weight));
  require_dtype(op, weight.dtype(), {&out});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(out, tokens, weight))
      return cuda::embedding_forward(op, out, tokens, weight, 0, weight.dim(0));
  cpu::embedding_forward(op, out, tokens, weight, 0, weight.dim(0));
}

void embedding_backward(Tensor& dweight, const Tensor& dout, const Tensor& tokens) {
  constexpr std::string_view op = "embedding_backward";
  check_embedding(op, "dweight", dweight, "dout", dout, tokens, 0, whole_table(dweight));
  require_compute_dtype(op, dweight, {&dout});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(dweight, dout, tokens))
      return cuda::embedding_backward(op, dweight, dout, tokens, 0, dweight.dim(0));
  cpu::embedding_backward(op, dweight, dout, tokens, 0, dweight.dim(0));
}

}  // namespace trident::ops
