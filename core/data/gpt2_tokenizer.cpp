// GPT-2 byte-level BPE (Radford et al. 2019): text -> UTF-8 bytes -> printable stand-in characters
// (bytes_to_unicode) -> words by the GPT-2 pre-tokenizer -> BPE merges by rank -> ids from vocab.json.
#include <algorithm>
#include <array>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "core/data/tokenizer.h"
#include "core/runtime/error.h"

namespace trident::data {

namespace {

std::string utf8_encode(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// bytes_to_unicode() from openai/gpt-2 encoder.py: printable Latin-1 bytes stand for themselves, the other 68
// bytes (controls, space, …) are shifted to U+0100.. so that no vocab entry holds whitespace or a control.
const std::array<std::string, 256>& byte_to_unicode_table() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); };
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) t[b] = utf8_encode(printable(b) ? static_cast<uint32_t>(b) : next++);
    return t;
  }();
  return table;
}

enum class CharClass { letter, number, space, other };

// See gpt2_pretokenize in tokenizer.h for the approximation of \p{L}, \p{N} and \s.
CharClass char_class(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return CharClass::letter;
  if (c >= '0' && c <= '9') return CharClass::number;
  if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') return CharClass::space;
  return CharClass::other;
}

// Length of a contraction ('s 't 're 've 'm 'll 'd) starting at text[pos], or 0.
size_t contraction_length(std::string_view text, size_t pos) {
  if (text[pos] != '\'' || pos + 1 >= text.size()) return 0;
  const std::string_view rest = text.substr(pos + 1);
  if (rest.starts_with("re") || rest.starts_with("ve") || rest.starts_with("ll")) return 3;
  const char c = rest[0];
  return (c == 's' || c == 't' || c == 'm' || c == 'd') ? 2 : 0;
}

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open GPT-2 {} file '{}': it does not exist or is not readable", what, path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Gpt2Tokenizer final : public Tokenizer {
 public:
  Gpt2Tokenizer(const std::string& vocab_path, const std::string& merges_path) {
    load_vocab(vocab_path);
    load_merges(merges_path, vocab_path);
  }

  std::vector<uint32_t> encode(std::string_view text) const override {
    std::vector<uint32_t> ids;
    ids.reserve(text.size() / 3);
    for (std::string_view word : gpt2_pretokenize(text)) {
      const std::vector<uint32_t> word_ids = encode_word(word);
      ids.insert(ids.end(), word_ids.begin(), word_ids.end());
    }
    return ids;
  }

  std::string decode(const std::vector<uint32_t>& ids) const override {
    std::string out;
    for (uint32_t id : ids) out += decode_one(id);
    return out;
  }

  std::string decode_one(uint32_t id) const override {
    if (id >= decoder_.size() || !has_id_[id])
      fail("token id {} is not in the GPT-2 vocab (vocab_size {})", id, vocab_size());
    return decoder_[id];
  }

  uint32_t vocab_size() const override { return static_cast<uint32_t>(decoder_.size()); }
  uint32_t eot() const override { return eot_; }
  std::string name() const override { return "gpt2"; }

 private:
  void load_vocab(const std::string& path) {
    const std::string text = read_file(path, "vocab");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      fail("GPT-2 vocab file '{}' is not valid JSON: {}", path, e.what());
    }
    if (!j.is_object() || j.empty())
      fail("GPT-2 vocab file '{}' must be a JSON object mapping token strings to ids", path);
    uint64_t max_id = 0;
    for (const auto& [token, id] : j.items()) {
      if (!id.is_number_unsigned())
        fail("GPT-2 vocab file '{}': token '{}' maps to {}, expected a non-negative integer id", path, token,
             id.dump());
      max_id = std::max<uint64_t>(max_id, id.get<uint64_t>());
    }
    if (max_id >= (1u << 31)) fail("GPT-2 vocab file '{}': id {} is too large", path, max_id);

    // Reverse map of bytes_to_unicode, to decode vocab strings back to bytes.
    std::unordered_map<std::string, char> unicode_to_byte;
    for (int b = 0; b < 256; ++b)
      unicode_to_byte[gpt2_byte_to_unicode(static_cast<uint8_t>(b))] = static_cast<char>(b);

    decoder_.assign(max_id + 1, std::string());
    has_id_.assign(max_id + 1, false);
    for (const auto& [token, id_json] : j.items()) {
      const auto id = id_json.get<uint32_t>();
      if (has_id_[id]) fail("GPT-2 vocab file '{}': id {} is used by two tokens", path, id);
      has_id_[id] = true;
      encoder_.emplace(token, id);
      decoder_[id] = to_bytes(token, unicode_to_byte);
    }
    for (int b = 0; b < 256; ++b) {
      if (!encoder_.contains(gpt2_byte_to_unicode(static_cast<uint8_t>(b))))
        fail(
            "GPT-2 vocab file '{}' has no token for byte 0x{:02x} ('{}'); is it a byte-level BPE vocab.json?",
            path, b, gpt2_byte_to_unicode(static_cast<uint8_t>(b)));
    }
    const auto eot = encoder_.find("<|endoftext|>");
    if (eot == encoder_.end()) fail("GPT-2 vocab file '{}' has no \"<|endoftext|>\" token", path);
    eot_ = eot->second;
  }

  // A vocab string back to the bytes it stands for. Characters outside the byte table (added special tokens)
  // are kept as their own UTF-8.
  static std::string to_bytes(const std::string& token,
                              const std::unordered_map<std::string, char>& unicode_to_byte) {
    std::string out;
    size_t i = 0;
    while (i < token.size()) {
      const auto lead = static_cast<unsigned char>(token[i]);
      const size_t len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
      const std::string ch = token.substr(i, len);
      const auto it = unicode_to_byte.find(ch);
      if (it != unicode_to_byte.end()) {
        out += it->second;
      } else {
        out += ch;
      }
      i += len;
    }
    return out;
  }

  void load_merges(const std::string& path, const std::string& vocab_path) {
    std::istringstream in(read_file(path, "merges"));
    std::string line;
    int line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || (line_no == 1 && line.starts_with("#version"))) continue;
      const size_t space = line.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == line.size() ||
          line.find(' ', space + 1) != std::string::npos)
        fail("GPT-2 merges file '{}' line {}: expected two tokens separated by one space, got '{}'", path,
             line_no, line);
      const std::string merged = line.substr(0, space) + line.substr(space + 1);
      if (!encoder_.contains(merged))
        fail(
            "GPT-2 merges file '{}' line {}: merged token '{}' is not in '{}'; do vocab and merges files "
            "belong "
            "together?",
            path, line_no, merged, vocab_path);
      ranks_.emplace(line, static_cast<int>(ranks_.size()));  // first occurrence wins, as in GPT-2
    }
    if (ranks_.empty()) fail("GPT-2 merges file '{}' holds no merges", path);
  }

  int rank_of(const std::string& a, const std::string& b) const {
    // Stand-in characters never include an ASCII space, so "a b" is an unambiguous key.
    const auto it = ranks_.find(a + ' ' + b);
    return it == ranks_.end() ? -1 : it->second;
  }

  // Merge the lowest-ranked adjacent pair everywhere it occurs, until no pair has a rank.
  std::vector<std::string> bpe(std::string_view word) const {
    std::vector<std::string> symbols;
    symbols.reserve(word.size());
    for (char c : word) symbols.push_back(gpt2_byte_to_unicode(static_cast<uint8_t>(c)));
    while (symbols.size() > 1) {
      int best = -1;
      size_t best_i = 0;
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        const int r = rank_of(symbols[i], symbols[i + 1]);
        if (r >= 0 && (best < 0 || r < best)) best = r, best_i = i;
      }
      if (best < 0) break;
      const std::string a = symbols[best_i], b = symbols[best_i + 1];
      std::vector<std::string> merged;
      merged.reserve(symbols.size());
      for (size_t i = 0; i < symbols.size(); ++i) {
        if (i + 1 < symbols.size() && symbols[i] == a && symbols[i + 1] == b) {
          merged.push_back(a + b);
          ++i;
        } else {
          merged.push_back(std::move(symbols[i]));
        }
      }
      symbols = std::move(merged);
    }
    return symbols;
  }

  std::vector<uint32_t> encode_word(std::string_view word) const {
    {
      std::lock_guard<std::mutex> lock(cache_mutex_);
      const auto it = cache_.find(std::string(word));
      if (it != cache_.end()) return it->second;
    }
    std::vector<uint32_t> ids;
    for (const std::string& symbol : bpe(word)) {
      const auto it = encoder_.find(symbol);
      TRIDENT_CHECK(it != encoder_.end(), "BPE produced '{}', which is not in the vocab", symbol);
      ids.push_back(it->second);
    }
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kMaxCacheEntries)
      cache_.clear();  // bounded: a long tail of rare words must not grow it
    cache_.emplace(std::string(word), ids);
    return ids;
  }

  static constexpr size_t kMaxCacheEntries = 1 << 20;

  std::unordered_map<std::string, uint32_t> encoder_;  // stand-in string -> id
  std::vector<std::string> decoder_;                   // id -> raw bytes
  std::vector<bool> has_id_;
  std::unordered_map<std::string, int> ranks_;  // "a b" -> merge rank (line order)
  uint32_t eot_ = 0;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<uint32_t>> cache_;  // word bytes -> ids
};

}  // namespace

