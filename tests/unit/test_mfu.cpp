// MFU: the FLOPs-per-token formula against a hand count for GPT-2 124M, the utilisation arithmetic, the table
// of GPU peaks, and the CPU's GEMM rate, measured once and then read from its cache.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/config/config.h"
#include "core/runtime/peak_flops.h"
#include "models/model_spec.h"
#include "train/run_summary.h"

namespace trident {
namespace {

namespace fs = std::filesystem;

TEST(Mfu, FlopsPerTokenOfGpt2_124mByHand) {
  const config::Config cfg = load_config(TRIDENT_SOURCE_DIR "/configs/gpt2_124m.pbtxt");
  const models::ModelSpec spec = models::ModelSpec::from_config(cfg.model());
  // L = 12, C = 768, 12 heads of 64, d_ff 3072, vocab 50257 padded to 50304, T = 1024, wte tied to the head.
  //   a block:  attention  768 x 2304 (qkv) + 2304 + 768 x 768 (proj) + 768   =  2,362,368
  //             MLP        768 x 3072 + 3072 + 3072 x 768 + 768               =  4,722,432
  //             2 layernorms (weight and bias)  4 x 768                        =      3,072
  //                                                                              7,087,872 x 12 = 85,054,464
  //   final layernorm  2 x 768                                                 =      1,536
  //   the head's GEMM 50304 x 768 (tied: wte's weights, a GEMM all the same)  = 38,633,472
  //   N = 85,054,464 + 1,536 + 38,633,472                                     = 123,689,472
  // (wte as a lookup and wpe are not multiplied with: not in N)
  EXPECT_EQ(spec.matmul_params(), 123'689'472);
  // 6N = 742,136,832; causal attention 6 x L x T x C = 6 x 12 x 1024 x 768 = 56,623,104.
  EXPECT_EQ(spec.flops_per_token(1024), 742'136'832.0 + 56'623'104.0);
  EXPECT_EQ(spec.flops_per_token(1024), 798'759'936.0);
  // The parameters themselves: N - the head's GEMM + wte + wpe = 124,475,904, llm.c's count for this shape.
  EXPECT_EQ(spec.num_params(), 124'475'904);
}

TEST(Mfu, UtilizationIsAchievedFlopsOverEveryRanksPeak) {
  // 1000 tokens/s x 1 GFLOP = 1 TFLOP/s achieved, over 2 ranks of 1 TFLOP/s: 50%.
  EXPECT_DOUBLE_EQ(model_flops_utilization(1000, 1e9, 2, 1.0), 0.5);
  // GPT-2 124M at 400k tokens/s on 8 H100s: 400e3 x 798,759,936 / (8 x 989e12) = 4.0382%.
  EXPECT_NEAR(model_flops_utilization(400e3, 798'759'936.0, 8, 989), 0.040382, 1e-6);
  EXPECT_EQ(model_flops_utilization(1000, 1e9, 2, 0), 0) << "an unknown peak gives no MFU";
}

TEST(Mfu, SummaryMeansTheStepsAfterTheFirst) {
  RunSummary s;
  s.add_step(1000, 10.0);  // the first step compiles, faults pages, warms caches
  s.add_step(1000, 1.0);
  s.add_step(1000, 1.0);
  EXPECT_EQ(s.steps, 3);
  EXPECT_EQ(s.tokens, 3000);
  EXPECT_DOUBLE_EQ(s.step_s, 12.0);
  EXPECT_DOUBLE_EQ(s.mean_tokens_per_s(), 1000.0);
  s.flops_per_token = 1e9;
  s.ranks = 4;
  s.peak_tflops = 2.0;
  EXPECT_DOUBLE_EQ(s.mfu(), 1000.0 * 1e9 / (4 * 2e12));
  const std::string table = s.table();
  EXPECT_NE(table.find("3,000 in 3 steps"), std::string::npos) << table;
  EXPECT_NE(table.find("12.5% of 4 ranks x 2 TFLOP/s"), std::string::npos) << table;
  EXPECT_NE(table.find("- (no evaluation)"), std::string::npos) << table;

  RunSummary one;
  one.add_step(500, 2.0);
  EXPECT_DOUBLE_EQ(one.mean_tokens_per_s(), 250.0) << "a single step is its own mean";
  EXPECT_NE(one.table().find("- (no peak known"), std::string::npos);
}

TEST(Mfu, MemoryFieldSwitchesToGiBAtAGiB) {
  EXPECT_EQ(format_memory(12 << 20, 35 << 20), "12/35 MiB");
  EXPECT_EQ(format_memory(int64_t{1} << 30, int64_t{5} << 29), "1.00/2.50 GiB");
}

TEST(Mfu, GpuPeaksByName) {
  EXPECT_EQ(gpu_bf16_peak_tflops("NVIDIA H100 80GB HBM3"), 989);
  EXPECT_EQ(gpu_bf16_peak_tflops("NVIDIA H100 PCIe"), 756);
  EXPECT_EQ(gpu_bf16_peak_tflops("NVIDIA H100 NVL"), 835);
  EXPECT_EQ(gpu_bf16_peak_tflops("NVIDIA H200"), 989);
  EXPECT_EQ(gpu_bf16_peak_tflops("NVIDIA GH200 480GB"), 989);
  EXPECT_EQ(gpu_bf16_peak_tflops("NVIDIA A100-SXM4-80GB"), 312);
  EXPECT_EQ(gpu_bf16_peak_tflops("NVIDIA A100 80GB PCIe"), 312);
  EXPECT_EQ(gpu_bf16_peak_tflops("NVIDIA L4"), 121);
  EXPECT_EQ(gpu_bf16_peak_tflops("NVIDIA L40S"), 362);
  EXPECT_EQ(gpu_bf16_peak_tflops("NVIDIA L40"), 181);
  EXPECT_EQ(gpu_bf16_peak_tflops("NVIDIA GeForce RTX 4090"), 165);
  EXPECT_EQ(gpu_bf16_peak_tflops("NVIDIA A10"), 125);
  EXPECT_EQ(gpu_bf16_peak_tflops("NVIDIA A10G"), 0) << "not in the table: no MFU rather than a wrong one";
  EXPECT_EQ(gpu_bf16_peak_tflops("Tesla V100-SXM2-16GB"), 0) << "no bf16";
}

TEST(Mfu, ConfiguredPeakWinsWithoutMeasuring) {
  const PeakFlops p = peak_flops(123.5, Device::cpu());
  EXPECT_EQ(p.tflops, 123.5);
  EXPECT_EQ(p.what, "runtime.peak_tflops");
}

class CpuGemmCache : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("trident_mfu_{}", getpid());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(CpuGemmCache, MeasuredOnceThenReadFromTheCache) {
  const CpuGemmRate first = cpu_gemm_rate(dir_.string());
  EXPECT_FALSE(first.cached);
  EXPECT_GT(first.tflops, 0);
  ASSERT_TRUE(fs::exists(first.file)) << first.file;
  EXPECT_EQ(fs::path(first.file).parent_path(), dir_);
  EXPECT_NE(first.file.find(fmt::format("_{}threads", omp_get_max_threads())), std::string::npos)
      << "keyed by the thread count: " << first.file;

  const CpuGemmRate second = cpu_gemm_rate(dir_.string());
  EXPECT_TRUE(second.cached);
  EXPECT_EQ(second.file, first.file);
  EXPECT_EQ(second.tflops, first.tflops) << "the cached number, to the last bit";

  // What the cache says is what counts (this is how a second run skips the measurement).
  std::ofstream(first.file) << "42.5\n";
  EXPECT_EQ(cpu_gemm_rate(dir_.string()).tflops, 42.5);
  // A garbled file is measured again and rewritten.
  std::ofstream(first.file) << "not a number\n";
  const CpuGemmRate again = cpu_gemm_rate(dir_.string());
  EXPECT_FALSE(again.cached);
  EXPECT_GT(again.tflops, 0);
  EXPECT_TRUE(cpu_gemm_rate(dir_.string()).cached);
}

TEST_F(CpuGemmCache, NoCacheDirMeasuresEveryTime) {
  const CpuGemmRate r = cpu_gemm_rate("");
  EXPECT_FALSE(r.cached);
  EXPECT_EQ(r.file, "");
  EXPECT_GT(r.tflops, 0);
}

}  // namespace
}  // namespace trident
