#pragma once
// TensorBoard's event file: DIR/events.out.tfevents.<seconds>.<host>.<pid>, a TFRecord file of Event protos
// (core/runtime/tfevent.proto). The first record names the format version, "brain.Event:2"; each write after
// it is one Event holding a Summary of scalars at a step. TensorBoard reads a directory of these as one run,
// file after file in name order, so a new file's seconds are later than every earlier file's.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/runtime/tfrecord.h"

namespace trident {

class EventFileWriter {
 public:
  // Creates `dir` when missing and a new event file in it.
  explicit EventFileWriter(const std::string& dir);
  // One Event at `step`, wall time now, holding one simple_value per (tag, value); flushed.
  void add_scalars(int64_t step, const std::vector<std::pair<std::string, float>>& scalars);
  // A SessionLog START at `step`: readers drop what earlier files of the run hold at `step` and later.
  void add_session_start(int64_t step);
  const std::string& path() const { return file_.path(); }

 private:
  TfRecordWriter file_;
};

}  // namespace trident
