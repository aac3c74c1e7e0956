#include <gtest/gtest.h>

#include <unistd.h>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/io/safetensors.h"
#include "tests/unit/test_util.h"

namespace trident {
namespace {

namespace fs = std::filesystem;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("trident_st_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // A file with a hand-written header: [u64 length][header][data].
  std::string write_raw(const std::string& name, const std::string& header, const std::string& data) {
    std::string p = path(name);
    std::ofstream out(p, std::ios::binary);
    uint64_t n = header.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header << data;
    return p;
  }

  fs::path dir_;
};

using test::error_of;

Tensor ramp(const Shape& shape, DType dtype, double scale) {
  Tensor t = Tensor::empty(shape, dtype);
  for (int64_t i = 0; i < t.numel(); ++i) {
    Tensor one = t.flat(i, {1});
    one.fill(static_cast<double>(i) * scale + (dtype == DType::u16 || dtype == DType::u32 ? 7 : -3));
  }
  return t;
}

TEST_F(SafetensorsTest, RoundTripsEveryDtype) {
  std::map<std::string, Tensor> in;
  in["a.f32"] = ramp({3, 5}, DType::f32, 0.37);
  in["b.f64"] = ramp({2, 2, 3}, DType::f64, 1e-3);
  in["c.bf16"] = ramp({7}, DType::bf16, 0.5);
  in["d.i32"] = ramp({4, 1}, DType::i32, -11);
  in["e.u16"] = ramp({9}, DType::u16, 1000);
  in["f.u32"] = ramp({2, 3}, DType::u32, 123456);
  in["g.scalar"] = Tensor::full({}, 2.5, DType::f64);
  in["h.empty"] = Tensor::empty({0, 4}, DType::f32);
  const std::string p = path("all.safetensors");
  io::save_safetensors(p, in, {{"k", "v"}, {"config", "{\"a\": 1}"}});
  EXPECT_FALSE(fs::exists(p + ".tmp"));

  io::TensorFile f = io::load_safetensors(p);
  EXPECT_EQ(f.metadata.size(), 2u);
  EXPECT_EQ(f.metadata["k"], "v");
  EXPECT_EQ(f.metadata["config"], "{\"a\": 1}");
  ASSERT_EQ(f.tensors.size(), in.size());
  for (const auto& [name, t] : in) {
    ASSERT_TRUE(f.tensors.count(name)) << name;
    const Tensor& u = f.tensors.at(name);
    EXPECT_EQ(u.dtype(), t.dtype()) << name;
    EXPECT_EQ(u.shape(), t.shape()) << name;
    ASSERT_EQ(u.nbytes(), t.nbytes());
    EXPECT_EQ(std::memcmp(u.raw(), t.raw(), t.nbytes()), 0) << name;
  }
}

TEST_F(SafetensorsTest, ReadsHandWrittenLayoutWithPaddedHeader) {
  // What the Python writer (tools/reference/st.py) emits: header padded with spaces, explicit offsets.
  float v[3] = {1.5f, -2.0f, 3.25f};
  int32_t ids[2] = {5, 66};
  std::string data(reinterpret_cast<const char*>(v), 12);
  data.append(reinterpret_cast<const char*>(ids), 8);
  std::string header =
      R"({"__metadata__":{"generator":"test"},"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
      R"("ids":{"dtype":"I32","shape":[1,2],"data_offsets":[12,20]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  io::TensorFile f = io::load_safetensors(write_raw("hand.safetensors", header, data));
  EXPECT_EQ(f.metadata.at("generator"), "test");
  EXPECT_EQ(f.tensors.at("w").to_vector(), std::vector<float>({1.5f, -2.0f, 3.25f}));
  EXPECT_EQ(f.tensors.at("ids").shape(), Shape({1, 2}));
  EXPECT_EQ(f.tensors.at("ids").item(1), 66);
}

TEST_F(SafetensorsTest, SaveOverwritesExistingFile) {
  const std::string p = path("x.safetensors");
  io::save_safetensors(p, {{"a", Tensor::full({100}, 1.0)}});
  io::save_safetensors(p, {{"b", Tensor::full({2}, 3.0, DType::f64)}});
  io::TensorFile f = io::load_safetensors(p);
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors.at("b").item(1), 3.0);
}

TEST_F(SafetensorsTest, MissingFileNamesThePath) {
  const std::string p = path("nope.safetensors");
  std::string err = error_of([&] { io::load_safetensors(p); });
  EXPECT_NE(err.find(p), std::string::npos) << err;
  EXPECT_NE(err.find("does not exist"), std::string::npos) << err;
}

TEST_F(SafetensorsTest, TruncatedFilesAreErrors) {
  const std::string p = path("t.safetensors");
  io::save_safetensors(p, {{"w", Tensor::full({64}, 1.0)}});
  const auto full = fs::file_size(p);
  // Cut the data short: the offsets run past the end.
  fs::resize_file(p, full - 4);
  std::string err = error_of([&] { io::load_safetensors(p); });
  EXPECT_NE(err.find("'w'"), std::string::npos) << err;
  EXPECT_NE(err.find(p), std::string::npos) << err;
  // Cut inside the header: the length field points past the end.
  fs::resize_file(p, 20);
  err = error_of([&] { io::load_safetensors(p); });
  EXPECT_NE(err.find("header length"), std::string::npos) << err;
  // Not even the length field.
  fs::resize_file(p, 3);
  EXPECT_NE(error_of([&] { io::load_safetensors(p); }), "");
}

TEST_F(SafetensorsTest, BadHeadersAreErrors) {
  const std::string data(16, '\0');
  auto err = [&](const std::string& header) {
    return error_of([&] { io::load_safetensors(write_raw("bad.safetensors", header, data)); });
  };
  EXPECT_NE(err("{not json").find("not valid JSON"), std::string::npos);
  EXPECT_NE(err("[1, 2]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(err(R"({"w":{"shape":[4],"data_offsets":[0,16]}})").find("'w'"), std::string::npos);
  EXPECT_NE(err(R"({"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})").find("'w'"),
            std::string::npos);
  EXPECT_NE(err(R"({"w":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})").find("unsupported dtype"),
            std::string::npos);
  EXPECT_NE(err(R"({"w":{"dtype":"F16","shape":[8],"data_offsets":[0,16]}})").find("F16"), std::string::npos);
  EXPECT_NE(err(R"({"__metadata__":{"a":1}})").find("metadata"), std::string::npos);
}

TEST_F(SafetensorsTest, OffsetMismatchesAreErrors) {
  const std::string data(16, '\0');
  auto err = [&](const std::string& header) {
    return error_of([&] { io::load_safetensors(write_raw("off.safetensors", header, data)); });
  };
  // shape * dtype size != byte range
  std::string e = err(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})");
  EXPECT_NE(e.find("'w'"), std::string::npos) << e;
  EXPECT_NE(e.find("needs 12 bytes"), std::string::npos) << e;
  // past the end of the data
  e = err(R"({"w":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})");
  EXPECT_NE(e.find("run past"), std::string::npos) << e;
  // reversed
  EXPECT_NE(err(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})"), "");
  // two tensors sharing bytes
  e = err(
      R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})");
  EXPECT_NE(e.find("overlap"), std::string::npos) << e;
}

