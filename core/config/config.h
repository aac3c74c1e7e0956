#pragma once
// A run's configuration: the protobuf schema in trident.proto, plus the four steps every entry point takes
// in the same order:
//
//   Config c = load_config(path);      // defaults first, then the file merged over them
//   apply_overrides(c, sets);          // --set a.b.c=value, each through protobuf reflection
//   resolve(c, world_size);            // derived values (n_kv_head 0 -> n_head, d_ff 0 -> rule, ...)
//   validate(c, world_size);           // every problem at once, as one trident::Error (train/validate.h)
//
// Every default lives in default_config() (config_defaults.cpp) and nowhere else.
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/trident.pb.h"

namespace trident {

// Sentinel for optim.min_lr: "not set, use lr / 10" (nanoGPT's ratio), filled in by resolve().
inline constexpr float kMinLrFromLr = -1.0f;

config::Config default_config();

// Reads a config file: .pbtxt/.txtpb/.textproto (protobuf text format) or .json (the proto's field names).
// Defaults are applied first, so a field written explicitly (even as 0 or false) overrides its default.
config::Config load_config(const std::string& path);

// Parses the text of a config (as load_config does for a file); `name` is used in error messages.
config::Config parse_config_text(const std::string& text, const std::string& name = "<config>");
config::Config parse_config_json(const std::string& text, const std::string& name = "<config>");

// Each entry is "a.b.c=value" setting one scalar field (numbers are range-checked, bools are true/false/1/0,
// strings are taken verbatim). Throws trident::Error naming the entry on any mistake.
void apply_overrides(config::Config& cfg, const std::vector<std::string>& sets);

// Fills in derived values; idempotent. world_size is only used when parallel.data is 0 ("whatever ranks
// remain") to size the default global batch. runtime.* is left alone.
void resolve(config::Config& cfg, int world_size = 1);

// Every problem core can see in the (resolved copy of the) config, in plain words; empty when it is good.
// The complete check, with what only the pipeline knows (schedules), is validate() in train/validate.h.
std::vector<std::string> config_problems(const config::Config& cfg, int world_size = 1);
// Throws one trident::Error listing every problem: "config has 3 problems:\n  - ...\n  - ..."; nothing when
// the list is empty.
void throw_config_problems(const std::vector<std::string>& problems);

// Protobuf text format with every field written, zeros included, so load_config(to_text(c)) == c.
std::string to_text(const config::Config& cfg);
// FNV-1a of the deterministic serialization: equal configs hash equal on every rank and every run.
uint64_t config_hash(const config::Config& cfg);

// Data-parallel size: parallel.data, or when 0 the ranks left after tensor and pipeline parallelism.
int data_parallel_size(const config::Config& cfg, int world_size = 1);
// vocab_size rounded up to a multiple of lcm(vocab_pad_multiple, tensor_parallel): the rows of the embedding
// and the head, split evenly over the tensor-parallel ranks. When tensor_parallel divides vocab_pad_multiple
// the result does not depend on it, so checkpoint shapes agree across layouts.
int64_t padded_vocab(const config::ModelConfig& m, int tensor_parallel = 1);
// d_model / n_head (0 when n_head is not positive).
int head_dim(const config::ModelConfig& m);

}  // namespace trident
