#include "models/embedding.h"

#include "core/ops/ops.h"
#include "core/runtime/spans.h"

namespace trident::models {

Embedding::Embedding(ParamSet& params, const ModelSpec& spec, tp::TpGroup group)
    : group_(group),
      sequence_parallel_(spec.sequence_parallel && group.size > 1),
      wte_(params, "embed.wte", spec.padded_vocab, spec.d_model, spec.init_std, group, sequence_parallel_),
      max_seq_len_(spec.max_seq_len) {
  if (spec.gpt2()) {
    wpe_ = &params.add("embed.wpe", {spec.max_seq_len, spec.d_model}, {Init::normal, 0.0, spec.init_std / 2});
    // Under sequence parallelism each rank adds positions to its own block of rows only.
    if (sequence_parallel_) wpe_->partial = GradPartial::tensor;
  }
}

const Tensor& Embedding::positions(Workspace& ws, int64_t rows, int64_t T, int64_t pos0) const {
  // Row i of this rank is row first + i of the flattened (B*T) micro-batch, at position
  // pos0 + (first + i) % T.
  const int64_t first = sequence_parallel_ ? group_.rank * rows : 0;
  if (ws.positions.defined() && ws.positions.numel() == rows && ws.positions_T == T && ws.positions_0 == pos0)
    return ws.positions;
  Tensor host = Tensor::empty({rows}, DType::i32);
  int32_t* p = host.data<int32_t>();
  for (int64_t i = 0; i < rows; ++i) p[i] = static_cast<int32_t>(pos0 + (first + i) % T);
  ws.positions = host.to(wpe_->value.device());  // built once per shape, kept
  ws.positions_T = T;
  ws.positions_0 = pos0;
  return ws.positions;
}

void Embedding::forward(Tensor& out, const Tensor& tokens, Workspace& ws, int64_t pos0) const {
  const int64_t T = tokens.dim(1);
  spans::Span span(spans::Kind::embedding, spans::Phase::forward, 0, (wpe_ ? 2.0 : 1.0) * out.nbytes());
  wte_.forward(out, tokens.view({tokens.numel()}));
  if (wpe_) {
    if (pos0 == 0 && T > max_seq_len_)
      fail("sequence of {} tokens exceeds model.max_seq_len {}", T, max_seq_len_);
    if (pos0 + T > max_seq_len_)
      fail("positions [{}, {}) exceed model.max_seq_len {}", pos0, pos0 + T, max_seq_len_);
    ensure(ws.y, out.shape(), out.dtype(), out.device());
    ops::embedding_forward(ws.y, positions(ws, out.dim(0), T, pos0), wpe_->value);
    ops::add_inplace(out, ws.y);
  }
}

void Embedding::backward(const Tensor& dout, const Tensor& tokens, Workspace& ws) const {
  spans::Span span(spans::Kind::embedding, spans::Phase::backward, 0, (wpe_ ? 2.0 : 1.0) * dout.nbytes());
  wte_.backward(dout, tokens.view({tokens.numel()}));
  if (wpe_) ops::embedding_backward(wpe_->grad, dout, positions(ws, dout.dim(0), tokens.dim(1)));
}

}  // namespace trident::models
