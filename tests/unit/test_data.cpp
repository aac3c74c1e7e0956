// core/data: token shards, layout-independent sampling, tokenizers, corpus preparation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/data/prepare.h"
#include "core/data/sampler.h"
#include "core/data/shard.h"
#include "core/data/tokenizer.h"
#include "core/runtime/error.h"
#include "tests/unit/test_util.h"

namespace fs = std::filesystem;
using namespace trident;
using namespace trident::data;

namespace {

// A fresh directory per test, removed at the end.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() / (std::string("trident_data_") + info->test_suite_name() + "_" +
                                         info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

using test::error_of;

#define EXPECT_ERROR_HAS(stmt, ...)                                                           \
  do {                                                                                        \
    const std::string msg = error_of([&] { stmt; });                                          \
    ASSERT_FALSE(msg.empty()) << #stmt " threw no trident::Error";                            \
    for (const char* key : {__VA_ARGS__}) EXPECT_NE(msg.find(key), std::string::npos) << msg; \
  } while (0)

std::vector<uint32_t> iota_tokens(size_t n, uint32_t vocab) {
  std::vector<uint32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<uint32_t>((i * 7919u) % vocab);
  return t;
}

std::vector<int32_t> as_vector(const Tensor& t) {
  const int32_t* p = t.data<int32_t>();
  return {p, p + t.numel()};
}

// Patches header bytes [at, at + n) of a shard file.
void patch(const std::string& path, size_t at, const void* bytes, size_t n) {
  std::string s = read_bytes(path);
  std::memcpy(s.data() + at, bytes, n);
  write_bytes(path, s);
}

}  // namespace

// ---- shard format ----

TEST(DataShard, RoundTripU16) {
  TempDir dir;
  const auto tokens = iota_tokens(1000, 257);
  write_shard(dir.file("a.bin"), tokens, 257, 256);
  EXPECT_FALSE(fs::exists(dir.file("a.bin.tmp")));
  EXPECT_EQ(fs::file_size(dir.file("a.bin")), 64u + 2 * 1000);
  const TokenShard shard(dir.file("a.bin"));
  EXPECT_EQ(shard.count(), 1000);
  EXPECT_EQ(shard.vocab_size(), 257u);
  EXPECT_EQ(shard.eot(), 256u);
  EXPECT_EQ(shard.dtype(), TokenDType::u16);
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(shard.at(i), tokens[i]);
  std::vector<int32_t> out(10);
  shard.read(990, 10, out.data());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(out[i], static_cast<int32_t>(tokens[990 + i]));
}

TEST(DataShard, RoundTripU32) {
  TempDir dir;
  std::vector<uint32_t> tokens = iota_tokens(500, 100000);
  tokens[0] = 99999;  // needs more than 16 bits
  write_shard(dir.file("a.bin"), tokens, 100000, 50256);
  EXPECT_EQ(fs::file_size(dir.file("a.bin")), 64u + 4 * 500);
  const TokenShard shard(dir.file("a.bin"));
  EXPECT_EQ(shard.dtype(), TokenDType::u32);
  EXPECT_EQ(shard.count(), 500);
  EXPECT_EQ(shard.eot(), 50256u);
  for (int64_t i = 0; i < 500; ++i) ASSERT_EQ(shard.at(i), tokens[i]);
  EXPECT_EQ(shard.max_token(), 99999u);
}

TEST(DataShard, HeaderLayout) {
  TempDir dir;
  write_shard(dir.file("a.bin"), {1, 2, 3}, 257, 256);
  const std::string s = read_bytes(dir.file("a.bin"));
  ASSERT_EQ(s.size(), 70u);
  EXPECT_EQ(std::memcmp(s.data(), "TRIDTOK\0", 8), 0);
  EXPECT_EQ(s[8], 1);                                // version
  EXPECT_EQ(s[12], 1);                               // u16
  EXPECT_EQ(s[16], 3);                               // count
  EXPECT_EQ(s[25], 1);                               // vocab 257 = 0x0101
  EXPECT_EQ(static_cast<unsigned char>(s[29]), 1u);  // eot 256 = 0x0100
  for (int i = 32; i < 64; ++i) EXPECT_EQ(s[i], 0);
  EXPECT_EQ(s[64], 1);
  EXPECT_EQ(s[66], 2);
}

