#pragma once
// A TFRecord file: records appended one after another, each framed as
//   uint64 length | uint32 masked CRC-32C of those 8 bytes | data | uint32 masked CRC-32C of the data
// (little-endian), so a reader can tell a record cut short by a crash from a whole one.
#include <fstream>
#include <string>
#include <string_view>

namespace trident {

class TfRecordWriter {
 public:
  // Creates `path`, or empties it.
  explicit TfRecordWriter(std::string path);
  // Appends one framed record and flushes it: a crashed run keeps every record written before the crash.
  void write(std::string_view data);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

// The framing of one record, as write() appends it.
std::string tfrecord_frame(std::string_view data);

}  // namespace trident
