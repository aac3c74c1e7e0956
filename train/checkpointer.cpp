#include "train/checkpointer.h"

#include <fmt/format.h>
#include <google/protobuf/util/message_differencer.h>
#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include "core/config/config.h"
#include "core/io/checkpoint_reader.h"
#include "core/runtime/clock.h"
#include "core/runtime/version.h"

namespace trident {

namespace fs = std::filesystem;

namespace {

// Gathers every rank's serialized part of the manifest on rank 0 (as u32 characters: lengths first, then
// padded).
std::vector<config::CheckpointManifest> gather_parts(comm::Communicator& world,
                                                     const config::CheckpointManifest& mine) {
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
  std::vector<config::CheckpointManifest> out(world.size());
  for (int r = 0; r < world.size(); ++r) {
    std::string s(static_cast<size_t>(lens.item(r)), '\0');
    for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(all.data<uint32_t>()[r * longest + i]);
    TRIDENT_CHECK(out[r].ParseFromString(s), "rank {}'s part of the checkpoint manifest does not parse", r);
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

std::string hex64(uint64_t v) {
  return fmt::format("{:016x}", v);
}

// For every piece of parameter i that positions [lo, hi) of the shard hold: fn(region of the global tensor,
// its position in the shard). A rank saves its part of a shard this way and loads its whole shard.
void for_each_shard_region(const zero::DistributedOptimizer::ShardState& s, size_t i, int64_t lo, int64_t hi,
                           const std::function<void(const io::Region&, int64_t)>& fn) {
  const Param& p = s.params->params()[i];
  const int64_t offset = s.layout->offsets[i];
  for (zero::Piece piece : s.shard->intersect(offset, p.local_numel())) {
    // Clip the piece to [lo, hi) of the shard.
    const int64_t from = std::max(piece.shard, lo), to = std::min(piece.shard + piece.n, hi);
    if (from >= to) continue;
    const int64_t local =
        piece.flat + (from - piece.shard) - offset;  // its first element in the local tensor
    for (const io::LocalRegion& r : io::local_regions(p.shard, p.global_shape, local, local + (to - from)))
      fn(r.region, from + (r.local - local));
  }
}

}  // namespace

// A save whose files are being written (async) or about to be committed.
struct Checkpointer::Pending {
  int64_t step = 0;
  std::string tmp_dir, final_dir;
  double start = 0, stall = 0;                    // when it began; how long training waited for it so far
  uint64_t bytes = 0;                             // this rank's
  zero::DistributedOptimizer::Progress progress;  // at the snapshot (an async save commits steps later)
  std::vector<io::StoredPiece> pieces;
  config::CheckpointManifest part;  // this rank's file and pieces, once written
  std::string error;                // why writing failed, if it did
  std::thread writer;
  std::atomic<bool> written{false};

  void write(int rank) {
    try {
      part = io::write_pieces(tmp_dir, fmt::format("rank_{:05d}.bin", rank), rank, pieces);
    } catch (const Error& e) {
      error = e.what();
    }
    pieces.clear();  // the host buffers go as soon as they are on disk
    written = true;
  }
};

Checkpointer::Checkpointer(const config::Config& cfg, ParallelModel& model, comm::Communicator& world,
                           std::string root)
    : cfg_(cfg), model_(model), world_(world), root_(std::move(root)) {}

Checkpointer::~Checkpointer() {
  if (pending_ && pending_->writer.joinable()) pending_->writer.join();  // an error unwinding: no commit
}

std::string Checkpointer::layout() const {
  const config::ParallelConfig& p = cfg_.parallel();
  return fmt::format("tp={} sp={} pp={} v={} dp={} ep={} zero={} shard={} precision={} world={}",
                     model_.tp().size(), p.sequence_parallel() ? 1 : 0, model_.pp().size(),
                     std::max(1, p.virtual_stages()), model_.dp().size(),
                     model_.ep() ? model_.ep()->size() : 1, model_.optimizer().stage(),
                     model_.optimizer().shards(), cfg_.train().precision(), world_.size());
}

std::vector<io::StoredPiece> Checkpointer::snapshot() {
  zero::DistributedOptimizer& opt = model_.optimizer();
  const bool first_tp = model_.tp().rank() == 0;
  std::vector<io::StoredPiece> out;
  for (const zero::DistributedOptimizer::ShardState& s : opt.shard_states()) {
    // The ranks holding this same shard each save an equal part of it: [lo, hi) of the shard's elements.
    const int64_t part = (s.shard->numel + s.holders - 1) / s.holders;
    const int64_t lo = std::min(s.shard->numel, s.holder * part), hi = std::min(s.shard->numel, lo + part);
    if (lo == hi) continue;
    // Host copies of that part: training may go on while they are written.
    const auto copy = [&](const Tensor& t) { return t.flat(lo, {hi - lo}).to(Device::cpu()).clone(); };
    const Tensor weights = copy(opt.shard_weights(s.chunk, s.experts));
    const Tensor exp_avg = copy(s.exp_avg), exp_avg_sq = copy(s.exp_avg_sq);
    const auto& params = s.params->params();
    for (size_t i = 0; i < params.size(); ++i) {
      const Param& p = params[i];
      if (p.duplicate) continue;                                      // the tied embedding's other copy
      if (!s.experts && p.shard.replicated() && !first_tp) continue;  // every tp rank holds it whole
      for_each_shard_region(s, i, lo, hi, [&](const io::Region& region, int64_t at) {
        const Shape n{region.numel()};
        at -= lo;  // the host copies hold [lo, hi)
        out.push_back({io::kWeights + p.name, p.global_shape, region, weights.flat(at, n)});
        out.push_back({io::kExpAvg + p.name, p.global_shape, region, exp_avg.flat(at, n)});
        out.push_back({io::kExpAvgSq + p.name, p.global_shape, region, exp_avg_sq.flat(at, n)});
      });
    }
  }
  return out;
}

void Checkpointer::save(int64_t step) {
  poll(/*wait=*/true);  // one save at a time
  const double start = now_s();
  auto p = std::make_unique<Pending>();
  p->step = step;
  p->start = start;
  p->final_dir = root_ + "/" + io::step_dir_name(step);
  p->tmp_dir = p->final_dir + ".tmp";
  if (world_.rank() == 0) {
    std::error_code ec;
    fs::remove_all(p->tmp_dir, ec);  // a save that crashed before
    fs::create_directories(p->tmp_dir, ec);
    if (ec) fail("cannot create checkpoint directory {}: {}", p->tmp_dir, ec.message());
  }
  world_.barrier();
  p->pieces = snapshot();
  p->progress = model_.optimizer().progress();
  for (const io::StoredPiece& piece : p->pieces) p->bytes += piece.data.nbytes();
  if (cfg_.checkpoint().async()) {
    p->stall = now_s() - start;
    stall_s_ += p->stall;
    Pending* raw = p.get();
    const int rank = world_.rank();
    p->writer = std::thread([raw, rank] { raw->write(rank); });
    pending_ = std::move(p);
    spdlog::info("checkpoint: step {}: state copied to host buffers in {:.3f} s, writing in the background",
                 step, pending_->stall);
    return;
  }
  p->write(world_.rank());
  pending_ = std::move(p);
  poll(/*wait=*/true);
}

void Checkpointer::poll(bool wait) {
  if (!pending_) return;
  const double start = now_s();
  Pending& p = *pending_;
  if (!wait && !all_ok(world_, p.written)) return;  // not every rank's files are on disk yet
  if (p.writer.joinable()) p.writer.join();
  if (!p.error.empty()) spdlog::error("checkpoint: {}", p.error);
  commit(p);
  const double stall = p.stall + (now_s() - start);
  if (cfg_.checkpoint().async())
    stall_s_ += now_s() - start;
  else
    stall_s_ += stall;
  spdlog::info(
      "checkpoint: step {} saved to {} in {:.2f} s ({:.1f} MB from rank {}; training stalled {:.2f} s)",
      p.step, p.final_dir, now_s() - p.start, static_cast<double>(p.bytes) / 1e6, world_.rank(),
      cfg_.checkpoint().async() ? stall : now_s() - p.start);
  pending_.reset();
}

void Checkpointer::commit(Pending& p) {
  agree(world_, p.error.empty(), "writing checkpoint " + p.final_dir);
  const std::vector<config::CheckpointManifest> parts = gather_parts(world_, p.part);
  if (world_.rank() == 0) {
    config::CheckpointManifest m;
    m.set_step(p.step);
    m.set_trident_version(fmt::format("trident {}", kTridentVersion));
    m.set_config(to_text(cfg_));
    m.set_config_hash(hex64(XXH3_64bits(m.config().data(), m.config().size())));
    m.set_layout(layout());
    const zero::DistributedOptimizer::Progress& opt = p.progress;
    config::CheckpointProgress& progress = *m.mutable_progress();
    progress.set_optimizer_steps(opt.steps);
    progress.set_loss_scale(opt.loss_scale);
    progress.set_loss_scale_good_steps(opt.good_steps);
    progress.set_loss_scale_skipped(opt.skipped);
    progress.set_lr_step(p.step);
    progress.set_samples(p.step * cfg_.train().global_batch_size());
    progress.set_tokens(progress.samples() * cfg_.train().seq_len());
    progress.set_rng_seed(cfg_.train().seed());
    for (const config::CheckpointManifest& part : parts) io::merge_manifest(m, part);
    // Testing only (tests/checkpoint/kill.sh): widens the window in which the rank files exist but the
    // manifest does not, so that kills land inside saves.
    if (const char* ms = std::getenv("TRIDENT_TEST_SAVE_DELAY_MS"))
      std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(ms)));
    io::write_manifest(p.tmp_dir, m);
    io::commit_checkpoint(root_, p.tmp_dir, p.final_dir, cfg_.checkpoint().keep());
  }
  world_.barrier();
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
  const double start = now_s();
  io::CheckpointReader reader(dir);
  const config::CheckpointManifest& m = reader.manifest();
  const config::Config saved = parse_config_text(m.config(), dir + "/manifest.pbtxt (config)");
  if (!google::protobuf::util::MessageDifferencer::Equals(saved.model(), cfg_.model()))
    fail("checkpoint {} holds another model: its model section differs from this run's config", dir);
  if (m.layout() != layout() && world_.rank() == 0)
    spdlog::info("checkpoint: resharding {} from layout '{}' to '{}'", dir, m.layout(), layout());

