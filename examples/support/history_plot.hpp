#pragma once
// Any History as an SVG figure: losses, validation accuracy (classification) and hidden layer
// widths per epoch, with every structural event marked. Used by neuroplast-train and the
// examples; kept out of the library, which has no plotting dependency.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "neuroplast/train/history.hpp"
#include "support/svg_plot.hpp"

namespace neuroplast::examples {

// The colour and short label an event gets on the figure.
inline Marker event_marker(const StructuralEvent& e) {
  const double x = e.epoch;
  switch (e.kind) {
    case EventKind::grow_neurons: return {x, "+" + std::to_string(e.count), "#d62728"};
    case EventKind::insert_layer: return {x, "+layer", "#d62728"};  // growth, as GrowBy::depth
    case EventKind::remove_neurons: return {x, "-" + std::to_string(e.count), "#ff7f0e"};
    case EventKind::prune_connections: return {x, "prune", "#2ca02c"};
    case EventKind::rollback: return {x, "back", "#7f7f7f"};
    default: return {x, event_name(e.kind), "#9467bd"};
  }
}

// Writes `h` to `path` (SVG, atomically) under `heading`; throws neuroplast::FileError naming the
// file when it cannot be written. Does nothing for a history without epochs.
inline void write_history_svg(const std::string& path, const History& h,
                              const std::string& heading) {
  if (h.epochs.empty()) return;
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  const char* palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"};
  Chart loss{.title = "loss", .y_label = "loss"};
  Series train{.name = "training", .color = palette[0]};
  Series validation{.name = "validation", .color = palette[1]};
  Chart accuracy{.title = "validation accuracy", .y_label = "accuracy"};
  Series acc{.name = "validation", .color = palette[1]};
  Chart widths{.title = "hidden layer widths", .y_label = "neurons"};
  std::size_t hidden = 0;
  for (const EpochRecord& e : h.epochs)
    hidden = std::max(hidden, e.sizes.size() > 2 ? e.sizes.size() - 2 : std::size_t{0});
  for (std::size_t l = 0; l < hidden; ++l)
    widths.series.push_back({.name = "layer " + std::to_string(l), .color = palette[l % 6]});
  bool any_accuracy = false, any_validation = false;
  for (const EpochRecord& e : h.epochs) {
    train.y.push_back(e.train_loss);
    validation.y.push_back(e.validation_loss);
    acc.y.push_back(e.validation_accuracy);
    any_accuracy = any_accuracy || !std::isnan(e.validation_accuracy);
    any_validation = any_validation || !std::isnan(e.validation_loss);
    for (std::size_t l = 0; l < hidden; ++l) {
      const bool has = l + 2 < e.sizes.size();
      widths.series[l].y.push_back(has ? static_cast<double>(e.sizes[l + 1]) : nan);
    }
  }
  loss.series.push_back(std::move(train));
  if (any_validation) loss.series.push_back(std::move(validation));
  accuracy.series.push_back(std::move(acc));
  for (const StructuralEvent& e : h.events) {
    const Marker m = event_marker(e);
    loss.markers.push_back(m);
    widths.markers.push_back(m);
  }
  std::vector<Chart> charts{std::move(loss)};
  if (any_accuracy) charts.push_back(std::move(accuracy));
  if (hidden > 0) charts.push_back(std::move(widths));
  write_svg(path, charts, heading);
}

}  // namespace neuroplast::examples
