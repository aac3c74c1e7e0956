#include "core/io/checkpoint_files.h"

#include <fcntl.h>
#include <google/protobuf/text_format.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/runtime/error.h"

namespace trident::io {

namespace fs = std::filesystem;

namespace {

constexpr const char* kManifest = "manifest.pbtxt";

}  // namespace

std::string step_dir_name(int64_t step) {
  return fmt::format("step_{:08d}", step);
}

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail("cannot open {} to sync it to disk", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) fail("cannot sync {} to disk", path);
}

config::CheckpointManifest write_pieces(const std::string& dir, const std::string& file, int rank,
                                        const std::vector<StoredPiece>& pieces) {
  const std::string path = dir + "/" + file;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail("cannot write checkpoint file {}", path);
  config::CheckpointManifest m;
  std::map<std::string, config::CheckpointTensor*> tensors;
  uint64_t offset = 0;
  for (const StoredPiece& p : pieces) {
    const Tensor& t = p.data;
    TRIDENT_CHECK(t.device().is_cpu() && t.numel() == p.region.numel(),
                  "checkpoint piece of {}: {} elements on {} for a region of {}", p.tensor, t.numel(),
                  t.device().str(), p.region.numel());
    config::CheckpointTensor*& ct = tensors[p.tensor];
    if (ct == nullptr) {
      ct = m.add_tensors();
      ct->set_name(p.tensor);
      ct->set_dtype(std::string(dtype_name(t.dtype())));
      for (int64_t d : p.global) ct->add_shape(d);
    }
    const uint64_t bytes = t.nbytes();
    config::CheckpointPiece& piece = *ct->add_pieces();
    piece.set_file(0);
    piece.set_offset(offset);
    piece.set_bytes(bytes);
    piece.set_xxh3(XXH3_64bits(t.raw(), bytes));
    for (int64_t d : p.region.offsets) piece.add_offsets(d);
    for (int64_t d : p.region.extents) piece.add_extents(d);
    piece.set_begin(p.region.begin);
    piece.set_end(p.region.end);
    out.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(bytes));
    offset += bytes;
  }
  out.close();
  if (!out) fail("writing checkpoint file {} failed (disk full?)", path);
  fsync_path(path);
  config::CheckpointFile& f = *m.add_files();
  f.set_rank(rank);
  f.set_path(file);
  f.set_bytes(offset);
  return m;
}

void merge_manifest(config::CheckpointManifest& into, const config::CheckpointManifest& part) {
  TRIDENT_CHECK(part.files_size() == 1, "a rank's part of the manifest lists {} files", part.files_size());
  const int file = into.files_size();
  *into.add_files() = part.files(0);
  std::map<std::string, config::CheckpointTensor*> tensors;
  for (config::CheckpointTensor& t : *into.mutable_tensors()) tensors[t.name()] = &t;
  for (const config::CheckpointTensor& t : part.tensors()) {
    config::CheckpointTensor*& ct = tensors[t.name()];
    if (ct == nullptr) {
      ct = into.add_tensors();
      ct->set_name(t.name());
      ct->set_dtype(t.dtype());
      *ct->mutable_shape() = t.shape();
    } else {
      TRIDENT_CHECK(ct->dtype() == t.dtype() && std::equal(ct->shape().begin(), ct->shape().end(),
                                                           t.shape().begin(), t.shape().end()),
                    "ranks disagree on the dtype or shape of {}", t.name());
    }
    for (const config::CheckpointPiece& p : t.pieces()) {
      config::CheckpointPiece& q = *ct->add_pieces();
      q = p;
      q.set_file(file);
    }
  }
}

void write_manifest(const std::string& dir, const config::CheckpointManifest& manifest) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(manifest, &text);
  const std::string path = dir + "/" + kManifest;
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) fail("cannot write {}", path);
  fsync_path(path);
}

config::CheckpointManifest read_manifest(const std::string& dir) {
  const std::string path = dir + "/" + kManifest;
  std::ifstream in(path);
  if (!in) fail("{} has no manifest ({}): not a complete checkpoint", dir, kManifest);
  std::stringstream text;
  text << in.rdbuf();
  config::CheckpointManifest m;
  if (!google::protobuf::TextFormat::ParseFromString(text.str(), &m))
    fail("{} is not a checkpoint manifest", path);
  return m;
}

void commit_checkpoint(const std::string& root, const std::string& tmp_dir, const std::string& final_dir,
                       int keep) {
  fsync_path(tmp_dir);
  std::error_code ec;
  fs::remove_all(final_dir, ec);  // a step saved again (a resumed run redoing it)
  fs::rename(tmp_dir, final_dir, ec);
  if (ec) fail("cannot rename {} to {}: {}", tmp_dir, final_dir, ec.message());
  fsync_path(root);
  const std::string latest = root + "/latest", tmp = latest + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << fs::path(final_dir).filename().string() << "\n";
    out.close();
    if (!out) fail("cannot write {}", tmp);
  }
  fsync_path(tmp);
  fs::rename(tmp, latest, ec);
  if (ec) fail("cannot rename {} to {}: {}", tmp, latest, ec.message());
  fsync_path(root);
  const std::vector<std::string> complete = complete_checkpoints(root);
  for (size_t i = std::max(keep, 1); i < complete.size(); ++i) fs::remove_all(complete[i], ec);
}

std::string resolve_checkpoint_dir(const std::string& path) {
  std::error_code ec;
  if (fs::exists(fs::path(path) / kManifest, ec)) return path;
  for (const fs::path& root : {fs::path(path), fs::path(path) / "checkpoints"}) {
    std::ifstream latest(root / "latest");
    std::string name;
    if (latest >> name) return (root / name).string();
  }
  if (!fs::exists(path, ec)) fail("checkpoint '{}' does not exist", path);
  fail(
      "'{}' is not a checkpoint: no {} (a step directory), latest (a checkpoint root) or checkpoints/latest "
      "(a run directory)",
      path, kManifest);
}

std::vector<std::string> complete_checkpoints(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || name.rfind("step_", 0) != 0 || name.find(".tmp") != std::string::npos)
      continue;
    if (fs::exists(entry.path() / kManifest)) out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end(), std::greater<>());  // zero-padded step numbers: newest first
  return out;
}

}  // namespace trident::io
