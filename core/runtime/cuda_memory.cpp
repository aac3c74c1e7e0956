// The CPU-only build's stand-ins for core/runtime/cuda/device_storage.cpp: no device tensor can exist here,
// so any call means a device was asked for.
#include "core/runtime/cuda_memory.h"

#include "core/runtime/error.h"

namespace trident {

#ifndef TRIDENT_WITH_CUDA
namespace {
[[noreturn]] void no_cuda(const char* what) {
  fail("{} needs the CUDA backend (this build has no nvcc)", what);
}
}  // namespace

void* cuda_alloc(size_t, int device) {
  no_cuda(("cuda:" + std::to_string(device) + " storage").c_str());
}
void cuda_free(void*, int) {
  no_cuda("freeing device memory");
}
void cuda_empty_cache(int) {
  no_cuda("the device memory cache");
}
CachingAllocator::Stats cuda_allocator_stats(int) {
  no_cuda("device memory statistics");
}
void cuda_zero(void*, int, size_t) {
  no_cuda("zeroing device memory");
}
void cuda_copy(void*, Device dst_device, const void*, Device src_device, size_t) {
  no_cuda(("a copy from " + src_device.str() + " to " + dst_device.str()).c_str());
}
void cuda_convert(void*, DType, const void*, DType, int64_t, int device) {
  no_cuda(("a dtype conversion on cuda:" + std::to_string(device)).c_str());
}
void* cuda_alloc_pinned(size_t) {
  no_cuda("pinned host memory");
}
void cuda_free_pinned(void*) {
  no_cuda("pinned host memory");
}
#endif

}  // namespace trident
