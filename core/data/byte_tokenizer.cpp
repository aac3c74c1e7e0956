// Byte tokenizer: the UTF-8 bytes are the ids, plus one end-of-text id. Needs no files, so tiny CPU configs
// and tests can train on any text.
#include <memory>

#include "core/data/tokenizer.h"
#include "core/runtime/error.h"

namespace trident::data {

namespace {

class ByteTokenizer final : public Tokenizer {
 public:
  static constexpr uint32_t kEot = 256;

  std::vector<uint32_t> encode(std::string_view text) const override {
    std::vector<uint32_t> ids(text.size());
    for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
    return ids;
  }

  std::string decode(const std::vector<uint32_t>& ids) const override {
    std::string out;
    out.reserve(ids.size());
    for (uint32_t id : ids) out += decode_one(id);
    return out;
  }

  // eot renders as a line break so decoded documents stay readable one after another.
  std::string decode_one(uint32_t id) const override {
    if (id < 256) return std::string(1, static_cast<char>(id));
    if (id == kEot) return "\n";
    fail("token id {} is outside the byte tokenizer's vocab of {}", id, kEot + 1);
  }

  uint32_t vocab_size() const override { return kEot + 1; }
  uint32_t eot() const override { return kEot; }
  std::string name() const override { return "byte"; }
};

}  // namespace

std::unique_ptr<Tokenizer> make_byte_tokenizer() {
  return std::make_unique<ByteTokenizer>();
}

}  // namespace trident::data
