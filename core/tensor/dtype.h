#pragma once
#include <cstdint>
#include <cstring>
#include <string_view>

namespace trident {

// f64 exists for the CPU reference path (finite-difference gradient checks); u16/u32 hold token ids.
enum class DType : uint8_t { f32, f64, bf16, f16, i32, u16, u32 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f64:
      return 8;
    case DType::f32:
    case DType::i32:
    case DType::u32:
      return 4;
    case DType::bf16:
    case DType::f16:
    case DType::u16:
      return 2;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "f32";
    case DType::f64:
      return "f64";
    case DType::bf16:
      return "bf16";
    case DType::f16:
      return "f16";
    case DType::i32:
      return "i32";
    case DType::u16:
      return "u16";
    case DType::u32:
      return "u32";
  }
  return "?";
}

// bf16 is the top half of an IEEE f32; conversion rounds to nearest even.
struct bf16 {
  uint16_t bits = 0;
  bf16() = default;
  explicit bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
      bits = static_cast<uint16_t>((u >> 16) | 0x40u);  // keep NaN a NaN
    } else {
      bits = static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
  }
  explicit operator float() const {
    uint32_t u = static_cast<uint32_t>(bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

// IEEE binary16 (fp16): 5 exponent bits, so values above 65504 overflow to inf and below 6e-8 flush to
// zero, which is what dynamic loss scaling guards against. Conversion rounds to nearest even (defined in
// dtype.cpp through the compiler's _Float16, kept out of this header so nvcc never parses it).
uint16_t float_to_f16_bits(float f);
float f16_bits_to_float(uint16_t bits);
struct f16 {
  uint16_t bits = 0;
  f16() = default;
  explicit f16(float f) : bits(float_to_f16_bits(f)) {}
  explicit operator float() const { return f16_bits_to_float(bits); }
};

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}
template <>
constexpr DType dtype_of<bf16>() {
  return DType::bf16;
}
template <>
constexpr DType dtype_of<f16>() {
  return DType::f16;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::i32;
}
template <>
constexpr DType dtype_of<uint16_t>() {
  return DType::u16;
}
template <>
constexpr DType dtype_of<uint32_t>() {
  return DType::u32;
}

// Per-row statistics and factors (norm mean/rstd, log-sum-exp, losses, MoE router logits and gates) stay in
// fp32 when tensors are stored in bf16/fp16, as mixed-precision training keeps them; f64 runs keep f64.
constexpr DType stat_dtype(DType storage) {
  return storage == DType::f64 ? DType::f64 : DType::f32;
}

}  // namespace trident
