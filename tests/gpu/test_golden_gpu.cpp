// The golden fixtures (tests/golden/) on the GPU: the model's parameters and activations on cuda:0
// (spec.device), against the PyTorch twin's float64 fixtures with the CPU test's bars: fp32 forward/backward
// (1e-5 on loss and logits, 1e-4 on every gradient) and ten AdamW steps, bf16 within the CPU bf16 test's
// bars. Every test skips, with the reason, when there is no GPU.
#include <string>

#include "core/runtime/devices.h"
#include "tests/golden/golden.h"

namespace trident {
namespace {

class GoldenGpuTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string why;
    if (cuda_devices(&why).empty()) GTEST_SKIP() << "no CUDA device: " << why;
  }
};

TEST_P(GoldenGpuTest, ForwardLogitsLossAndEveryGradient) {
  golden::check_forward_backward(GetParam(), DType::f32, Device::cuda(0), 1e-5, 1e-4);
}

// bf16 parameters and activations: the bar of the CPU bf16 test (tests/golden/test_golden.cpp).
TEST_P(GoldenGpuTest, Bf16WithinBf16Tolerance) {
  golden::check_forward_backward(GetParam(), DType::bf16, Device::cuda(0), 1e-2, 1e-2);
}

TEST_P(GoldenGpuTest, TenAdamWStepsMatchTheTwin) {
  golden::check_ten_adamw_steps(GetParam(), Device::cuda(0));
}

INSTANTIATE_TEST_SUITE_P(Models, GoldenGpuTest, ::testing::Values("gpt2_golden", "llama_golden"));

}  // namespace
}  // namespace trident
