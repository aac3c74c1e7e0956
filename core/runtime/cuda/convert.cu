// Element-type conversion between device buffers (Tensor::copy_from across dtypes, e.g. the fp32 master
// weights into the bf16 model after each step): one elementwise kernel, rounding to nearest even. f64 and the
// integer types convert through double so ids and counts stay exact.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>

#include "core/runtime/cuda/convert_launch.h"

namespace trident {
namespace {

template <typename T>
__device__ __forceinline__ double load(const void* p, int64_t i) {
  return static_cast<double>(static_cast<const T*>(p)[i]);
}
template <>
__device__ __forceinline__ double load<__nv_bfloat16>(const void* p, int64_t i) {
  return static_cast<double>(__bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]));
}
template <>
__device__ __forceinline__ double load<__half>(const void* p, int64_t i) {
  return static_cast<double>(__half2float(static_cast<const __half*>(p)[i]));
}

template <typename T>
__device__ __forceinline__ void store(void* p, int64_t i, double x) {
  static_cast<T*>(p)[i] = static_cast<T>(x);
}
template <>
__device__ __forceinline__ void store<__nv_bfloat16>(void* p, int64_t i, double x) {
  static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(static_cast<float>(x));
}
template <>
__device__ __forceinline__ void store<__half>(void* p, int64_t i, double x) {
  static_cast<__half*>(p)[i] = __float2half_rn(static_cast<float>(x));
}

template <typename D, typename S>
__global__ void convert_kernel(void* dst, const void* src, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    store<D>(dst, i, load<S>(src, i));
}

// Binds the C++ element type of `dtype` for f(T{}); false for a dtype it does not know.
template <typename F>
bool with_type(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32:
      f(float{});
      return true;
    case DType::f64:
      f(double{});
      return true;
    case DType::bf16:
      f(__nv_bfloat16{});
      return true;
    case DType::f16:
      f(__half{});
      return true;
    case DType::i32:
      f(int32_t{});
      return true;
    case DType::u16:
      f(uint16_t{});
      return true;
    case DType::u32:
      f(uint32_t{});
      return true;
  }
  return false;
}

}  // namespace

cudaError_t launch_convert(void* dst, DType dst_dtype, const void* src, DType src_dtype, int64_t n,
                           cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  constexpr int kThreads = 256;
  const unsigned int blocks =
      static_cast<unsigned int>(std::min<int64_t>((n + kThreads - 1) / kThreads, 65535));
  const bool known = with_type(dst_dtype, [&](auto d) {
    with_type(src_dtype, [&](auto s) {
      convert_kernel<decltype(d), decltype(s)><<<blocks, kThreads, 0, stream>>>(dst, src, n);
    });
  });
  return known ? cudaGetLastError() : cudaErrorInvalidValue;
}

}  // namespace trident
