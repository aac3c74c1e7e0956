#include "core/data/shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <utility>

#include "core/runtime/error.h"

namespace trident::data {

// Tokens are stored little-endian and copied with memcpy; a big-endian port would byte-swap in at()/read().
static_assert(std::endian::native == std::endian::little, "token shards assume a little-endian host");

namespace {

void put_u32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
uint32_t get_u32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}
uint64_t get_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};

template <typename T>
void write_tokens_as(std::FILE* f, const std::vector<uint32_t>& tokens, const std::string& tmp) {
  constexpr size_t kChunk = 1 << 16;
  std::vector<T> buf;
  buf.reserve(std::min(kChunk, tokens.size()));
  for (size_t begin = 0; begin < tokens.size(); begin += kChunk) {
    const size_t end = std::min(tokens.size(), begin + kChunk);
    buf.assign(tokens.begin() + static_cast<std::ptrdiff_t>(begin),
               tokens.begin() + static_cast<std::ptrdiff_t>(end));
    if (std::fwrite(buf.data(), sizeof(T), buf.size(), f) != buf.size())
      fail("cannot write data shard '{}': {}", tmp, std::strerror(errno));
  }
}

}  // namespace

const char* token_dtype_name(TokenDType t) {
  return t == TokenDType::u16 ? "u16" : "u32";
}

TokenDType token_dtype_for_vocab(uint32_t vocab_size) {
  return vocab_size <= 65536u ? TokenDType::u16 : TokenDType::u32;
}

void write_shard(const std::string& path, const std::vector<uint32_t>& tokens, uint32_t vocab_size,
                 uint32_t eot) {
  if (vocab_size == 0) fail("cannot write data shard '{}': vocab_size is 0", path);
  if (eot >= vocab_size)
    fail("cannot write data shard '{}': eot token {} is outside the vocab of {}", path, eot, vocab_size);
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] >= vocab_size)
      fail("cannot write data shard '{}': token {} at position {} is outside the vocab of {}", path,
           tokens[i], i, vocab_size);
  }
  const TokenDType dtype = token_dtype_for_vocab(vocab_size);

  unsigned char header[kShardHeaderBytes] = {};
  std::memcpy(header, kShardMagic, sizeof(kShardMagic));
  put_u32(header + 8, kShardVersion);
  put_u32(header + 12, static_cast<uint32_t>(dtype));
  put_u64(header + 16, tokens.size());
  put_u32(header + 24, vocab_size);
  put_u32(header + 28, eot);

  const std::string tmp = path + ".tmp";
  {
    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
    if (!f) fail("cannot write data shard '{}': {}", tmp, std::strerror(errno));
    if (std::fwrite(header, 1, sizeof(header), f.get()) != sizeof(header))
      fail("cannot write data shard '{}': {}", tmp, std::strerror(errno));
    if (dtype == TokenDType::u16) {
      write_tokens_as<uint16_t>(f.get(), tokens, tmp);
    } else {
      write_tokens_as<uint32_t>(f.get(), tokens, tmp);
    }
    std::FILE* raw = f.release();
    if (std::fclose(raw) != 0) fail("cannot write data shard '{}': {}", tmp, std::strerror(errno));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail("cannot rename '{}' to '{}': {}", tmp, path, ec.message());
}

