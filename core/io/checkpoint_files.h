#pragma once
// Checkpoint files on disk (train/checkpointer.h decides what goes in them):
//
//   DIR/step_00000042/            one complete checkpoint (written as step_00000042.tmp, renamed when done)
//     rank_00000.bin ...          each rank's pieces of global tensors, raw bytes back to back
//     manifest.pbtxt              config::CheckpointManifest, written last (its presence marks completeness)
//   DIR/latest                    the newest complete step directory's name, replaced atomically
//
// Every piece carries its byte range, the region of its global tensor (io/regions.h) and an XXH3-64 checksum;
// every file is fsynced before the manifest is written and the directory renamed, so a crash leaves either a
// complete checkpoint or a *.tmp directory that nothing loads. io/checkpoint_reader.h reads them back.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/config/trident.pb.h"
#include "core/io/regions.h"
#include "core/tensor/tensor.h"

namespace trident::io {

// Checkpoint tensor names: a parameter's fp32 weights and AdamW's two moments, each followed by the
// parameter's global name.
inline const std::string kWeights = "model.", kExpAvg = "optim.exp_avg.", kExpAvgSq = "optim.exp_avg_sq.";
// The parameter whose weights checkpoint tensor `name` holds, or "" for any other tensor.
inline std::string weights_parameter(const std::string& name) {
  return name.rfind(kWeights, 0) == 0 ? name.substr(kWeights.size()) : "";
}

// "step_00000042".
std::string step_dir_name(int64_t step);

// A piece of global tensor `tensor` (shape `global`) to store: `data` (host, contiguous) holds `region`'s
// elements in order.
struct StoredPiece {
  std::string tensor;
  Shape global;
  Region region;
  Tensor data;
};

// Writes the pieces back to back to DIR/file (fsynced) and returns their description: a manifest holding this
// one file (rank `rank`, index 0) and the pieces under their tensors (merge_manifest joins every rank's).
config::CheckpointManifest write_pieces(const std::string& dir, const std::string& file, int rank,
                                        const std::vector<StoredPiece>& pieces);
// Adds `part` (one rank's write_pieces) to `into`: its file, and its pieces under their tensors.
void merge_manifest(config::CheckpointManifest& into, const config::CheckpointManifest& part);

// Writes DIR/manifest.pbtxt (fsynced).
void write_manifest(const std::string& dir, const config::CheckpointManifest& manifest);
// Reads DIR/manifest.pbtxt; an error names a missing or unreadable manifest.
config::CheckpointManifest read_manifest(const std::string& dir);

// DIR.tmp -> DIR (fsynced), then ROOT/latest names it; removes complete checkpoints beyond the newest `keep`.
void commit_checkpoint(const std::string& root, const std::string& tmp_dir, const std::string& final_dir,
                       int keep);

// The complete checkpoints under `root` (a manifest present, not *.tmp), newest step first.
std::vector<std::string> complete_checkpoints(const std::string& root);

// A checkpoint directory from what a user names: a step directory itself (it has a manifest), a checkpoint
// root (its `latest`), or a run directory (its checkpoints/latest). An error says which it is not.
std::string resolve_checkpoint_dir(const std::string& path);

// fsync a file or directory by path (errors name it).
void fsync_path(const std::string& path);

}  // namespace trident::io