TEST(DataShard, EmptyShardOpens) {
  TempDir dir;
  write_shard(dir.file("a.bin"), {}, 257, 256);
  const TokenShard shard(dir.file("a.bin"));
  EXPECT_EQ(shard.count(), 0);
}

TEST(DataShard, MissingFile) {
  TempDir dir;
  EXPECT_ERROR_HAS(TokenShard(dir.file("nope.bin")), "does not exist", "nope.bin", "trident data prepare");
}

TEST(DataShard, TooSmallForHeader) {
  TempDir dir;
  write_bytes(dir.file("a.bin"), "TRIDTOK");
  EXPECT_ERROR_HAS(TokenShard(dir.file("a.bin")), "too small", "a.bin");
}

TEST(DataShard, BadMagic) {
  TempDir dir;
  write_bytes(dir.file("a.bin"), std::string(100, 'x'));
  EXPECT_ERROR_HAS(TokenShard(dir.file("a.bin")), "bad magic", "a.bin");
}

TEST(DataShard, UnsupportedVersion) {
  TempDir dir;
  write_shard(dir.file("a.bin"), {1, 2, 3}, 257, 256);
  const uint32_t v = 7;
  patch(dir.file("a.bin"), 8, &v, 4);
  EXPECT_ERROR_HAS(TokenShard(dir.file("a.bin")), "version 7");
}

TEST(DataShard, UnknownDtype) {
  TempDir dir;
  write_shard(dir.file("a.bin"), {1, 2, 3}, 257, 256);
  const uint32_t d = 9;
  patch(dir.file("a.bin"), 12, &d, 4);
  EXPECT_ERROR_HAS(TokenShard(dir.file("a.bin")), "dtype", "9");
}

TEST(DataShard, Truncated) {
  TempDir dir;
  write_shard(dir.file("a.bin"), iota_tokens(100, 257), 257, 256);
  std::string s = read_bytes(dir.file("a.bin"));
  s.resize(s.size() - 11);
  write_bytes(dir.file("a.bin"), s);
  EXPECT_ERROR_HAS(TokenShard(dir.file("a.bin")), "truncated", "100 tokens", "264 bytes", "253 bytes");
}

TEST(DataShard, TrailingBytes) {
  TempDir dir;
  write_shard(dir.file("a.bin"), iota_tokens(100, 257), 257, 256);
  write_bytes(dir.file("a.bin"), read_bytes(dir.file("a.bin")) + "xyz");
  EXPECT_ERROR_HAS(TokenShard(dir.file("a.bin")), "corrupt", "100 tokens");
}

TEST(DataShard, DtypeTooNarrowForVocab) {
  TempDir dir;
  write_shard(dir.file("a.bin"), {1, 2, 3}, 257, 256);
  const uint32_t vocab = 70000;
  patch(dir.file("a.bin"), 24, &vocab, 4);
  EXPECT_ERROR_HAS(TokenShard(dir.file("a.bin")), "u16", "dtype", "70000");
}

TEST(DataShard, CheckVocab) {
  TempDir dir;
  write_shard(dir.file("a.bin"), {1, 2, 3}, 50257, 50256);
  const TokenShard shard(dir.file("a.bin"));
  EXPECT_NO_THROW(shard.check_vocab(50257));
  EXPECT_NO_THROW(shard.check_vocab(50304));  // padded vocab is fine
  EXPECT_ERROR_HAS(shard.check_vocab(257), "tokenized with vocab 50257 but model.vocab_size is 257");
}

TEST(DataShard, WriteRejectsOutOfVocabTokens) {
  TempDir dir;
  EXPECT_ERROR_HAS(write_shard(dir.file("a.bin"), {1, 300}, 257, 256), "300", "vocab of 257");
  EXPECT_ERROR_HAS(write_shard(dir.file("a.bin"), {1}, 257, 257), "eot");
}

