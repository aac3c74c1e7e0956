#pragma once
// Peak FLOP/s of one rank's device: the denominator of model FLOPs utilisation,
//   MFU = tokens/s x FLOPs per token (models::ModelSpec::flops_per_token) / (ranks x one rank's peak).
// The peak is runtime.peak_tflops when set; otherwise a GPU's dense bf16 tensor-core peak from a table of
// known GPUs (by the name the driver reports), or on the CPU the rate of an fp32 GEMM through ops::matmul,
// measured once (a second at most) and cached under ~/.cache/trident/ per CPU model and thread count.
#include <string>

#include "core/tensor/device.h"

namespace trident {

struct PeakFlops {
  double tflops = 0;  // one rank's peak, TFLOP/s; 0: unknown (no MFU)
  std::string what;  // where it came from, for the log: "runtime.peak_tflops", "NVIDIA H100 PCIe, bf16 dense"
};

// The dense bf16 peak of the GPU called `name` (e.g. "NVIDIA H100 80GB HBM3"), TFLOP/s; 0 when the table
// does not know it.
double gpu_bf16_peak_tflops(const std::string& name);

// This CPU's fp32 GEMM rate with the OpenMP/OpenBLAS threads set now (set_cpu_threads), TFLOP/s. Read from
// `cache_dir` when a file for this CPU model and thread count is there, else measured and written there (an
// empty cache_dir: measured every time). `cached` says which.
struct CpuGemmRate {
  double tflops = 0;
  bool cached = false;
  std::string file;  // the cache file ("" without a cache_dir)
};
CpuGemmRate cpu_gemm_rate(const std::string& cache_dir);
// Where measurements are cached: $XDG_CACHE_HOME/trident, else $HOME/.cache/trident ("" with neither set).
std::string default_cache_dir();
// /proc/cpuinfo's "model name" (e.g. "AMD EPYC 9654 96-Core Processor"); "unknown CPU" when there is none.
std::string cpu_model_name();

// One rank's peak on `device`: configured_tflops when > 0, else the GPU table or the measured CPU rate
// (cached in default_cache_dir()). tflops 0 when the GPU is not in the table; `what` then says so.
PeakFlops peak_flops(double configured_tflops, Device device);

// Model FLOPs utilisation, a fraction: tokens_per_s x flops_per_token over ranks x peak_tflops. 0 when the
// peak is unknown (peak_tflops 0).
double model_flops_utilization(double tokens_per_s, double flops_per_token, int ranks, double peak_tflops);

}  // namespace trident
