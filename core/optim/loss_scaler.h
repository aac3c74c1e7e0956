#pragma once
// Dynamic loss scaling for fp16 training (Micikevicius et al. 2018, "Mixed Precision Training"; the defaults
// are PyTorch's GradScaler's). The loss is multiplied by scale() before backward, so small gradients stay
// above fp16's underflow; the gradients are divided by it again in fp32. A step whose gradients overflowed
// (inf or nan) is skipped and the scale halved; after growth_interval good steps in a row it doubles.
// bf16 has fp32's exponent range and needs none: LossScaler::constant(1).
#include <cstdint>

namespace trident {

struct LossScalerConfig {
  double init_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
  double min_scale = 1.0;  // never back off below this
};

class LossScaler {
 public:
  explicit LossScaler(LossScalerConfig cfg = {});
  // A fixed scale that never changes and never skips (bf16, fp32).
  static LossScaler constant(double scale = 1.0);

  double scale() const { return scale_; }
  bool dynamic() const { return dynamic_; }
  // After the step's gradients are unscaled: whether they overflowed. Returns true when the optimizer may
  // step, false when the step is skipped (the scale is then backed off).
  bool update(bool found_inf);
  int64_t skipped_steps() const { return skipped_; }
  int64_t good_steps() const { return good_in_a_row_; }
  // Continues from a saved scaler (a resumed run): its scale and counters.
  void restore(double scale, int64_t good_in_a_row, int64_t skipped);

 private:
  LossScalerConfig cfg_;
  double scale_;
  bool dynamic_ = true;
  int64_t good_in_a_row_ = 0;
  int64_t skipped_ = 0;
};

}  // namespace trident