TEST(DataShard, OutOfRangeReads) {
  TempDir dir;
  write_shard(dir.file("a.bin"), {1, 2, 3}, 257, 256);
  const TokenShard shard(dir.file("a.bin"));
  std::vector<int32_t> out(4);
  EXPECT_ERROR_HAS(shard.read(1, 3, out.data()), "outside");
  EXPECT_ERROR_HAS(shard.at(3), "outside");
}

TEST(DataShard, MoveKeepsMapping) {
  TempDir dir;
  write_shard(dir.file("a.bin"), {5, 6, 7}, 257, 256);
  TokenShard a(dir.file("a.bin"));
  TokenShard b(std::move(a));
  EXPECT_EQ(b.at(2), 7u);
  write_shard(dir.file("c.bin"), {9}, 257, 256);
  b = TokenShard(dir.file("c.bin"));
  EXPECT_EQ(b.count(), 1);
  EXPECT_EQ(b.at(0), 9u);
}

// ---- sampling ----

TEST(DataSampler, SlicingDoesNotChangeTheBatch) {
  TempDir dir;
  write_shard(dir.file("a.bin"), iota_tokens(5000, 257), 257, 256);
  const TokenShard shard(dir.file("a.bin"));
  const TrainSampler sampler(shard, 16, 1234);
  Tensor x8, y8, x0, y0, x1, y1;
  sampler.fill(3, 0, 8, x8, y8);
  sampler.fill(3, 0, 4, x0, y0);
  sampler.fill(3, 4, 4, x1, y1);
  EXPECT_EQ(x8.shape(), (Shape{8, 16}));
  EXPECT_EQ(x8.dtype(), DType::i32);
  std::vector<int32_t> xcat = as_vector(x0), ycat = as_vector(y0);
  const auto x1v = as_vector(x1), y1v = as_vector(y1);
  xcat.insert(xcat.end(), x1v.begin(), x1v.end());
  ycat.insert(ycat.end(), y1v.begin(), y1v.end());
  EXPECT_EQ(as_vector(x8), xcat);
  EXPECT_EQ(as_vector(y8), ycat);
}

TEST(DataSampler, TargetsAreInputsShiftedByOne) {
  TempDir dir;
  const auto tokens = iota_tokens(3000, 257);
  write_shard(dir.file("a.bin"), tokens, 257, 256);
  const TokenShard shard(dir.file("a.bin"));
  const TrainSampler sampler(shard, 32, 7);
  Tensor x, y;
  sampler.fill(0, 0, 4, x, y);
  for (int64_t s = 0; s < 4; ++s) {
    const int64_t off = sampler.offset(0, s);
    ASSERT_GE(off, 0);
    ASSERT_LE(off + 33, 3000);
    for (int64_t t = 0; t < 32; ++t) {
      EXPECT_EQ(x.data<int32_t>()[s * 32 + t], static_cast<int32_t>(tokens[off + t]));
      EXPECT_EQ(y.data<int32_t>()[s * 32 + t], static_cast<int32_t>(tokens[off + t + 1]));
    }
  }
}

TEST(DataSampler, DeterministicAndStepsDiffer) {
  TempDir dir;
  write_shard(dir.file("a.bin"), iota_tokens(100000, 257), 257, 256);
  const TokenShard shard(dir.file("a.bin"));
  const TrainSampler a(shard, 64, 42), b(shard, 64, 42), other_seed(shard, 64, 43);
  Tensor xa, ya, xb, yb, xs, ys, xo, yo;
  a.fill(5, 0, 4, xa, ya);
  b.fill(5, 0, 4, xb, yb);
  a.fill(6, 0, 4, xs, ys);
  other_seed.fill(5, 0, 4, xo, yo);
  EXPECT_EQ(as_vector(xa), as_vector(xb));
  EXPECT_NE(as_vector(xa), as_vector(xs));
  EXPECT_NE(as_vector(xa), as_vector(xo));
  EXPECT_NE(a.offset(5, 0), a.offset(5, 1));
}

