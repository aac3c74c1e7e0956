#include "core/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <tuple>
#include <vector>

namespace trident::io {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace {

using nlohmann::json;

// Bigger than any header a sane writer produces; guards against allocating a garbage length.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

std::optional<DType> dtype_from_tag(const std::string& tag) {
  if (tag == "F32") return DType::f32;
  if (tag == "F64") return DType::f64;
  if (tag == "BF16") return DType::bf16;
  if (tag == "F16") return DType::f16;
  if (tag == "I32") return DType::i32;
  if (tag == "U16") return DType::u16;
  if (tag == "U32") return DType::u32;
  return std::nullopt;
}

const char* dtype_tag(DType t) {
  switch (t) {
    case DType::f32:
      return "F32";
    case DType::f64:
      return "F64";
    case DType::bf16:
      return "BF16";
    case DType::f16:
      return "F16";
    case DType::i32:
      return "I32";
    case DType::u16:
      return "U16";
    case DType::u32:
      return "U32";
  }
  return "?";
}

// One header entry, validated on its own; cross-entry checks (overlap) come after.
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin;
  uint64_t end;
};

Entry parse_entry(const std::string& path, const std::string& name, const json& v, uint64_t data_bytes) {
  auto bad = [&](const std::string& why) -> Error {
    return Error(fmt::format("safetensors file '{}': tensor '{}': {}", path, name, why));
  };
  if (!v.is_object()) throw bad("header entry is not a JSON object");
  auto dt = v.find("dtype");
  auto sh = v.find("shape");
  auto off = v.find("data_offsets");
  if (dt == v.end() || !dt->is_string()) throw bad("missing or non-string \"dtype\"");
  if (sh == v.end() || !sh->is_array()) throw bad("missing or non-array \"shape\"");
  if (off == v.end() || !off->is_array() || off->size() != 2)
    throw bad("\"data_offsets\" must be [begin, end]");

  Entry e;
  e.name = name;
  const std::string tag = dt->get<std::string>();
  auto dtype = dtype_from_tag(tag);
  if (!dtype)
    throw bad(fmt::format("unsupported dtype \"{}\" (supported: F32, F64, BF16, I32, U16, U32)", tag));
  if (*dtype == DType::f16) throw bad("dtype F16 is not supported yet (convert to F32 or BF16)");
  e.dtype = *dtype;

  uint64_t bytes = dtype_size(e.dtype);
  for (const json& d : *sh) {
    if (!d.is_number_unsigned())
      throw bad(fmt::format("shape {} has a non-integer or negative dimension", sh->dump()));
    const uint64_t n = d.get<uint64_t>();
    if (n > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(bytes, n, &bytes))
      throw bad(fmt::format("shape {} is too large", sh->dump()));
    e.shape.push_back(static_cast<int64_t>(n));
  }
  for (const json& o : *off)
    if (!o.is_number_unsigned())
      throw bad(fmt::format("data_offsets {} are not non-negative integers", off->dump()));
  e.begin = (*off)[0].get<uint64_t>();
  e.end = (*off)[1].get<uint64_t>();
  if (e.begin > e.end) throw bad(fmt::format("data_offsets [{}, {}] are reversed", e.begin, e.end));
  if (e.end > data_bytes)
    throw bad(fmt::format("data_offsets [{}, {}] run past the {} data bytes in the file (truncated?)",
                          e.begin, e.end, data_bytes));
  if (e.end - e.begin != bytes)
    throw bad(fmt::format("shape {} of {} needs {} bytes but data_offsets [{}, {}] hold {}",
                          shape_str(e.shape), tag, bytes, e.begin, e.end, e.end - e.begin));
  return e;
}

}  // namespace

