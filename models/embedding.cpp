#include "models/embedding.h"

#include "core/ops/ops.h"

namespace trident::models {

Embedding::Embedding(ParamSet& params, const ModelSpec& spec) : max_seq_len_(spec.max_seq_len) {
  wte_ = &params.add("embed.wte", {spec.padded_vocab, spec.d_model}, {Init::normal, 0.0, spec.init_std});
  if (spec.gpt2()) {
    wpe_ = &params.add("embed.wpe", {spec.max_seq_len, spec.d_model}, {Init::normal, 0.0, spec.init_std / 2});
  }
}

namespace {
// positions (B, T) i32 = t, cached across calls with the same shape.
const Tensor& positions(Workspace& ws, int64_t B, int64_t T) {
  if (ws.positions.defined() && ws.positions.shape() == Shape{B, T}) return ws.positions;
  ws.positions = Tensor::empty({B, T}, DType::i32);
  int32_t* p = ws.positions.data<int32_t>();
  for (int64_t i = 0; i < B * T; ++i) p[i] = static_cast<int32_t>(i % T);
  return ws.positions;
}
}  // namespace

void Embedding::forward(Tensor& out, const Tensor& tokens, Workspace& ws) const {
  const int64_t B = tokens.dim(0), T = tokens.dim(1), C = out.dim(-1);
  Tensor out2 = out.view({B * T, C});
  ops::embedding_forward(out2, tokens.view({B * T}), wte_->value);
  if (wpe_) {
    if (T > max_seq_len_) fail("sequence of {} tokens exceeds model.max_seq_len {}", T, max_seq_len_);
    ensure(ws.y, out.shape(), out.dtype());
    Tensor pos2 = ws.y.view({B * T, C});
    ops::embedding_forward(pos2, positions(ws, B, T).view({B * T}), wpe_->value);
    ops::add_inplace(out, ws.y);
  }
}

void Embedding::backward(const Tensor& dout, const Tensor& tokens, Workspace& ws) const {
  const int64_t B = tokens.dim(0), T = tokens.dim(1), C = dout.dim(-1);
  ops::embedding_backward(wte_->grad, dout.view({B * T, C}), tokens.view({B * T}));
  if (wpe_) ops::embedding_backward(wpe_->grad, dout.view({B * T, C}), positions(ws, B, T).view({B * T}));
}

}  // namespace trident::models
