#pragma once
// CRC-32C (Castagnoli), the checksum of TFRecord framing, which TensorBoard's event files use.
#include <cstddef>
#include <cstdint>

namespace trident {

// CRC-32C of `size` bytes: crc32c("123456789") == 0xE3069283.
uint32_t crc32c(const void* data, size_t size);

// TFRecord's stored form of a CRC: rotated right by 15 bits plus a constant, because the CRC of bytes that
// themselves hold a plain CRC is weak.
inline uint32_t mask_crc32c(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

}  // namespace trident
