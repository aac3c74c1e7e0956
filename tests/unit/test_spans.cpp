// Spans under a device clock (core/runtime/spans.h): times come from the clock's marks, resolved at take(),
// and self times from the nesting of those times, not from the host's clock.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <thread>

#include "core/runtime/spans.h"

namespace trident {
namespace {

// A device clock whose marks resolve to times the test chose: mark k is at times[k] seconds.
class ScriptedClock : public spans::Clock {
 public:
  explicit ScriptedClock(std::map<uint64_t, double> times) : times_(std::move(times)) {}
  uint64_t mark() override { return ++made_; }
  double seconds(uint64_t mark) override { return times_.at(mark); }
  void reset() override { ++resets; }
  int resets = 0;

 private:
  std::map<uint64_t, double> times_;
  uint64_t made_ = 0;
};

struct SpansOn {
  explicit SpansOn(std::shared_ptr<spans::Clock> clock) {
    spans::take();
    spans::set_clock(std::move(clock));
    spans::enable(true);
  }
  ~SpansOn() {
    spans::enable(false);
    spans::set_clock(nullptr);
    spans::take();
  }
};

TEST(Spans, DeviceClockTimesAndSelfTimes) {
  // Marks in order: qkv opens (1), attention opens (2) and closes (3), a second attention (4, 5), qkv closes
  // (6). The device ran qkv's own kernels 1 s, the attentions 2 s and 3 s: the host's clock (microseconds
  // here) must not show through.
  auto clock = std::make_shared<ScriptedClock>(
      std::map<uint64_t, double>{{1, 10.0}, {2, 10.5}, {3, 12.5}, {4, 12.5}, {5, 15.5}, {6, 16.0}});
  std::vector<spans::Record> records;
  {
    SpansOn on(clock);
    {
      spans::Span qkv(spans::Kind::qkv, spans::Phase::forward, 100.0);
      { spans::Span a(spans::Kind::attention, spans::Phase::forward); }
      { spans::Span a(spans::Kind::attention, spans::Phase::forward); }
    }
    records = spans::take();
  }
  ASSERT_EQ(records.size(), 3u);  // closed innermost first: attention, attention, qkv
  EXPECT_EQ(records[0].kind, spans::Kind::attention);
  EXPECT_DOUBLE_EQ(records[0].start_s, 10.5);
  EXPECT_DOUBLE_EQ(records[0].end_s, 12.5);
  EXPECT_DOUBLE_EQ(records[0].self_s, 2.0);
  EXPECT_DOUBLE_EQ(records[1].start_s, 12.5);
  EXPECT_DOUBLE_EQ(records[1].self_s, 3.0);
  EXPECT_EQ(records[2].kind, spans::Kind::qkv);
  EXPECT_DOUBLE_EQ(records[2].start_s, 10.0);
  EXPECT_DOUBLE_EQ(records[2].end_s, 16.0);
  EXPECT_DOUBLE_EQ(records[2].self_s, 1.0);  // 6 s less the attentions' 5 s
  EXPECT_DOUBLE_EQ(records[2].flops, 100.0);
  for (const spans::Record& r : records) EXPECT_EQ(r.start_mark, 0u);
  EXPECT_EQ(clock->resets, 1);  // the marks were given back
}

TEST(Spans, WithoutDeviceClockHostTimesNest) {
  std::vector<spans::Record> records;
  {
    SpansOn on(nullptr);
    {
      spans::Span outer(spans::Kind::optimizer, spans::Phase::none);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      {
        spans::Span inner(spans::Kind::comm_dp, spans::Phase::none);
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
      }
    }
    records = spans::take();
  }
  ASSERT_EQ(records.size(), 2u);
  EXPECT_GE(records[0].self_s, 0.029);
  EXPECT_GE(records[1].end_s - records[1].start_s, 0.049);
  EXPECT_NEAR(records[1].self_s, (records[1].end_s - records[1].start_s) - records[0].self_s, 1e-12);
  EXPECT_EQ(records[1].start_mark, 0u);
}

}  // namespace
}  // namespace trident
