#include "train/run_summary.h"

#include <fmt/format.h>

#include "core/runtime/peak_flops.h"

namespace trident {

namespace {

constexpr double kMiB = 1024.0 * 1024.0, kGiB = 1024.0 * kMiB;

// 1234567 -> "1,234,567"
std::string with_commas(double x) {
  std::string digits = fmt::format("{:.0f}", x), out;
  const size_t sign = digits[0] == '-' ? 1 : 0;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > sign && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string bytes_text(int64_t bytes) {
  const double b = static_cast<double>(bytes);
  return b >= kGiB ? fmt::format("{:.2f} GiB", b / kGiB) : fmt::format("{:.0f} MiB", b / kMiB);
}

}  // namespace

std::string format_memory(int64_t current, int64_t peak) {
  const double c = static_cast<double>(current), p = static_cast<double>(peak);
  if (p >= kGiB) return fmt::format("{:.2f}/{:.2f} GiB", c / kGiB, p / kGiB);
  return fmt::format("{:.0f}/{:.0f} MiB", c / kMiB, p / kMiB);
}

void RunSummary::add_step(double step_tokens, double seconds) {
  if (steps > 0) {
    later_tokens += step_tokens;
    later_s += seconds;
  }
  ++steps;
  tokens += step_tokens;
  step_s += seconds;
}

double RunSummary::mean_tokens_per_s() const {
  if (later_s > 0) return later_tokens / later_s;
  return step_s > 0 ? tokens / step_s : 0;
}

double RunSummary::mfu() const {
  return model_flops_utilization(mean_tokens_per_s(), flops_per_token, ranks, peak_tflops);
}

std::string RunSummary::table() const {
  const auto row = [](const char* name, const std::string& value) {
    return fmt::format("\n  {:<15} {}", name, value);
  };
  std::string out = "run summary:";
  out += row("tokens", fmt::format("{} in {} step{}", with_commas(tokens), steps, steps == 1 ? "" : "s"));
  out += row("time", fmt::format("{:.1f} s ({:.1f} s in training steps)", time_s, step_s));
  out += row("mean tok/s", fmt::format("{} ({})", with_commas(mean_tokens_per_s()),
                                       later_s > 0 ? "the steps after the first" : "one step"));
  out += row("MFU", peak_tflops > 0 ? fmt::format("{:.1f}% of {} rank{} x {:.3g} TFLOP/s", 100 * mfu(), ranks,
                                                  ranks == 1 ? "" : "s", peak_tflops)
                                    : std::string("- (no peak known: set runtime.peak_tflops)"));
  out += row("peak memory", ranks == 1 ? bytes_text(peak_memory)
                                       : fmt::format("{} on rank 0, {} the most on any rank",
                                                     bytes_text(peak_memory), bytes_text(max_peak_memory)));
  out += row("final loss", fmt::format("{:.4f}", final_loss));
  out += row("final val loss",
             final_val_loss < 0 ? std::string("- (no evaluation)") : fmt::format("{:.4f}", final_val_loss));
  return out;
}

}  // namespace trident
