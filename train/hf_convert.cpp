#include "train/hf_convert.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include "core/config/config.h"
#include "core/io/safetensors.h"
#include "models/model_spec.h"
#include "train/hf_config.h"

namespace trident {

namespace {

// One Trident tensor and the Hugging Face tensors its rows become, in order.
struct Part {
  std::string hf;
  int64_t rows;  // of the Trident tensor
};
struct TensorMap {
  std::string trident;
  Shape shape;  // Trident's global shape, the vocabulary unpadded
  std::vector<Part> parts;
  bool conv1d = false;  // GPT-2's Conv1D: Hugging Face stores the matrix transposed, (in, out)
  bool vocab = false;   // Trident's rows past vocab_size are padding
};

// A tensor that is one Hugging Face tensor.
TensorMap whole(const std::string& trident, const Shape& shape, const std::string& hf, bool conv1d = false) {
  return {trident, shape, {{hf, shape[0]}}, conv1d && shape.size() == 2, false};
}

std::vector<TensorMap> gpt2_maps(const models::ModelSpec& s) {
  const int64_t C = s.d_model, F = s.d_ff, V = s.vocab;
  std::vector<TensorMap> maps = {{"embed.wte", {V, C}, {{"transformer.wte.weight", V}}, false, true},
                                 whole("embed.wpe", {s.max_seq_len, C}, "transformer.wpe.weight")};
  for (int l = 0; l < s.n_layer; ++l) {
    const std::string t = "blocks." + std::to_string(l), h = "transformer.h." + std::to_string(l);
    for (const char* p : {".weight", ".bias"}) {
      maps.push_back(whole(t + ".attn_norm" + p, {C}, h + ".ln_1" + p));
      maps.push_back(whole(t + ".mlp_norm" + p, {C}, h + ".ln_2" + p));
    }
    maps.push_back(
        whole(t + ".attn.qkv.weight", {3 * C, C}, h + ".attn.c_attn.weight", true));  // (C, 3C) in HF
    maps.push_back(whole(t + ".attn.qkv.bias", {3 * C}, h + ".attn.c_attn.bias"));
    maps.push_back(whole(t + ".attn.proj.weight", {C, C}, h + ".attn.c_proj.weight", true));
    maps.push_back(whole(t + ".attn.proj.bias", {C}, h + ".attn.c_proj.bias"));
    maps.push_back(whole(t + ".mlp.fc.weight", {F, C}, h + ".mlp.c_fc.weight", true));  // (C, F) in HF
    maps.push_back(whole(t + ".mlp.fc.bias", {F}, h + ".mlp.c_fc.bias"));
    maps.push_back(whole(t + ".mlp.proj.weight", {C, F}, h + ".mlp.c_proj.weight", true));  // (F, C) in HF
    maps.push_back(whole(t + ".mlp.proj.bias", {C}, h + ".mlp.c_proj.bias"));
  }
  maps.push_back(whole("final_norm.weight", {C}, "transformer.ln_f.weight"));
  maps.push_back(whole("final_norm.bias", {C}, "transformer.ln_f.bias"));
  if (!s.tie_embeddings) maps.push_back({"head.weight", {V, C}, {{"lm_head.weight", V}}, false, true});
  return maps;
}

std::vector<TensorMap> llama_maps(const models::ModelSpec& s) {
  const int64_t C = s.d_model, F = s.d_ff, V = s.vocab;
  const int64_t q = int64_t{s.n_head} * s.head_dim, kv = int64_t{s.n_kv_head} * s.head_dim;
  std::vector<TensorMap> maps = {{"embed.wte", {V, C}, {{"model.embed_tokens.weight", V}}, false, true}};
  for (int l = 0; l < s.n_layer; ++l) {
    const std::string t = "blocks." + std::to_string(l), h = "model.layers." + std::to_string(l);
    maps.push_back(whole(t + ".attn_norm.weight", {C}, h + ".input_layernorm.weight"));
    maps.push_back({t + ".attn.qkv.weight",
                    {q + 2 * kv, C},
                    {{h + ".self_attn.q_proj.weight", q},
                     {h + ".self_attn.k_proj.weight", kv},
                     {h + ".self_attn.v_proj.weight", kv}}});
    maps.push_back(whole(t + ".attn.proj.weight", {C, q}, h + ".self_attn.o_proj.weight"));
    maps.push_back(whole(t + ".mlp_norm.weight", {C}, h + ".post_attention_layernorm.weight"));
    maps.push_back({t + ".mlp.gate_up.weight",
                    {2 * F, C},
                    {{h + ".mlp.gate_proj.weight", F}, {h + ".mlp.up_proj.weight", F}}});
    maps.push_back(whole(t + ".mlp.down.weight", {C, F}, h + ".mlp.down_proj.weight"));
  }
  maps.push_back(whole("final_norm.weight", {C}, "model.norm.weight"));
  if (!s.tie_embeddings) maps.push_back({"head.weight", {V, C}, {{"lm_head.weight", V}}, false, true});
  return maps;
}

std::vector<TensorMap> tensor_maps(const models::ModelSpec& s) {
  return s.gpt2() ? gpt2_maps(s) : llama_maps(s);
}

// (a, b) -> (b, a), fp32 on the host.
Tensor transposed(const Tensor& t) {
  const int64_t a = t.dim(0), b = t.dim(1);
  Tensor out = Tensor::empty({b, a});
  const float* x = t.data<float>();
  float* y = out.data<float>();
  for (int64_t i = 0; i < a; ++i)
    for (int64_t j = 0; j < b; ++j) y[j * a + i] = x[i * b + j];
  return out;
}

Tensor host_f32(const Tensor& t) {
  const Tensor h = t.to(Device::cpu());
  return h.dtype() == DType::f32 ? h : h.to(DType::f32);
}

// Part p of map m as Hugging Face stores it.
Shape hf_shape(const TensorMap& m, const Part& p) {
  Shape s = m.shape;
  s[0] = p.rows;
  return m.conv1d ? Shape{s[1], s[0]} : s;
}

// What Hugging Face keeps in a state dict besides the weights: GPT-2's causal-mask buffers (older
// transformers), LLaMA's RoPE frequencies (derived from rope_theta).
bool derived_buffer(const std::string& name) {
  const auto ends_with = [&](const std::string& tail) {
    return name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  return ends_with(".attn.bias") || ends_with(".attn.masked_bias") || ends_with(".rotary_emb.inv_freq");
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

std::string hf_class(const models::ModelSpec& s) {
  return s.gpt2() ? "GPT2LMHeadModel" : "LlamaForCausalLM";
}

}  // namespace

HfModel to_hf(const config::Config& cfg_in, const std::map<std::string, Tensor>& global) {
  HfModel out;
  out.config = hf_config_from(cfg_in);  // refuses what Hugging Face cannot express
  config::Config cfg = cfg_in;
  resolve(cfg);
  const models::ModelSpec s = models::ModelSpec::from_config(cfg.model());
  std::set<std::string> used;
  for (const TensorMap& m : tensor_maps(s)) {
    auto it = global.find(m.trident);
    if (it == global.end()) fail("export hf: the weights have no tensor '{}'", m.trident);
    Tensor t = host_f32(it->second);
    if (m.vocab && t.ndim() == 2 && t.dim(0) >= m.shape[0]) t = t.narrow0(0, m.shape[0]);  // drop the padding
    if (t.shape() != m.shape)
      fail("export hf: '{}' has shape {}, the config's model has {}{}", m.trident,
           shape_str(it->second.shape()), shape_str(m.shape),
           m.vocab ? " (plus vocabulary padding rows)" : "");
    int64_t row = 0;
    for (const Part& p : m.parts) {
      const Tensor part = t.narrow0(row, row + p.rows).clone();
      out.tensors[p.hf] = m.conv1d ? transposed(part) : part;
      row += p.rows;
    }
    used.insert(m.trident);
  }
  for (const auto& [name, t] : global) {
    if (!used.count(name))
      fail("export hf: the weights hold '{}', which has no place in {}", name, hf_class(s));
  }
  return out;
}

TridentWeights from_hf(const HfModel& hf, const config::Config& base) {
  const std::string where_config = hf.dir.empty() ? "config.json" : hf.dir + "/config.json";
  const std::string where_weights = hf.dir.empty() ? "model.safetensors" : hf.dir + "/model.safetensors";
  TridentWeights out;
  out.config = trident_config_from(hf.config, base, where_config);
  const models::ModelSpec s = models::ModelSpec::from_config(out.config.model());
  // GPT-2 weights saved from the bare GPT2Model (the Hub's "gpt2") lack the "transformer." prefix.
  std::map<std::string, Tensor> named;
  for (const auto& [name, t] : hf.tensors) {
    const bool bare = s.gpt2() && name.rfind("transformer.", 0) != 0 && name != "lm_head.weight";
    const std::string key = bare ? "transformer." + name : name;
    if (!named.emplace(key, host_f32(t)).second)
      fail("{} holds '{}' twice (with and without a prefix)", where_weights, key);
  }
  std::set<std::string> used;
  for (const TensorMap& m : tensor_maps(s)) {
    Shape shape = m.shape;
    if (m.vocab) shape[0] = s.padded_vocab;
    Tensor t = Tensor::zeros(shape);  // vocabulary padding rows stay zero
    int64_t row = 0;
    for (const Part& p : m.parts) {
      auto it = named.find(p.hf);
      if (it == named.end())
        fail("{} has no tensor '{}'{}", where_weights, p.hf,
             p.hf == "lm_head.weight" ? " (config.json unties the embeddings: tie_word_embeddings false)"
                                      : "");
      if (it->second.shape() != hf_shape(m, p))
        fail("{}: '{}' has shape {}, config.json's model has {}", where_weights, p.hf,
             shape_str(it->second.shape()), shape_str(hf_shape(m, p)));
      Tensor rows = t.narrow0(row, row + p.rows);
      rows.copy_from(m.conv1d ? transposed(it->second) : it->second);
      row += p.rows;
      used.insert(p.hf);
    }
    out.tensors[m.trident] = t;
  }
  for (const auto& [name, t] : named) {
    if (used.count(name) || derived_buffer(name)) continue;
    if (name == "lm_head.weight" && s.tie_embeddings) {
      // A tied head stored anyway must be the embedding itself.
      if (!same_bits(t, out.tensors.at("embed.wte").narrow0(0, s.vocab)))
        fail(
            "{}: lm_head.weight differs from the token embedding, but config.json ties them "
            "(tie_word_embeddings true)",
            where_weights);
      continue;
    }
    fail("{} holds '{}', which Trident's {} has no place for", where_weights, name, hf_class(s));
  }
  return out;
}

HfModel read_hf_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    fail(
        "'{}' is not a directory (expected a Hugging Face model directory: config.json and "
        "model.safetensors)",
        dir);
  if (!fs::exists(dir + "/config.json", ec)) fail("'{}' has no config.json", dir);
  if (!fs::exists(dir + "/model.safetensors", ec)) {
    if (fs::exists(dir + "/model.safetensors.index.json", ec))
      fail(
          "'{}' holds a sharded checkpoint (model.safetensors.index.json): import hf reads one "
          "model.safetensors "
          "(save_pretrained with a max_shard_size above the model's size writes one)",
          dir);
    if (fs::exists(dir + "/pytorch_model.bin", ec))
      fail(
          "'{}' holds pytorch_model.bin only: import hf reads model.safetensors (save_pretrained with "
          "safe_serialization=True writes it)",
          dir);
    fail("'{}' has no model.safetensors", dir);
  }
  HfModel m;
  m.dir = dir;
  std::ifstream in(dir + "/config.json");
  try {
    m.config = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("{}/config.json is not valid JSON: {}", dir, e.what());
  }
  for (auto& [name, t] : io::load_safetensors(dir + "/model.safetensors").tensors)
    m.tensors[name] = host_f32(t);
  return m;
}

void write_hf_dir(const HfModel& model, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail("cannot create output directory '{}': {}", dir, ec.message());
  // transformers refuses a safetensors file without format metadata.
  io::save_safetensors(dir + "/model.safetensors", model.tensors, {{"format", "pt"}});
  std::ofstream out(dir + "/config.json");
  out << model.config.dump(2) << "\n";
  if (!out) fail("cannot write {}/config.json", dir);
}

}  // namespace trident