TEST(DataSampler, OffsetsCoverTheShard) {
  TempDir dir;
  write_shard(dir.file("a.bin"), iota_tokens(40, 257), 257, 256);
  const TokenShard shard(dir.file("a.bin"));
  const TrainSampler sampler(shard, 8, 1);
  std::vector<int> seen(32, 0);
  for (int64_t step = 0; step < 200; ++step) {
    for (int64_t s = 0; s < 8; ++s) {
      const int64_t off = sampler.offset(step, s);
      ASSERT_GE(off, 0);
      ASSERT_LT(off, 32);  // count - seq_len
      seen[off]++;
    }
  }
  for (int v : seen) EXPECT_GT(v, 0);
}

TEST(DataSampler, FillsIntoExistingTensors) {
  TempDir dir;
  write_shard(dir.file("a.bin"), iota_tokens(1000, 257), 257, 256);
  const TokenShard shard(dir.file("a.bin"));
  const TrainSampler sampler(shard, 8, 1);
  Tensor x = Tensor::zeros({2, 8}, DType::i32), y = Tensor::zeros({2, 8}, DType::i32);
  const void* before = x.raw();
  sampler.fill(0, 0, 2, x, y);
  EXPECT_EQ(x.raw(), before);
  Tensor bad = Tensor::zeros({3, 8}, DType::i32), y2;
  EXPECT_THROW(sampler.fill(0, 0, 2, bad, y2), Error);
}

TEST(DataSampler, ShardShorterThanWindow) {
  TempDir dir;
  write_shard(dir.file("a.bin"), iota_tokens(16, 257), 257, 256);
  const TokenShard shard(dir.file("a.bin"));
  EXPECT_ERROR_HAS(TrainSampler(shard, 16, 1), "holds 16 tokens", "seq_len+1 = 17");
  EXPECT_ERROR_HAS(EvalSampler(shard, 16, 2), "holds 16 tokens");
  EXPECT_NO_THROW(TrainSampler(shard, 15, 1));
}

TEST(DataSampler, EvalWindowsAreInOrderAndInRange) {
  TempDir dir;
  const auto tokens = iota_tokens(103, 257);
  write_shard(dir.file("a.bin"), tokens, 257, 256);
  const TokenShard shard(dir.file("a.bin"));
  const EvalSampler eval(shard, 10, 4);
  EXPECT_EQ(eval.num_windows(), 10);  // (103 - 1) / 10
  EXPECT_EQ(eval.num_batches(), 3);
  for (int64_t e = 0; e < 6; ++e) {
    for (int64_t j = 0; j < 4; ++j) {
      const int64_t off = eval.offset(e, j);
      EXPECT_EQ(off, ((e * 4 + j) % 10) * 10);
      EXPECT_LE(off + 11, 103);
    }
  }
  Tensor x, y, x0, y0, x1, y1;
  eval.fill(1, 0, 4, x, y);
  eval.fill(1, 0, 2, x0, y0);
  eval.fill(1, 2, 2, x1, y1);
  auto cat = as_vector(x0);
  const auto x1v = as_vector(x1);
  cat.insert(cat.end(), x1v.begin(), x1v.end());
  EXPECT_EQ(as_vector(x), cat);
  EXPECT_EQ(x.data<int32_t>()[0], static_cast<int32_t>(tokens[40]));
  EXPECT_EQ(y.data<int32_t>()[9], static_cast<int32_t>(tokens[50]));
  EXPECT_THROW(eval.fill(0, 3, 2, x0, y0), Error);  // past the eval batch
}

// ---- tokenizers ----

