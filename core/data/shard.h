#pragma once
// Token shard: one flat, versioned binary file of token ids, read through mmap so a multi-GB corpus costs no
// load time and every rank on a node shares the page cache.
//
//   offset  size  field
//        0     8  magic        "TRIDTOK\0"
//        8     4  version      1
//       12     4  token_dtype  1 = u16, 2 = u32
//       16     8  count        number of tokens
//       24     4  vocab_size   tokenizer vocabulary the ids come from
//       28     4  eot_token    end-of-text id that separates documents
//       32    32  reserved     zero
//       64     …  count tokens, little-endian
#include <cstdint>
#include <string>
#include <vector>

namespace trident::data {

inline constexpr char kShardMagic[8] = {'T', 'R', 'I', 'D', 'T', 'O', 'K', '\0'};
inline constexpr uint32_t kShardVersion = 1;
inline constexpr size_t kShardHeaderBytes = 64;

enum class TokenDType : uint32_t { u16 = 1, u32 = 2 };

inline size_t token_dtype_size(TokenDType t) {
  return t == TokenDType::u16 ? 2 : 4;
}
const char* token_dtype_name(TokenDType t);

// The narrowest dtype that holds every id of a vocabulary: u16 up to 65536 ids, u32 above.
TokenDType token_dtype_for_vocab(uint32_t vocab_size);

// Writes `tokens` to `path` (through `path`.tmp and a rename, so a reader never sees half a file).
// Throws trident::Error if a token id is >= vocab_size, eot >= vocab_size, or the file cannot be written.
void write_shard(const std::string& path, const std::vector<uint32_t>& tokens, uint32_t vocab_size,
                 uint32_t eot);

// A read-only, memory-mapped token shard. Opening validates the header against the file; token ids themselves
// are not scanned (that would read the whole file), see `max_token()`.
class TokenShard {
 public:
  explicit TokenShard(const std::string& path);
  ~TokenShard();
  TokenShard(TokenShard&& other) noexcept;
  TokenShard& operator=(TokenShard&& other) noexcept;
  TokenShard(const TokenShard&) = delete;
  TokenShard& operator=(const TokenShard&) = delete;

  const std::string& path() const { return path_; }
  int64_t count() const { return count_; }
  uint32_t vocab_size() const { return vocab_size_; }
  uint32_t eot() const { return eot_; }
  TokenDType dtype() const { return dtype_; }
  uint32_t version() const { return version_; }
  size_t file_bytes() const { return map_bytes_; }

  // Token i, 0 <= i < count().
  uint32_t at(int64_t i) const;
  // Tokens [offset, offset + n) into out[0..n).
  void read(int64_t offset, int64_t n, int32_t* out) const;
  // Largest id in the shard (reads every token; for `trident data inspect`).
  uint32_t max_token() const;

  // Throws if the shard was tokenized with a larger vocabulary than the model's embedding table holds.
  void check_vocab(int64_t model_vocab) const;

 private:
  void unmap() noexcept;
  const unsigned char* tokens_base() const {
    return static_cast<const unsigned char*>(map_) + kShardHeaderBytes;
  }

  std::string path_;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  int64_t count_ = 0;
  uint32_t version_ = 0;
  uint32_t vocab_size_ = 0;
  uint32_t eot_ = 0;
  TokenDType dtype_ = TokenDType::u16;
};

}  // namespace trident::data