TEST_F(SafetensorsTest, SaveRejectsReservedName) {
  EXPECT_NE(error_of([&] {
              io::save_safetensors(path("r.safetensors"), {{"__metadata__", Tensor::full({1}, 0)}});
            }),
            "");
}

// The committed golden fixtures are written by tools/reference/make_golden.py (a numpy writer, not the
// `safetensors` package); reading them checks the two implementations agree on the format.
TEST_F(SafetensorsTest, ReadsPythonWrittenGoldenFixture) {
  for (const char* name : {"gpt2_golden", "llama_golden"}) {
    const std::string p = std::string(TRIDENT_SOURCE_DIR) + "/tests/golden/" + name + ".safetensors";
    io::TensorFile f = io::load_safetensors(p);
    EXPECT_EQ(f.metadata.at("generator"), "tools/reference/make_golden.py");
    EXPECT_TRUE(f.metadata.count("config"));
    const Tensor& tokens = f.tensors.at("input.tokens");
    EXPECT_EQ(tokens.dtype(), DType::i32);
    ASSERT_EQ(tokens.ndim(), 2);
    const Tensor& logits = f.tensors.at("out.logits");
    EXPECT_EQ(logits.dtype(), DType::f64);
    EXPECT_EQ(logits.dim(0), tokens.dim(0));
    EXPECT_EQ(logits.dim(1), tokens.dim(1));
    EXPECT_EQ(f.tensors.at("train.losses").numel(), 10);
    const Tensor& wte = f.tensors.at("param.embed.wte");
    EXPECT_EQ(wte.dtype(), DType::f32);
    EXPECT_EQ(f.tensors.at("grad.embed.wte").shape(), wte.shape());
    const double loss = f.tensors.at("out.loss").item(0);
    EXPECT_GT(loss, 3.0);  // about ln(67) for small random weights
    EXPECT_LT(loss, 6.0);
  }
}

}  // namespace
}  // namespace trident