TEST(DataTokenizer, ByteRoundTripUtf8) {
  const auto tok = make_tokenizer("byte", "", "");
  EXPECT_EQ(tok->vocab_size(), 257u);
  EXPECT_EQ(tok->eot(), 256u);
  const std::string text = "naïve café — 日本語 🙂\n\ttabs";
  const auto ids = tok->encode(text);
  EXPECT_EQ(ids.size(), text.size());
  EXPECT_EQ(ids[0], static_cast<uint32_t>('n'));
  EXPECT_EQ(ids[2], 0xC3u);
  EXPECT_EQ(tok->decode(ids), text);
  EXPECT_EQ(tok->decode({'a', 256, 'b'}), "a\nb");
  EXPECT_ERROR_HAS(tok->decode({300}), "300", "257");
}

TEST(DataTokenizer, UnknownKind) {
  EXPECT_ERROR_HAS(make_tokenizer("sentencepiece", "", ""), "unknown tokenizer 'sentencepiece'", "byte",
                   "gpt2");
  EXPECT_ERROR_HAS(make_tokenizer("gpt2", "", ""), "--vocab", "--merges");
}

TEST(DataTokenizer, Gpt2PretokenizerSplit) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(gpt2_pretokenize("Hello world's 123!!"), (V{"Hello", " world", "'s", " 123", "!!"}));
  EXPECT_EQ(gpt2_pretokenize("I'll we've they're"), (V{"I", "'ll", " we", "'ve", " they", "'re"}));
  // \s+(?!\S) leaves the last space of a run to prefix the next word; a trailing run stays whole.
  EXPECT_EQ(gpt2_pretokenize("a   b  "), (V{"a", "  ", " b", "  "}));
  EXPECT_EQ(gpt2_pretokenize("x\n\ny"), (V{"x", "\n", "\n", "y"}));
  EXPECT_EQ(gpt2_pretokenize("x \ny"), (V{"x", " ", "\n", "y"}));
  EXPECT_EQ(gpt2_pretokenize("a1b2 ?!x"), (V{"a", "1", "b", "2", " ?!", "x"}));
  EXPECT_EQ(gpt2_pretokenize("café au"), (V{"café", " au"}));
  EXPECT_EQ(gpt2_pretokenize(""), V{});
}

namespace {

// A GPT-2-style vocab: the 256 byte stand-ins (id = byte), the merge results, then <|endoftext|>.
struct TinyGpt2 {
  TempDir& dir;
  std::vector<std::pair<std::string, std::string>> merges;
  nlohmann::json vocab = nlohmann::json::object();

  std::string vocab_path() const { return dir.file("vocab.json"); }
  std::string merges_path() const { return dir.file("merges.txt"); }

  void write() {
    for (int b = 0; b < 256; ++b) vocab[gpt2_byte_to_unicode(static_cast<uint8_t>(b))] = b;
    uint32_t next = 256;
    std::string text = "#version: 0.2\n";
    for (const auto& [a, b] : merges) {
      text += a + " " + b + "\n";
      if (!vocab.contains(a + b)) vocab[a + b] = next++;
    }
    vocab["<|endoftext|>"] = next;
    write_bytes(merges_path(), text);
    write_bytes(vocab_path(), vocab.dump());
  }
  uint32_t id(const std::string& token) const { return vocab.at(token).get<uint32_t>(); }
};

const std::string G = gpt2_byte_to_unicode(' ');  // "Ġ"

}  // namespace

