#pragma once
// Stage partitioning: the model's layers over pipeline x virtual_stages stages, Megatron style. Stage
// s = chunk * pp + rank lives on pipeline rank s % pp as its model chunk s / pp; the first stage also holds
// the embedding, the last the final norm, head and loss.
#include <vector>

#include "core/config/trident.pb.h"
#include "models/transformer.h"

namespace trident::pp {

// Layers of every stage, in stage order: parallel.pipeline_layers, or an even split of model.n_layer.
std::vector<int> stage_layers(const config::Config& cfg);
// What stage `stage` holds, given every stage's layer count.
models::ChunkSpec stage_chunk(const std::vector<int>& layers, int stage);

}  // namespace trident::pp
