// Memory accounting: every Storage counts its bytes while it lives; views count nothing.
#include <gtest/gtest.h>

#include "core/runtime/memory_stats.h"
#include "core/tensor/tensor.h"

namespace trident {
namespace {

TEST(MemoryStats, CountsLiveStorageAndItsPeak) {
  const Device cpu = Device::cpu();
  reset_peak_memory(cpu);
  const MemoryStats start = memory_stats(cpu);
  EXPECT_EQ(start.peak, start.current);
  {
    Tensor a = Tensor::empty({1000}, DType::f32);  // 4000 bytes
    Tensor view = a.narrow0(0, 10);                // a view allocates nothing
    EXPECT_EQ(view.numel(), 10);
    EXPECT_EQ(memory_stats(cpu).current, start.current + 4000);
    Tensor b = Tensor::empty({500}, DType::f64);  // 4000 more
    EXPECT_EQ(memory_stats(cpu).current, start.current + 8000);
  }
  const MemoryStats after = memory_stats(cpu);
  EXPECT_EQ(after.current, start.current);
  EXPECT_EQ(after.peak, start.current + 8000);
  reset_peak_memory(cpu);
  EXPECT_EQ(memory_stats(cpu).peak, start.current);
}

}  // namespace
}  // namespace trident
