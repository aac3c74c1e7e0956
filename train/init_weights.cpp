#include "train/init_weights.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <vector>

#include "core/io/safetensors.h"

namespace trident {

namespace {

// The vocabulary-sized tensors (embedding, untied head) refitted to this layout's padded rows: the first
// vocab_size rows kept, the padding zero.
Tensor fit_vocab_rows(const std::string& name, const Tensor& t, int64_t vocab, int64_t padded) {
  if (t.ndim() != 2 || t.dim(0) == padded) return t;
  if (t.dim(0) < vocab)
    fail("train.init_weights: '{}' has {} rows, fewer than model.vocab_size ({})", name, t.dim(0), vocab);
  Tensor out = Tensor::zeros({padded, t.dim(1)}, t.dtype());  // (Vp, C)
  Tensor real = out.narrow0(0, vocab);
  real.copy_from(t.narrow0(0, vocab));
  return out;
}

// This rank's parameter called `name` (any of its chunks, experts included), or null.
const Param* find_param(ParallelModel& model, const std::string& name) {
  for (size_t c = 0; c < model.num_chunks(); ++c) {
    if (const Param* p = model.chunk(c).params().find(name)) return p;
    if (const Param* p = model.chunk(c).expert_params().find(name)) return p;
  }
  return nullptr;
}

}  // namespace

void load_init_weights(ParallelModel& model, const config::Config& cfg, comm::Communicator& world) {
  const std::string& path = cfg.train().init_weights();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    fail(
        "train.init_weights '{}' is not a file (expected a safetensors file of global weights, such as a "
        "run's "
        "model.safetensors)",
        path);
  std::map<std::string, Tensor> tensors = io::load_safetensors(path).tensors;
  const models::ModelSpec& spec = model.spec();
  for (const char* name : {"embed.wte", "head.weight"}) {
    auto it = tensors.find(name);
    if (it != tensors.end()) it->second = fit_vocab_rows(name, it->second, spec.vocab, spec.padded_vocab);
  }

  // Each rank marks the tensors it holds a parameter for and counts its parameters the file lacks or holds at
  // another shape; the marks and counts are combined over the world (a pipeline stage holds only its own
  // layers), so every rank agrees on whether the file fits before any of them loads it.
  std::vector<std::string> own_problems;
  for (size_t c = 0; c < model.num_chunks(); ++c) {
    for (const ParamSet* set : {&model.chunk(c).params(), &model.chunk(c).expert_params()}) {
      for (const Param& p : set->params()) {
        auto it = tensors.find(p.name);
        if (it == tensors.end())
          own_problems.push_back(fmt::format("it has no tensor '{}'", p.name));
        else if (it->second.shape() != p.global_shape)
          own_problems.push_back(fmt::format("'{}' has shape {}, the model's is {}", p.name,
                                             shape_str(it->second.shape()), shape_str(p.global_shape)));
      }
    }
  }
  const int64_t n = static_cast<int64_t>(tensors.size());
  Tensor marks = Tensor::zeros({n + 1}, DType::f32);  // (n claimed flags, problems)
  int64_t i = 0;
  for (const auto& [name, t] : tensors) marks.data<float>()[i++] = find_param(model, name) ? 1.0f : 0.0f;
  marks.data<float>()[n] = static_cast<float>(own_problems.size());
  if (world.size() > 1) world.all_reduce(marks, comm::ReduceOp::max);
  if (!own_problems.empty()) {
    const size_t shown = std::min<size_t>(own_problems.size(), 3);
    fail("train.init_weights '{}' does not fit the model: {}{}", path,
         fmt::join(own_problems.begin(), own_problems.begin() + shown, "; "),
         own_problems.size() > shown ? fmt::format("; and {} more", own_problems.size() - shown) : "");
  }
  if (marks.data<float>()[n] > 0)
    fail("train.init_weights '{}' does not fit another rank's part of the model (that rank names it)", path);
  i = 0;
  for (const auto& [name, t] : tensors) {
    if (marks.data<float>()[i++] == 0.0f)
      fail("train.init_weights '{}' holds '{}', which is not a parameter of this model", path, name);
  }
  model.load_global(tensors);
  spdlog::info("initial weights: {} tensors from {}", n, path);
}

}  // namespace trident
