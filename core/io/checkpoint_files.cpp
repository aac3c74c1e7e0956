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

DType dtype_named(const std::string& name, const std::string& where) {
  for (DType t : {DType::f32, DType::f64, DType::bf16, DType::f16, DType::i32, DType::u16, DType::u32})
    if (dtype_name(t) == name) return t;
  fail("{}: unknown dtype '{}'", where, name);
}

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

void write_tensor_file(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       config::CheckpointFile& file) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail("cannot write checkpoint file {}", path);
  uint64_t offset = 0;
  file.clear_entries();
  for (const auto& [key, t] : tensors) {
    TRIDENT_CHECK(t.device().is_cpu(), "checkpoint entry {} is not on the host", key);
    const uint64_t bytes = t.nbytes();
    config::CheckpointEntry& e = *file.add_entries();
    e.set_key(key);
    e.set_dtype(std::string(dtype_name(t.dtype())));
    for (int64_t d : t.shape()) e.add_shape(d);
    e.set_offset(offset);
    e.set_bytes(bytes);
    e.set_xxh3(XXH3_64bits(t.raw(), bytes));
    out.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(bytes));
    offset += bytes;
  }
  out.close();
  if (!out) fail("writing checkpoint file {} failed (disk full?)", path);
  fsync_path(path);
  file.set_bytes(offset);
}

std::map<std::string, Tensor> read_tensor_file(const std::string& dir, const config::CheckpointFile& file) {
  const std::string path = dir + "/" + file.path();
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("checkpoint file {} is missing", path);
  const uint64_t size = fs::file_size(path);
  if (size != file.bytes())
    fail("checkpoint file {} has {} bytes, the manifest says {} (truncated or replaced)", path, size,
         file.bytes());
  std::map<std::string, Tensor> out;
  for (const config::CheckpointEntry& e : file.entries()) {
    const std::string where = fmt::format("{} entry '{}'", path, e.key());
    Shape shape(e.shape().begin(), e.shape().end());
    Tensor t = Tensor::empty(shape, dtype_named(e.dtype(), where));
    if (t.nbytes() != e.bytes() || e.offset() + e.bytes() > size)
      fail("{}: {} bytes at {} do not fit its shape {} or the file", where, e.bytes(), e.offset(),
           shape_str(shape));
    in.seekg(static_cast<std::streamoff>(e.offset()));
    in.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(e.bytes()));
    if (!in) fail("{}: cannot read its {} bytes", where, e.bytes());
    if (XXH3_64bits(t.raw(), e.bytes()) != e.xxh3())
      fail("{}: checksum mismatch (the file is corrupt)", where);
    out.emplace(e.key(), std::move(t));
  }
  return out;
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
