// The caching allocator's bookkeeping on a fake backend (host memory with a capacity), so the rules the CUDA
// build relies on are checked without a GPU: size classes, reuse only within a stream, stats, and the
// out-of-memory retry after releasing the cache.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "core/runtime/caching_allocator.h"
#include "tests/unit/test_util.h"

namespace trident {
namespace {

using test::error_of;

// Host memory up to `capacity` bytes; counts calls.
struct FakeDevice {
  explicit FakeDevice(size_t capacity) : capacity(capacity) {}
  size_t capacity, used = 0;
  int allocs = 0, frees = 0;
  std::map<void*, size_t> live;

  CachingAllocator::Backend backend() {
    return {[this](size_t bytes) -> void* {
              if (used + bytes > capacity) return nullptr;
              void* p = std::malloc(bytes);
              used += bytes;
              live[p] = bytes;
              ++allocs;
              return p;
            },
            [this](void* p) {
              used -= live.at(p);
              live.erase(p);
              std::free(p);
              ++frees;
            }};
  }
};

TEST(CachingAllocator, SizeClasses) {
  EXPECT_EQ(CachingAllocator::size_class(0), 512u);
  EXPECT_EQ(CachingAllocator::size_class(1), 512u);
  EXPECT_EQ(CachingAllocator::size_class(513), 1024u);
  EXPECT_EQ(CachingAllocator::size_class((1 << 20) - 1), size_t{1} << 20);
  EXPECT_EQ(CachingAllocator::size_class((1 << 20) + 1), size_t{2} << 20);
  EXPECT_EQ(CachingAllocator::size_class((3 << 20)), size_t{4} << 20);
}

TEST(CachingAllocator, ReusesFreedBlocksOnTheSameStreamOnly) {
  FakeDevice dev{1 << 30};
  {
    CachingAllocator a(dev.backend(), "fake:0");
    void* p = a.allocate(1000, /*stream=*/1);
    a.free(p);
    EXPECT_EQ(a.allocate(900, 1), p) << "same stream, same size class: the cached block";
    void* q = a.allocate(1000, 2);  // another stream: a new block, although none of stream 1's is free
    EXPECT_NE(q, p);
    a.free(q);
    void* r = a.allocate(1000, 1);  // stream 2's cached block is not handed to stream 1
    EXPECT_NE(r, q);
    EXPECT_EQ(dev.allocs, 3);
    const auto s = a.stats();
    EXPECT_EQ(s.backend_allocs, 3);
    EXPECT_EQ(s.cache_hits, 1);
    EXPECT_EQ(s.allocated, 2 * 1024);  // p and r in use
    EXPECT_EQ(s.reserved, 3 * 1024);   // plus q, cached
    EXPECT_EQ(s.peak_allocated, 2 * 1024);
    a.empty_cache();
    EXPECT_EQ(a.stats().reserved, 2 * 1024);
    EXPECT_EQ(dev.frees, 1);
    EXPECT_NE(error_of([&] { a.free(reinterpret_cast<void*>(0x1234)); }).find("did not allocate"),
              std::string::npos);
    a.free(p);
    a.free(r);
  }
  EXPECT_EQ(dev.used, 0u) << "the destructor returns the cache";
}

TEST(CachingAllocator, OutOfMemoryReleasesTheCacheThenNamesTheNumbers) {
  FakeDevice dev{4 << 20};  // room for two 2 MiB blocks
  CachingAllocator a(dev.backend(), "fake:0");
  void* big = a.allocate(2 << 20, 1);
  void* other = a.allocate(2 << 20, 2);
  a.free(other);                         // cached on stream 2, holding the rest of the device
  void* again = a.allocate(2 << 20, 1);  // stream 1 cannot reuse it: the cache is released, then it fits
  EXPECT_NE(again, nullptr);
  EXPECT_EQ(a.stats().reserved, 4 << 20);
  const std::string err = error_of([&] { a.allocate(1 << 20, 1); });
  EXPECT_NE(err.find("out of memory on fake:0: 1048576 bytes requested"), std::string::npos) << err;
  EXPECT_NE(err.find("4194304 in use"), std::string::npos) << err;
  a.free(big);
  a.free(again);
}

}  // namespace
}  // namespace trident
