#pragma once
// A stream-ordered caching allocator for device memory (the idea of PyTorch's CUDA caching allocator, kept
// small). cudaMalloc and cudaFree synchronise the device and cost milliseconds, so freed blocks are kept in a
// cache and handed out again. A block freed on stream S is reused only by allocations on S: work queued on S
// runs in order, so the next user cannot touch the memory before the previous user's kernels are done, and no
// event is needed. (A block used on a second stream must be freed on the stream that used it last.)
//
// Sizes round up to size classes: multiples of 512 bytes below 1 MiB, of 2 MiB above, and a block is reused
// only for its own class, so no block is ever split. When the backend runs out of memory the cache is
// released and the allocation retried once; a second failure names what was asked for, in use and cached.
//
// The backend (cudaMalloc/cudaFree in the CUDA build) is a pair of functions, so the bookkeeping is tested on
// the CPU with a fake one.
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace trident {

class CachingAllocator {
 public:
  using Stream = uintptr_t;  // an opaque stream handle (cudaStream_t in the CUDA build)
  struct Backend {
    std::function<void*(size_t bytes)> alloc;  // returns null when out of memory
    std::function<void(void* p)> free;
  };
  struct Stats {
    int64_t allocated = 0;       // bytes handed out and not yet freed (size classes)
    int64_t reserved = 0;        // allocated + cached: what the backend holds for us
    int64_t peak_allocated = 0;  // since construction or reset_peaks()
    int64_t peak_reserved = 0;
    int64_t backend_allocs = 0;  // calls to the backend's alloc
    int64_t cache_hits = 0;      // allocations served from the cache
  };

  // `what` names the device in messages ("cuda:0").
  CachingAllocator(Backend backend, std::string what);
  ~CachingAllocator();  // returns every cached block to the backend
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  static size_t size_class(size_t bytes);

  void* allocate(size_t bytes, Stream stream);
  // p must come from allocate(); it goes to the cache of the stream it was allocated on.
  void free(void* p);
  // Returns every cached (free) block to the backend.
  void empty_cache();
  Stats stats() const;
  void reset_peaks();

 private:
  struct Block {
    size_t size;
    Stream stream;
  };
  void release_cached_locked();

  Backend backend_;
  std::string what_;
  mutable std::mutex mu_;
  std::unordered_map<void*, Block> in_use_;
  std::map<std::pair<Stream, size_t>, std::vector<void*>> cached_;  // (stream, size class) -> free blocks
  Stats stats_;
};

}  // namespace trident
