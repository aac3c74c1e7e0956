#include "core/runtime/peak_flops.h"

#include <omp.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "core/ops/ops.h"
#include "core/runtime/clock.h"
#include "core/runtime/devices.h"
#include "core/runtime/logging.h"

namespace trident {

namespace {

// Dense (no 2:4 sparsity) bf16 tensor-core peaks from NVIDIA's data sheets, TFLOP/s. The first pattern that
// matches the device name wins, so variants come before their family (H100 PCIe before H100, L40S before
// L40).
struct GpuPeak {
  const char* pattern;  // ECMAScript regex, case-insensitive, searched in the name
  double tflops;
};
constexpr GpuPeak kGpuPeaks[] = {
    {R"(H100.*PCIe)", 756},    // H100 PCIe
    {R"(H100.*NVL)", 835},     // H100 NVL
    {R"(H100)", 989},          // H100 SXM ("NVIDIA H100 80GB HBM3")
    {R"(H200.*NVL)", 835},     // H200 NVL
    {R"(H200)", 989},          // H200 SXM, GH200
    {R"(H800.*PCIe)", 756},    // H800 PCIe
    {R"(H800)", 989},          // H800 SXM
    {R"(B200)", 2250},         // B200
    {R"(A100|A800)", 312},     // A100 / A800, SXM and PCIe
    {R"(L40S)", 362},          // L40S
    {R"(\bL40\b)", 181},       // L40
    {R"(\bL4\b)", 121},        // L4
    {R"(\bA10\b)", 125},       // A10 (not A10G)
    {R"(\bA40\b)", 150},       // A40
    {R"(RTX A6000)", 155},     // RTX A6000
    {R"(RTX 6000 Ada)", 364},  // RTX 6000 Ada Generation
    {R"(RTX 4090)", 165},      // GeForce RTX 4090 (fp32 accumulate)
    {R"(RTX 3090)", 71},       // GeForce RTX 3090 (fp32 accumulate)
};

// The cache file's name: the CPU model with everything but letters and digits made '_', and the threads.
std::string cache_file_name(const std::string& model, int threads) {
  std::string slug;
  for (char c : model) slug += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return fmt::format("cpu_gemm_{}_{}threads.txt", slug, threads);
}

// The best rate of square fp32 GEMMs through ops::matmul, TFLOP/s. The size doubles from 256 until one GEMM
// takes 20 ms (or reaches 2048), so a slow core is not kept busy for seconds; then the best of the calls made
// in 0.3 s counts (the first pay for page faults and waking the threads). Under a second on any CPU.
double measure_cpu_gemm_tflops() {
  for (int64_t n = 256;; n *= 2) {
    const Tensor a = Tensor::full({n, n}, 0.5), b = Tensor::full({n, n}, 0.25);
    Tensor c = Tensor::empty({n, n});
    const auto timed = [&] {
      const double start = now_s();
      ops::matmul(c, a, b);
      return now_s() - start;
    };
    timed();  // warm-up
    if (timed() < 0.02 && n < 2048) continue;
    const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
    double best = 0;
    for (const double start = now_s(); now_s() - start < 0.3;) best = std::max(best, flops / timed());
    return best / 1e12;
  }
}

// The rate cached in `path`, or 0 when there is none (a missing, empty or garbled file is measured again).
double read_cached(const std::string& path) {
  std::ifstream in(path);
  double tflops = 0;
  if (!(in >> tflops) || !(tflops > 0)) return 0;
  return tflops;
}

// Writes through a temporary file renamed into place, so a run reading it meanwhile sees all or nothing.
void write_cache(const std::string& dir, const std::string& path, double tflops, const std::string& model,
                 int threads) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  if (!ec) {
    std::ofstream out(tmp);
    out << fmt::format("{}\n# fp32 GEMM TFLOP/s of {} with {} thread{} (ops::matmul), measured by trident\n",
                       tflops, model, threads, threads == 1 ? "" : "s");
    out.close();
    if (!out) ec = std::make_error_code(std::errc::io_error);
  }
  if (!ec) std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;  // the temporary may not exist
    std::filesystem::remove(tmp, ignored);
    spdlog::warn("could not cache the CPU's GEMM rate in {} ({}): it is measured again at every start", dir,
                 ec.message());
  }
}

}  // namespace

double gpu_bf16_peak_tflops(const std::string& name) {
  for (const GpuPeak& g : kGpuPeaks) {
    if (std::regex_search(name, std::regex(g.pattern, std::regex::ECMAScript | std::regex::icase)))
      return g.tflops;
  }
  return 0;
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    const size_t start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "unknown CPU" : line.substr(start);
  }
  return "unknown CPU";
}

std::string default_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/trident";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/trident";
  return "";
}

CpuGemmRate cpu_gemm_rate(const std::string& cache_dir) {
  const std::string model = cpu_model_name();
  const int threads = omp_get_max_threads();
  CpuGemmRate r;
  if (!cache_dir.empty()) {
    r.file = cache_dir + "/" + cache_file_name(model, threads);
    r.tflops = read_cached(r.file);
    r.cached = r.tflops > 0;
  }
  if (r.cached) return r;
  r.tflops = measure_cpu_gemm_tflops();
  if (!cache_dir.empty()) write_cache(cache_dir, r.file, r.tflops, model, threads);
  return r;
}

PeakFlops peak_flops(double configured_tflops, Device device) {
  if (configured_tflops > 0) return {configured_tflops, "runtime.peak_tflops"};
  if (device.is_cuda()) {
    std::string name = device.str();
    for (const CudaDeviceInfo& d : cuda_devices())
      if (d.index == device.index) name = d.name;
    const double tflops = gpu_bf16_peak_tflops(name);
    if (tflops > 0) return {tflops, fmt::format("{}, bf16 dense", name)};
    return {0,
            fmt::format("no bf16 peak is known for the GPU '{}': set runtime.peak_tflops to see MFU", name)};
  }
  const CpuGemmRate r = cpu_gemm_rate(default_cache_dir());
  return {r.tflops,
          fmt::format("this CPU's fp32 GEMM rate with {} thread{}, {}{}", omp_get_max_threads(),
                      omp_get_max_threads() == 1 ? "" : "s", r.cached ? "cached in " : "measured now",
                      r.cached ? r.file : (r.file.empty() ? "" : ", cached in " + r.file))};
}

double model_flops_utilization(double tokens_per_s, double flops_per_token, int ranks, double peak_tflops) {
  if (!(peak_tflops > 0) || ranks <= 0) return 0;
  return tokens_per_s * flops_per_token / (ranks * peak_tflops * 1e12);
}

}  // namespace trident
