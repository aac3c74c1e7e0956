#include "core/runtime/caching_allocator.h"

#include <algorithm>

#include "core/runtime/error.h"

namespace trident {

namespace {
constexpr size_t kSmallStep = 512;              // size classes below kLarge
constexpr size_t kLarge = size_t{1} << 20;      // 1 MiB
constexpr size_t kLargeStep = size_t{2} << 20;  // 2 MiB
}  // namespace

CachingAllocator::CachingAllocator(Backend backend, std::string what)
    : backend_(std::move(backend)), what_(std::move(what)) {
  TRIDENT_CHECK(backend_.alloc && backend_.free, "caching allocator for {} without a backend", what_);
}

CachingAllocator::~CachingAllocator() {
  std::lock_guard<std::mutex> lock(mu_);
  release_cached_locked();
}

size_t CachingAllocator::size_class(size_t bytes) {
  const size_t b = std::max<size_t>(bytes, 1);
  const size_t step = b < kLarge ? kSmallStep : kLargeStep;
  return (b + step - 1) / step * step;
}

void* CachingAllocator::allocate(size_t bytes, Stream stream) {
  const size_t size = size_class(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  void* p = nullptr;
  auto it = cached_.find({stream, size});
  if (it != cached_.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    ++stats_.cache_hits;
  } else {
    p = backend_.alloc(size);
    if (p == nullptr) {
      // Out of memory: give the cache back (blocks of other sizes and streams) and try once more.
      release_cached_locked();
      p = backend_.alloc(size);
    }
    if (p == nullptr) {
      fail("out of memory on {}: {} bytes requested ({} after rounding), {} in use, {} cached and released",
           what_, bytes, size, stats_.allocated, stats_.reserved - stats_.allocated);
    }
    ++stats_.backend_allocs;
    stats_.reserved += static_cast<int64_t>(size);
    stats_.peak_reserved = std::max(stats_.peak_reserved, stats_.reserved);
  }
  in_use_[p] = {size, stream};
  stats_.allocated += static_cast<int64_t>(size);
  stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
  return p;
}

void CachingAllocator::free(void* p) {
  if (p == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = in_use_.find(p);
  TRIDENT_CHECK(it != in_use_.end(), "caching allocator for {}: freeing {} which it did not allocate", what_,
                p);
  cached_[{it->second.stream, it->second.size}].push_back(p);
  stats_.allocated -= static_cast<int64_t>(it->second.size);
  in_use_.erase(it);
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  release_cached_locked();
}

void CachingAllocator::release_cached_locked() {
  for (auto& [key, blocks] : cached_) {
    for (void* p : blocks) {
      backend_.free(p);
      stats_.reserved -= static_cast<int64_t>(key.second);
    }
  }
  cached_.clear();
}

CachingAllocator::Stats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CachingAllocator::reset_peaks() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.peak_allocated = stats_.allocated;
  stats_.peak_reserved = stats_.reserved;
}

}  // namespace trident