TEST(DataTokenizer, Gpt2MergesByRank) {
  TempDir dir;
  TinyGpt2 v{dir,
             {{"H", "e"},
              {"l", "l"},
              {"e", "l"},  // ranked after "l l": "hell" is h e ll, not h el l
              {"He", "ll"},
              {"Hell", "o"},
              {G, "w"},
              {"o", "r"},
              {G + "w", "or"},
              {G + "wor", "l"},
              {G + "worl", "d"},
              {"1", "2"},
              {"12", "3"},
              {"!", "!"},
              {"'", "s"}}};
  v.write();
  const auto tok = make_tokenizer("gpt2", v.vocab_path(), v.merges_path());
  EXPECT_EQ(tok->eot(), v.id("<|endoftext|>"));
  EXPECT_EQ(tok->vocab_size(), tok->eot() + 1);
  EXPECT_EQ(tok->encode("Hello"), (std::vector<uint32_t>{v.id("Hello")}));
  EXPECT_EQ(tok->encode("hell"), (std::vector<uint32_t>{'h', 'e', v.id("ll")}));
  EXPECT_EQ(tok->encode("el"), (std::vector<uint32_t>{v.id("el")}));
  const std::vector<uint32_t> want{v.id("Hello"), v.id(G + "world"), v.id("'s"),
                                   v.id(G),       v.id("123"),       v.id("!!")};
  EXPECT_EQ(tok->encode("Hello world's 123!!"), want);
  EXPECT_EQ(tok->encode("Hello world's 123!!"), want);  // second time from the word cache
  EXPECT_EQ(tok->decode(want), "Hello world's 123!!");
  EXPECT_EQ(tok->decode_one(v.id(G + "world")), " world");
  EXPECT_EQ(tok->decode_one(tok->eot()), "<|endoftext|>");
  EXPECT_ERROR_HAS(tok->decode_one(tok->vocab_size()), "not in the GPT-2 vocab");

  for (const std::string& text :
       std::vector<std::string>{"Hello world's 123!!", "naïve café — 日本語 🙂\n\n  tabs\t!\r\n",
                                "  lead and trail  ", "x'll'd'm'''", std::string("\0\x01\xff", 3)}) {
    EXPECT_EQ(tok->decode(tok->encode(text)), text);
  }
}

TEST(DataTokenizer, Gpt2FileErrors) {
  TempDir dir;
  TinyGpt2 v{dir, {{"a", "b"}}};
  v.write();
  EXPECT_ERROR_HAS(make_tokenizer("gpt2", dir.file("missing.json"), v.merges_path()), "missing.json",
                   "vocab");
  EXPECT_ERROR_HAS(make_tokenizer("gpt2", v.vocab_path(), dir.file("missing.txt")), "missing.txt", "merges");

  write_bytes(dir.file("garbled.json"), "{\"a\": 1, ");
  EXPECT_ERROR_HAS(make_tokenizer("gpt2", dir.file("garbled.json"), v.merges_path()), "garbled.json",
                   "not valid JSON");
  write_bytes(dir.file("list.json"), "[1, 2]");
  EXPECT_ERROR_HAS(make_tokenizer("gpt2", dir.file("list.json"), v.merges_path()), "JSON object");
  write_bytes(dir.file("noeot.json"), [&] {
    auto j = v.vocab;
    j.erase("<|endoftext|>");
    return j.dump();
  }());
  EXPECT_ERROR_HAS(make_tokenizer("gpt2", dir.file("noeot.json"), v.merges_path()), "<|endoftext|>");
  write_bytes(dir.file("nobytes.json"), R"({"<|endoftext|>": 0, "a": 1})");
  EXPECT_ERROR_HAS(make_tokenizer("gpt2", dir.file("nobytes.json"), v.merges_path()), "no token for byte");

  write_bytes(dir.file("bad.txt"), "#version: 0.2\na b\nthree parts here\n");
  EXPECT_ERROR_HAS(make_tokenizer("gpt2", v.vocab_path(), dir.file("bad.txt")), "bad.txt", "line 3");
  write_bytes(dir.file("unknown.txt"), "#version: 0.2\nx y\n");
  EXPECT_ERROR_HAS(make_tokenizer("gpt2", v.vocab_path(), dir.file("unknown.txt")), "'xy' is not in");
}

// ---- corpus preparation ----