  zero::DistributedOptimizer& opt = model_.optimizer();
  for (const zero::DistributedOptimizer::ShardState& s : opt.shard_states()) {
    const auto& params = s.params->params();
    // The fp32 weights of every parameter this rank holds (its whole local slice; the optimizer keeps its
    // shard of them as masters and rounds the model's copy from them).
    ParamSet values = s.params->mirror(DType::f32, Device::cpu());
    // The moments of the shard's elements only.
    Tensor exp_avg = Tensor::zeros({s.shard->numel}, DType::f32),
           exp_avg_sq = Tensor::zeros({s.shard->numel}, DType::f32);
    for (size_t i = 0; i < params.size(); ++i) {
      const Param& p = params[i];
      const int64_t offset = s.layout->offsets[i];
      std::vector<io::CheckpointReader::Want> weights;
      for (const io::LocalRegion& r : io::local_regions(p.shard, p.global_shape, 0, p.local_numel()))
        weights.push_back({r.region, values.flat_params().flat(offset + r.local, {r.region.numel()})});
      reader.read(io::kWeights + p.name, weights);
      std::vector<io::CheckpointReader::Want> m1, m2;
      for_each_shard_region(s, i, 0, s.shard->numel, [&](const io::Region& region, int64_t at) {
        m1.push_back({region, exp_avg.flat(at, {region.numel()})});
        m2.push_back({region, exp_avg_sq.flat(at, {region.numel()})});
      });
      reader.read(io::kExpAvg + p.name, m1);
      reader.read(io::kExpAvgSq + p.name, m2);
    }
    if (s.params->device().is_cpu()) {
      opt.load_fp32(s.chunk, values, s.experts);
    } else {
      ParamSet on_device = s.params->mirror(DType::f32, s.params->device());
      on_device.flat_params().copy_from(values.flat_params());
      opt.load_fp32(s.chunk, on_device, s.experts);
    }
    Tensor(s.exp_avg).copy_from(exp_avg);
    Tensor(s.exp_avg_sq).copy_from(exp_avg_sq);
  }
  const config::CheckpointProgress& progress = m.progress();
  opt.restore({progress.optimizer_steps(), progress.loss_scale(), progress.loss_scale_good_steps(),
               progress.loss_scale_skipped()});
  spdlog::info("checkpoint: loaded {} in {:.2f} s ({:.1f} MB read by rank {})", dir, now_s() - start,
               static_cast<double>(reader.bytes_read()) / 1e6, world_.rank());
  return m.step();
}

}  // namespace trident
