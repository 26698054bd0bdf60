#pragma once
// A minimal SVG line chart for the examples: several series over epochs, vertical markers for
// structural events, axis ticks and a legend. Written for readability of the output, not speed.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "neuroplast/io/history_log.hpp"

namespace neuroplast::examples {

struct Series {
  std::string name{};
  std::vector<double> y{};  // one value per epoch (x = 1, 2, …); NaN = missing
  std::string color = "#1f77b4";
};

struct Marker {
  double x = 0;         // epoch
  std::string label{};  // short text
  std::string color = "#d62728";
};

struct Chart {
  std::string title{};
  std::string y_label{};
  std::string x_label = "epoch";
  std::vector<Series> series{};
  std::vector<Marker> markers{};
};

namespace detail {
inline std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}
inline std::string escape(const std::string& s) {
  std::string out{};
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else
      out += c;
  }
  return out;
}
}  // namespace detail

// Writes the charts stacked vertically into one SVG file, sharing the x axis (epochs). The file
// is written atomically; throws neuroplast::FileError naming it when that fails.
inline void write_svg(const std::string& path, const std::vector<Chart>& charts,
                      const std::string& heading) {
  const double width = 760, panel = 220, left = 70, right = 170, top = 40, gap = 50;
  const double height = top + static_cast<double>(charts.size()) * (panel + gap);
  std::ostringstream out;
  out << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height
      << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' "
         "fill='white'/>\n";
  out << "<text x='" << left << "' y='22' font-size='15' font-weight='bold'>"
      << detail::escape(heading) << "</text>\n";
  for (std::size_t c = 0; c < charts.size(); ++c) {
    const Chart& ch = charts[c];
    const double y0 = top + static_cast<double>(c) * (panel + gap) + 20, x0 = left,
                 w = width - left - right, h = panel - 20;
    std::size_t n = 0;
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto& s : ch.series) {
      n = std::max(n, s.y.size());
      for (double v : s.y)
        if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    }
    if (!std::isfinite(lo)) lo = 0, hi = 1;
    if (hi - lo < 1e-12) hi = lo + 1;
    const double pad = 0.05 * (hi - lo);
    lo -= pad;
    hi += pad;
    const double xmax = std::max<double>(2, static_cast<double>(n));
    auto px = [&](double x) { return x0 + (x - 1) / (xmax - 1) * w; };
    auto py = [&](double y) { return y0 + h - (y - lo) / (hi - lo) * h; };
    out << "<text x='" << x0 << "' y='" << y0 - 6 << "' font-weight='bold'>"
        << detail::escape(ch.title) << "</text>\n";
    out << "<rect x='" << x0 << "' y='" << y0 << "' width='" << w << "' height='" << h
        << "' fill='none' stroke='#888'/>\n";
    for (int t = 0; t <= 4; ++t) {
      const double v = lo + (hi - lo) * t / 4.0;
      out << "<line x1='" << x0 << "' x2='" << x0 + w << "' y1='" << py(v) << "' y2='" << py(v)
          << "' stroke='#eee'/><text x='" << x0 - 6 << "' y='" << py(v) + 4
          << "' text-anchor='end'>" << detail::fmt(v) << "</text>\n";
    }
    const int step = std::max(1, static_cast<int>(xmax) / 10);
    for (int e = 1; e <= static_cast<int>(xmax); e += step) {
      out << "<text x='" << px(e) << "' y='" << y0 + h + 15 << "' text-anchor='middle'>" << e
          << "</text>\n";
    }
    out << "<text x='" << x0 + w / 2 << "' y='" << y0 + h + 30 << "' text-anchor='middle'>"
        << detail::escape(ch.x_label) << "</text>\n";
    out << "<text x='14' y='" << y0 + h / 2 << "' transform='rotate(-90 14 " << y0 + h / 2
        << ")' text-anchor='middle'>" << detail::escape(ch.y_label) << "</text>\n";
    for (const auto& m : ch.markers) {
      out << "<line x1='" << px(m.x) << "' x2='" << px(m.x) << "' y1='" << y0 << "' y2='" << y0 + h
          << "' stroke='" << m.color << "' stroke-dasharray='4,3'><title>"
          << detail::escape(m.label) << "</title></line>\n";
    }
    double ly = y0 + 10;
    for (const auto& s : ch.series) {
      out << "<polyline fill='none' stroke='" << s.color << "' stroke-width='2' points='";
      for (std::size_t i = 0; i < s.y.size(); ++i)
        if (std::isfinite(s.y[i]))
          out << px(static_cast<double>(i + 1)) << ',' << py(s.y[i]) << ' ';
      out << "'/>\n<line x1='" << x0 + w + 12 << "' x2='" << x0 + w + 32 << "' y1='" << ly
          << "' y2='" << ly << "' stroke='" << s.color << "' stroke-width='2'/><text x='"
          << x0 + w + 36 << "' y='" << ly + 4 << "'>" << detail::escape(s.name) << "</text>\n";
      ly += 16;
    }
    if (!ch.markers.empty()) {
      out << "<line x1='" << x0 + w + 12 << "' x2='" << x0 + w + 32 << "' y1='" << ly << "' y2='"
          << ly << "' stroke='#d62728' stroke-dasharray='4,3'/><text x='" << x0 + w + 36 << "' y='"
          << ly + 4 << "'>grow</text>\n";
      ly += 16;
      out << "<line x1='" << x0 + w + 12 << "' x2='" << x0 + w + 32 << "' y1='" << ly << "' y2='"
          << ly << "' stroke='#2ca02c' stroke-dasharray='4,3'/><text x='" << x0 + w + 36 << "' y='"
          << ly + 4 << "'>prune / remove</text>\n";
    }
  }
  out << "</svg>\n";
  neuroplast::detail::write_text_atomically(path, out.str(), "write_svg");
}

}  // namespace neuroplast::examples
