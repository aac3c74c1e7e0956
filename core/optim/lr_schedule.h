#pragma once
// Learning-rate schedule: linear warmup to lr over warmup_steps, then cosine decay to min_lr at the last
// step.
#include <cstdint>

namespace trident {

struct LrSchedule {
  double lr = 3e-4, min_lr = 0.0;
  int64_t warmup_steps = 0, total_steps = 1;

  // step counts from 0: warmup gives lr*(s+1)/warmup so the first step already moves.
  double at(int64_t step) const;
};

}  // namespace trident
