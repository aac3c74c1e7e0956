#include "core/io/checkpoint_reader.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstring>
#include <filesystem>
#include <set>
#include <tuple>

#include "core/io/checkpoint_files.h"
#include "core/runtime/error.h"

namespace trident::io {

namespace fs = std::filesystem;

namespace {

DType dtype_named(const std::string& name, const std::string& where) {
  for (DType t : {DType::f32, DType::f64, DType::bf16, DType::f16, DType::i32, DType::u16, DType::u32})
    if (dtype_name(t) == name) return t;
  fail("{}: unknown dtype '{}'", where, name);
}

Region region_of(const config::CheckpointPiece& p) {
  Region r;
  r.offsets.assign(p.offsets().begin(), p.offsets().end());
  r.extents.assign(p.extents().begin(), p.extents().end());
  r.begin = p.begin();
  r.end = p.end();
  return r;
}

}  // namespace

CheckpointReader::CheckpointReader(std::string dir) : dir_(std::move(dir)), manifest_(read_manifest(dir_)) {
  for (const config::CheckpointFile& f : manifest_.files()) {
    const std::string path = dir_ + "/" + f.path();
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) fail("checkpoint file {} is missing", path);
    const uint64_t size = fs::file_size(path, ec);
    if (ec || size != f.bytes())
      fail("checkpoint file {} has {} bytes, the manifest says {} (truncated or replaced)", path, size,
           f.bytes());
  }
  fds_.assign(manifest_.files_size(), -1);
  for (int i = 0; i < manifest_.tensors_size(); ++i) {
    const config::CheckpointTensor& t = manifest_.tensors(i);
    const Shape global = shape(t);
    for (const config::CheckpointPiece& p : t.pieces()) {
      const Region r = region_of(p);
      bool inside = p.file() >= 0 && p.file() < manifest_.files_size() && r.offsets.size() == global.size() &&
                    r.extents.size() == global.size();
      for (size_t d = 0; inside && d < global.size(); ++d)
        inside = r.offsets[d] >= 0 && r.extents[d] >= 0 && r.offsets[d] + r.extents[d] <= global[d];
      inside = inside && r.begin >= 0 && r.begin <= r.end && r.end <= shape_numel(r.extents) &&
               p.bytes() == static_cast<uint64_t>(r.numel()) * dtype_size(dtype_named(t.dtype(), t.name())) &&
               p.offset() + p.bytes() <= manifest_.files(p.file()).bytes();
      if (!inside) fail("{}/manifest.pbtxt: a piece of '{}' lies outside its tensor or file", dir_, t.name());
    }
    tensors_[t.name()] = i;
  }
}

CheckpointReader::~CheckpointReader() {
  for (int fd : fds_)
    if (fd >= 0) ::close(fd);
}

const config::CheckpointTensor* CheckpointReader::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &manifest_.tensors(it->second);
}

Tensor CheckpointReader::read_piece(const config::CheckpointTensor& t, const config::CheckpointPiece& p) {
  const std::string path = dir_ + "/" + manifest_.files(p.file()).path();
  int& fd = fds_.at(p.file());
  if (fd < 0) fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail("checkpoint file {} cannot be opened", path);
  Tensor out = Tensor::empty({p.end() - p.begin()}, dtype_named(t.dtype(), t.name()));
  auto* dst = static_cast<char*>(out.raw());
  uint64_t done = 0;
  while (done < p.bytes()) {
    const ssize_t n = ::pread(fd, dst + done, p.bytes() - done, static_cast<off_t>(p.offset() + done));
    if (n <= 0)
      fail("checkpoint file {}: cannot read the {} bytes of a piece of '{}'", path, p.bytes(), t.name());
    done += static_cast<uint64_t>(n);
  }
  bytes_read_ += p.bytes();
  if (XXH3_64bits(dst, p.bytes()) != p.xxh3())
    fail("checkpoint file {}: the piece of '{}' at byte {}: checksum mismatch (the file is corrupt)", path,
         t.name(), p.offset());
  return out;
}

void CheckpointReader::read(const std::string& name, std::vector<Want>& wants) {
  const config::CheckpointTensor* t = find(name);
  if (t == nullptr) fail("checkpoint {} has no tensor '{}'", dir_, name);
  const DType dtype = dtype_named(t->dtype(), name);
  std::vector<int64_t> covered(wants.size(), 0);
  for (const Want& w : wants)
    TRIDENT_CHECK(w.dest.device().is_cpu() && w.dest.dtype() == dtype && w.dest.numel() == w.region.numel(),
                  "a read of {} into {} elements of {} for a region of {}", name, w.dest.numel(),
                  dtype_name(w.dest.dtype()), w.region.numel());
  const size_t esize = dtype_size(dtype);
  // Pieces with the same region hold the same values (replicas: each is read once).
  std::set<std::tuple<std::vector<int64_t>, std::vector<int64_t>, int64_t, int64_t>> seen;
  for (const config::CheckpointPiece& p : t->pieces()) {
    const Region have = region_of(p);
    if (!seen.emplace(have.offsets, have.extents, have.begin, have.end).second) continue;
    Tensor data;
    for (size_t i = 0; i < wants.size(); ++i) {
      for_each_overlap(wants[i].region, have, [&](int64_t wi, int64_t hi, int64_t n) {
        if (!data.defined()) data = read_piece(*t, p);
        std::memcpy(static_cast<char*>(wants[i].dest.raw()) + wi * esize,
                    static_cast<const char*>(data.raw()) + hi * esize, n * esize);
        covered[i] += n;
      });
    }
  }
  for (size_t i = 0; i < wants.size(); ++i)
    if (covered[i] != wants[i].region.numel())
      fail(
          "checkpoint {}: the stored pieces of '{}' cover {} of the {} elements this rank needs (a piece is "
          "missing)",
          dir_, name, covered[i], wants[i].region.numel());
}

Tensor CheckpointReader::read_whole(const std::string& name) {
  const config::CheckpointTensor* t = find(name);
  if (t == nullptr) fail("checkpoint {} has no tensor '{}'", dir_, name);
  const Shape global = shape(*t);
  std::vector<Want> wants{{Region::whole(global), Tensor::empty(global, dtype_named(t->dtype(), name))}};
  wants[0].dest = wants[0].dest.view({shape_numel(global)});
  read(name, wants);
  return wants[0].dest.view(global);
}

uint64_t CheckpointReader::verify_all() {
  const uint64_t before = bytes_read_;
  for (const config::CheckpointTensor& t : manifest_.tensors())
    for (const config::CheckpointPiece& p : t.pieces()) read_piece(t, p);
  return bytes_read_ - before;
}

std::map<std::string, Tensor> read_model_weights(CheckpointReader& reader) {
  std::map<std::string, Tensor> out;
  for (const config::CheckpointTensor& t : reader.manifest().tensors())
    if (const std::string param = weights_parameter(t.name()); !param.empty())
      out[param] = reader.read_whole(t.name());
  if (out.empty()) fail("checkpoint {} holds no model weights", reader.dir());
  return out;
}

}  // namespace trident::io
