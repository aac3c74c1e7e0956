// Golden tests: Trident's GPT-2 and LLaMA against fixtures written by the PyTorch twin
// (tools/reference/make_golden.py, computed in float64). The test needs no PyTorch. The checks live in
// tests/golden/golden.h, shared with the GPU run of the same fixtures (tests/gpu/test_golden_gpu.cpp).
#include "tests/golden/golden.h"

namespace trident {
namespace {

using golden::check_forward_backward;
using golden::check_ten_adamw_steps;

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, ForwardLogitsLossAndEveryGradient) {
  check_forward_backward(GetParam(), DType::f32, Device::cpu(), 1e-5, 1e-4);
}

// bf16 storage (8 significant bits, relative rounding 2^-9) on the float64 fixtures: weights, activations and
// gradients are rounded, the arithmetic is fp32. Bar: the bf16 bar of 1e-2 on the loss, the logits and every
// gradient (measured worst gradient: 8.7e-3 for LLaMA, 8.3e-3 for GPT-2).
TEST_P(GoldenTest, Bf16StorageWithinBf16Tolerance) {
  check_forward_backward(GetParam(), DType::bf16, Device::cpu(), 1e-2, 1e-2);
}

TEST_P(GoldenTest, TenAdamWStepsMatchTheTwin) {
  check_ten_adamw_steps(GetParam(), Device::cpu());
}

INSTANTIATE_TEST_SUITE_P(Models, GoldenTest, ::testing::Values("gpt2_golden", "llama_golden"));

}  // namespace
}  // namespace trident
