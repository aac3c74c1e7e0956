// trident checkpoint inspect DIR | export DIR OUT.safetensors
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/io/checkpoint_files.h"
#include "core/io/checkpoint_reader.h"
#include "core/io/safetensors.h"
#include "tools/cli/commands.h"

namespace trident::cli {

namespace {

std::string shape_text(const config::CheckpointTensor& t) {
  std::string s = "(";
  for (int i = 0; i < t.shape_size(); ++i) s += (i ? ", " : "") + std::to_string(t.shape(i));
  return s + ")";
}

void inspect(const std::string& path, bool verify) {
  io::CheckpointReader reader(io::resolve_checkpoint_dir(path));
  const config::CheckpointManifest& m = reader.manifest();
  const config::CheckpointProgress& p = m.progress();
  fmt::print("checkpoint {}\n", reader.dir());
  fmt::print("  step {} | {} | config hash {}\n", m.step(), m.trident_version(), m.config_hash());
  fmt::print("  layout: {}\n", m.layout());
  fmt::print(
      "  progress: optimizer step {}, lr step {}, {} samples, {} tokens, loss scale {} ({} good steps, {} "
      "skipped), rng seed {} (counter-based)\n",
      p.optimizer_steps(), p.lr_step(), p.samples(), p.tokens(), p.loss_scale(), p.loss_scale_good_steps(),
      p.loss_scale_skipped(), p.rng_seed());
  uint64_t total = 0;
  for (const config::CheckpointFile& f : m.files()) {
    fmt::print("  file {:<16} rank {:>4} {:>12} bytes\n", f.path(), f.rank(), f.bytes());
    total += f.bytes();
  }
  fmt::print("  {:<48} {:<16} {:>5} {:>6} {:>12}\n", "tensor", "global shape", "dtype", "pieces", "bytes");
  int64_t params = 0;
  for (const config::CheckpointTensor& t : m.tensors()) {
    uint64_t bytes = 0;
    for (const config::CheckpointPiece& piece : t.pieces()) bytes += piece.bytes();
    fmt::print("  {:<48} {:<16} {:>5} {:>6} {:>12}\n", t.name(), shape_text(t), t.dtype(), t.pieces_size(),
               bytes);
    if (!io::weights_parameter(t.name()).empty()) params += shape_numel(reader.shape(t));
  }
  fmt::print("  {} tensors, {:.3f}M parameters, {} files, {:.1f} MB\n", m.tensors_size(),
             static_cast<double>(params) / 1e6, m.files_size(), static_cast<double>(total) / 1e6);
  if (!verify) return;
  const uint64_t bytes = reader.verify_all();
  int pieces = 0;
  for (const config::CheckpointTensor& t : m.tensors()) pieces += t.pieces_size();
  fmt::print("  verified: all {} pieces ({:.1f} MB) match their XXH3-64 checksums\n", pieces,
             static_cast<double>(bytes) / 1e6);
}

// The model at global shapes, one tensor in memory at a time.
void export_safetensors(const std::string& path, const std::string& out) {
  io::CheckpointReader reader(io::resolve_checkpoint_dir(path));
  std::vector<io::SafetensorsWriter::Entry> entries;
  for (const config::CheckpointTensor& t : reader.manifest().tensors())
    if (const std::string param = io::weights_parameter(t.name()); !param.empty())
      entries.push_back({param, DType::f32, reader.shape(t)});
  if (entries.empty()) fail("checkpoint {} holds no model weights", reader.dir());
  // By name, with the config as metadata: byte for byte the model.safetensors a run writes at that step.
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  io::SafetensorsWriter writer(out, entries, {{"config", reader.manifest().config()}});
  for (const io::SafetensorsWriter::Entry& e : writer.order())
    writer.write(reader.read_whole(io::kWeights + e.name));
  writer.close();
  fmt::print("wrote {}: {} tensors at their global shapes from {} (step {}, {:.1f} MB read)\n", out,
             entries.size(), reader.dir(), reader.manifest().step(),
             static_cast<double>(reader.bytes_read()) / 1e6);
}

}  // namespace

void register_checkpoint(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("checkpoint", "Inspect a checkpoint or export its model");
  cmd->require_subcommand(1);
  cmd->footer(
      "A checkpoint is a step directory (RUN/checkpoints/step_NNNNNNNN), a checkpoint root (its `latest`) or "
      "a run "
      "directory (its checkpoints/latest).");

  auto dir = std::make_shared<std::string>();
  auto no_verify = std::make_shared<bool>(false);
  CLI::App* ins =
      cmd->add_subcommand("inspect", "Step, layout, progress, tensors and sizes; verifies every checksum");
  ins->add_option("checkpoint", *dir, "checkpoint directory")->required();
  ins->add_flag("--no-verify", *no_verify, "skip reading every piece to check its checksum");
  ins->callback([dir, no_verify] { inspect(*dir, !*no_verify); });

  auto src = std::make_shared<std::string>(), out = std::make_shared<std::string>();
  CLI::App* exp = cmd->add_subcommand("export", "Write the model at its global shapes to a safetensors file");
  exp->add_option("checkpoint", *src, "checkpoint directory")->required();
  exp->add_option("out", *out, "output .safetensors file (the format of a run's model.safetensors)")
      ->required();
  exp->callback([src, out] { export_safetensors(*src, *out); });
}

}  // namespace trident::cli
