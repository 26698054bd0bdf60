#pragma once
/// \file
/// A History as files other tools read: tidy CSV for the epochs (one row per epoch, one column
/// per value) and JSON Lines for the structural events. Written atomically, like every file the
/// library writes.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>

#include "neuroplast/io/atomic_file.hpp"
#include "neuroplast/io/json.hpp"
#include "neuroplast/train/history.hpp"

namespace neuroplast {

namespace detail {

// Shortest text that reads back as the same double; empty for NaN (a missing value in CSV).
inline std::string csv_number(double x) {
  if (std::isnan(x)) return {};
  char buffer[32];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, x).ptr;
  return std::string(buffer, end);
}

// A JSON number, or null for NaN and infinities (JSON has neither).
inline std::string json_number(double x) {
  return std::isfinite(x) ? csv_number(x) : std::string("null");
}

inline void write_text_atomically(const std::string& path, const std::string& text,
                                  const char* where) {
  write_file_atomically(
      path, std::span(reinterpret_cast<const unsigned char*>(text.data()), text.size()), where);
}

}  // namespace detail

/// Writes the epochs of `h` as CSV to `out`: a header row, then one row per epoch with the
/// columns epoch, train_loss, validation_loss, validation_accuracy, parameters,
/// active_parameters, seconds, layers (the number of sizes) and size_0 … size_{n−1} (input first,
/// n the most sizes any epoch had; a network with fewer layers leaves the rest empty). A value
/// that was not measured (NaN) is an empty cell, which numpy.genfromtxt and pandas read as NaN.
/// Doubles are written in the shortest form that reads back exactly.
inline void write_history_csv(std::ostream& out, const History& h) {
  std::size_t columns = 0;
  for (const EpochRecord& e : h.epochs) columns = std::max(columns, e.sizes.size());
  out << "epoch,train_loss,validation_loss,validation_accuracy,parameters,active_parameters,"
         "seconds,layers";
  for (std::size_t i = 0; i < columns; ++i) out << ",size_" << i;
  out << '\n';
  for (const EpochRecord& e : h.epochs) {
    out << e.epoch << ',' << detail::csv_number(e.train_loss) << ','
        << detail::csv_number(e.validation_loss) << ',' << detail::csv_number(e.validation_accuracy)
        << ',' << e.parameter_count << ',' << e.active_parameter_count << ','
        << detail::csv_number(e.seconds) << ',' << e.sizes.size();
    for (std::size_t i = 0; i < columns; ++i) {
      out << ',';
      if (i < e.sizes.size()) out << e.sizes[i];
    }
    out << '\n';
  }
}

/// Writes the structural events of `h` as JSON Lines to `out`: one object per event and line,
/// {"epoch", "kind" (event_name), "layer", "count", "reason", "trigger_value" (null when not
/// measured), "sizes_after" (array, input first)}.
inline void write_events_jsonl(std::ostream& out, const History& h) {
  for (const StructuralEvent& e : h.events) {
    out << "{\"epoch\":" << e.epoch << ",\"kind\":" << detail::json_quote(event_name(e.kind))
        << ",\"layer\":" << e.layer << ",\"count\":" << e.count
        << ",\"reason\":" << detail::json_quote(e.reason)
        << ",\"trigger_value\":" << detail::json_number(e.trigger_value) << ",\"sizes_after\":[";
    for (std::size_t i = 0; i < e.sizes_after.size(); ++i)
      out << (i > 0 ? "," : "") << e.sizes_after[i];
    out << "]}\n";
  }
}

/// write_history_csv into the file `path`, atomically (the old file, if any, stays intact on any
/// error). Throws FileError naming the file and the reason.
inline void write_history_csv(const std::string& path, const History& h) {
  std::ostringstream text;
  write_history_csv(text, h);
  detail::write_text_atomically(path, text.str(), "write_history_csv");
}

/// write_events_jsonl into the file `path`, atomically. Throws FileError naming the file.
inline void write_events_jsonl(const std::string& path, const History& h) {
  std::ostringstream text;
  write_events_jsonl(text, h);
  detail::write_text_atomically(path, text.str(), "write_events_jsonl");
}

}  // namespace neuroplast