const std::string& gpt2_byte_to_unicode(uint8_t b) {
  return byte_to_unicode_table()[b];
}

std::vector<std::string_view> gpt2_pretokenize(std::string_view text) {
  std::vector<std::string_view> words;
  const size_t n = text.size();
  size_t pos = 0;
  auto cls = [&](size_t i) { return char_class(static_cast<unsigned char>(text[i])); };
  while (pos < n) {
    // 's|'t|'re|'ve|'m|'ll|'d
    if (const size_t len = contraction_length(text, pos)) {
      words.push_back(text.substr(pos, len));
      pos += len;
      continue;
    }
    // ' ?\p{L}+ | ?\p{N}+ | ?[^\s\p{L}\p{N}]+': an optional single space, then a run of one class.
    size_t p = pos;
    if (text[p] == ' ' && p + 1 < n && cls(p + 1) != CharClass::space) ++p;
    if (cls(p) != CharClass::space) {
      const CharClass k = cls(p);
      size_t end = p + 1;
      while (end < n && cls(end) == k) ++end;
      words.push_back(text.substr(pos, end - pos));
      pos = end;
      continue;
    }
    // \s+(?!\S) | \s+: a whitespace run, leaving its last character to prefix the next word when one follows.
    size_t end = pos;
    while (end < n && cls(end) == CharClass::space) ++end;
    if (end < n && end - pos >= 2) --end;
    words.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return words;
}

std::unique_ptr<Tokenizer> make_gpt2_tokenizer(const std::string& vocab_path,
                                               const std::string& merges_path) {
  return std::make_unique<Gpt2Tokenizer>(vocab_path, merges_path);
}

}  // namespace trident::data
