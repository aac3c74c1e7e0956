#pragma once
// Checkpoint files on disk (train/checkpointer.h decides what goes in them):
//
//   DIR/step_00000042/            one complete checkpoint (written as step_00000042.tmp, renamed when done)
//     rank_00000.bin ...          each rank's own tensors, raw bytes back to back
//     manifest.pbtxt              config::CheckpointManifest, written last (its presence marks completeness)
//   DIR/latest                    the newest complete step directory's name, replaced atomically
//
// Every entry carries its byte range and an XXH3-64 checksum; every file is fsynced before the manifest is
// written and the directory renamed, so a crash leaves either a complete checkpoint or a *.tmp directory that
// nothing loads.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/config/trident.pb.h"
#include "core/tensor/tensor.h"

namespace trident::io {

// "step_00000042".
std::string step_dir_name(int64_t step);

// Writes CPU tensors to `path` (fsynced) and describes them in `file` (entries, bytes; path and rank are the
// caller's).
void write_tensor_file(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       config::CheckpointFile& file);
// Reads back every entry of `file` from DIR/file.path, checking sizes and checksums: a truncated file, a
// changed byte or a missing entry is one error naming the file and entry.
std::map<std::string, Tensor> read_tensor_file(const std::string& dir, const config::CheckpointFile& file);

// Writes DIR/manifest.pbtxt (fsynced).
void write_manifest(const std::string& dir, const config::CheckpointManifest& manifest);
// Reads DIR/manifest.pbtxt; an error names a missing or unreadable manifest.
config::CheckpointManifest read_manifest(const std::string& dir);

// DIR.tmp -> DIR (fsynced), then ROOT/latest names it; removes complete checkpoints beyond the newest `keep`.
void commit_checkpoint(const std::string& root, const std::string& tmp_dir, const std::string& final_dir,
                       int keep);

// The complete checkpoints under `root` (a manifest present, not *.tmp), newest step first.
std::vector<std::string> complete_checkpoints(const std::string& root);

// fsync a file or directory by path (errors name it).
void fsync_path(const std::string& path);

}  // namespace trident::io
