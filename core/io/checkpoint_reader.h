#pragma once
// Reading a checkpoint directory (io/checkpoint_files.h) back, under any layout: a rank asks for the regions
// of global tensors it holds, and the reader reads every stored piece that overlaps them (only those), checks
// each piece's XXH3-64 checksum, and copies the overlapping elements. What the saving ranks held does not
// matter: this is resharding on load, with no gather and no conversion step.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/config/trident.pb.h"
#include "core/io/regions.h"
#include "core/tensor/tensor.h"

namespace trident::io {

class CheckpointReader {
 public:
  // Reads DIR/manifest.pbtxt and checks that every rank file it lists is there with the size it records (an
  // error names a missing or truncated file).
  explicit CheckpointReader(std::string dir);
  ~CheckpointReader();
  CheckpointReader(const CheckpointReader&) = delete;
  CheckpointReader& operator=(const CheckpointReader&) = delete;

  const std::string& dir() const { return dir_; }
  const config::CheckpointManifest& manifest() const { return manifest_; }
  // The tensor's description, or null.
  const config::CheckpointTensor* find(const std::string& name) const;
  Shape shape(const config::CheckpointTensor& t) const { return Shape(t.shape().begin(), t.shape().end()); }

  // A region of a tensor to fill and where: `dest` (host, contiguous, the stored dtype) receives its
  // elements in order.
  struct Want {
    Region region;
    Tensor dest;
  };
  // Fills every want of tensor `name`, reading each overlapping piece once. An error names the tensor and
  // file when a piece is corrupt or unreadable, or the tensor when the stored pieces do not cover a want.
  void read(const std::string& name, std::vector<Want>& wants);
  // The whole tensor at its global shape.
  Tensor read_whole(const std::string& name);
  // Reads every piece and checks its checksum; returns the bytes read.
  uint64_t verify_all();
  // Bytes read from the files so far.
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  Tensor read_piece(const config::CheckpointTensor& t, const config::CheckpointPiece& p);

  std::string dir_;
  config::CheckpointManifest manifest_;
  std::map<std::string, int> tensors_;  // name -> index into manifest_.tensors
  std::vector<int> fds_;                // per manifest file, opened on first read (-1 until then)
  uint64_t bytes_read_ = 0;
};

// The model's fp32 weights at their global shapes, under their parameter names ("model.<name>" tensors,
// without the prefix): what model.safetensors holds at the end of a run.
std::map<std::string, Tensor> read_model_weights(CheckpointReader& reader);

}  // namespace trident::io
