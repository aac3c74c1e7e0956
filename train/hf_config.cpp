#include "train/hf_config.h"

#include <fmt/format.h>

#include <climits>
#include <string>

#include "core/config/config.h"
#include "core/data/tokenizer.h"
#include "core/runtime/error.h"
#include "train/validate.h"

namespace trident {

namespace {

using nlohmann::json;

// The decimal a float config value was written as (1e-05, not 9.99999974737875e-06), so config.json reads
// like the config and a value survives export and import unchanged.
double decimal(float v) {
  return std::stod(fmt::format("{}", v));
}

// Reads config.json values, naming the file and the key in every complaint. A key set to null counts as left
// out, as transformers treats it.
struct HfReader {
  const json& j;
  const std::string& where;

  const json* find(const std::string& key) const {
    auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
  }
  int32_t integer(const std::string& key) const {
    const json* v = find(key);
    if (!v) fail("{}: '{}' is missing", where, key);
    if (!v->is_number_integer() || v->get<int64_t>() < 0 || v->get<int64_t>() > INT32_MAX)
      fail("{}: '{}' should be a non-negative integer, not {}", where, key, v->dump());
    return static_cast<int32_t>(v->get<int64_t>());
  }
  int32_t integer(const std::string& key, int32_t fallback) const {
    return find(key) ? integer(key) : fallback;
  }
  double number(const std::string& key, double fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_number()) fail("{}: '{}' should be a number, not {}", where, key, v->dump());
    return v->get<double>();
  }
  bool flag(const std::string& key, bool fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_boolean()) fail("{}: '{}' should be true or false, not {}", where, key, v->dump());
    return v->get<bool>();
  }
  std::string text(const std::string& key, const std::string& fallback) const {
    const json* v = find(key);
    if (!v) return fallback;
    if (!v->is_string()) fail("{}: '{}' should be a string, not {}", where, key, v->dump());
    return v->get<std::string>();
  }
};

// "gpt2" or "llama", from `architectures` (when given) and `model_type`.
std::string hf_arch(const HfReader& r) {
  const std::string type = r.text("model_type", "");
  std::string arch = type == "gpt2" ? "gpt2" : type == "llama" ? "llama" : "";
  if (const json* a = r.find("architectures")) {
    if (!a->is_array() || a->size() != 1 || !(*a)[0].is_string())
      fail("{}: 'architectures' should list one class, not {}", r.where, a->dump());
    const std::string name = (*a)[0].get<std::string>();
    const std::string from_class = name == "GPT2LMHeadModel"    ? "gpt2"
                                   : name == "LlamaForCausalLM" ? "llama"
                                                                : "";
    if (from_class.empty())
      fail("{}: architecture {} is not supported; import hf reads GPT2LMHeadModel and LlamaForCausalLM",
           r.where, name);
    if (!arch.empty() && arch != from_class)
      fail("{}: model_type '{}' does not match the architecture {}", r.where, type, name);
    arch = from_class;
  }
  if (arch.empty())
    fail(
        "{}: model_type '{}' is not supported; import hf reads gpt2 (GPT2LMHeadModel) and llama "
        "(LlamaForCausalLM)",
        r.where, type);
  return arch;
}

void read_gpt2(const HfReader& r, config::ModelConfig& m) {
  const std::string act = r.text("activation_function", "gelu_new");
  if (act != "gelu_new" && act != "gelu_pytorch_tanh")
    fail("{}: activation_function '{}' is not supported: Trident's GPT-2 uses the tanh GELU (gelu_new)",
         r.where, act);
  if (!r.flag("scale_attn_weights", true))
    fail("{}: scale_attn_weights false is not supported: Trident scales attention scores by 1/sqrt(head_dim)",
         r.where);
  if (r.flag("scale_attn_by_inverse_layer_idx", false))
    fail("{}: scale_attn_by_inverse_layer_idx is not supported", r.where);
  if (r.flag("add_cross_attention", false)) fail("{}: add_cross_attention is not supported", r.where);
  m.set_n_layer(r.integer("n_layer"));
  m.set_d_model(r.integer("n_embd"));
  m.set_n_head(r.integer("n_head"));
  m.set_n_kv_head(m.n_head());
  m.set_d_ff(r.integer("n_inner", 4 * m.d_model()));
  m.set_vocab_size(r.integer("vocab_size"));
  m.set_max_seq_len(r.integer("n_positions"));
  m.set_norm_eps(static_cast<float>(r.number("layer_norm_epsilon", 1e-5)));
  m.set_tie_embeddings(r.flag("tie_word_embeddings", true));
}

