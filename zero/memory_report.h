#pragma once
// What a rank should hold for its model state under its ZeRO stage, next to what memory accounting counts
// (core/runtime/memory_stats.h). Ψ is the number of parameters on this rank's tensor x pipeline shard and N
// the shard group's size (the data-parallel size, or zero_shard_size with hybrid sharding). Trident's bytes:
//
//                 fp32 model                         bf16/fp16 model with fp32 masters
//   stage 0       4Ψ + 4Ψ + 8Ψ         = 16Ψ         2Ψ + (2Ψ + 4Ψ) + 12Ψ            = 20Ψ
//   stage 1       4Ψ + (4Ψ + 4Ψ/N) + 8Ψ/N            2Ψ + (2Ψ + 4Ψ/N) + 12Ψ/N        (+4Ψ: see below)
//   stage 2       4Ψ + 4Ψ/N + 8Ψ/N    = 4Ψ + 12Ψ/N   2Ψ + 4Ψ/N + 12Ψ/N               = 2Ψ + 16Ψ/N
//   stage 3       4Ψ/N + 12Ψ/N        = 16Ψ/N        4Ψ/N + 12Ψ/N                    = 16Ψ/N
//                 (parameters + gradients + optimizer state)
//
// Where this differs from the ZeRO paper's: the optimizer reads its gradients from an fp32 shard of their own
// (+4Ψ/N at stage 1, where the paper reduces into the full buffer); a bf16/fp16 model accumulates its
// micro-batches in fp32 (Megatron's main_grad): a whole fp32 gradient buffer at stage 0 (+4Ψ), and at stage 1
// one more when a step has several micro-batches (+4Ψ), and the gradient slice is fp32 at stages 2 and 3; at
// stage 3 an fp32 model's parameter shard is its optimizer state (4Ψ/N of the 12Ψ/N). Buffers come on top:
// communication staging, and at stage 3 the gathered units (a unit at a time, plus prefetch).
#include <cstdint>
#include <string>
#include <vector>

#include "core/runtime/memory_stats.h"

namespace trident::zero {

struct MemoryRow {
  MemoryCategory category;
  int64_t measured;  // bytes counted now
  double formula;    // bytes the table above gives (buffers: 0, not predicted)
  std::string text;  // "4Ψ + 4Ψ/N"
};

struct MemoryReport {
  int stage = 0, shards = 1;
  bool mixed = false, accumulating = false;
  int64_t psi = 0;
  std::vector<MemoryRow> rows;  // parameters, gradients, optimizer state, then the buffers

  int64_t state_measured() const;  // parameters + gradients + optimizer state
  double state_formula() const;
  // A table for the log: every category, measured MB next to the formula.
  std::string table() const;
};

// `measured` comes from memory_stats(device, category).current minus `baseline` (what was there before the
// model state was made); accumulating: a bf16/fp16 stage-1 model whose steps have several micro-batches.
MemoryReport memory_report(int stage, bool mixed, bool accumulating, int64_t psi, int shards, Device device,
                           const std::vector<int64_t>& baseline = {});
// The current bytes of every category, to pass as a baseline.
std::vector<int64_t> memory_baseline(Device device);

}  // namespace trident::zero
