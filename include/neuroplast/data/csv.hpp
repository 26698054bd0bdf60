#pragma once
/// \file
/// A reader for numeric CSV files with one sample per row: a class label or real-valued targets.
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
  /// Separator between cells; must not be a line break, a digit, '.', '+', '-', or a letter of
  /// an exponent, "inf" or "nan".
  char delimiter = ',';
  /// 0-based column holding the class label; -1 means the last column. Every other column is a
  /// feature, in file order.
  int label_column = -1;
  /// The first non-blank line holds column names (returned through `CsvColumns`, else skipped).
  bool header = false;
  /// Regression: the 0-based columns holding real-valued targets (−1 = the last column), in the
  /// order of the dataset's target rows; `label_column` is then ignored. Empty (the default):
  /// classification, with the class label in `label_column`.
  std::vector<int> target_columns{};
};

/// Column names from a CSV header (`CsvOptions::header`): the features' in file order, the
/// targets' (or the label's) in the dataset's order. Empty without a header.
struct CsvColumns {
  std::vector<std::string> features{};  ///< names of the feature columns, in file order
  std::vector<std::string> targets{};   ///< names of the target columns (or the label's)
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

/// What a column that is neither the label nor a target holds (see csv_roles).
inline constexpr int kCsvFeature = -1;

/// Calls `f(cell, column)` for each cell of the row `text` (blanks around it trimmed), with the
/// 0-based column index.
template <class F>
void for_each_csv_cell(std::string_view text, char delimiter, F&& f) {
  for (std::size_t column = 0;; ++column) {
    const std::size_t stop = std::min(text.find(delimiter), text.size());
    f(trim_cell(text.substr(0, stop), delimiter), column);
    if (stop == text.size()) return;
    text.remove_prefix(stop + 1);
  }
}

/// The role of each of the `columns` columns of a file: −1 for a feature, else the index of the
/// target it holds (the label is target 0). Throws naming the file when a target column does not
/// exist, is given twice, or no feature column is left.
inline std::vector<int> csv_roles(const CsvOptions& options, std::size_t columns,
                                  const std::string& path, std::size_t line) {
  constexpr const char* who = "read_csv";
  std::vector<int> role(columns, kCsvFeature);
  const bool regression = !options.target_columns.empty();
  const std::vector<int> wanted =
      regression ? options.target_columns : std::vector<int>{options.label_column};
  for (std::size_t k = 0; k < wanted.size(); ++k) {
    const int c = wanted[k];
    const std::size_t at = c == -1 ? columns - 1 : static_cast<std::size_t>(c);
    if (at >= columns) {
      fail<FileError>(who, ": ", regression ? "target column " : "label_column is ", c, " but '",
                      path, "' has ", columns, " columns (0..", columns - 1, ") on line ", line);
    }
    if (role[at] != kCsvFeature) {
      fail(who, ": column ", at, " is given twice in target_columns; list each target once");
    }
    role[at] = static_cast<int>(k);
  }
  if (wanted.size() >= columns) {
    fail<FileError>(who, ": '", path, "' line ", line, " has ", columns, " column",
                    columns == 1 ? "" : "s", "; a row needs at least one feature and ",
                    regression ? "its targets" : "a label", " (is the delimiter '",
                    options.delimiter, "' right?)");
  }
  return role;
}

}  // namespace detail

