#include "train/checkpointer.h"

#include <fmt/format.h>
#include <google/protobuf/util/message_differencer.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "core/config/config.h"
#include "core/io/checkpoint_files.h"
#include "core/mesh/device_mesh.h"
#include "core/runtime/clock.h"

namespace trident {

namespace fs = std::filesystem;

namespace {

constexpr const char* kVersion = "trident 0.1";

// Gathers every rank's serialized CheckpointFile on rank 0 (as u32 characters: lengths first, then padded).
std::vector<config::CheckpointFile> gather_files(comm::Communicator& world,
                                                 const config::CheckpointFile& mine) {
  const std::string bytes = mine.SerializeAsString();
  Tensor len = Tensor::full({1}, static_cast<double>(bytes.size()), DType::f64);
  Tensor lens = Tensor::empty({world.size()}, DType::f64);
  world.all_gather(lens, len);
  int64_t longest = 0;
  for (int r = 0; r < world.size(); ++r) longest = std::max(longest, static_cast<int64_t>(lens.item(r)));
  Tensor padded = Tensor::zeros({longest}, DType::u32);
  for (size_t i = 0; i < bytes.size(); ++i) padded.data<uint32_t>()[i] = static_cast<uint8_t>(bytes[i]);
  Tensor all = Tensor::empty({longest * world.size()}, DType::u32);
  world.all_gather(all, padded);
  std::vector<config::CheckpointFile> out(world.size());
  for (int r = 0; r < world.size(); ++r) {
    std::string s(static_cast<size_t>(lens.item(r)), '\0');
    for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(all.data<uint32_t>()[r * longest + i]);
    TRIDENT_CHECK(out[r].ParseFromString(s), "rank {}'s checkpoint file list does not parse", r);
  }
  return out;
}

// Whether every rank succeeded (an all-reduce of the failures).
bool all_ok(comm::Communicator& world, bool ok) {
  Tensor bad = Tensor::full({1}, ok ? 0.0 : 1.0, DType::f64);
  if (world.size() > 1) world.all_reduce(bad, comm::ReduceOp::max);
  return bad.item(0) == 0.0;
}

// One rank's failure becomes every rank's error.
void agree(comm::Communicator& world, bool ok, const std::string& what) {
  if (!all_ok(world, ok)) fail("{} failed on another rank (its own error says why)", what);
}

}  // namespace

Checkpointer::Checkpointer(const config::Config& cfg, ParallelModel& model, comm::Communicator& world,
                           std::string root)
    : cfg_(cfg), model_(model), world_(world), root_(std::move(root)) {}

std::string Checkpointer::layout() const {
  const config::ParallelConfig& p = cfg_.parallel();
  return fmt::format("tp={} sp={} pp={} v={} dp={} ep={} zero={} shard={} precision={} world={}",
                     model_.tp().size(), p.sequence_parallel() ? 1 : 0, model_.pp().size(),
                     std::max(1, p.virtual_stages()), model_.dp().size(),
                     model_.ep() ? model_.ep()->size() : 1, model_.optimizer().stage(),
                     model_.optimizer().shards(), cfg_.train().precision(), world_.size());
}

double Checkpointer::save(int64_t step) {
  const double start = now_s();
  const std::string final_dir = root_ + "/" + io::step_dir_name(step), tmp_dir = final_dir + ".tmp";
  if (world_.rank() == 0) {
    std::error_code ec;
    fs::remove_all(tmp_dir, ec);  // a save that crashed before
    fs::create_directories(tmp_dir, ec);
    if (ec) fail("cannot create checkpoint directory {}: {}", tmp_dir, ec.message());
  }
  world_.barrier();

  // What this rank owns.
  std::map<std::string, Tensor> tensors;
  for (size_t c = 0; c < model_.num_chunks(); ++c) {
    models::Transformer& chunk = model_.chunk(c);
    const std::string prefix = "chunk" + std::to_string(c) + ".";
    if (model_.dp().rank() == 0 && chunk.params().flat_params().defined())
      tensors[prefix + "params"] = chunk.params().flat_params().to(Device::cpu()).clone();
    if (chunk.expert_params().finalized() && model_.edp()->rank() == 0 &&
        chunk.expert_params().flat_params().defined())
      tensors[prefix + "experts.params"] = chunk.expert_params().flat_params().to(Device::cpu()).clone();
  }
  for (auto& [key, t] : model_.optimizer().state_dict()) tensors["optim." + key] = t.to(Device::cpu());

  config::CheckpointFile mine;
  mine.set_rank(world_.rank());
  mine.set_path(fmt::format("rank_{:05d}.bin", world_.rank()));
  bool ok = true;
  std::string error;
  try {
    io::write_tensor_file(tmp_dir + "/" + mine.path(), tensors, mine);
  } catch (const Error& e) {
    ok = false;
    error = e.what();
  }
  if (!ok) spdlog::error("checkpoint: {}", error);
  agree(world_, ok, "writing checkpoint " + final_dir);
  const std::vector<config::CheckpointFile> files = gather_files(world_, mine);
  if (world_.rank() == 0) {
    config::CheckpointManifest m;
    m.set_step(step);
    m.set_trident_version(kVersion);
    m.set_config(to_text(cfg_));
    m.set_layout(layout());
    for (const config::CheckpointFile& f : files) *m.add_files() = f;
    io::write_manifest(tmp_dir, m);
    io::commit_checkpoint(root_, tmp_dir, final_dir, cfg_.checkpoint().keep());
  }
  world_.barrier();
  return now_s() - start;
}

int64_t Checkpointer::load(const std::string& dir) {
  if (dir != "auto") return load_from(dir);
  // The newest complete checkpoint that reads back; a corrupt one is reported and skipped.
  for (const std::string& candidate : io::complete_checkpoints(root_)) {
    int64_t step = -1;
    std::string error;
    try {
      step = load_from(candidate);
    } catch (const Error& e) {
      error = e.what();
    }
    if (all_ok(world_, step >= 0)) return step;
    if (world_.rank() == 0)
      spdlog::warn("--resume auto: skipping {}: {}", candidate,
                   error.empty() ? "another rank could not read it" : error);
  }
  return -1;
}

int64_t Checkpointer::load_from(const std::string& dir) {
  const config::CheckpointManifest m = io::read_manifest(dir);
  if (m.layout() != layout())
    fail(
        "checkpoint {} was saved under layout '{}', this run is '{}'; resuming under another layout "
        "(resharding) is not built yet",
        dir, m.layout(), layout());
  const config::Config saved = parse_config_text(m.config(), dir + "/manifest.pbtxt (config)");
  if (!google::protobuf::util::MessageDifferencer::Equals(saved.model(), cfg_.model()))
    fail("checkpoint {} holds another model: its model section differs from this run's config", dir);
  if (m.files_size() != world_.size())
    fail("checkpoint {} lists {} rank files for {} ranks", dir, m.files_size(), world_.size());

  // This rank's own file, and the files of the ranks that wrote its parameters.
  const DeviceMesh mesh(world_.size(), mesh_sizes(cfg_.parallel()), cfg_.parallel().order());
  const int rank = world_.rank();
  const int dense_owner = mesh.group_of(rank, {Axis::dp, Axis::cp}).front();
  const int expert_owner = model_.ep() ? mesh.group_of(rank, {Axis::edp}).front() : rank;
  const auto file_of = [&](int r) -> const config::CheckpointFile& {
    for (const config::CheckpointFile& f : m.files())
      if (f.rank() == r) return f;
    fail("checkpoint {} has no file of rank {}", dir, r);
  };
  const std::map<std::string, Tensor> own = io::read_tensor_file(dir, file_of(rank));
  const std::map<std::string, Tensor> dense =
      dense_owner == rank ? own : io::read_tensor_file(dir, file_of(dense_owner));
  const std::map<std::string, Tensor> experts = expert_owner == rank ? own
                                                : expert_owner == dense_owner
                                                    ? dense
                                                    : io::read_tensor_file(dir, file_of(expert_owner));
  const auto restore = [&](const std::map<std::string, Tensor>& from, const std::string& key,
                           ParamSet& params) {
    auto it = from.find(key);
    if (!params.flat_params().defined()) return;  // ZeRO-3: the masters are the parameters
    if (it == from.end()) fail("checkpoint {}: no '{}' for this rank", dir, key);
    if (it->second.numel() != params.flat_params().numel())
      fail("checkpoint {}: '{}' has {} elements, this rank's parameters {}", dir, key, it->second.numel(),
           params.flat_params().numel());
    params.flat_params().copy_from(it->second);
  };
  for (size_t c = 0; c < model_.num_chunks(); ++c) {
    models::Transformer& chunk = model_.chunk(c);
    const std::string prefix = "chunk" + std::to_string(c) + ".";
    restore(dense, prefix + "params", chunk.params());
    if (chunk.expert_params().finalized()) restore(experts, prefix + "experts.params", chunk.expert_params());
  }
  std::map<std::string, Tensor> state;
  for (const auto& [key, t] : own)
    if (key.rfind("optim.", 0) == 0) state[key.substr(6)] = t;
  model_.optimizer().load_state_dict(state);
  return m.step();
}

}  // namespace trident
