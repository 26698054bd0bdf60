#pragma once
/// \file
/// A reader for numeric CSV files with one labeled sample per row.
///
/// Deliberately small: no quoting, no missing values, no categorical columns. Anything it cannot
/// read exactly throws FileError naming the file, the line and the column (both 1-based, as an
/// editor shows them), rather than guessing.

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/data/dataset.hpp"

namespace neuroplast {

/// How `read_csv` splits a file into samples.
struct CsvOptions {
  /// Separator between cells; must not be a line break, a digit, '.', '+' or '-'.
  char delimiter = ',';
  /// 0-based column holding the class label; -1 means the last column. Every other column is a
  /// feature, in file order.
  int label_column = -1;
  /// Skip the first non-blank line (column names).
  bool header = false;
};

namespace detail {

/// The cell without surrounding blanks; a blank that is the delimiter is not trimmed.
inline std::string_view trim_cell(std::string_view cell, char delimiter) noexcept {
  const auto blank = [delimiter](char c) { return (c == ' ' || c == '\t') && c != delimiter; };
  while (!cell.empty() && blank(cell.front())) cell.remove_prefix(1);
  while (!cell.empty() && blank(cell.back())) cell.remove_suffix(1);
  return cell;
}

/// Where a CSV cell came from, to prefix every message about it.
struct CsvPlace {
  const std::string& path;
  std::size_t line;
  std::size_t column;  // 0-based here, printed 1-based
};

inline std::ostream& operator<<(std::ostream& os, const CsvPlace& at) {
  return os << "read_csv: '" << at.path << "' line " << at.line << ", column " << at.column + 1;
}

/// Parses a finite number with std::from_chars (locale-independent, exact rounding). A leading
/// '+' is accepted because spreadsheets write it; float underflow gives a subnormal or zero.
template <Scalar T>
T parse_csv_number(std::string_view cell, const CsvPlace& at) {
  if (cell.empty()) fail<FileError>(at, ": empty cell; every feature needs a number");
  std::string_view digits = cell;
  if (digits.size() > 1 && digits.front() == '+' && digits[1] != '-' && digits[1] != '+') {
    digits.remove_prefix(1);
  }
  const char* first = digits.data();
  const char* last = digits.data() + digits.size();
  T value{};
  auto [end, ec] = std::from_chars(first, last, value);
  if (ec == std::errc::result_out_of_range && std::is_same_v<T, float>) {
    // Retry wider: a value below float's range is legitimately tiny, one above it is an error.
    double wide = 0;
    const auto retry = std::from_chars(first, last, wide);
    if (retry.ec == std::errc{} && std::abs(wide) < 1.0) {
      value = static_cast<T>(wide);
      end = retry.ptr;
      ec = std::errc{};
    }
  }
  if (ec == std::errc::result_out_of_range) {
    fail<FileError>(at, ": '", cell, "' is out of range for ",
                    std::is_same_v<T, float> ? "float" : "double");
  }
  if (ec != std::errc{} || end != last) {
    fail<FileError>(at, ": '", cell, "' is not a number (only plain decimal numbers are read; ",
                    "check the delimiter and remove quotes or units)");
  }
  if (!std::isfinite(value)) {
    fail<FileError>(at, ": '", cell, "' is not finite; remove or impute such values first");
  }
  return value;
}

/// Parses a class label: a non-negative integer, written either as "3" or as "3.0".
inline int parse_csv_label(std::string_view cell, const CsvPlace& at) {
  if (cell.empty()) fail<FileError>(at, ": empty label cell; every row needs a class label");
  double value = 0;
  const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  if (ec != std::errc{} || end != cell.data() + cell.size() || !std::isfinite(value)) {
    fail<FileError>(at, ": label '", cell, "' is not a number; labels are class indices 0, 1, 2, ",
                    "... (is label_column right?)");
  }
  if (value != std::floor(value)) {
    fail<FileError>(at, ": label '", cell, "' is not an integer; labels are class indices ",
                    "(is label_column right, or is this a regression target?)");
  }
  if (value < 0) {
    fail<FileError>(at, ": label '", cell, "' is negative; labels are class indices 0, 1, 2, ...");
  }
  if (value > INT_MAX) fail<FileError>(at, ": label '", cell, "' is too large for a class index");
  return static_cast<int>(value);
}

}  // namespace detail

/// Reads a CSV file of numbers, one sample per row, into a labeled dataset: features are
/// `(columns − 1) × rows` in file column order, labels come from `options.label_column`.
/// Accepts `\n` and `\r\n` line endings, a UTF-8 byte-order mark, blanks around cells, and
/// skips blank lines. Throws FileError naming the file, line and column on a missing file, an
/// empty file, a ragged row, a cell that is not a finite number, or a label that is not a
/// non-negative integer; Error on invalid options.
template <Scalar T>
Dataset<T> read_csv(const std::string& path, CsvOptions options = {}) {
  constexpr const char* who = "read_csv";
  if (options.label_column < -1) {
    detail::fail(who, ": label_column is ", options.label_column,
                 "; use a 0-based column index, or -1 for the last column");
  }
  const char d = options.delimiter;
  if (d == '\n' || d == '\r' || d == '.' || d == '+' || d == '-' || (d >= '0' && d <= '9')) {
    detail::fail(who, ": delimiter '", d, "' cannot separate numbers; use ',', ';', '\\t' or ' '");
  }
  std::error_code status_error;
  const auto status = std::filesystem::status(path, status_error);
  if (!std::filesystem::exists(status)) {
    detail::fail<FileError>(who, ": cannot open '", path, "': no such file");
  }
  if (std::filesystem::is_directory(status)) {
    detail::fail<FileError>(who, ": '", path, "' is a directory; give the path of a CSV file");
  }
  std::ifstream in(path, std::ios::binary);  // binary: line endings are handled below, not by libc
  if (!in) detail::fail<FileError>(who, ": cannot open '", path, "' for reading");

  std::vector<T> values;  // column-major features × n: each row of the file is one column
  std::vector<int> labels;
  std::size_t columns = 0;       // fixed by the first data row
  std::size_t columns_line = 0;  // ...which is this line
  std::size_t label_at = 0;
  bool header_pending = options.header;
  std::string line;
  for (std::size_t line_number = 1; std::getline(in, line); ++line_number) {
    std::string_view text(line);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (line_number == 1 && text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
    if (text.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (header_pending) {
      header_pending = false;
      continue;
    }
    std::size_t cells = 1;
    for (char c : text) cells += c == d ? 1 : 0;
    if (columns == 0) {
      columns = cells;
      columns_line = line_number;
      if (columns < 2) {
        detail::fail<FileError>(who, ": '", path, "' line ", line_number, " has ", columns,
                                " column; a row needs at least one feature and a label (is the ",
                                "delimiter '", d, "' right?)");
      }
      label_at =
          options.label_column == -1 ? columns - 1 : static_cast<std::size_t>(options.label_column);
      if (label_at >= columns) {
        detail::fail<FileError>(who, ": label_column is ", options.label_column, " but '", path,
                                "' has ", columns, " columns (0..", columns - 1, ")");
      }
    } else if (cells != columns) {
      detail::fail<FileError>(who, ": '", path, "' line ", line_number, " has ", cells,
                              " columns but line ", columns_line, " has ", columns,
                              "; every row needs the same number of cells");
    }
    std::size_t column = 0;
    while (true) {
      const std::size_t stop = std::min(text.find(d), text.size());
      const std::string_view cell = detail::trim_cell(text.substr(0, stop), d);
      const detail::CsvPlace at{path, line_number, column};
      if (column == label_at) {
        labels.push_back(detail::parse_csv_label(cell, at));
      } else {
        values.push_back(detail::parse_csv_number<T>(cell, at));
      }
      if (stop == text.size()) break;
      text.remove_prefix(stop + 1);
      ++column;
    }
  }
  if (in.bad()) detail::fail<FileError>(who, ": error while reading '", path, "'");
  if (labels.empty()) {
    detail::fail<FileError>(who, ": '", path, "' has no data rows",
                            options.header ? " after its header" : "",
                            "; a dataset needs at least one sample");
  }
  const auto features = static_cast<Index>(columns - 1);
  const auto samples = static_cast<Index>(labels.size());
  Matrix<T> matrix = Eigen::Map<const Matrix<T>>(values.data(), features, samples);
  return Dataset<T>(std::move(matrix), std::move(labels));
}

}  // namespace neuroplast
