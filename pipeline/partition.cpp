#include "pipeline/partition.h"

#include "core/runtime/error.h"

namespace trident::pp {

std::vector<int> stage_layers(const config::Config& cfg) {
  const auto& par = cfg.parallel();
  const int stages = std::max(1, par.pipeline()) * std::max(1, par.virtual_stages());
  if (par.pipeline_layers_size() > 0) {
    TRIDENT_CHECK(par.pipeline_layers_size() == stages, "parallel.pipeline_layers lists {} stages, not {}",
                  par.pipeline_layers_size(), stages);
    return {par.pipeline_layers().begin(), par.pipeline_layers().end()};
  }
  const int layers = cfg.model().n_layer();
  TRIDENT_CHECK(layers % stages == 0, "{} layers do not split evenly over {} stages", layers, stages);
  return std::vector<int>(static_cast<size_t>(stages), layers / stages);
}

models::ChunkSpec stage_chunk(const std::vector<int>& layers, int stage) {
  TRIDENT_CHECK(stage >= 0 && stage < static_cast<int>(layers.size()), "stage {} of {}", stage,
                layers.size());
  models::ChunkSpec c;
  c.first_layer = 0;
  for (int s = 0; s < stage; ++s) c.first_layer += layers[s];
  c.num_layers = layers[stage];
  c.first = stage == 0;
  c.last = stage + 1 == static_cast<int>(layers.size());
  return c;
}

}  // namespace trident::pp