TensorFile load_safetensors(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail("safetensors file '{}' does not exist", path);
  const uint64_t file_bytes = std::filesystem::file_size(path, ec);
  if (ec) fail("safetensors file '{}': cannot stat: {}", path, ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("safetensors file '{}' cannot be opened", path);

  if (file_bytes < 8)
    fail("safetensors file '{}' is {} bytes, too short for the 8-byte header length", path, file_bytes);
  uint64_t header_bytes = 0;
  in.read(reinterpret_cast<char*>(&header_bytes), 8);
  if (header_bytes > file_bytes - 8 || header_bytes > kMaxHeaderBytes)
    fail(
        "safetensors file '{}': header length {} exceeds the {} bytes after it (truncated or not "
        "safetensors)",
        path, header_bytes, file_bytes - 8);
  std::string text(header_bytes, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_bytes));
  if (!in) fail("safetensors file '{}': cannot read the {}-byte header", path, header_bytes);

  json header;
  try {
    header = json::parse(text);
  } catch (const json::parse_error& e) {
    fail("safetensors file '{}': header is not valid JSON: {}", path, e.what());
  }
  if (!header.is_object()) fail("safetensors file '{}': header is not a JSON object", path);

  const uint64_t data_start = 8 + header_bytes;
  const uint64_t data_bytes = file_bytes - data_start;
  TensorFile out;
  std::vector<Entry> entries;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) fail("safetensors file '{}': \"__metadata__\" is not a JSON object", path);
      for (const auto& [k, s] : v.items()) {
        if (!s.is_string()) fail("safetensors file '{}': metadata value for '{}' is not a string", path, k);
        out.metadata[k] = s.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, name, v, data_bytes));
  }

  // Byte ranges may leave gaps but must not share bytes: each tensor owns its range.
  std::vector<const Entry*> by_begin;
  for (const Entry& e : entries) by_begin.push_back(&e);
  std::sort(by_begin.begin(), by_begin.end(), [](const Entry* a, const Entry* b) {
    return std::tie(a->begin, a->end) < std::tie(b->begin, b->end);
  });
  const Entry* last = nullptr;  // the non-empty range that reaches furthest so far
  for (const Entry* cur : by_begin) {
    if (cur->begin == cur->end) continue;
    if (last && cur->begin < last->end)
      fail("safetensors file '{}': tensor '{}' data_offsets [{}, {}] overlap tensor '{}' [{}, {}]", path,
           cur->name, cur->begin, cur->end, last->name, last->begin, last->end);
    last = cur;
  }

  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) {
      in.seekg(static_cast<std::streamoff>(data_start + e.begin));
      in.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(e.end - e.begin));
      if (!in)
        fail("safetensors file '{}': tensor '{}': cannot read its {} bytes", path, e.name, e.end - e.begin);
    }
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<SafetensorsWriter::Entry> entries;
  for (const auto& [name, t] : tensors) {
    if (!t.defined()) fail("safetensors file '{}': tensor '{}' is undefined", path, name);
    if (!t.device().is_cpu())
      fail("safetensors file '{}': tensor '{}' is on {}; copy it to the CPU first", path, name,
           t.device().str());
    entries.push_back({name, t.dtype(), t.shape()});
  }
  SafetensorsWriter writer(path, std::move(entries), metadata);
  for (const SafetensorsWriter::Entry& e : writer.order()) writer.write(tensors.at(e.name));
  writer.close();
}

SafetensorsWriter::SafetensorsWriter(std::string path, std::vector<Entry> entries,
                                     const std::map<std::string, std::string>& metadata)
    : path_(std::move(path)), tmp_(path_ + ".tmp"), entries_(std::move(entries)) {
  for (const Entry& e : entries_) {
    if (e.name == "__metadata__")
      fail("safetensors file '{}': '__metadata__' is reserved, not a tensor name", path_);
    if (e.dtype == DType::f16)
      fail("safetensors file '{}': tensor '{}': dtype F16 is not supported yet", path_, e.name);
  }
  // Largest element first keeps every tensor's offset a multiple of its element size (the header is padded to
  // 8).
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const Entry& a, const Entry& b) { return dtype_size(a.dtype) > dtype_size(b.dtype); });
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const Entry& e : entries_) {
    const uint64_t bytes = static_cast<uint64_t>(shape_numel(e.shape)) * dtype_size(e.dtype);
    header[e.name] = {
        {"dtype", dtype_tag(e.dtype)}, {"shape", e.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t header_bytes = text.size();
  out_ = std::make_unique<std::ofstream>(tmp_, std::ios::binary | std::ios::trunc);
  if (!*out_) fail("cannot open '{}' for writing", tmp_);
  out_->write(reinterpret_cast<const char*>(&header_bytes), 8);
  out_->write(text.data(), static_cast<std::streamsize>(text.size()));
}

SafetensorsWriter::~SafetensorsWriter() {
  if (!out_) return;
  out_.reset();
  std::error_code ec;
  std::filesystem::remove(tmp_, ec);
}

void SafetensorsWriter::write(const Tensor& t) {
  TRIDENT_CHECK(out_ && next_ < entries_.size(), "safetensors file '{}': more tensors written than declared",
                path_);
  const Entry& e = entries_[next_++];
  if (!t.device().is_cpu() || t.dtype() != e.dtype || t.shape() != e.shape)
    fail("safetensors file '{}': tensor '{}' is {} {} on {}, declared {} {}", path_, e.name,
         dtype_name(t.dtype()), shape_str(t.shape()), t.device().str(), dtype_name(e.dtype),
         shape_str(e.shape));
  out_->write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
}

void SafetensorsWriter::close() {
  TRIDENT_CHECK(out_ && next_ == entries_.size(), "safetensors file '{}': {} of {} tensors written", path_,
                next_, entries_.size());
  out_->close();
  const bool ok = static_cast<bool>(*out_);
  out_.reset();
  std::error_code ec;
  if (!ok) {
    std::filesystem::remove(tmp_, ec);
    fail("writing safetensors file '{}' failed (disk full?)", tmp_);
  }
  std::filesystem::rename(tmp_, path_, ec);
  if (ec) {
    const std::string why = ec.message();
    std::filesystem::remove(tmp_, ec);
    fail("cannot rename '{}' to '{}': {}", tmp_, path_, why);
  }
}

}  // namespace trident::io