// rope_theta from transformers 4's top-level keys or 5's rope_parameters; any RoPE scaling is refused.
double llama_rope_theta(const HfReader& r) {
  if (const json* s = r.find("rope_scaling"))
    fail("{}: rope_scaling {} is not supported: Trident's RoPE has no scaling", r.where, s->dump());
  double theta = r.number("rope_theta", 10000.0);
  if (const json* p = r.find("rope_parameters")) {
    if (!p->is_object()) fail("{}: 'rope_parameters' should be an object, not {}", r.where, p->dump());
    const std::string where = r.where + " rope_parameters";
    const HfReader params{*p, where};
    const std::string type = params.text("rope_type", "default");
    if (type != "default")
      fail("{}: rope_type '{}' is not supported: Trident's RoPE has no scaling", where, type);
    for (const auto& [key, value] : p->items()) {
      if (key != "rope_type" && key != "rope_theta" && !value.is_null())
        fail("{}: '{}' is not supported (Trident's RoPE takes rope_theta only)", where, key);
    }
    theta = params.number("rope_theta", theta);
  }
  return theta;
}

void read_llama(const HfReader& r, config::ModelConfig& m) {
  const std::string act = r.text("hidden_act", "silu");
  if (act != "silu")
    fail("{}: hidden_act '{}' is not supported: Trident's LLaMA MLP is SwiGLU (silu)", r.where, act);
  if (r.flag("attention_bias", false))
    fail("{}: attention_bias is not supported: Trident's LLaMA has no biases", r.where);
  if (r.flag("mlp_bias", false))
    fail("{}: mlp_bias is not supported: Trident's LLaMA has no biases", r.where);
  m.set_rope_theta(static_cast<float>(llama_rope_theta(r)));
  m.set_n_layer(r.integer("num_hidden_layers"));
  m.set_d_model(r.integer("hidden_size"));
  m.set_n_head(r.integer("num_attention_heads"));
  m.set_n_kv_head(r.integer("num_key_value_heads", m.n_head()));
  if (m.n_head() > 0 && r.find("head_dim") && r.integer("head_dim") * m.n_head() != m.d_model())
    fail("{}: head_dim {} is not supported: Trident's heads are hidden_size / num_attention_heads = {} wide",
         r.where, r.integer("head_dim"), m.d_model() / m.n_head());
  m.set_d_ff(r.integer("intermediate_size"));
  m.set_vocab_size(r.integer("vocab_size"));
  m.set_max_seq_len(r.integer("max_position_embeddings"));
  m.set_norm_eps(static_cast<float>(r.number("rms_norm_eps", 1e-6)));
  m.set_tie_embeddings(r.flag("tie_word_embeddings", false));
}

// The tokenizer's end-of-text id, when Trident can build the tokenizer the config names and the id is in the
// model's vocabulary; else null (transformers does without).
json end_of_text(const config::Config& cfg) {
  uint32_t eot = 0;
  try {
    const auto& d = cfg.data();
    eot = data::make_tokenizer(d.tokenizer(), d.vocab_path(), d.merges_path())->eot();
  } catch (const Error&) {
    return nullptr;  // a gpt2 tokenizer whose files are not where the config says
  }
  return eot < static_cast<uint32_t>(cfg.model().vocab_size()) ? json(eot) : json(nullptr);
}

}  // namespace

std::string trident_arch_of(const json& hf, const std::string& where) {
  if (!hf.is_object()) fail("{}: expected a JSON object", where);
  return hf_arch(HfReader{hf, where});
}

