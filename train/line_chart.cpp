#include "train/line_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/runtime/error.h"

namespace trident {

namespace {

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// 0.30000000000000004 -> "0.3", 1200000 -> "1.2M": ticks are round, so a few significant digits suffice.
std::string tick_label(double v) {
  const double a = std::fabs(v);
  if (a >= 1e9) return fmt::format("{:.4g}G", v / 1e9);
  if (a >= 1e6) return fmt::format("{:.4g}M", v / 1e6);
  if (a >= 1e4) return fmt::format("{:.4g}k", v / 1e3);
  return fmt::format("{:.4g}", std::fabs(v) < 1e-12 ? 0.0 : v);
}

// The plot area's mapping from data to pixels.
struct Axes {
  double left, top, width, height;
  double x0, x1, y0, y1;
  bool log_y;
  double px(double x) const { return left + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * width; }
  double py(double y) const {
    const double a = log_y ? std::log10(y) : y, lo = log_y ? std::log10(y0) : y0,
                 hi = log_y ? std::log10(y1) : y1;
    return top + height - (hi > lo ? (a - lo) / (hi - lo) : 0.5) * height;
  }
};

// [lo, hi] widened so a flat series or a single point still gets an axis with ticks.
void widen(double& lo, double& hi, bool log) {
  if (hi > lo) return;
  if (log) {
    lo /= 2, hi *= 2;
  } else {
    const double d = lo == 0 ? 1 : std::fabs(lo) / 2;
    lo -= d, hi += d;
  }
}

}  // namespace

std::vector<double> linear_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / std::max(target, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * mag;
  for (double m : {1.0, 2.0, 5.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + 1e-9 * step; ++k) ticks.push_back(k * step);
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> ticks;
  for (const std::vector<double>& mantissas :
       {std::vector<double>{1, 2, 5}, std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9}}) {
    ticks.clear();
    for (int e = static_cast<int>(std::floor(std::log10(lo)));
         e <= static_cast<int>(std::ceil(std::log10(hi))); ++e)
      for (double m : mantissas) {
        const double v = m * std::pow(10.0, e);
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push_back(v);
      }
    if (ticks.size() >= 3) return ticks;
  }
  // Less than a factor of about 2 apart (a loss from 3.5 to 5.4): round linear steps, placed on the log
  // scale.
  ticks.clear();
  for (double v : linear_ticks(lo, hi, 5))
    if (v > 0) ticks.push_back(v);
  return ticks;
}

std::string chart_color(size_t n) {
  static const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return kColors[n % 10];
}

std::string line_chart_svg(const std::vector<ChartSeries>& series, const ChartOptions& opt) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  size_t longest_label = 0;
  for (const ChartSeries& s : series) {
    TRIDENT_CHECK(s.x.size() == s.y.size(), "series '{}': {} x values, {} y values", s.label, s.x.size(),
                  s.y.size());
    longest_label = std::max(longest_label, s.label.size());
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (opt.log_y && !(s.y[i] > 0))
        fail("series '{}' has the value {} at x = {}, which a log-scaled y axis cannot show", s.label, s.y[i],
             s.x[i]);
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
    }
  }
  if (!std::isfinite(x0)) fail("nothing to plot: no series has a point");
  widen(x0, x1, false);
  widen(y0, y1, opt.log_y);
  // A little headroom above and below the data, in the axis' own scale.
  if (opt.log_y) {
    const double pad = std::pow(y1 / y0, 0.04);
    y0 /= pad, y1 *= pad;
  } else {
    const double pad = 0.04 * (y1 - y0);
    y0 -= pad, y1 += pad;
  }

  // Layout: title on top, y label and ticks on the left, x ticks and label below, legend on the right.
  const double legend_w = 50 + 7.0 * static_cast<double>(longest_label);
  const Axes ax{
      80, 44,       std::max(opt.width - 80 - 24 - legend_w, 100.0), opt.height - 44 - 64.0, x0, x1, y0,
      y1, opt.log_y};
  std::string svg = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{2:.1f}\" y=\"26\" text-anchor=\"middle\" font-size=\"16\">{3}</text>\n",
      opt.width, opt.height, ax.left + ax.width / 2, xml_escape(opt.title));

  svg += "<g class=\"grid\" stroke=\"#e0e0e0\" stroke-width=\"1\">\n";
  const std::vector<double> xt = linear_ticks(x0, x1, 8);
  const std::vector<double> yt = opt.log_y ? log_ticks(y0, y1) : linear_ticks(y0, y1, 6);
  for (double x : xt)
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\"/>\n", ax.px(x),
                       ax.top, ax.top + ax.height);
  for (double y : yt)
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\"/>\n", ax.left,
                       ax.py(y), ax.left + ax.width);
  svg += "</g>\n";

  svg += "<g class=\"axes\" stroke=\"#333\" stroke-width=\"1\">\n";
  svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\"/>\n",
                     ax.left, ax.top, ax.width, ax.height);
  const double bottom = ax.top + ax.height;
  for (double x : xt)
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\"/>\n", ax.px(x),
                       bottom, bottom + 5);
  for (double y : yt)
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\"/>\n", ax.left - 5,
                       ax.py(y), ax.left);
  svg += "</g>\n<g class=\"x-ticks\" fill=\"#333\" text-anchor=\"middle\">\n";
  for (double x : xt)
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", ax.px(x), bottom + 19, tick_label(x));
  svg += "</g>\n<g class=\"y-ticks\" fill=\"#333\" text-anchor=\"end\">\n";
  for (double y : yt)
    svg +=
        fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", ax.left - 8, ax.py(y) + 4, tick_label(y));
  svg += "</g>\n";
  svg += fmt::format("<text class=\"x-label\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
                     ax.left + ax.width / 2, bottom + 44, xml_escape(opt.x_label));
  const double ly = ax.top + ax.height / 2;
  svg += fmt::format(
      "<text class=\"y-label\" x=\"20\" y=\"{0:.1f}\" text-anchor=\"middle\" transform=\"rotate(-90 20 "
      "{0:.1f})\">"
      "{1}{2}</text>\n",
      ly, xml_escape(opt.y_label), opt.log_y ? " (log scale)" : "");

  for (const ChartSeries& s : series) {
    svg += fmt::format(
        "<polyline class=\"series\" data-label=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"{} "
        "points=\"",
        xml_escape(s.label), s.color, s.dashed ? " stroke-dasharray=\"6 4\"" : "");
    for (size_t i = 0; i < s.x.size(); ++i)
      svg += fmt::format("{}{:.1f},{:.1f}", i ? " " : "", ax.px(s.x[i]), ax.py(s.y[i]));
    svg += "\"/>\n";
    if (!s.markers) continue;
    svg += fmt::format("<g class=\"markers\" fill=\"{}\">\n", s.color);
    for (size_t i = 0; i < s.x.size(); ++i)
      svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\"/>\n", ax.px(s.x[i]), ax.py(s.y[i]));
    svg += "</g>\n";
  }

  const double lx = ax.left + ax.width + 16;
  svg += "<g class=\"legend\">\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const ChartSeries& s = series[i];
    const double y = ax.top + 8 + 18.0 * static_cast<double>(i);
    svg += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
        "stroke-width=\"2\"{}/>\n",
        lx, y, lx + 28, y, s.color, s.dashed ? " stroke-dasharray=\"6 4\"" : "");
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", lx + 34, y + 4, xml_escape(s.label));
  }
  svg += "</g>\n</svg>\n";
  return svg;
}

}  // namespace trident
