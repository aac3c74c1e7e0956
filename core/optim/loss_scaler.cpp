#include "core/optim/loss_scaler.h"

#include <algorithm>

#include "core/runtime/error.h"

namespace trident {

LossScaler::LossScaler(LossScalerConfig cfg) : cfg_(cfg), scale_(cfg.init_scale) {
  TRIDENT_CHECK(cfg.init_scale > 0 && cfg.growth_factor >= 1 && cfg.backoff_factor > 0 &&
                    cfg.backoff_factor < 1 && cfg.growth_interval >= 1 && cfg.min_scale > 0,
                "loss scaler: init {} growth {} backoff {} interval {} min {}", cfg.init_scale,
                cfg.growth_factor, cfg.backoff_factor, cfg.growth_interval, cfg.min_scale);
}

LossScaler LossScaler::constant(double scale) {
  LossScalerConfig cfg;
  cfg.init_scale = scale;
  LossScaler s(cfg);
  s.dynamic_ = false;
  return s;
}

bool LossScaler::update(bool found_inf) {
  if (found_inf) {
    ++skipped_;
    good_in_a_row_ = 0;
    if (dynamic_) scale_ = std::max(cfg_.min_scale, scale_ * cfg_.backoff_factor);
    return false;
  }
  if (dynamic_ && ++good_in_a_row_ >= cfg_.growth_interval) {
    scale_ *= cfg_.growth_factor;
    good_in_a_row_ = 0;
  }
  return true;
}

void LossScaler::restore(double scale, int64_t good_in_a_row, int64_t skipped) {
  TRIDENT_CHECK(scale > 0 && good_in_a_row >= 0 && skipped >= 0,
                "loss scaler state: scale {}, {} good, {} skipped", scale, good_in_a_row, skipped);
  scale_ = scale;
  good_in_a_row_ = good_in_a_row;
  skipped_ = skipped;
}

}  // namespace trident
