#pragma once
// Corpus preparation: text files -> out_dir/train.bin + out_dir/val.bin token shards.
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/tokenizer.h"

namespace trident::data {

struct PrepareStats {
  int64_t files = 0;                 // documents tokenized
  std::vector<std::string> skipped;  // files inside input directories that were left out, with the reason
  int64_t bytes = 0;                 // text bytes read
  int64_t train_tokens = 0;          // eot tokens included
  int64_t val_tokens = 0;
  std::string train_path, val_path;
  double bytes_per_token() const {
    const int64_t tokens = train_tokens + val_tokens;
    return tokens > 0 ? static_cast<double>(bytes) / static_cast<double>(tokens) : 0.0;
  }
};

// Each input is a text file or a directory, of which the regular files (not subdirectories) are taken in
// sorted order, leaving out names ending in .dat or .u8, empty files, and binary files (a NUL byte in the
// first 4 KiB). Each file is one document. Of its n tokens, the last round(val_fraction * n) (at least 1 when
// val_fraction > 0) go to val.bin and the rest to train.bin, so validation holds a piece of every source;
// each non-empty piece is followed by tokenizer.eot(), so both streams mark every document boundary (a
// document split in two adds two eot tokens). out_dir is created if needed. Throws trident::Error when there
// is no input, an input is missing (or a named file is binary), val_fraction is outside [0, 0.5], or no
// training tokens result.
PrepareStats prepare_corpus(const std::vector<std::string>& inputs, const std::string& out_dir,
                            const Tokenizer& tokenizer, double val_fraction);

}  // namespace trident::data
