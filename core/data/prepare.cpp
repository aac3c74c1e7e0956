#include "core/data/prepare.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "core/data/shard.h"
#include "core/runtime/error.h"

namespace trident::data {

namespace fs = std::filesystem;

namespace {

// The whole file, or nothing when it looks binary: a NUL byte in the first 4 KiB (the rule git and grep use).
// Only those 4 KiB are read from a binary file, so a token shard lying in an input directory costs nothing.
std::optional<std::string> read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read input '{}': {}", path.string(), std::strerror(errno));
  std::string text(4096, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.find('\0') != std::string::npos) return std::nullopt;
  if (in) {
    std::ostringstream rest;
    rest << in.rdbuf();
    text += rest.str();
  }
  if (in.bad()) fail("cannot read input '{}'", path.string());
  return text;
}

bool skipped_extension(const fs::path& path) {
  const std::string ext = path.extension().string();
  return ext == ".dat" || ext == ".u8";
}

struct Document {
  fs::path path;
  bool named;  // given on the command line rather than found in a directory
};

// The files to read, in order; directory entries that are left out are recorded in `skipped`.
std::vector<Document> list_documents(const std::vector<std::string>& inputs,
                                     std::vector<std::string>& skipped) {
  std::vector<Document> files;
  for (const std::string& input : inputs) {
    std::error_code ec;
    const fs::path path(input);
    if (!fs::exists(path, ec)) fail("input '{}' does not exist", input);
    if (!fs::is_directory(path, ec)) {
      files.push_back({path, true});
      continue;
    }
    std::vector<fs::path> entries;
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      if (entry.is_regular_file()) entries.push_back(entry.path());
    }
    if (ec) fail("cannot list input directory '{}': {}", input, ec.message());
    std::sort(entries.begin(), entries.end());
    for (const fs::path& file : entries) {
      if (skipped_extension(file)) {
        skipped.push_back(file.string() + " (" + file.extension().string() + " file)");
      } else {
        files.push_back({file, false});
      }
    }
  }
  return files;
}

void append_piece(std::vector<uint32_t>& out, std::vector<uint32_t>::const_iterator begin,
                  std::vector<uint32_t>::const_iterator end, uint32_t eot) {
  if (begin == end) return;
  out.insert(out.end(), begin, end);
  out.push_back(eot);
}

}  // namespace

PrepareStats prepare_corpus(const std::vector<std::string>& inputs, const std::string& out_dir,
                            const Tokenizer& tokenizer, double val_fraction) {
  if (inputs.empty()) fail("no input given; pass text files or directories of text files");
  if (!(val_fraction >= 0.0 && val_fraction <= 0.5))
    fail("val_fraction must be in [0, 0.5], got {}", val_fraction);

  PrepareStats stats;
  const std::vector<Document> documents = list_documents(inputs, stats.skipped);

  std::vector<uint32_t> train, val;
  for (const auto& [file, named] : documents) {
    const std::optional<std::string> maybe_text = read_text(file);
    if (!maybe_text) {
      if (named)
        fail("input '{}' looks binary (a NUL byte in its first 4 KiB); pass text files", file.string());
      stats.skipped.push_back(file.string() + " (binary)");
      continue;
    }
    const std::string& text = *maybe_text;
    if (text.empty()) {
      stats.skipped.push_back(file.string() + " (empty)");
      continue;
    }
    const std::vector<uint32_t> doc = tokenizer.encode(text);
    const auto n = static_cast<int64_t>(doc.size());
    int64_t n_val = std::llround(val_fraction * static_cast<double>(n));
    if (val_fraction > 0 && n > 0) n_val = std::clamp<int64_t>(n_val, 1, n);
    // Both pieces end in eot, so the train stream, too, marks every document boundary.
    const auto split = doc.begin() + (n - n_val);
    append_piece(train, doc.begin(), split, tokenizer.eot());
    append_piece(val, split, doc.end(), tokenizer.eot());
    stats.files += 1;
    stats.bytes += static_cast<int64_t>(text.size());
  }
  if (stats.files == 0)
    fail("no text documents found in the inputs ({} files left out)", stats.skipped.size());
  if (train.empty())
    fail("the inputs give no training tokens ({} validation tokens); use more text or a smaller val_fraction",
         val.size());

  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) fail("cannot create output directory '{}': {}", out_dir, ec.message());
  stats.train_path = (fs::path(out_dir) / "train.bin").string();
  stats.val_path = (fs::path(out_dir) / "val.bin").string();
  write_shard(stats.train_path, train, tokenizer.vocab_size(), tokenizer.eot());
  write_shard(stats.val_path, val, tokenizer.vocab_size(), tokenizer.eot());
  stats.train_tokens = static_cast<int64_t>(train.size());
  stats.val_tokens = static_cast<int64_t>(val.size());
  return stats;
}

}  // namespace trident::data
