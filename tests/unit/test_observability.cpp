// TensorBoard event files (CRC-32C, TFRecord framing, Event protos, metrics rows as scalars) and loss plots
// (ticks, the SVG chart, reading run directories). The round trip through the real tensorboard package and
// the plot command end to end are in tests/observability/.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/runtime/crc32c.h"
#include "core/runtime/event_file.h"
#include "core/runtime/metrics.h"
#include "core/runtime/tensorboard.h"
#include "core/runtime/tfevent.pb.h"
#include "core/runtime/tfrecord.h"
#include "tests/unit/test_util.h"
#include "train/line_chart.h"
#include "train/loss_plot.h"

namespace trident {
namespace {

namespace fs = std::filesystem;

class ObservabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("trident_obs_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static std::string read(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // The records of a TFRecord file, each frame checked.
  static std::vector<std::string> records(const std::string& p) {
    const std::string bytes = read(p);
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < bytes.size()) {
      EXPECT_GE(bytes.size(), pos + 12);
      uint64_t n = 0;
      uint32_t length_crc = 0, data_crc = 0;
      std::memcpy(&n, bytes.data() + pos, 8);  // little-endian on every machine this runs on
      std::memcpy(&length_crc, bytes.data() + pos + 8, 4);
      EXPECT_EQ(length_crc, mask_crc32c(crc32c(bytes.data() + pos, 8)));
      std::string data = bytes.substr(pos + 12, n);
      std::memcpy(&data_crc, bytes.data() + pos + 12 + n, 4);
      EXPECT_EQ(data_crc, mask_crc32c(crc32c(data.data(), data.size())));
      out.push_back(data);
      pos += 16 + n;
    }
    return out;
  }
  static std::vector<std::string> event_files(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().string());
    return out;
  }

  fs::path dir_;
};

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);  // the CRC-32C check value
  EXPECT_EQ(crc32c("", 0), 0u);
  const std::string zeros(32, '\0'), ones(32, '\xff');
  EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);  // RFC 3720, B.4
  EXPECT_EQ(crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(mask_crc32c(0), 0xa282ead8u);
  EXPECT_EQ(mask_crc32c(1u << 15), 0xa282ead9u);  // rotated right by 15
}

