#pragma once
// safetensors: [u64 little-endian header length N][N bytes of JSON header][raw tensor bytes].
// Header: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end)}, "__metadata__": {str:
// str}}; offsets are relative to the first byte after the header. Used for checkpoints and golden fixtures.
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor/tensor.h"

namespace trident::io {

struct TensorFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Reads every tensor into its own CPU tensor. Supports F32, F64, BF16, I32, U16, U32; anything malformed
// (missing file, truncated header or data, bad JSON, bad offsets, unknown dtype) throws trident::Error.
TensorFile load_safetensors(const std::string& path);

// Writes CPU tensors (largest element size first, so every tensor stays aligned) to `path`.tmp, then renames
// it over `path`, so a crash never leaves a half-written file under the real name.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// The same file written tensor by tensor (a model larger than memory, streamed from a checkpoint): the header
// is written from the tensors' names, dtypes and shapes first, then each tensor's bytes in order(), then
// close() renames the file into place.
class SafetensorsWriter {
 public:
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
  };
  SafetensorsWriter(std::string path, std::vector<Entry> entries,
                    const std::map<std::string, std::string>& metadata = {});
  ~SafetensorsWriter();  // not closed: the temporary file is removed
  // The order the tensors must be written in (largest element size first).
  const std::vector<Entry>& order() const { return entries_; }
  // The next tensor of order() (CPU, its dtype and shape).
  void write(const Tensor& t);
  void close();

 private:
  std::string path_, tmp_;
  std::vector<Entry> entries_;
  size_t next_ = 0;
  std::unique_ptr<std::ofstream> out_;
};

}  // namespace trident::io