/// Reads a CSV file of numbers, one sample per row. Classification (default): features are
/// `(columns − 1) × rows` in file column order, labels come from `options.label_column`.
/// Regression (`options.target_columns`): features are the other columns, targets
/// `targets × rows` in the order of `target_columns`. With `options.header` and `columns` not
/// null, the header's names are written to `*columns`.
///
/// Accepts `\n` and `\r\n` line endings, a UTF-8 byte-order mark, blanks around cells, and skips
/// blank lines. Throws FileError naming the file, line and column on a missing file, an empty
/// file, a ragged row, a header of another width than the rows, a cell that is not a finite
/// number, or a label that is not a non-negative integer; Error on invalid options (a target
/// column given twice, or every column a target).
template <Scalar T>
Dataset<T> read_csv(const std::string& path, CsvOptions options = {},
                    CsvColumns* columns_out = nullptr) {
  constexpr const char* who = "read_csv";
  const bool regression = !options.target_columns.empty();
  if (!regression && options.label_column < -1) {
    detail::fail(who, ": label_column is ", options.label_column,
                 "; use a 0-based column index, or -1 for the last column");
  }
  for (const int c : options.target_columns) {
    if (c < -1) {
      detail::fail(who, ": target column ", c,
                   " is invalid; use 0-based column indices, or -1 for the last column");
    }
  }
  const char d = options.delimiter;
  // 'e' and 'E' belong to exponents, "inf" and "nan" are numbers too.
  if (d == '\n' || d == '\r' || d == '.' || d == '+' || d == '-' || (d >= '0' && d <= '9') ||
      std::string_view("eEiInNfFaA").find(d) != std::string_view::npos) {
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

  // What each column is: a feature, or the target at this index (the label is target 0).
  std::vector<int> role;
  std::vector<T> values;   // column-major features × n: each row of the file is one column
  std::vector<T> targets;  // column-major targets × n (regression)
  std::vector<int> labels;
  std::vector<T> row_targets;
  std::vector<std::string> names;
  std::size_t header_line = 0;
  std::size_t columns = 0;       // fixed by the first data row
  std::size_t columns_line = 0;  // ...which is this line
  std::size_t samples = 0;
  bool header_pending = options.header;
  std::string line;
  for (std::size_t line_number = 1; std::getline(in, line); ++line_number) {
    std::string_view text(line);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (line_number == 1 && text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
    if (text.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (header_pending) {
      header_pending = false;
      header_line = line_number;
      detail::for_each_csv_cell(
          text, d, [&](std::string_view cell, std::size_t) { names.emplace_back(cell); });
      continue;
    }
    std::size_t cells = 1;
    for (char c : text) cells += c == d ? 1 : 0;
    if (columns == 0) {
      columns = cells;
      columns_line = line_number;
      role = detail::csv_roles(options, columns, path, line_number);
      row_targets.resize(regression ? options.target_columns.size() : 0);
      if (header_line != 0 && names.size() != columns) {
        detail::fail<FileError>(who, ": '", path, "' line ", header_line, " names ", names.size(),
                                " columns but line ", line_number, " has ", columns,
                                "; the header needs one name per column");
      }
    } else if (cells != columns) {
      detail::fail<FileError>(who, ": '", path, "' line ", line_number, " has ", cells,
                              " columns but line ", columns_line, " has ", columns,
                              "; every row needs the same number of cells");
    }
    detail::for_each_csv_cell(text, d, [&](std::string_view cell, std::size_t column) {
      const detail::CsvPlace at{path, line_number, column};
      const int r = role[column];
      if (r == detail::kCsvFeature) {
        values.push_back(detail::parse_csv_number<T>(cell, at));
      } else if (regression) {
        row_targets[static_cast<std::size_t>(r)] = detail::parse_csv_number<T>(cell, at);
      } else {
        labels.push_back(detail::parse_csv_label(cell, at));
      }
    });
    targets.insert(targets.end(), row_targets.begin(), row_targets.end());
    ++samples;
  }
  if (in.bad()) detail::fail<FileError>(who, ": error while reading '", path, "'");
  if (samples == 0) {
    detail::fail<FileError>(who, ": '", path, "' has no data rows",
                            options.header ? " after its header" : "",
                            "; a dataset needs at least one sample");
  }
  const auto target_count = static_cast<Index>(regression ? options.target_columns.size() : 1);
  const auto features = static_cast<Index>(columns) - target_count;
  const auto n = static_cast<Index>(samples);
  if (columns_out != nullptr) {
    *columns_out = {};
    if (!names.empty()) {
      columns_out->targets.resize(static_cast<std::size_t>(target_count));
      for (std::size_t c = 0; c < columns; ++c) {
        if (role[c] == detail::kCsvFeature) {
          columns_out->features.push_back(names[c]);
        } else {
          columns_out->targets[static_cast<std::size_t>(role[c])] = names[c];
        }
      }
    }
  }
  Matrix<T> matrix = Eigen::Map<const Matrix<T>>(values.data(), features, n);
  if (regression) {
    Matrix<T> target_matrix = Eigen::Map<const Matrix<T>>(targets.data(), target_count, n);
    return Dataset<T>(std::move(matrix), std::move(target_matrix));
  }
  return Dataset<T>(std::move(matrix), std::move(labels));
}

}  // namespace neuroplast
