#include "core/runtime/gather_strings.h"

#include <cstring>

namespace trident {

std::vector<std::string> all_gather_strings(comm::Communicator& group, const std::string& mine,
                                            size_t max_bytes) {
  // u32 words: the communicators have no byte dtype. Zero padding ends each string.
  const int64_t words = static_cast<int64_t>((max_bytes + 3) / 4);
  Tensor in = Tensor::zeros({words}, DType::u32);
  std::memcpy(in.data<uint32_t>(), mine.data(), std::min(mine.size(), max_bytes));
  Tensor all = Tensor::empty({words * group.size()}, DType::u32);
  group.all_gather(all, in);
  std::vector<std::string> strings;
  const char* bytes = reinterpret_cast<const char*>(all.data<uint32_t>());
  for (int r = 0; r < group.size(); ++r) {
    const char* s = bytes + r * words * 4;
    strings.emplace_back(s, strnlen(s, max_bytes));
  }
  return strings;
}

}  // namespace trident
