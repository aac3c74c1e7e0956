#pragma once
// A line chart as a standalone SVG file, hand-written (no plotting library): a framed plot area with grid
// lines, ticks and labels on both axes (y linear or log), one <polyline> per series, and a legend on the
// right naming each series with its colour and dash.
#include <string>
#include <vector>

namespace trident {

struct ChartSeries {
  std::string label;         // legend text
  std::vector<double> x, y;  // same length, x ascending
  std::string color;         // any SVG colour: "#1f77b4"
  bool dashed = false;
  bool markers = false;  // a dot at every point (sparse series, or one with a single point)
};

struct ChartOptions {
  std::string title, x_label, y_label;
  bool log_y = false;  // every y must then be > 0
  int width = 960, height = 540;
};

// The whole SVG document. Throws trident::Error when there is nothing to draw or a log axis gets y <= 0.
std::string line_chart_svg(const std::vector<ChartSeries>& series, const ChartOptions& opt);

// Tick positions: on a linear axis about `target` round values (1, 2 or 5 x 10^k apart) within [lo, hi];
// on a log axis 1, 2 and 5 x 10^k within [lo, hi], or every integer multiple of 10^k when that gives fewer
// than 3, or else (a range narrower than that) the linear ticks.
std::vector<double> linear_ticks(double lo, double hi, int target = 6);
std::vector<double> log_ticks(double lo, double hi);

// Distinct colours for the n-th series (Tableau 10, repeating).
std::string chart_color(size_t n);

}  // namespace trident
