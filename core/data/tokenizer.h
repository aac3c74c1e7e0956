#pragma once
// Tokenizers turn text into token ids for `trident data prepare` and back into text for `trident generate`
// and `trident data inspect`. Two kinds:
//   byte  ids 0..255 are the bytes of the UTF-8 text, 256 is <|endoftext|>; vocab 257, needs no files.
//   gpt2  GPT-2 byte-level BPE from a user-supplied vocab.json + merges.txt (e.g. from the HF "gpt2" repo).
// Neither turns the literal text "<|endoftext|>" inside a document into eot: documents are separated by
// `trident data prepare`, which appends eot() after each file.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace trident::data {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::vector<uint32_t> encode(std::string_view text) const = 0;
  // Concatenated decode_one of each id. An id >= vocab_size() throws trident::Error.
  virtual std::string decode(const std::vector<uint32_t>& ids) const = 0;
  // The bytes of one token (which may be part of a multi-byte UTF-8 character). How eot renders is
  // tokenizer-specific: "\n" for byte, "<|endoftext|>" for gpt2; compare with eot() to find document ends.
  virtual std::string decode_one(uint32_t id) const = 0;
  virtual uint32_t vocab_size() const = 0;
  virtual uint32_t eot() const = 0;
  virtual std::string name() const = 0;
};

// kind: "byte" (paths ignored) or "gpt2" (both paths required). Throws trident::Error on an unknown kind and
// on missing or malformed vocab/merges files.
std::unique_ptr<Tokenizer> make_tokenizer(const std::string& kind, const std::string& vocab_path = "",
                                          const std::string& merges_path = "");

std::unique_ptr<Tokenizer> make_byte_tokenizer();
std::unique_ptr<Tokenizer> make_gpt2_tokenizer(const std::string& vocab_path, const std::string& merges_path);

// GPT-2's pre-tokenizer, 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+, written
// out by hand over bytes. Approximation of the Unicode classes: letters are ASCII letters and every byte
// >= 0x80 (so any non-ASCII character, including non-ASCII punctuation and spaces, counts as a letter);
// numbers are ASCII digits; whitespace is ASCII space, \t, \n, \v, \f, \r. On ASCII text it matches GPT-2
// exactly; on other text BPE still round-trips, only the word boundaries (and so the ids) can differ.
// The views point into `text`.
std::vector<std::string_view> gpt2_pretokenize(std::string_view text);

// GPT-2's bytes_to_unicode(): the printable character (as UTF-8) that stands for byte b in
// vocab.json/merges.txt.
const std::string& gpt2_byte_to_unicode(uint8_t b);

}  // namespace trident::data