TEST(DataPrepare, TwoFilesSplitEachDocument) {
  TempDir dir;
  fs::create_directories(dir.path() / "corpus");
  // 12 tokens: val round(3.0) = 3 -> "ld\n"; 3 tokens: val round(0.75) = 1 -> "c". Each piece gets an eot.
  write_bytes(dir.file("corpus/a.txt"), "hello world\n");
  write_bytes(dir.file("corpus/b.txt"), "abc");
  write_bytes(dir.file("corpus/c.dat"), "skipped by name");
  write_bytes(dir.file("corpus/d.u8"), "skipped by name");
  write_bytes(dir.file("corpus/e.txt"), std::string("bin\0ary", 7));
  const auto tok = make_tokenizer("byte", "", "");
  const PrepareStats stats = prepare_corpus({dir.file("corpus")}, dir.file("out/nested"), *tok, 0.25);
  EXPECT_EQ(stats.files, 2);
  EXPECT_EQ(stats.bytes, 15);
  EXPECT_EQ(stats.train_tokens, 9 + 1 + 2 + 1);
  EXPECT_EQ(stats.val_tokens, 3 + 1 + 1 + 1);
  EXPECT_EQ(stats.skipped.size(), 3u);
  EXPECT_NEAR(stats.bytes_per_token(), 15.0 / 19.0, 1e-12);

  const TokenShard train(stats.train_path), val(stats.val_path);
  EXPECT_EQ(train.count() + val.count(), 15 + 4);
  EXPECT_EQ(train.vocab_size(), 257u);
  std::vector<uint32_t> t, v;
  for (int64_t i = 0; i < train.count(); ++i) t.push_back(train.at(i));
  for (int64_t i = 0; i < val.count(); ++i) v.push_back(val.at(i));
  EXPECT_EQ(t, (std::vector<uint32_t>{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 256, 'a', 'b', 256}));
  EXPECT_EQ(v, (std::vector<uint32_t>{'l', 'd', '\n', 256, 'c', 256}));
}

TEST(DataPrepare, FilesAndZeroValFraction) {
  TempDir dir;
  write_bytes(dir.file("a.txt"), "one");
  write_bytes(dir.file("b.txt"), "two");
  const auto tok = make_tokenizer("byte", "", "");
  const PrepareStats stats =
      prepare_corpus({dir.file("b.txt"), dir.file("a.txt")}, dir.file("out"), *tok, 0.0);
  EXPECT_EQ(stats.train_tokens, 8);
  EXPECT_EQ(stats.val_tokens, 0);
  const TokenShard train(stats.train_path);
  EXPECT_EQ(train.at(0), static_cast<uint32_t>('t'));  // command-line order is kept
  EXPECT_EQ(train.at(3), 256u);
  EXPECT_EQ(TokenShard(stats.val_path).count(), 0);
}

TEST(DataPrepare, Errors) {
  TempDir dir;
  const auto tok = make_tokenizer("byte", "", "");
  write_bytes(dir.file("a.txt"), "text");
  EXPECT_ERROR_HAS(prepare_corpus({}, dir.file("out"), *tok, 0.1), "no input");
  EXPECT_ERROR_HAS(prepare_corpus({dir.file("missing.txt")}, dir.file("out"), *tok, 0.1), "missing.txt",
                   "does not exist");
  EXPECT_ERROR_HAS(prepare_corpus({dir.file("a.txt")}, dir.file("out"), *tok, 0.6), "val_fraction", "0.6");
  EXPECT_ERROR_HAS(prepare_corpus({dir.file("a.txt")}, dir.file("out"), *tok, -0.1), "val_fraction");
  fs::create_directories(dir.path() / "only_dat");
  write_bytes(dir.file("only_dat/x.dat"), "data");
  EXPECT_ERROR_HAS(prepare_corpus({dir.file("only_dat")}, dir.file("out"), *tok, 0.1), "no text documents");
  write_bytes(dir.file("bin.txt"), std::string("\0\0", 2));
  EXPECT_ERROR_HAS(prepare_corpus({dir.file("bin.txt")}, dir.file("out"), *tok, 0.1), "bin.txt", "binary");
  // A one-token document goes wholly to validation (round(0.5) = 1): nothing is left to train on.
  write_bytes(dir.file("tiny.txt"), "a");
  EXPECT_ERROR_HAS(prepare_corpus({dir.file("tiny.txt")}, dir.file("out"), *tok, 0.5), "no training tokens");
}
