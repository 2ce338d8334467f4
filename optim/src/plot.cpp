// SPDX-License-Identifier: Apache-2.0
// Learning curves as SVG (see loom/optim/plot.hpp): layout, "nice" axis ticks, and the curves.
#include "loom/optim/plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

#include "loom/core/check.hpp"

namespace loom {

namespace {

constexpr double kPanelW = 420, kPanelH = 300;                          // one panel, pixels
constexpr double kLeft = 64, kRight = 18, kTop = 40, kBottom = 50;      // the plot area's margins
constexpr const char* kTrainColour = "#1f77b4", *kValColour = "#ff7f0e";

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string number(double v, int digits = 4) {
  if (v == 0) return "0";  // no "-0"
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

// Ticks at multiples of 1, 2 or 5 × 10^k covering [lo, hi], about `want` of them; the range is
// widened to whole ticks.
std::vector<double> nice_ticks(double& lo, double& hi, int want, bool integers) {
  if (!(hi > lo)) {  // a constant series: a unit-wide range around it
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(want, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  if (integers) step = std::max(step, 1.0);
  lo = std::floor(lo / step + 1e-9) * step;
  hi = std::ceil(hi / step - 1e-9) * step;
  std::vector<double> ticks;
  for (double t = lo; t <= hi + step * 1e-6; t += step) ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

struct Series {
  std::string name, colour;
  const std::vector<double>* values;
};

void panel(std::ostringstream& svg, double ox, double oy, const std::string& metric, const std::vector<Series>& series,
           const std::vector<double>& xs, const PlotOptions& o) {
  double ylo = std::numeric_limits<double>::infinity(), yhi = -ylo;
  for (const Series& s : series)
    for (double v : *s.values)
      if (std::isfinite(v)) {
        ylo = std::min(ylo, v);
        yhi = std::max(yhi, v);
      }
  if (!std::isfinite(ylo)) ylo = yhi = 0;
  double xlo = xs.front(), xhi = xs.back();
  const std::vector<double> yt = nice_ticks(ylo, yhi, 5, false), xt = nice_ticks(xlo, xhi, 6, true);
  const double w = kPanelW - kLeft - kRight, h = kPanelH - kTop - kBottom;
  const auto px = [&](double x) { return ox + kLeft + (x - xlo) / (xhi - xlo) * w; };
  const auto py = [&](double y) { return oy + kTop + (yhi - y) / (yhi - ylo) * h; };

  svg << "<g class=\"panel\" data-metric=\"" << escape(metric) << "\">\n";
  svg << "<text x=\"" << number(ox + kLeft + w / 2, 6) << "\" y=\"" << number(oy + 24, 6)
      << "\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">" << escape(metric) << "</text>\n";
  svg << "<rect x=\"" << number(ox + kLeft, 6) << "\" y=\"" << number(oy + kTop, 6) << "\" width=\"" << number(w, 6)
      << "\" height=\"" << number(h, 6) << "\" fill=\"none\" stroke=\"#444\"/>\n";
  for (double t : yt) {  // horizontal grid lines and y tick labels
    const double y = py(t);
    svg << "<line x1=\"" << number(ox + kLeft, 6) << "\" y1=\"" << number(y, 6) << "\" x2=\"" << number(ox + kLeft + w, 6)
        << "\" y2=\"" << number(y, 6) << "\" stroke=\"#ddd\"/>\n";
    svg << "<text x=\"" << number(ox + kLeft - 6, 6) << "\" y=\"" << number(y + 4, 6)
        << "\" text-anchor=\"end\" font-size=\"11\">" << number(t) << "</text>\n";
  }
  for (double t : xt) {  // x ticks
    const double x = px(t);
    svg << "<line x1=\"" << number(x, 6) << "\" y1=\"" << number(oy + kTop + h, 6) << "\" x2=\"" << number(x, 6)
        << "\" y2=\"" << number(oy + kTop + h + 5, 6) << "\" stroke=\"#444\"/>\n";
    svg << "<text x=\"" << number(x, 6) << "\" y=\"" << number(oy + kTop + h + 18, 6)
        << "\" text-anchor=\"middle\" font-size=\"11\">" << number(t) << "</text>\n";
  }
  svg << "<text x=\"" << number(ox + kLeft + w / 2, 6) << "\" y=\"" << number(oy + kPanelH - 10, 6)
      << "\" text-anchor=\"middle\" font-size=\"12\">" << escape(o.x_label) << "</text>\n";
  svg << "<text transform=\"translate(" << number(ox + 16, 6) << "," << number(oy + kTop + h / 2, 6)
      << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">" << escape(metric) << "</text>\n";

  for (const Series& s : series) {  // the curves: one polyline per run of finite values
    const std::vector<double>& v = *s.values;
    std::vector<std::string> runs(1);
    std::size_t finite = 0;
    for (std::size_t i = 0; i < v.size() && i < xs.size(); ++i) {
      if (!std::isfinite(v[i])) {
        if (!runs.back().empty()) runs.emplace_back();
        continue;
      }
      std::string& run = runs.back();
      if (!run.empty()) run += ' ';
      run += number(px(xs[i]), 6);
      run += ',';
      run += number(py(v[i]), 6);
      ++finite;
    }
    for (const std::string& points : runs)
      if (!points.empty())
        svg << "<polyline class=\"series\" data-series=\"" << s.name << "\" fill=\"none\" stroke=\"" << s.colour
            << "\" stroke-width=\"2\" points=\"" << points << "\"/>\n";
    if (finite <= 60)  // markers while they stay readable
      for (std::size_t i = 0; i < v.size() && i < xs.size(); ++i)
        if (std::isfinite(v[i]))
          svg << "<circle cx=\"" << number(px(xs[i]), 6) << "\" cy=\"" << number(py(v[i]), 6) << "\" r=\"2.5\" fill=\""
              << s.colour << "\"/>\n";
  }
  // The legend goes in the right-hand corner the curves leave free: the bottom one when their last
  // third lies mostly in the upper half (a rising accuracy), else the top one (a falling loss).
  double upper = 0, counted = 0;
  for (const Series& s : series)
    for (std::size_t i = s.values->size() * 2 / 3; i < s.values->size(); ++i)
      if (std::isfinite((*s.values)[i])) {
        upper += (*s.values)[i] > (ylo + yhi) / 2 ? 1 : 0;
        counted += 1;
      }
  const bool bottom = counted > 0 && upper > counted / 2;
  double ly = bottom ? oy + kTop + h - 10 - 17 * static_cast<double>(series.size() - 1) : oy + kTop + 14;
  for (const Series& s : series) {
    const double lx = ox + kLeft + w - 100;
    svg << "<line x1=\"" << number(lx, 6) << "\" y1=\"" << number(ly - 4, 6) << "\" x2=\"" << number(lx + 22, 6)
        << "\" y2=\"" << number(ly - 4, 6) << "\" stroke=\"" << s.colour << "\" stroke-width=\"2\"/>\n";
    svg << "<text x=\"" << number(lx + 28, 6) << "\" y=\"" << number(ly, 6) << "\" font-size=\"12\">" << s.name
        << "</text>\n";
    ly += 17;
  }
  svg << "</g>\n";
}

}  // namespace

std::string history_svg(const History& history, const PlotOptions& o) {
  std::vector<std::string> metrics;
  for (const auto& [key, values] : history.history) {
    if (values.empty()) continue;
    const std::string metric = key.rfind("val_", 0) == 0 ? key.substr(4) : key;
    if (std::find(metrics.begin(), metrics.end(), metric) == metrics.end()) metrics.push_back(metric);
  }
  LOOM_CHECK(!metrics.empty(), ValueError, "plot_history: the history holds no values to plot.");
  std::stable_sort(metrics.begin(), metrics.end(), [](const std::string& a, const std::string& b) {
    return (a == "loss") > (b == "loss") || ((a == "loss") == (b == "loss") && a < b);
  });
  std::size_t points = 0;
  for (const auto& [key, values] : history.history) points = std::max(points, values.size());
  std::vector<double> xs;
  for (std::size_t i = 0; i < points; ++i)
    xs.push_back((i < history.epoch.size() ? history.epoch[i] : static_cast<double>(i)) + o.x_offset);

  const std::size_t columns = std::min<std::size_t>(metrics.size(), 2), rows = (metrics.size() + 1) / 2;
  const double title_h = o.title.empty() ? 0 : 30;
  const double width = kPanelW * static_cast<double>(columns), height = kPanelH * static_cast<double>(rows) + title_h;
  std::ostringstream svg;
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << number(width, 6) << "\" height=\"" << number(height, 6)
      << "\" viewBox=\"0 0 " << number(width, 6) << " " << number(height, 6)
      << "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  if (!o.title.empty())
    svg << "<text x=\"" << number(width / 2, 6) << "\" y=\"21\" text-anchor=\"middle\" font-size=\"16\">" << escape(o.title)
        << "</text>\n";
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    std::vector<Series> series;
    if (const auto t = history.history.find(metrics[i]); t != history.history.end() && !t->second.empty())
      series.push_back({"train", kTrainColour, &t->second});
    if (const auto v = history.history.find("val_" + metrics[i]); v != history.history.end() && !v->second.empty())
      series.push_back({"validation", kValColour, &v->second});
    panel(svg, kPanelW * static_cast<double>(i % 2), title_h + kPanelH * static_cast<double>(i / 2), metrics[i], series,
          xs, o);
  }
  svg << "</svg>\n";
  return svg.str();
}

void plot_history(const History& history, const std::string& path, const PlotOptions& options) {
  const std::string svg = history_svg(history, options);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  LOOM_CHECK(out.good(), IOError, "plot_history: cannot write '", path, "'.");
  out << svg;
  out.flush();
  LOOM_CHECK(out.good(), IOError, "plot_history: cannot write '", path, "'.");
}

}  // namespace loom
