#include "train/model_logits.h"

#include <algorithm>
#include <cstring>

#include "core/config/config.h"
#include "core/io/param_io.h"
#include "models/transformer.h"

namespace trident {

Tensor model_logits(const config::Config& cfg_in, const std::map<std::string, Tensor>& global,
                    const Tensor& tokens) {
  config::Config cfg = cfg_in;
  resolve(cfg);
  // The run's tensor-parallel size fixes its vocabulary padding, so its weights load as saved.
  models::ModelSpec spec = models::ModelSpec::from_config(cfg.model(), cfg.parallel().tensor());
  spec.dtype = DType::f32;
  spec.device = Device::cpu();
  models::Transformer model(spec);
  io::load_params(model.params(), global);
  TRIDENT_CHECK(tokens.ndim() == 2 && tokens.dtype() == DType::i32, "tokens {} should be (B, T) i32",
                tokens.str());
  const int64_t B = tokens.dim(0), T = tokens.dim(1), V = spec.vocab, Vp = spec.padded_vocab;
  if (T > spec.max_seq_len) fail("{} tokens per sequence exceed model.max_seq_len ({})", T, spec.max_seq_len);
  models::ModelActs acts;
  model.forward(acts, tokens, Tensor{});
  const Tensor padded = acts.head.logits.to(Device::cpu()).to(DType::f32);  // (B*T, Vp)
  Tensor out = Tensor::empty({B, T, V});
  for (int64_t r = 0; r < B * T; ++r)
    std::memcpy(out.data<float>() + r * V, padded.data<float>() + r * Vp, sizeof(float) * V);
  return out;
}

Tensor probe_tokens(const config::Config& cfg) {
  const int64_t V = cfg.model().vocab_size(), T = std::min<int64_t>(64, cfg.model().max_seq_len());
  Tensor tokens = Tensor::empty({2, T}, DType::i32);
  int32_t* t = tokens.data<int32_t>();
  for (int64_t i = 0; i < 2 * T; ++i) t[i] = static_cast<int32_t>((7919 * i + 13) % V);
  t[2 * T - 1] = static_cast<int32_t>(V - 1);
  return tokens;
}

}  // namespace trident
