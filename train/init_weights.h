#pragma once
// train.init_weights: starting a run from given weights instead of the seeded initialisation. The file holds
// global parameters by Trident name (a run's model.safetensors, or what `trident import hf` writes); every
// rank takes its own slice of them through ParallelModel::load_global, so it works under any parallel layout.
#include <string>

#include "core/comm/communicator.h"
#include "core/config/trident.pb.h"
#include "train/parallel_model.h"

namespace trident {

// Loads cfg.train().init_weights into `model` (every rank of `world` calls it together). The file must hold
// every parameter at its global shape and nothing else; the embedding and head rows may be padded
// differently (another tensor-parallel size): rows past model.vocab_size are the padding and start at zero.
void load_init_weights(ParallelModel& model, const config::Config& cfg, comm::Communicator& world);

}  // namespace trident
