#pragma once
// The Chrome trace of one training step (Perfetto, chrome://tracing), for the replica of world rank 0: each
// pipeline stage's forwards, backwards and waits on its own row, and under ZeRO stages 2 and 3 its
// data-parallel collectives (gradient reduce-scatters, unit all-gathers) on a row beside it, so that overlap
// and prefetch can be seen. Written when pp > 1 (pipeline_trace.json) or at ZeRO stage 3 (step_trace.json
// with one stage). Every rank of the replica's pipeline calls it.
#include <string>

#include "pipeline/executor.h"
#include "train/parallel_model.h"

namespace trident {

void write_step_trace(ParallelModel& model, const pp::StepTimes& times, const std::string& out_dir);

}  // namespace trident