json hf_config_from(const config::Config& cfg_in) {
  config::Config cfg = cfg_in;
  resolve(cfg);
  const config::ModelConfig& m = cfg.model();
  if (m.moe().num_experts() > 0)
    fail("export hf does not support mixture-of-experts models yet (model.moe.num_experts is {})",
         m.moe().num_experts());
  const json eot = end_of_text(cfg);
  if (m.arch() == "gpt2") {
    if (m.n_kv_head() != m.n_head())
      fail(
          "export hf: Hugging Face's GPT-2 has no grouped-query attention (model.n_kv_head {} differs from "
          "model.n_head {})",
          m.n_kv_head(), m.n_head());
    return {{"architectures", json::array({"GPT2LMHeadModel"})},
            {"model_type", "gpt2"},
            {"vocab_size", m.vocab_size()},
            {"n_positions", m.max_seq_len()},
            {"n_embd", m.d_model()},
            {"n_layer", m.n_layer()},
            {"n_head", m.n_head()},
            {"n_inner", m.d_ff()},
            {"activation_function", "gelu_new"},
            {"layer_norm_epsilon", decimal(m.norm_eps())},
            {"initializer_range", decimal(m.init_std())},
            {"tie_word_embeddings", m.tie_embeddings()},
            {"scale_attn_weights", true},
            {"scale_attn_by_inverse_layer_idx", false},
            {"reorder_and_upcast_attn", false},
            {"resid_pdrop", 0.0},
            {"embd_pdrop", 0.0},
            {"attn_pdrop", 0.0},
            {"bos_token_id", eot},
            {"eos_token_id", eot},
            {"dtype", "float32"},
            {"use_cache", true}};
  }
  if (m.arch() == "llama") {
    const double theta = decimal(m.rope_theta());
    // rope_theta for transformers 4, rope_parameters for 5.
    return {{"architectures", json::array({"LlamaForCausalLM"})},
            {"model_type", "llama"},
            {"vocab_size", m.vocab_size()},
            {"max_position_embeddings", m.max_seq_len()},
            {"hidden_size", m.d_model()},
            {"intermediate_size", m.d_ff()},
            {"num_hidden_layers", m.n_layer()},
            {"num_attention_heads", m.n_head()},
            {"num_key_value_heads", m.n_kv_head()},
            {"head_dim", head_dim(m)},
            {"hidden_act", "silu"},
            {"rms_norm_eps", decimal(m.norm_eps())},
            {"rope_theta", theta},
            {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", theta}}},
            {"attention_bias", false},
            {"mlp_bias", false},
            {"attention_dropout", 0.0},
            {"initializer_range", decimal(m.init_std())},
            {"tie_word_embeddings", m.tie_embeddings()},
            {"pretraining_tp", 1},
            {"bos_token_id", eot},
            {"eos_token_id", eot},
            {"dtype", "float32"},
            {"use_cache", true}};
  }
  fail("export hf: model.arch '{}' is not one of: gpt2, llama", m.arch());
}

config::Config trident_config_from(const json& hf, const config::Config& base, const std::string& where) {
  const std::string arch = trident_arch_of(hf, where);
  const HfReader r{hf, where};
  if (r.find("quantization_config"))
    fail("{}: quantized models (quantization_config) are not supported; import the unquantized weights",
         where);
  config::Config c = base;
  config::ModelConfig& m = *c.mutable_model();
  m.set_arch(arch);
  *m.mutable_moe() = default_config().model().moe();  // dense
  if (arch == "gpt2") {
    read_gpt2(r, m);
  } else {
    read_llama(r, m);
  }
  m.set_init_std(static_cast<float>(r.number("initializer_range", m.init_std())));
  config::TrainConfig& t = *c.mutable_train();
  if (t.seq_len() == 0 || t.seq_len() > m.max_seq_len()) t.set_seq_len(m.max_seq_len());
  t.set_init_weights("");
  resolve(c);
  try {
    validate(c);
  } catch (const Error& e) {
    fail("{} describes a model Trident cannot train as configured: {}", where, e.what());
  }
  return c;
}

}  // namespace trident
