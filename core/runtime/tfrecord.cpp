#include "core/runtime/tfrecord.h"

#include <cstdint>

#include "core/runtime/crc32c.h"
#include "core/runtime/error.h"

namespace trident {

namespace {

void append_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

}  // namespace

std::string tfrecord_frame(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 16);
  append_le(out, data.size(), 8);
  append_le(out, mask_crc32c(crc32c(out.data(), 8)), 4);
  out.append(data);
  append_le(out, mask_crc32c(crc32c(data.data(), data.size())), 4);
  return out;
}

TfRecordWriter::TfRecordWriter(std::string path)
    : path_(std::move(path)), out_(path_, std::ios::binary | std::ios::trunc) {
  if (!out_) fail("cannot write '{}'", path_);
}

void TfRecordWriter::write(std::string_view data) {
  const std::string framed = tfrecord_frame(data);
  out_.write(framed.data(), static_cast<std::streamsize>(framed.size()));
  out_.flush();
  if (!out_) fail("cannot write to '{}' (disk full?)", path_);
}

}  // namespace trident
