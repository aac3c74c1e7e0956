// Mixed precision without a GPU: fp16 conversion, dynamic loss scaling, and fp32 master weights for a model
// stored in bf16 or fp16. Reference values are exact properties of the formats (fp16: 10 mantissa bits,
// largest finite 65504, smallest subnormal 2^-24) and an all-fp32 AdamW run on the same gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/optim/adamw.h"
#include "core/optim/loss_scaler.h"
#include "core/optim/master_weights.h"
#include "core/tensor/param_set.h"

namespace trident {
namespace {

float round_f16(float x) {
  return static_cast<float>(f16(x));
}

TEST(Fp16, RangeAndRounding) {
  EXPECT_EQ(round_f16(65504.0f), 65504.0f);  // largest finite
  EXPECT_TRUE(std::isinf(round_f16(70000.0f)));
  EXPECT_EQ(round_f16(std::ldexp(1.0f, -24)), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(round_f16(1e-8f), 0.0f);                                   // below half of it: flushed
  // Ties go to the even mantissa: 1 + 2^-11 is halfway between 1 and 1 + 2^-10.
  EXPECT_EQ(round_f16(1.0f + std::ldexp(1.0f, -11)), 1.0f);
  EXPECT_EQ(round_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 1.0f + std::ldexp(1.0f, -9));
  EXPECT_TRUE(std::isnan(round_f16(std::numeric_limits<float>::quiet_NaN())));
  // Tensors convert through it.
  Tensor t = Tensor::from_vector({1.5f, 70000.0f}, {2}, DType::f32).to(DType::f16);
  EXPECT_EQ(t.item(0), 1.5);
  EXPECT_TRUE(std::isinf(t.item(1)));
}

TEST(LossScaler, BacksOffOnOverflowAndGrowsAfterAnInterval) {
  LossScaler s({65536.0, 2.0, 0.5, 3, 1.0});
  EXPECT_EQ(s.scale(), 65536.0);
  EXPECT_FALSE(s.update(/*found_inf=*/true));  // skipped
  EXPECT_EQ(s.scale(), 32768.0);
  EXPECT_EQ(s.skipped_steps(), 1);
  EXPECT_TRUE(s.update(false));
  EXPECT_TRUE(s.update(false));
  EXPECT_EQ(s.scale(), 32768.0);
  EXPECT_TRUE(s.update(false));  // third good step in a row
  EXPECT_EQ(s.scale(), 65536.0);
  EXPECT_TRUE(s.update(false));
  EXPECT_FALSE(s.update(true));  // an overflow resets the run of good steps
  EXPECT_EQ(s.good_steps(), 0);
  LossScaler floor({2.0, 2.0, 0.5, 10, 1.0});
  for (int i = 0; i < 5; ++i) floor.update(true);
  EXPECT_EQ(floor.scale(), 1.0);  // never below min_scale
  LossScaler bf = LossScaler::constant();
  EXPECT_FALSE(bf.update(true));  // still skips a non-finite step
  for (int i = 0; i < 5000; ++i) bf.update(false);
  EXPECT_EQ(bf.scale(), 1.0);
}

// A two-parameter model in `dtype` and its fp32 twin, same init.
void make(ParamSet& ps, DType dtype) {
  ps.add("w", {4, 3}, {Init::normal, 0.0, 0.5});
  ps.add("b", {3}, {Init::normal, 0.0, 0.5});
  ps.finalize(dtype);
  ps.initialize(5);
}

// Deterministic gradient for step k, element i.
float grad_value(int k, int64_t i) {
  return 0.01f * static_cast<float>(std::sin(0.9 * i + 1.7 * k));
}

TEST(MasterWeights, AdamWOnMasterMatchesFp32AndModelHoldsItsRounding) {
  for (DType dtype : {DType::bf16, DType::f16}) {
    SCOPED_TRACE(dtype_name(dtype));
    ParamSet model, ref;
    make(model, dtype);
    make(ref, DType::f32);
    MasterWeights master(model);
    // The master starts from the model's values exactly; the fp32 twin starts from them too.
    ref.flat_params().copy_from(model.flat_params());
    EXPECT_EQ(relative_l2(master.master().flat_params(), ref.flat_params()), 0.0);

    const AdamWConfig cfg{0.9, 0.95, 1e-8, 0.1};
    AdamW opt(master.master(), cfg), ref_opt(ref, cfg);
    const double scale = dtype == DType::f16 ? 1024.0 : 1.0;
    for (int k = 0; k < 5; ++k) {
      const int64_t n = model.numel();
      Tensor g = Tensor::empty({n}, DType::f32);
      for (int64_t i = 0; i < n; ++i) g.data<float>()[i] = grad_value(k, i);
      // The model's backward writes low-precision gradients of the scaled loss.
      Tensor scaled = g.clone();
      for (int64_t i = 0; i < n; ++i) scaled.data<float>()[i] *= static_cast<float>(scale);
      model.flat_grads().copy_from(scaled);
      ASSERT_TRUE(master.unscale_grads(scale));
      // The reference sees the same rounded gradients (scale is a power of two: unscaling is exact).
      ref.flat_grads().copy_from(master.master().flat_grads());
      opt.step(1e-2);
      ref_opt.step(1e-2);
      master.copy_to_model();
    }
    EXPECT_EQ(relative_l2(master.master().flat_params(), ref.flat_params()), 0.0);
    // The model holds the master rounded to its dtype, not an accumulation of rounded updates.
    Tensor rounded = ref.flat_params().to(dtype);
    EXPECT_EQ(relative_l2(model.flat_params(), rounded), 0.0);
    EXPECT_GT(relative_l2(model.flat_params().to(DType::f32), ref.flat_params()), 0.0);  // rounding is real
  }
}

TEST(MasterWeights, LossScalingKeepsSmallFp16GradientsAndSkipsOverflow) {
  ParamSet model;
  make(model, DType::f16);
  MasterWeights master(model);
  const int64_t n = model.numel();
  // 1e-8 underflows fp16 unscaled; scaled by 2^16 it survives to within fp16's relative precision.
  Tensor tiny = Tensor::full({n}, 1e-8, DType::f32);
  model.flat_grads().copy_from(tiny);
  ASSERT_TRUE(master.unscale_grads(1.0));
  EXPECT_EQ(master.master().flat_grads().item(0), 0.0);
  Tensor scaled = Tensor::full({n}, 1e-8 * 65536.0, DType::f32);
  model.flat_grads().copy_from(scaled);
  ASSERT_TRUE(master.unscale_grads(65536.0));
  EXPECT_NEAR(master.master().flat_grads().item(0), 1e-8, 1e-8 * std::ldexp(1.0, -11));

  // A gradient of 2 scaled by 2^16 overflows fp16: the step is skipped and the scale halves.
  LossScaler scaler;
  Tensor big = Tensor::full({n}, 2.0 * scaler.scale(), DType::f32);
  model.flat_grads().copy_from(big);
  const Tensor before = master.master().flat_params().clone();
  const bool finite = master.unscale_grads(scaler.scale());
  EXPECT_FALSE(finite);
  EXPECT_FALSE(scaler.update(!finite));
  EXPECT_EQ(scaler.scale(), 32768.0);
  EXPECT_EQ(relative_l2(master.master().flat_params(), before), 0.0);  // nothing stepped
  // At the lower scale the same gradient fits (2 * 2^15 = 65536 > 65504 still overflows; 2^14 fits).
  scaler.update(true);
  Tensor fits = Tensor::full({n}, 2.0 * scaler.scale(), DType::f32);
  model.flat_grads().copy_from(fits);
  EXPECT_TRUE(master.unscale_grads(scaler.scale()));
  EXPECT_EQ(master.master().flat_grads().item(0), 2.0);
}

}  // namespace
}  // namespace trident
