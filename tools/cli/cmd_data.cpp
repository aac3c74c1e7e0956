// `trident data prepare` (text -> train.bin/val.bin token shards) and `trident data inspect` (a shard's
// header and first tokens).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/data/prepare.h"
#include "core/data/shard.h"
#include "core/data/tokenizer.h"
#include "core/runtime/error.h"
#include "tools/cli/commands.h"

namespace trident::cli {

namespace {

struct TokenizerOptions {
  std::string kind = "byte";
  std::string vocab, merges;
};

void add_tokenizer_options(CLI::App* cmd, TokenizerOptions& opts, const std::string& kind_help) {
  cmd->add_option("--tokenizer", opts.kind, kind_help)
      ->check(CLI::IsMember({"byte", "gpt2"}))
      ->capture_default_str();
  cmd->add_option("--vocab", opts.vocab, "GPT-2 vocab.json (with --tokenizer gpt2)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--merges", opts.merges, "GPT-2 merges.txt (with --tokenizer gpt2)")
      ->check(CLI::ExistingFile);
}

struct PrepareOptions {
  std::vector<std::string> inputs;
  std::string out_dir;
  TokenizerOptions tokenizer;
  double val_fraction = 0.1;
};

void run_prepare(const PrepareOptions& opts) {
  const auto tokenizer =
      data::make_tokenizer(opts.tokenizer.kind, opts.tokenizer.vocab, opts.tokenizer.merges);
  const data::PrepareStats stats =
      data::prepare_corpus(opts.inputs, opts.out_dir, *tokenizer, opts.val_fraction);
  fmt::print("prepared {} file{} ({} bytes of text) with the {} tokenizer (vocab {}, eot {})\n", stats.files,
             stats.files == 1 ? "" : "s", stats.bytes, tokenizer->name(), tokenizer->vocab_size(),
             tokenizer->eot());
  fmt::print("  train  {:>12} tokens  {}\n", stats.train_tokens, stats.train_path);
  fmt::print("  val    {:>12} tokens  {}\n", stats.val_tokens, stats.val_path);
  fmt::print("  {:.3f} bytes per token\n", stats.bytes_per_token());
  // A directory of fortunes holds an index (.dat) and a UTF-8 twin (.u8) per file: say how many, not each
  // one.
  if (!stats.skipped.empty()) {
    fmt::print("  skipped {} non-text file{} (e.g. {})\n", stats.skipped.size(),
               stats.skipped.size() == 1 ? "" : "s", stats.skipped.front());
  }
}

struct InspectOptions {
  std::string shard;
  TokenizerOptions tokenizer;
  bool tokenizer_given = false;
  int64_t num_tokens = 64;
};

void run_inspect(const InspectOptions& opts) {
  const data::TokenShard shard(opts.shard);
  fmt::print("shard       {}\n", shard.path());
  fmt::print("format      version {}, {} tokens, {} bytes\n", shard.version(),
             data::token_dtype_name(shard.dtype()), shard.file_bytes());
  fmt::print("tokens      {}\n", shard.count());
  fmt::print("vocab_size  {}\n", shard.vocab_size());
  fmt::print("eot         {}\n", shard.eot());

  // One pass over the shard: documents and the largest id (ids at or past vocab_size mean a corrupt shard).
  int64_t documents = 0;
  uint32_t max_id = 0;
  std::vector<int32_t> buf(1 << 16);
  for (int64_t begin = 0; begin < shard.count(); begin += static_cast<int64_t>(buf.size())) {
    const int64_t n = std::min<int64_t>(static_cast<int64_t>(buf.size()), shard.count() - begin);
    shard.read(begin, n, buf.data());
    for (int64_t i = 0; i < n; ++i) {
      const auto id = static_cast<uint32_t>(buf[i]);
      documents += id == shard.eot();
      max_id = std::max(max_id, id);
    }
  }
  fmt::print("documents   {} (eot tokens)\n", documents);
  fmt::print("max id      {}{}\n", max_id,
             max_id < shard.vocab_size() ? "" : "  (ERROR: not below vocab_size)");
  if (max_id >= shard.vocab_size() && shard.count() > 0)
    fail("'{}' holds token id {}, outside its vocab of {}; the shard is corrupt", shard.path(), max_id,
         shard.vocab_size());

  const int64_t n = std::min(opts.num_tokens, shard.count());
  std::vector<uint32_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[i] = shard.at(i);
  fmt::print("first {} ids: {}\n", n, fmt::join(ids, " "));

  // Without --tokenizer, decode with the byte tokenizer only when the shard was made by it.
  if (!opts.tokenizer_given && shard.vocab_size() != 257) {
    fmt::print(
        "(not decoded: vocab {} is not the byte tokenizer's; pass --tokenizer gpt2 --vocab F --merges F)\n",
        shard.vocab_size());
    return;
  }
  const auto tokenizer =
      data::make_tokenizer(opts.tokenizer.kind, opts.tokenizer.vocab, opts.tokenizer.merges);
  if (tokenizer->vocab_size() != shard.vocab_size())
    fail(
        "'{}' was tokenized with vocab {} but the {} tokenizer has vocab {}; pick the tokenizer that made it",
        shard.path(), shard.vocab_size(), tokenizer->name(), tokenizer->vocab_size());
  std::string text;
  for (uint32_t id : ids) text += id == tokenizer->eot() ? "<|endoftext|>" : tokenizer->decode_one(id);
  fmt::print("first {} tokens decoded ({}):\n{}\n", n, tokenizer->name(), text);
}

}  // namespace

void register_data(CLI::App& app) {
  CLI::App* data =
      app.add_subcommand("data", "Turn text into token shards for training, and look inside shards");
  data->require_subcommand(1);
  data->footer(
      "Examples:\n"
      "  trident data prepare --input corpus/ --out data/tiny\n"
      "  trident data inspect data/tiny/train.bin");

  auto prepare_opts = std::make_shared<PrepareOptions>();
  CLI::App* prepare = data->add_subcommand(
      "prepare",
      "Tokenize text files into OUT/train.bin and OUT/val.bin. Each file is one document, followed by the\n"
      "end-of-text token; the last --val-fraction of every document goes to val.bin.");
  prepare
      ->add_option(
          "--input,-i", prepare_opts->inputs,
          "Text files and/or directories (their files are taken in sorted order, skipping *.dat, *.u8 "
          "and binary files)")
      ->required()
      ->expected(1, -1);
  prepare->add_option("--out,-o", prepare_opts->out_dir, "Output directory (created if missing)")->required();
  add_tokenizer_options(
      prepare, prepare_opts->tokenizer,
      "byte: UTF-8 bytes, vocab 257, needs no files; gpt2: GPT-2 BPE, needs --vocab and --merges");
  prepare
      ->add_option("--val-fraction", prepare_opts->val_fraction,
                   "Share of each document's tokens (its end) held out for validation")
      ->check(CLI::Range(0.0, 0.5))
      ->capture_default_str();
  prepare->footer(
      "Examples:\n"
      "  trident data prepare --input corpus/ --out data/tiny\n"
      "  trident data prepare --input a.txt b.txt --out data/gpt2 --tokenizer gpt2 \\\n"
      "      --vocab gpt2/vocab.json --merges gpt2/merges.txt --val-fraction 0.05\n"
      "Then point data.train_path / data.val_path of your config at the two .bin files.");
  prepare->callback([prepare_opts] { run_prepare(*prepare_opts); });

  auto inspect_opts = std::make_shared<InspectOptions>();
  CLI::App* inspect =
      data->add_subcommand("inspect", "Print a token shard's header, counts and first tokens");
  inspect->add_option("shard", inspect_opts->shard, "Token shard (.bin) written by `trident data prepare`")
      ->required();
  add_tokenizer_options(inspect, inspect_opts->tokenizer,
                        "Tokenizer to decode with (default: byte, when the shard's vocab is 257)");
  inspect->add_option("-n,--num-tokens", inspect_opts->num_tokens, "How many leading tokens to show")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  inspect->footer("Example:\n  trident data inspect data/tiny/train.bin -n 200");
  inspect->callback([inspect, inspect_opts] {
    inspect_opts->tokenizer_given = inspect->count("--tokenizer") > 0;
    run_inspect(*inspect_opts);
  });
}

}  // namespace trident::cli