TEST(TfRecord, FrameIsLengthCrcDataCrc) {
  const std::string f = tfrecord_frame("abc");
  ASSERT_EQ(f.size(), 3u + 16u);
  EXPECT_EQ(f.substr(0, 8), std::string("\x03\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(f.substr(12, 3), "abc");
  uint32_t crc = 0;
  std::memcpy(&crc, f.data() + 15, 4);
  EXPECT_EQ(crc, mask_crc32c(crc32c("abc", 3)));
}

TEST_F(ObservabilityTest, EventFileStartsWithItsVersionThenScalars) {
  EventFileWriter w(path("tb"));
  EXPECT_EQ(fs::path(w.path()).parent_path(), dir_ / "tb");
  EXPECT_EQ(fs::path(w.path()).filename().string().rfind("events.out.tfevents.", 0), 0u);
  w.add_scalars(7, {{"loss", 2.5f}, {"lr", 1e-3f}});
  const std::vector<std::string> recs = records(w.path());  // flushed: readable while the writer lives
  ASSERT_EQ(recs.size(), 2u);
  tfevent::Event first, second;
  ASSERT_TRUE(first.ParseFromString(recs[0]));
  EXPECT_EQ(first.file_version(), "brain.Event:2");
  EXPECT_GT(first.wall_time(), 1.6e9);
  ASSERT_TRUE(second.ParseFromString(recs[1]));
  EXPECT_EQ(second.step(), 7);
  ASSERT_EQ(second.summary().value_size(), 2);
  EXPECT_EQ(second.summary().value(0).tag(), "loss");
  EXPECT_EQ(second.summary().value(0).simple_value(), 2.5f);
  EXPECT_EQ(second.summary().value(1).tag(), "lr");
  EXPECT_EQ(second.summary().value(1).simple_value(), 1e-3f);
}

TEST(TensorBoard, RowsFlattenToTags) {
  const nlohmann::json row = nlohmann::json::parse(
      R"({"step": 3, "loss": 1.5, "pp_wait_s": [0.1, 0.2], "skipped": true, "note": "x", "gone": null,
          "moe_load": [{"layer": 2, "tokens": [4, 5]}]})");
  const std::vector<std::pair<std::string, double>> want = {{"loss", 1.5},
                                                            {"moe_load/0/layer", 2},
                                                            {"moe_load/0/tokens/0", 4},
                                                            {"moe_load/0/tokens/1", 5},
                                                            {"pp_wait_s/0", 0.1},
                                                            {"pp_wait_s/1", 0.2},
                                                            {"skipped", 1}};
  EXPECT_EQ(scalar_tags(row), want);
}

TEST_F(ObservabilityTest, MetricsRowsGoToTensorBoardAtTheirStep) {
  MetricsWriter m(path("metrics.jsonl"));
  m.add_tensorboard(path("tb"));
  m.write({{"step", 1}, {"loss", 5.0}});
  m.write({{"step", 4}, {"val_loss", 4.0}});
  m.write({{"comm", {{"dp", {{"size", 1}}}}}});  // no step: at the last one
  EXPECT_EQ(read(path("metrics.jsonl")),
            "{\"loss\":5.0,\"step\":1}\n{\"step\":4,\"val_loss\":4.0}\n{\"comm\":{\"dp\":{\"size\":1}}}\n");
  const std::vector<std::string> files = event_files(path("tb"));
  ASSERT_EQ(files.size(), 1u);
  const std::vector<std::string> recs = records(files[0]);
  ASSERT_EQ(recs.size(), 4u);
  std::vector<std::tuple<int64_t, std::string, float>> got;
  for (size_t i = 1; i < recs.size(); ++i) {
    tfevent::Event e;
    ASSERT_TRUE(e.ParseFromString(recs[i]));
    ASSERT_EQ(e.summary().value_size(), 1);
    got.emplace_back(e.step(), e.summary().value(0).tag(), e.summary().value(0).simple_value());
  }
  const std::vector<std::tuple<int64_t, std::string, float>> want = {
      {1, "loss", 5.0f}, {4, "val_loss", 4.0f}, {4, "comm/dp/size", 1.0f}};
  EXPECT_EQ(got, want);
}

TEST(LineChart, Ticks) {
  EXPECT_EQ(linear_ticks(0, 700, 8), (std::vector<double>{0, 100, 200, 300, 400, 500, 600, 700}));
  EXPECT_EQ(linear_ticks(1.23, 5.61, 6), (std::vector<double>{2, 3, 4, 5}));
  const std::vector<double> small = linear_ticks(0.05, 0.32, 6);
  ASSERT_EQ(small.size(), 6u);  // 0.05, 0.1, ..., 0.3
  EXPECT_NEAR(small.front(), 0.05, 1e-12);
  EXPECT_NEAR(small.back(), 0.3, 1e-12);
  EXPECT_EQ(log_ticks(0.5, 500), (std::vector<double>{0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500}));
  EXPECT_EQ(log_ticks(1.2, 5.6), (std::vector<double>{2, 3, 4, 5}));      // within a decade: every integer
  EXPECT_EQ(log_ticks(3.5, 5.4), (std::vector<double>{3.5, 4, 4.5, 5}));  // narrower still: linear steps
}

TEST(LineChart, OnePolylinePerSeriesAndClearErrors) {
  ChartOptions opt;
  opt.title = "a <b> & c";
  const std::vector<ChartSeries> series = {{"run loss", {1, 2, 3}, {3, 2, 1}, "#000", false, false},
                                           {"run val loss", {3}, {1.5}, "#000", true, true}};
  const std::string svg = line_chart_svg(series, opt);
  size_t polylines = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1))
    ++polylines;
  EXPECT_EQ(polylines, 2u);
  EXPECT_CONTAINS(svg, "a &lt;b&gt; &amp; c");
  EXPECT_CONTAINS(svg, "stroke-dasharray");
  opt.log_y = true;
  const std::vector<ChartSeries> negative = {{"s", {1, 2}, {1, -1}, "#000", false, false}};
  EXPECT_CONTAINS(test::error_of([&] { line_chart_svg(negative, opt); }), "log-scaled y axis cannot show");
  EXPECT_CONTAINS(test::error_of([&] { line_chart_svg({}, opt); }), "nothing to plot");
}

TEST_F(ObservabilityTest, ResumedRowsReplaceTheTail) {
  std::ofstream(path("metrics.jsonl"))
      << "{\"step\":1,\"loss\":5}\n{\"step\":2,\"loss\":4}\n{\"step\":3,\"loss\":3}\n"
      << "{\"step\":2,\"val_loss\":4.5}\n{\"comm\":{}}\n"
      << "{\"step\":2,\"loss\":4.1}\n{\"step\":3,\"loss\":3.1}\n";
  const LossCurves c = read_loss_curves(dir_.string());
  EXPECT_EQ(c.step, (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(c.loss, (std::vector<double>{5, 4.1, 3.1}));
  EXPECT_EQ(c.val_step, (std::vector<double>{2}));
  EXPECT_CONTAINS(test::error_of([&] { read_loss_curves(dir_.string(), /*need_tokens=*/true); }),
                  "has no config.pbtxt, which --x tokens needs");
}

TEST_F(ObservabilityTest, LegendNamesRunsWithoutTheirSharedDirectories) {
  for (const char* run : {"runs/tiny_dp2", "runs/tiny_pp2"}) {
    fs::create_directories(dir_ / run);
    std::ofstream(dir_ / run / "metrics.jsonl") << "{\"step\":1,\"loss\":5}\n{\"step\":2,\"loss\":4}\n"
                                                << "{\"step\":2,\"val_loss\":4.5}\n";
  }
  write_loss_plot({path("runs/tiny_dp2"), path("runs/tiny_pp2/")}, path("both.svg"));
  const std::string svg = read(path("both.svg"));
  for (const char* label :
       {">tiny_dp2 loss<", ">tiny_dp2 val loss<", ">tiny_pp2 loss<", ">tiny_pp2 val loss<"})
    EXPECT_CONTAINS(svg, label);
  write_loss_plot({path("runs/tiny_dp2")}, path("one.svg"));
  EXPECT_CONTAINS(read(path("one.svg")), ">tiny_dp2 loss<");
}

}  // namespace
}  // namespace trident
