#include "core/runtime/crc32c.h"

#include <isa-l/crc.h>

#include <algorithm>
#include <climits>

namespace trident {

uint32_t crc32c(const void* data, size_t size) {
  // ISA-L's crc32_iscsi neither starts from all ones nor inverts its result (iSCSI leaves both to the
  // caller), and takes an int length: chain it over chunks between the two inversions.
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));
  uint32_t crc = 0xFFFFFFFFu;
  while (size > 0) {
    const int n = static_cast<int>(std::min<size_t>(size, INT_MAX));
    crc = crc32_iscsi(p, n, crc);
    p += n;
    size -= static_cast<size_t>(n);
  }
  return ~crc;
}

}  // namespace trident