TokenShard::TokenShard(const std::string& path) : path_(path) {
  struct FdCloser {
    int fd;
    ~FdCloser() {
      if (fd >= 0) ::close(fd);
    }
  };
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    fail("data shard '{}' does not exist; create it with `trident data prepare --input TEXT... --out DIR`",
         path);
  if (std::filesystem::is_directory(path, ec))
    fail("data shard '{}' is a directory; pass the .bin file inside it (e.g. '{}/train.bin')", path, path);

  FdCloser fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0) fail("cannot open data shard '{}': {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) fail("cannot stat data shard '{}': {}", path, std::strerror(errno));
  const auto file_bytes = static_cast<uint64_t>(st.st_size);
  if (file_bytes < kShardHeaderBytes)
    fail("'{}' is too small to be a Trident token shard: {} bytes, the header alone is {} bytes", path,
         file_bytes, kShardHeaderBytes);

  void* map = ::mmap(nullptr, file_bytes, PROT_READ, MAP_SHARED, fd.fd, 0);
  if (map == MAP_FAILED) fail("cannot mmap data shard '{}': {}", path, std::strerror(errno));
  map_ = map;
  map_bytes_ = file_bytes;
  // From here on the destructor does not run if we throw, so unmap by hand on every failure.
  try {
    const auto* h = static_cast<const unsigned char*>(map_);
    if (std::memcmp(h, kShardMagic, sizeof(kShardMagic)) != 0)
      fail("'{}' is not a Trident token shard (bad magic); create shards with `trident data prepare`", path);
    version_ = get_u32(h + 8);
    if (version_ != kShardVersion)
      fail("'{}' is a token shard of format version {}, this build reads version {} only", path, version_,
           kShardVersion);
    const uint32_t dtype = get_u32(h + 12);
    if (dtype != static_cast<uint32_t>(TokenDType::u16) && dtype != static_cast<uint32_t>(TokenDType::u32))
      fail("'{}' has unknown token dtype code {} (expected 1 = u16 or 2 = u32)", path, dtype);
    dtype_ = static_cast<TokenDType>(dtype);
    const uint64_t count = get_u64(h + 16);
    vocab_size_ = get_u32(h + 24);
    eot_ = get_u32(h + 28);

    const size_t width = token_dtype_size(dtype_);
    const uint64_t payload = file_bytes - kShardHeaderBytes;
    if (count > payload / width) {
      const uint64_t want =
          count > (UINT64_MAX - kShardHeaderBytes) / width ? UINT64_MAX : kShardHeaderBytes + count * width;
      fail("'{}' is truncated: header says {} tokens ({} bytes) but the file holds {} bytes", path, count,
           want, file_bytes);
    }
    if (count * width != payload)
      fail("'{}' is corrupt: header says {} tokens ({} bytes) but the file holds {} bytes ({} extra)", path,
           count, kShardHeaderBytes + count * width, file_bytes, payload - count * width);
    count_ = static_cast<int64_t>(count);
    if (vocab_size_ == 0) fail("'{}' has vocab_size 0 in its header", path);
    if (dtype_ == TokenDType::u16 && vocab_size_ > 65536u)
      fail("'{}' stores u16 token dtype, which cannot hold ids of its vocab of {} (needs u32)", path,
           vocab_size_);
    if (eot_ >= vocab_size_) fail("'{}' has eot token {} outside its vocab of {}", path, eot_, vocab_size_);
  } catch (...) {
    unmap();
    throw;
  }
}

TokenShard::~TokenShard() {
  unmap();
}

TokenShard::TokenShard(TokenShard&& other) noexcept
    : path_(std::move(other.path_)),
      map_(std::exchange(other.map_, nullptr)),
      map_bytes_(std::exchange(other.map_bytes_, 0)),
      count_(std::exchange(other.count_, 0)),
      version_(other.version_),
      vocab_size_(other.vocab_size_),
      eot_(other.eot_),
      dtype_(other.dtype_) {}

TokenShard& TokenShard::operator=(TokenShard&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    map_ = std::exchange(other.map_, nullptr);
    map_bytes_ = std::exchange(other.map_bytes_, 0);
    count_ = std::exchange(other.count_, 0);
    version_ = other.version_;
    vocab_size_ = other.vocab_size_;
    eot_ = other.eot_;
    dtype_ = other.dtype_;
  }
  return *this;
}

void TokenShard::unmap() noexcept {
  if (map_) ::munmap(map_, map_bytes_);
  map_ = nullptr;
  map_bytes_ = 0;
}

uint32_t TokenShard::at(int64_t i) const {
  if (i < 0 || i >= count_) fail("token index {} is outside data shard '{}' of {} tokens", i, path_, count_);
  if (dtype_ == TokenDType::u16) {
    uint16_t v;
    std::memcpy(&v, tokens_base() + 2 * i, 2);
    return v;
  }
  uint32_t v;
  std::memcpy(&v, tokens_base() + 4 * i, 4);
  return v;
}

void TokenShard::read(int64_t offset, int64_t n, int32_t* out) const {
  if (offset < 0 || n < 0 || offset > count_ - n)
    fail("token range [{}, {}) is outside data shard '{}' of {} tokens", offset, offset + n, path_, count_);
  if (dtype_ == TokenDType::u16) {
    const unsigned char* p = tokens_base() + 2 * offset;
    for (int64_t i = 0; i < n; ++i) {
      uint16_t v;
      std::memcpy(&v, p + 2 * i, 2);
      out[i] = static_cast<int32_t>(v);
    }
  } else {
    const unsigned char* p = tokens_base() + 4 * offset;
    for (int64_t i = 0; i < n; ++i) {
      uint32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      out[i] = static_cast<int32_t>(v);
    }
  }
}

uint32_t TokenShard::max_token() const {
  constexpr int64_t kChunk = 1 << 16;
  std::vector<int32_t> buf(static_cast<size_t>(std::min(kChunk, count_)));
  uint32_t m = 0;
  for (int64_t begin = 0; begin < count_; begin += kChunk) {
    const int64_t n = std::min(kChunk, count_ - begin);
    read(begin, n, buf.data());
    for (int64_t i = 0; i < n; ++i) m = std::max(m, static_cast<uint32_t>(buf[i]));
  }
  return m;
}

void TokenShard::check_vocab(int64_t model_vocab) const {
  if (static_cast<int64_t>(vocab_size_) > model_vocab)
    fail(
        "shard '{}' was tokenized with vocab {} but model.vocab_size is {}; use a model with vocab_size >= "
        "{} or "
        "re-tokenize the corpus",
        path_, vocab_size_, model_vocab, vocab_size_);
}

}  // namespace trident::data
