#include "core/data/tokenizer.h"

#include "core/runtime/error.h"

namespace trident::data {

std::unique_ptr<Tokenizer> make_tokenizer(const std::string& kind, const std::string& vocab_path,
                                          const std::string& merges_path) {
  if (kind == "byte") return make_byte_tokenizer();
  if (kind == "gpt2") {
    if (vocab_path.empty() || merges_path.empty())
      fail(
          "the gpt2 tokenizer needs both a vocab.json and a merges.txt (--vocab FILE --merges FILE); "
          "they come with the GPT-2 model, e.g. from the Hugging Face 'gpt2' repository");
    return make_gpt2_tokenizer(vocab_path, merges_path);
  }
  fail("unknown tokenizer '{}'; choose 'byte' (no files needed) or 'gpt2' (needs --vocab and --merges)",
       kind);
}

}  // namespace trident::data
