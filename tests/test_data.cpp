// Tests of the data module: Dataset, the IDX reader (plain and gzip) and the CSV reader.

#include <zlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "neuroplast/data/csv.hpp"
#include "neuroplast/data/dataset.hpp"
#include "neuroplast/data/idx.hpp"
#include "neuroplast/data/replay_buffer.hpp"
#include "neuroplast/data/standard_scaler.hpp"

using neuroplast::CsvColumns;
using neuroplast::CsvOptions;
using neuroplast::Dataset;
using neuroplast::Error;
using neuroplast::FileError;
using neuroplast::Index;
using neuroplast::Matrix;
using neuroplast::NumericError;
using neuroplast::ReplayBuffer;
using neuroplast::StandardScaler;

// Both checks of an error path: the exception type, and the part of the message that tells the
// user what to fix.
#define REQUIRE_ERROR(expr, type, text)               \
  do {                                                \
    REQUIRE_THROWS_AS(expr, type);                    \
    REQUIRE_THROWS_WITH(expr, Catch::Contains(text)); \
  } while (false)

namespace {

namespace fs = std::filesystem;

using Bytes = std::vector<unsigned char>;

/// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    std::random_device entropy;
    path_ = fs::temp_directory_path() /
            ("neuroplast-data-" + std::to_string(entropy()) + "-" + std::to_string(++counter));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

void write_plain(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

void write_gzip(const std::string& path, const Bytes& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  if (!bytes.empty()) {
    REQUIRE(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())) ==
            static_cast<int>(bytes.size()));
  }
  REQUIRE(gzclose(file) == Z_OK);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

Bytes read_plain(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// An IDX file: magic (0, 0, type, dims.size()), big-endian dims, then the payload as given.
Bytes idx_file(const std::vector<std::uint32_t>& dims, const Bytes& payload,
               unsigned char type = 0x08) {
  Bytes bytes{0, 0, type, static_cast<unsigned char>(dims.size())};
  for (std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      bytes.push_back(static_cast<unsigned char>((d >> shift) & 0xFF));
    }
  }
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  return bytes;
}

/// Two 2 × 3 images: image k has pixel (r, c) = 10·k + 3·r + c + 1.
Bytes two_image_payload() {
  Bytes payload;
  for (int k = 0; k < 2; ++k) {
    for (int r = 0; r < 2; ++r) {
      for (int c = 0; c < 3; ++c)
        payload.push_back(static_cast<unsigned char>(10 * k + 3 * r + c + 1));
    }
  }
  return payload;
}

/// What the IDX readers make of a byte with the default scale: the byte times 1/255.
template <class T>
T pixel(int byte) {
  return static_cast<T>(byte) * (T(1) / T(255));
}

/// Features that encode the sample index, so the provenance of every column is checkable:
/// column j is (j, 100 + j, 200 + j).
Matrix<double> numbered_features(Index n) {
  Matrix<double> x(3, n);
  for (Index j = 0; j < n; ++j) x.col(j) << double(j), 100.0 + double(j), 200.0 + double(j);
  return x;
}

/// Sets an environment variable for one scope and restores the previous value afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Dataset
// ---------------------------------------------------------------------------------------------

TEST_CASE("a classification dataset keeps its samples as columns", "[data]") {
  Matrix<double> x(2, 3);
  x << 1, 2, 3, 4, 5, 6;
  const std::vector<int> labels{0, 2, 2};
  const Dataset<double> data{x, labels};
  CHECK(data.size() == 3);
  CHECK(data.feature_count() == 2);
  CHECK(data.has_labels());
  CHECK_FALSE(data.has_targets());
  CHECK(data.class_count() == 3);
  CHECK(data.features() == x);
  CHECK(data.labels() == labels);
  CHECK(data.targets().size() == 0);

  const Dataset<double> inline_labels{x, {1, 0, 1}};
  CHECK(inline_labels.labels() == std::vector<int>{1, 0, 1});
  CHECK(inline_labels.class_count() == 2);

  const Dataset<float> empty;
  CHECK(empty.size() == 0);
  CHECK(empty.class_count() == 0);
  CHECK_FALSE(empty.has_labels());
  CHECK_FALSE(empty.has_targets());
}

TEST_CASE("a regression dataset keeps targets as outputs × samples", "[data]") {
  Matrix<float> x(1, 2);
  x << 1, 2;
  Matrix<float> y(2, 2);
  y << 3, 4, 5, 6;
  const Dataset<float> data{x, y};
  CHECK(data.has_targets());
  CHECK_FALSE(data.has_labels());
  CHECK(data.class_count() == 0);
  CHECK(data.targets() == y);
  CHECK(data.size() == 2);
}

TEST_CASE("Dataset construction rejects malformed input with a useful message", "[data]") {
  const auto make = [](Matrix<double> x, std::vector<int> labels) {
    return Dataset<double>(std::move(x), std::move(labels));
  };
  const auto make_regression = [](Matrix<double> x, Matrix<double> y) {
    return Dataset<double>(std::move(x), std::move(y));
  };

  SECTION("no samples") {
    REQUIRE_ERROR(make(Matrix<double>(3, 0), {}), Error, "no samples");
    REQUIRE_ERROR(make_regression(Matrix<double>(3, 0), Matrix<double>(1, 0)), Error, "no samples");
  }
  SECTION("no features") {
    REQUIRE_ERROR(make(Matrix<double>(0, 2), {0, 1}), Error, "0 features per sample");
  }
  SECTION("label count differs from the column count") {
    REQUIRE_ERROR(make(Matrix<double>::Zero(4, 3), {0, 1}), Error,
                  "features have 3 columns (samples) but 2 labels");
  }
  SECTION("a transposed feature matrix is pointed out") {
    REQUIRE_ERROR(make(Matrix<double>::Zero(2, 3), {0, 1}), Error, "looks transposed");
  }
  SECTION("negative label") {
    REQUIRE_ERROR(make(Matrix<double>::Zero(1, 3), {0, -1, 2}), Error, "label of sample 1 is -1");
  }
  SECTION("NaN and infinity are located by feature and sample") {
    Matrix<double> x = Matrix<double>::Zero(3, 4);
    x(1, 2) = std::numeric_limits<double>::quiet_NaN();
    REQUIRE_ERROR(make(x, {0, 0, 0, 0}), NumericError, "feature 1 of sample 2 is nan");
    x(1, 2) = 0;
    x(2, 3) = -std::numeric_limits<double>::infinity();
    REQUIRE_ERROR(make(x, {0, 0, 0, 0}), NumericError, "feature 2 of sample 3 is -inf");
  }
  SECTION("regression targets: rows, columns and finiteness") {
    const Matrix<double> x = Matrix<double>::Zero(2, 3);
    REQUIRE_ERROR(make_regression(x, Matrix<double>(0, 3)), Error, "targets have 0 rows");
    REQUIRE_ERROR(make_regression(x, Matrix<double>::Zero(1, 2)), Error,
                  "features are 2 × 3 but targets are 1 × 2");
    Matrix<double> y = Matrix<double>::Zero(2, 3);
    y(0, 1) = std::numeric_limits<double>::infinity();
    REQUIRE_ERROR(make_regression(x, y), NumericError, "target 0 of sample 1 is inf");
    Matrix<double> bad_x = x;
    bad_x(0, 0) = std::numeric_limits<double>::quiet_NaN();
    REQUIRE_ERROR(make_regression(bad_x, Matrix<double>::Zero(1, 3)), NumericError,
                  "feature 0 of sample 0 is nan");
  }
}

TEST_CASE("subset picks samples in the given order, repeats allowed", "[data]") {
  const Dataset<double> data{numbered_features(5), {0, 1, 2, 3, 4}};
  const std::vector<Index> pick{4, 1, 1};
  const Dataset<double> part = data.subset(pick);
  REQUIRE(part.size() == 3);
  CHECK(part.features().row(0) == Eigen::RowVector3d(4, 1, 1));
  CHECK(part.features().row(2) == Eigen::RowVector3d(204, 201, 201));
  CHECK(part.labels() == std::vector<int>{4, 1, 1});
  CHECK(part.class_count() == 5);

  Matrix<double> y(1, 5);
  y << 10, 11, 12, 13, 14;
  const Dataset<double> regression{numbered_features(5), y};
  const std::vector<Index> two{3, 0};
  const Dataset<double> regression_part = regression.subset(two);
  CHECK(regression_part.has_targets());
  CHECK(regression_part.targets() == Eigen::RowVector2d(13, 10));

  const std::vector<Index> past_end{0, 5};
  REQUIRE_ERROR(data.subset(past_end), Error,
                "index 5 at position 1 is out of range (the dataset has 5 samples: 0..4)");
  const std::vector<Index> negative{-1};
  REQUIRE_ERROR(data.subset(negative), Error, "index -1 at position 0 is out of range");
  REQUIRE_ERROR(data.subset(std::span<const Index>{}), Error, "no indices given");
}

TEST_CASE("split shuffles with the seed and cuts at round(n · fraction)", "[data]") {
  const Index n = 10;
  std::vector<int> labels(static_cast<std::size_t>(n));
  std::iota(labels.begin(), labels.end(), 0);
  const Dataset<double> data{numbered_features(n), labels};

  const auto [train, validation] = data.split(0.66, 7);
  REQUIRE(train.size() == 7);  // round(6.6)
  REQUIRE(validation.size() == 3);

  // Exactly the order neuroplast::Rng produces for that seed.
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index{0});
  neuroplast::Rng rng(7);
  rng.shuffle(std::span<Index>(order));
  for (Index k = 0; k < 7; ++k) {
    CHECK(train.labels()[static_cast<std::size_t>(k)] == order[static_cast<std::size_t>(k)]);
    CHECK(train.features()(0, k) == double(order[static_cast<std::size_t>(k)]));
  }
  for (Index k = 0; k < 3; ++k) {
    CHECK(validation.labels()[static_cast<std::size_t>(k)] ==
          order[static_cast<std::size_t>(7 + k)]);
  }

  // Together the parts hold every sample exactly once.
  std::vector<int> all = train.labels();
  all.insert(all.end(), validation.labels().begin(), validation.labels().end());
  std::sort(all.begin(), all.end());
  CHECK(all == labels);

  // Same seed, same split; another seed, another order.
  const auto again = data.split(0.66, 7);
  CHECK(again.first.labels() == train.labels());
  CHECK(again.second.features() == validation.features());
  const auto other = data.split(0.66, 8);
  CHECK(other.first.labels() != train.labels());

  REQUIRE_ERROR(data.split(0.0, 1), Error, "strictly between 0 and 1");
  REQUIRE_ERROR(data.split(1.0, 1), Error, "strictly between 0 and 1");
  REQUIRE_ERROR(data.split(std::nan(""), 1), Error, "strictly between 0 and 1");
  REQUIRE_ERROR(data.split(0.04, 1), Error, "puts 0 in the first part and 10 in the second");
  REQUIRE_ERROR(data.split(0.96, 1), Error, "puts 10 in the first part and 0 in the second");
}

TEST_CASE("with_classes keeps matching samples in order, labels unchanged", "[data]") {
  const Dataset<double> data{numbered_features(6), {3, 0, 1, 3, 2, 1}};
  const std::vector<int> wanted{1, 3};
  const Dataset<double> part = data.with_classes(wanted);
  CHECK(part.labels() == std::vector<int>{3, 1, 3, 1});
  CHECK(part.features().row(0) == Eigen::RowVector4d(0, 2, 3, 5));
  CHECK(part.class_count() == 4);

  const std::vector<int> absent{7, 9};
  REQUIRE_ERROR(data.with_classes(absent), Error, "no sample has a label in {7, 9}");
  REQUIRE_ERROR(data.with_classes(std::span<const int>{}), Error, "no sample has a label");

  const Dataset<double> regression{numbered_features(2), Matrix<double>::Zero(1, 2)};
  REQUIRE_ERROR(regression.with_classes(wanted), Error, "it is a regression dataset");
}

TEST_CASE("append concatenates samples of the same kind and shape", "[data]") {
  Dataset<double> data{numbered_features(2), {0, 1}};
  const Dataset<double> more{numbered_features(3), {4, 0, 2}};
  data.append(more);
  REQUIRE(data.size() == 5);
  CHECK(data.labels() == std::vector<int>{0, 1, 4, 0, 2});
  CHECK(data.features().row(0) == (Eigen::RowVectorXd(5) << 0, 1, 0, 1, 2).finished());
  CHECK(data.class_count() == 5);

  SECTION("into and from an empty dataset") {
    Dataset<double> empty;
    empty.append(more);
    CHECK(empty.labels() == more.labels());
    CHECK(empty.features() == more.features());
    const Matrix<double> before = data.features();
    data.append(Dataset<double>{});
    CHECK(data.features() == before);
  }
  SECTION("regression") {
    Dataset<double> regression{numbered_features(1), Matrix<double>::Constant(2, 1, 7.0)};
    regression.append(Dataset<double>{numbered_features(2), Matrix<double>::Constant(2, 2, 8.0)});
    CHECK(regression.size() == 3);
    CHECK(regression.targets() == (Matrix<double>(2, 3) << 7, 8, 8, 7, 8, 8).finished());
  }
  SECTION("mismatches are refused and leave the dataset unchanged") {
    const Matrix<double> before = data.features();
    const Dataset<double> wide{Matrix<double>::Zero(4, 1), {0}};
    REQUIRE_ERROR(data.append(wide), Error,
                  "the appended samples have 4 features but this dataset has 3");
    const Dataset<double> regression{numbered_features(1), Matrix<double>::Zero(1, 1)};
    REQUIRE_ERROR(data.append(regression), Error,
                  "cannot append a regression dataset to a labeled dataset");
    Dataset<double> two_outputs{numbered_features(1), Matrix<double>::Zero(2, 1)};
    REQUIRE_ERROR(two_outputs.append(regression), Error,
                  "the appended samples have 1 targets each but this dataset has 2");
    CHECK(data.features() == before);
    CHECK(data.size() == 5);
    CHECK(two_outputs.size() == 1);
  }
}

TEST_CASE("a borrowing dataset reads its memory in place and copies of it own their samples",
          "[data]") {
  Matrix<double> memory = numbered_features(3);
  const Dataset<double>::Features samples(memory.data(), memory.rows(), memory.cols());
  Dataset<double> data = Dataset<double>::borrow(samples, {2, 0, 1});
  CHECK(data.borrows());
  CHECK(data.features().data() == memory.data());
  CHECK(data.size() == 3);
  CHECK(data.feature_count() == 3);
  CHECK(data.class_count() == 3);
  memory(0, 1) = 42;  // read in place: a change to the memory shows
  CHECK(data.features()(0, 1) == 42);

  SECTION("a copy owns its samples, equal at the time of copying") {
    const Dataset<double> copy = data;
    CHECK_FALSE(copy.borrows());
    CHECK(copy.features().data() != memory.data());
    CHECK(copy.features() == memory);
    CHECK(copy.labels() == data.labels());
    memory(0, 1) = -1;
    CHECK(copy.features()(0, 1) == 42);
    Dataset<double> assigned;
    assigned = data;
    CHECK_FALSE(assigned.borrows());
    CHECK(assigned.features() == data.features());
  }
  SECTION("a move keeps borrowing and leaves the source empty") {
    const Dataset<double> moved = std::move(data);
    CHECK(moved.borrows());
    CHECK(moved.features().data() == memory.data());
    CHECK(data.size() == 0);  // NOLINT(bugprone-use-after-move): moved-from state is specified
    CHECK_FALSE(data.borrows());
  }
  SECTION("subset, split and append make owned datasets and never write the memory") {
    const Matrix<double> before = memory;
    const std::vector<Index> order{2, 0};
    CHECK_FALSE(data.subset(order).borrows());
    CHECK(data.subset(order).features().col(1) == memory.col(0));
    data.append(Dataset<double>{numbered_features(1), {0}});
    CHECK_FALSE(data.borrows());
    CHECK(data.size() == 4);
    CHECK(data.features().leftCols(3) == before);
    CHECK(memory == before);
  }
  SECTION("regression, targets owned") {
    const Dataset<double> regression =
        Dataset<double>::borrow(samples, Matrix<double>::Constant(1, 3, 0.5));
    CHECK(regression.borrows());
    CHECK(regression.has_targets());
    CHECK(regression.targets() == Matrix<double>::Constant(1, 3, 0.5));
  }
  SECTION("the owning constructors' checks, with the borrowing constructor's name") {
    REQUIRE_ERROR(Dataset<double>::borrow(samples, {0, 1}), Error,
                  "Dataset::borrow: features have 3 columns (samples) but 2 labels were given");
    REQUIRE_ERROR(Dataset<double>::borrow(samples, {0, -1, 1}), Error, "label of sample 1 is -1");
    REQUIRE_ERROR(Dataset<double>::borrow(samples, Matrix<double>::Zero(1, 2)), Error,
                  "both need one column per sample");
    memory(2, 2) = std::numeric_limits<double>::quiet_NaN();
    REQUIRE_ERROR(Dataset<double>::borrow(samples, {0, 1, 2}), NumericError,
                  "feature 2 of sample 2 is nan");
    REQUIRE_ERROR(
        Dataset<double>::borrow(Dataset<double>::Features(memory.data(), 3, 0), std::vector<int>{}),
        Error, "no samples");
  }
}

TEST_CASE("gather_columns fills the front of any writable Eigen expression", "[data]") {
  const Dataset<double> data{numbered_features(4), {0, 1, 2, 3}};
  const std::vector<Index> pick{2, 0};

  SECTION("a matrix wider than needed keeps its other columns") {
    Matrix<double> batch = Matrix<double>::Constant(3, 3, -1.0);
    data.gather_columns(pick, batch);
    CHECK(batch.col(0) == Eigen::Vector3d(2, 102, 202));
    CHECK(batch.col(1) == Eigen::Vector3d(0, 100, 200));
    CHECK(batch.col(2) == Eigen::Vector3d(-1, -1, -1));
  }
  SECTION("a temporary block and a strided map of a capacity buffer") {
    Matrix<double> buffer = Matrix<double>::Zero(3, 5);
    data.gather_columns(pick, buffer.middleCols(1, 2));
    CHECK(buffer.col(1) == Eigen::Vector3d(2, 102, 202));
    CHECK(buffer.col(0).isZero());

    std::vector<double> storage(8 * 4, -1.0);  // capacity 8 rows, active block 3 rows
    neuroplast::MatrixView<double> view(storage.data(), 3, 4, Eigen::OuterStride<>(8));
    data.gather_columns(pick, view);
    CHECK(view.col(0) == Eigen::Vector3d(2, 102, 202));
    CHECK(storage[3] == -1.0);  // rows beyond the active block are untouched
  }
  SECTION("errors are raised before anything is written") {
    Matrix<double> batch = Matrix<double>::Constant(3, 1, -1.0);
    REQUIRE_ERROR(data.gather_columns(pick, batch), Error,
                  "2 samples requested but the output has only 1 columns");
    Matrix<double> short_batch(2, 4);
    REQUIRE_ERROR(data.gather_columns(pick, short_batch), Error,
                  "the output has 2 rows but the features have 3");
    Matrix<double> wide = Matrix<double>::Constant(3, 2, -1.0);
    const std::vector<Index> bad{1, 4};
    REQUIRE_ERROR(data.gather_columns(bad, wide), Error, "index 4 at position 1 is out of range");
    CHECK((wide.array() == -1.0).all());
  }
  SECTION("gather_targets does the same for regression targets") {
    Matrix<double> y(1, 4);
    y << 5, 6, 7, 8;
    const Dataset<double> regression{numbered_features(4), y};
    Matrix<double> out(1, 2);
    regression.gather_targets(pick, out);
    CHECK(out == Eigen::RowVector2d(7, 5));
    REQUIRE_ERROR(data.gather_targets(pick, out), Error, "has no regression targets");
    Matrix<double> tall(2, 2);
    REQUIRE_ERROR(regression.gather_targets(pick, tall), Error, "the targets have 1");
  }
}

// ---------------------------------------------------------------------------------------------
// IDX
// ---------------------------------------------------------------------------------------------

TEST_CASE("IDX images and labels are read from plain and gzip files", "[data][idx]") {
  TempDir dir;
  const Bytes images = idx_file({2, 2, 3}, two_image_payload());
  const Bytes labels = idx_file({2}, {7, 3});
  const bool gzip = GENERATE(false, true);
  const std::string image_path = dir.file(gzip ? "images.gz" : "images");
  const std::string label_path = dir.file(gzip ? "labels.gz" : "labels");
  (gzip ? write_gzip : write_plain)(image_path, images);
  (gzip ? write_gzip : write_plain)(label_path, labels);

  const Matrix<double> pixels = neuroplast::read_idx_images<double>(image_path, 1.0);
  REQUIRE(pixels.rows() == 6);
  REQUIRE(pixels.cols() == 2);
  for (Index k = 0; k < 2; ++k) {
    for (Index r = 0; r < 2; ++r) {
      for (Index c = 0; c < 3; ++c) CHECK(pixels(r * 3 + c, k) == double(10 * k + 3 * r + c + 1));
    }
  }
  const Matrix<float> scaled = neuroplast::read_idx_images<float>(image_path);
  CHECK(scaled(5, 1) == pixel<float>(16));

  CHECK(neuroplast::read_idx_labels(label_path) == std::vector<int>{7, 3});

  const Dataset<double> data = neuroplast::load_idx<double>(image_path, label_path);
  CHECK(data.size() == 2);
  CHECK(data.feature_count() == 6);
  CHECK(data.labels() == std::vector<int>{7, 3});
  CHECK(data.features()(4, 0) == pixel<double>(5));
  CHECK(data.class_count() == 8);
}

TEST_CASE("IDX readers reject bad files with FileError", "[data][idx]") {
  TempDir dir;
  const std::string path = dir.file("bad");
  const auto images = [&] { return neuroplast::read_idx_images<double>(path); };
  const auto labels = [&] { return neuroplast::read_idx_labels(path); };

  SECTION("missing file or a directory") {
    REQUIRE_ERROR(images(), FileError, "no such file");
    REQUIRE_ERROR(labels(), FileError, "'" + path + "'");
    REQUIRE_ERROR(neuroplast::read_idx_images<double>(dir.str()), FileError, "is a directory");
  }
  SECTION("too short for a magic number") {
    write_plain(path, {0, 0});
    REQUIRE_ERROR(images(), FileError, "too short for an IDX file (2 bytes");
  }
  SECTION("wrong magic") {
    write_plain(path, {'P', 'K', 3, 4, 0, 0, 0, 0});
    REQUIRE_ERROR(images(), FileError, "is not an IDX file");
    write_gzip(path, {'a', 'b', 'c', 'd', 'e', 'f'});
    REQUIRE_ERROR(labels(), FileError, "wrong magic number");
  }
  SECTION("wrong element type") {
    write_plain(path, idx_file({1, 1, 1}, {0, 0, 0, 0}, 0x0D));
    REQUIRE_ERROR(images(), FileError, "type code 13 (32-bit float)");
  }
  SECTION("wrong number of dimensions") {
    write_plain(path, idx_file({2}, {1, 2}));
    REQUIRE_ERROR(images(), FileError, "declares 1 dimension but an image file has 3");
    REQUIRE_ERROR(images(), FileError, "is it a label file?");
    write_plain(path, idx_file({1, 1, 1}, {1}));
    REQUIRE_ERROR(labels(), FileError, "declares 3 dimensions but a label file has 1");
  }
  SECTION("truncated header") {
    Bytes header = idx_file({2, 2, 3}, {});
    header.resize(9);
    write_plain(path, header);
    REQUIRE_ERROR(images(), FileError, "its header needs 16 bytes but the file has only 9");
  }
  SECTION("truncated data, plain and gzip") {
    Bytes file = idx_file({2, 2, 3}, two_image_payload());
    file.resize(file.size() - 5);
    write_plain(path, file);
    REQUIRE_ERROR(images(), FileError, "truncated: expected 12 bytes of pixel data, found 7");
    write_gzip(path, file);
    REQUIRE_ERROR(images(), FileError, "truncated: expected 12 bytes of pixel data, found 7");
    write_plain(path, idx_file({3}, {1}));
    REQUIRE_ERROR(labels(), FileError, "truncated: expected 3 bytes of label data, found 1");
  }
  SECTION("a gzip stream cut in the middle") {
    Bytes payload(40000);
    std::mt19937 bits(5);
    for (auto& b : payload) b = static_cast<unsigned char>(bits());  // incompressible
    write_gzip(path, idx_file({10, 40, 100}, payload));
    Bytes compressed = read_plain(path);
    compressed.resize(compressed.size() / 2);
    write_plain(path, compressed);
    REQUIRE_ERROR(images(), FileError, "truncated: expected 40000 bytes of pixel data");
  }
  SECTION("corrupt gzip data") {
    Bytes payload(40000);
    std::mt19937 bits(6);
    for (auto& b : payload) b = static_cast<unsigned char>(bits() % 4);
    write_gzip(path, idx_file({10, 40, 100}, payload));
    Bytes compressed = read_plain(path);
    for (std::size_t i = 20; i < compressed.size() - 8; i += 7) compressed[i] ^= 0x5A;
    write_plain(path, compressed);
    REQUIRE_THROWS_AS(images(), FileError);
  }
  SECTION("dimensions that claim more data than the file holds") {
    // 10^11 bytes declared, 5 present: must fail by reading, not by allocating 100 GB.
    write_plain(path, idx_file({100000, 1000, 1000}, {1, 2, 3, 4, 5}));
    REQUIRE_ERROR(images(), FileError,
                  "truncated: expected 100000000000 bytes of pixel data, found 5");
    write_plain(path, idx_file({0xFFFFFFFFU}, {9}));
    REQUIRE_ERROR(labels(), FileError, "expected 4294967295 bytes of label data, found 1");
  }
  SECTION("dimensions whose product overflows") {
    write_plain(path, idx_file({0xFFFFFFFFU, 0xFFFFFFFFU, 0xFFFFFFFFU}, {}));
    REQUIRE_ERROR(images(), FileError, "product overflows 64 bits");
    write_plain(path, idx_file({0xFFFFFFFFU, 0xFFFFFFFFU, 1U}, {}));
    REQUIRE_ERROR(images(), FileError, "more than can be held in memory");
  }
  SECTION("empty images or no labels") {
    write_plain(path, idx_file({0, 28, 28}, {}));
    REQUIRE_ERROR(images(), FileError, "declares 0 images of 28 × 28 pixels");
    write_plain(path, idx_file({3, 0, 28}, {}));
    REQUIRE_ERROR(images(), FileError, "declares 3 images of 0 × 28 pixels");
    write_plain(path, idx_file({0}, {}));
    REQUIRE_ERROR(labels(), FileError, "declares 0 labels");
  }
  SECTION("bytes after the declared data are rejected") {
    Bytes payload = two_image_payload();
    payload.insert(payload.end(), {9, 9, 9});
    write_gzip(path, idx_file({2, 2, 3}, payload));
    REQUIRE_ERROR(images(), FileError, "has 3 bytes after the 12 bytes of pixel data");
  }
  SECTION("a non-finite scale") {
    write_plain(path, idx_file({2, 2, 3}, two_image_payload()));
    REQUIRE_ERROR(neuroplast::read_idx_images<double>(path, std::nan("")), Error, "scale is nan");
    REQUIRE_ERROR(neuroplast::read_idx_images<float>(path, 3e38f), Error, "255 times it too");
  }
}

TEST_CASE("load_idx requires as many labels as images", "[data][idx]") {
  TempDir dir;
  write_gzip(dir.file("images.gz"), idx_file({2, 2, 3}, two_image_payload()));
  write_gzip(dir.file("labels.gz"), idx_file({3}, {0, 1, 2}));
  REQUIRE_ERROR(neuroplast::load_idx<float>(dir.file("images.gz"), dir.file("labels.gz")),
                FileError, "holds 2 images but '" + dir.file("labels.gz") + "' holds 3 labels");
  REQUIRE_ERROR(neuroplast::load_idx<float>(dir.file("labels.gz"), dir.file("images.gz")),
                FileError, "is it a label file?");
  REQUIRE_ERROR(neuroplast::load_idx<float>(dir.file("images.gz"), dir.file("none.gz")), FileError,
                "none.gz': no such file");
}

TEST_CASE("load_fashion_mnist finds its files by directory or environment", "[data][idx]") {
  TempDir dir;
  // A miniature Fashion-MNIST: 3 test images of 28 × 28 whose pixels all equal the label · 20.
  const std::vector<unsigned char> classes{9, 0, 4};
  Bytes payload;
  for (unsigned char label : classes) payload.insert(payload.end(), 784, label * 20);
  write_gzip(dir.file("t10k-images-idx3-ubyte.gz"), idx_file({3, 28, 28}, payload));
  write_plain(dir.file("t10k-labels-idx1-ubyte"), idx_file({3}, classes));  // plain fallback

  const auto check = [&](const Dataset<float>& data) {
    REQUIRE(data.size() == 3);
    CHECK(data.feature_count() == 784);
    CHECK(data.labels() == std::vector<int>{9, 0, 4});
    CHECK(data.features()(783, 0) == pixel<float>(180));
    CHECK(data.features()(0, 2) == pixel<float>(80));
  };
  check(neuroplast::load_fashion_mnist<float>(neuroplast::Split::test, dir.str()));
  {
    const ScopedEnv env("NEUROPLAST_FASHION_MNIST_DIR", dir.str());
    CHECK(neuroplast::default_fashion_mnist_directory() == dir.str());
    check(neuroplast::load_fashion_mnist<float>(neuroplast::Split::test));
    REQUIRE_ERROR(neuroplast::load_fashion_mnist<float>(neuroplast::Split::train), FileError,
                  "train-images-idx3-ubyte.gz' not found");
  }
  {
    const ScopedEnv env("NEUROPLAST_FASHION_MNIST_DIR", "");
    CHECK(neuroplast::default_fashion_mnist_directory() == "/usr/share/datasets/fashion-mnist");
  }

  TempDir empty;
  const auto missing = [&] {
    return neuroplast::load_fashion_mnist<double>(neuroplast::Split::train, empty.str());
  };
  REQUIRE_ERROR(missing(), FileError, empty.file("train-images-idx3-ubyte.gz") + "' not found");
  REQUIRE_ERROR(missing(), FileError, "apt-get install dataset-fashion-mnist");
  REQUIRE_ERROR(missing(), FileError, "NEUROPLAST_FASHION_MNIST_DIR");

  // Valid IDX files that are not Fashion-MNIST.
  write_gzip(empty.file("train-images-idx3-ubyte.gz"), idx_file({2, 2, 3}, two_image_payload()));
  write_gzip(empty.file("train-labels-idx1-ubyte.gz"), idx_file({2}, {0, 1}));
  REQUIRE_ERROR(missing(), FileError, "Fashion-MNIST has 784 (28 × 28) pixels and 10 classes");
}

TEST_CASE("the real Fashion-MNIST loads with the documented shapes", "[data][fashion]") {
  const std::string directory = neuroplast::default_fashion_mnist_directory();
  if (!fs::exists(fs::path(directory) / "t10k-images-idx3-ubyte.gz")) {
    WARN("Fashion-MNIST not found in "
         << directory << "; apt-get install dataset-fashion-mnist to run this test");
    SUCCEED();
    return;
  }
  const auto check = [](const Dataset<float>& data, Index samples, int first_label, Index pixel,
                        float value) {
    REQUIRE(data.size() == samples);
    REQUIRE(data.feature_count() == 784);
    CHECK(data.class_count() == 10);
    CHECK(data.labels().front() == first_label);
    CHECK(data.features().minCoeff() == 0.0f);
    CHECK(data.features().maxCoeff() == 1.0f);
    CHECK(data.features()(pixel, 0) == value);
    std::vector<Index> per_class(10, 0);
    const auto valid = [](int label) { return label >= 0 && label <= 9; };
    REQUIRE(std::all_of(data.labels().begin(), data.labels().end(), valid));
    for (int label : data.labels()) ++per_class[static_cast<std::size_t>(label)];
    CHECK(per_class == std::vector<Index>(10, samples / 10));  // both splits are balanced
  };
  // Pixel (14, 12) of the first test image is 98, of the first train image 237.
  check(neuroplast::load_fashion_mnist<float>(neuroplast::Split::test), 10000, 9, 14 * 28 + 12,
        pixel<float>(98));
  check(neuroplast::load_fashion_mnist<float>(neuroplast::Split::train), 60000, 9, 14 * 28 + 12,
        pixel<float>(237));
}

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

TEST_CASE("read_csv reads one sample per row", "[data][csv]") {
  TempDir dir;
  const std::string path = dir.file("data.csv");

  SECTION("label in the last column by default") {
    write_text(path, "1,2,0\n3.5,-4e-1,1\n");
    const Dataset<double> data = neuroplast::read_csv<double>(path);
    REQUIRE(data.size() == 2);
    REQUIRE(data.feature_count() == 2);
    CHECK(data.features() == (Matrix<double>(2, 2) << 1, 3.5, 2, -0.4).finished());
    CHECK(data.labels() == std::vector<int>{0, 1});
  }
  SECTION("header, CRLF, BOM, blank lines, blanks around cells, '+', labels like 2.0") {
    write_text(path, "\xEF\xBB\xBFlabel;a;b\r\n\r\n 2.0 ; +1.5;7\r\n   \r\n0;-2; 1e2 \r\n");
    CsvOptions options;
    options.delimiter = ';';
    options.label_column = 0;
    options.header = true;
    const Dataset<double> data = neuroplast::read_csv<double>(path, options);
    CHECK(data.labels() == std::vector<int>{2, 0});
    CHECK(data.features() == (Matrix<double>(2, 2) << 1.5, -2, 7, 100).finished());
  }
  SECTION("label in a middle column, tab-delimited") {
    write_text(path, "1\t5\t2\n3\t6\t4");  // no final newline
    const Dataset<double> data =
        neuroplast::read_csv<double>(path, CsvOptions{.delimiter = '\t', .label_column = 1});
    CHECK(data.labels() == std::vector<int>{5, 6});
    CHECK(data.features() == (Matrix<double>(2, 2) << 1, 3, 2, 4).finished());
  }
  SECTION("regression: real-valued targets from any columns, in the order given; header names") {
    write_text(path, "x1, y ,x2,z\n1,10,2,20\n3,30.5,4,40\n");
    CsvColumns names;
    const Dataset<double> data = neuroplast::read_csv<double>(
        path, CsvOptions{.header = true, .target_columns = {3, 1}}, &names);
    REQUIRE(data.has_targets());
    CHECK_FALSE(data.has_labels());
    CHECK(data.features() == (Matrix<double>(2, 2) << 1, 3, 2, 4).finished());
    CHECK(data.targets() == (Matrix<double>(2, 2) << 20, 40, 10, 30.5).finished());
    CHECK(names.features == std::vector<std::string>{"x1", "x2"});
    CHECK(names.targets == std::vector<std::string>{"z", "y"});
    // −1 is the last column; without a header the names stay empty.
    write_text(path, "1,2,7\n");
    const Dataset<double> last =
        neuroplast::read_csv<double>(path, CsvOptions{.target_columns = {-1}}, &names);
    CHECK(last.targets() == (Matrix<double>(1, 1) << 7).finished());
    CHECK(names.features.empty());
    CHECK(names.targets.empty());
  }
  SECTION("classification with a header: the label column's name") {
    write_text(path, "class,w,h\n1,0.5,2\n");
    CsvColumns names;
    const Dataset<double> data =
        neuroplast::read_csv<double>(path, CsvOptions{.label_column = 0, .header = true}, &names);
    CHECK(data.labels() == std::vector<int>{1});
    CHECK(names.features == std::vector<std::string>{"w", "h"});
    CHECK(names.targets == std::vector<std::string>{"class"});
  }
  SECTION("float: correctly rounded, tiny values underflow instead of failing") {
    write_text(path, "0.1,1e-50,3\n");
    const Dataset<float> data = neuroplast::read_csv<float>(path);
    CHECK(data.features()(0, 0) == 0.1f);
    CHECK(data.features()(1, 0) == 0.0f);
    CHECK(data.labels() == std::vector<int>{3});
  }
}

TEST_CASE("read_csv names the file, line and column of every problem", "[data][csv]") {
  TempDir dir;
  const std::string path = dir.file("bad.csv");
  const auto read = [&](CsvOptions options = {}) {
    return neuroplast::read_csv<double>(path, options);
  };

  SECTION("missing file or a directory") {
    REQUIRE_ERROR(read(), FileError, "cannot open '" + path + "': no such file");
    REQUIRE_ERROR(neuroplast::read_csv<double>(dir.str()), FileError, "is a directory");
  }
  SECTION("empty file, blank file, header only") {
    write_text(path, "");
    REQUIRE_ERROR(read(), FileError, "has no data rows");
    write_text(path, "\n  \r\n\n");
    REQUIRE_ERROR(read(), FileError, "has no data rows");
    write_text(path, "a,b,label\n");
    REQUIRE_ERROR(read(CsvOptions{.header = true}), FileError, "has no data rows after its header");
  }
  SECTION("ragged rows") {
    write_text(path, "1,2,0\n\n3,1\n");
    REQUIRE_ERROR(read(), FileError, "line 3 has 2 columns but line 1 has 3");
    write_text(path, "1,2,0\n3,4,1,\n");
    REQUIRE_ERROR(read(), FileError, "line 2 has 4 columns but line 1 has 3");
  }
  SECTION("cells that are not finite numbers") {
    write_text(path, "1,2,0\n3,abc,1\n");
    REQUIRE_ERROR(read(), FileError, path + "' line 2, column 2: 'abc' is not a number");
    write_text(path, "1,2 kg,0\n");
    REQUIRE_ERROR(read(), FileError, "line 1, column 2: '2 kg' is not a number");
    write_text(path, "1,,0\n");
    REQUIRE_ERROR(read(), FileError, "line 1, column 2: empty cell");
    write_text(path, "nan,1,0\n");
    REQUIRE_ERROR(read(), FileError, "line 1, column 1: 'nan' is not finite");
    write_text(path, "1,-inf,0\n");
    REQUIRE_ERROR(read(), FileError, "'-inf' is not finite");
    write_text(path, "1e999,1,0\n");
    REQUIRE_ERROR(read(), FileError, "line 1, column 1: '1e999' is out of range for double");
    write_text(path, "1e39,1,0\n");
    REQUIRE_ERROR(neuroplast::read_csv<float>(path), FileError, "'1e39' is out of range for float");
  }
  SECTION("labels that are not non-negative integers") {
    write_text(path, "1,2,0\n1,2,1.5\n");
    REQUIRE_ERROR(read(), FileError, "line 2, column 3: label '1.5' is not an integer");
    write_text(path, "1,2,-1\n");
    REQUIRE_ERROR(read(), FileError, "line 1, column 3: label '-1' is negative");
    write_text(path, "1,2,cat\n");
    REQUIRE_ERROR(read(), FileError, "label 'cat' is not a number");
    write_text(path, "1,2,\n");
    REQUIRE_ERROR(read(), FileError, "line 1, column 3: empty label cell");
    write_text(path, "1,2,1e12\n");
    REQUIRE_ERROR(read(), FileError, "too large for a class index");
  }
  SECTION("a single column, a label column past the end, invalid options") {
    write_text(path, "1\n2\n");
    REQUIRE_ERROR(read(), FileError, "line 1 has 1 column; a row needs at least one feature");
    write_text(path, "1;2;0\n");
    REQUIRE_ERROR(read(), FileError, "is the delimiter ',' right?");
    write_text(path, "1,2,0\n");
    REQUIRE_ERROR(read(CsvOptions{.label_column = 3}), FileError,
                  "label_column is 3 but '" + path + "' has 3 columns (0..2)");
    REQUIRE_ERROR(read(CsvOptions{.label_column = -2}), Error, "label_column is -2");
    REQUIRE_ERROR(read(CsvOptions{.delimiter = '.'}), Error, "delimiter '.' cannot separate");
    REQUIRE_ERROR(read(CsvOptions{.delimiter = 'e'}), Error, "delimiter 'e' cannot separate");
  }
  SECTION("regression targets and headers that do not fit the file") {
    write_text(path, "a,b\n1,2,3\n");
    REQUIRE_ERROR(read(CsvOptions{.header = true}), FileError,
                  "line 1 names 2 columns but line 2 has 3");
    write_text(path, "1,2,3\n");
    REQUIRE_ERROR(read(CsvOptions{.target_columns = {5}}), FileError,
                  "target column 5 but '" + path + "' has 3 columns (0..2)");
    REQUIRE_ERROR(read(CsvOptions{.target_columns = {1, 1}}), Error, "column 1 is given twice");
    REQUIRE_ERROR(read(CsvOptions{.target_columns = {2, -1}}), Error, "column 2 is given twice");
    REQUIRE_ERROR(read(CsvOptions{.target_columns = {-2}}), Error, "target column -2 is invalid");
    REQUIRE_ERROR(read(CsvOptions{.target_columns = {0, 1, 2}}), FileError,
                  "line 1 has 3 columns; a row needs at least one feature and its targets");
    write_text(path, "1,abc\n");
    REQUIRE_ERROR(read(CsvOptions{.target_columns = {1}}), FileError,
                  "line 1, column 2: 'abc' is not a number");
  }
}

TEST_CASE("StandardScaler standardises with the statistics it was fitted on", "[data][scaler]") {
  // Feature 0: 1, 2, 3, 6 (mean 3, population sd √3.5); feature 1 constant 5 (centred only).
  Matrix<double> X(2, 4);
  X << 1, 2, 3, 6, 5, 5, 5, 5;
  const auto s = StandardScaler<double>::fit(X);
  CHECK(s.mean(0) == Approx(3));
  CHECK(s.sd(0) == Approx(std::sqrt(3.5)));
  CHECK(s.mean(1) == Approx(5));
  CHECK(s.sd(1) == 1);
  const Matrix<double> Z = s.transform(X);
  CHECK(Z(0, 0) == Approx(-2 / std::sqrt(3.5)));
  CHECK(Z(0, 3) == Approx(3 / std::sqrt(3.5)));
  CHECK(Z.row(1).isZero());
  CHECK(Z.row(0).mean() == Approx(0).margin(1e-12));
  CHECK(s.inverse_transform(Z).isApprox(X, 1e-12));
  // Other data is mapped with the fitted statistics, not its own.
  Matrix<double> other(2, 1);
  other << 3 + std::sqrt(3.5), 7;
  const Matrix<double> mapped = s.transform(other);
  CHECK(mapped(0, 0) == Approx(1));
  CHECK(mapped(1, 0) == Approx(2));
  // Datasets keep their labels or targets.
  const Dataset<double> labelled(X, std::vector<int>{0, 1, 1, 2});
  const Dataset<double> scaled = s.transform(labelled);
  CHECK(scaled.labels() == labelled.labels());
  CHECK(scaled.features().isApprox(Z));
  const Dataset<double> regression(X, Matrix<double>(Matrix<double>::Ones(1, 4)));
  CHECK(s.transform(regression).targets() == regression.targets());

  REQUIRE_ERROR(s.transform(Matrix<double>::Zero(3, 2)), Error, "data have 3 features");
  REQUIRE_ERROR(StandardScaler<double>{}.transform(X), Error, "never fitted");
  REQUIRE_ERROR(StandardScaler<double>::fit(Matrix<double>(2, 0)), Error, "need at least one");
}

namespace {
// n samples of one label, feature 0 = first + i (so a kept sample says which it was).
Dataset<double> numbered(Index n, int label, Index first = 0) {
  Matrix<double> X(2, n);
  for (Index i = 0; i < n; ++i) {
    X(0, i) = static_cast<double>(first + i);
    X(1, i) = label;
  }
  return Dataset<double>(X, std::vector<int>(static_cast<std::size_t>(n), label));
}
}  // namespace

TEST_CASE("ReplayBuffer keeps every class an equal share, a uniform sample of each",
          "[data][replay]") {
  ReplayBuffer<double> buffer(10, 1);
  buffer.add(numbered(4, 0));
  CHECK(buffer.size() == 4);  // room: everything kept
  buffer.add(numbered(96, 0, 4));
  CHECK(buffer.class_counts() == std::map<int, Index>{{0, 10}});
  buffer.add(numbered(100, 1));
  CHECK(buffer.class_counts() == std::map<int, Index>{{0, 5}, {1, 5}});
  buffer.add(numbered(100, 2));  // 10 = 3 · 3 + 1: the lowest label gets the remainder
  CHECK(buffer.class_counts() == std::map<int, Index>{{0, 4}, {1, 3}, {2, 3}});
  const Dataset<double> kept = buffer.dataset();
  REQUIRE(kept.size() == 10);
  for (Index i = 0; i < kept.size(); ++i)  // features and labels stay together
    CHECK(kept.features()(1, i) == kept.labels()[static_cast<std::size_t>(i)]);

  // Reservoir sampling: the kept samples of a long stream are spread over all of it (the mean
  // index of 200 kept of 20 000 is 10 000 ± 408, one standard deviation), not its start or end.
  ReplayBuffer<double> long_run(200, 7);
  long_run.add(numbered(20000, 3));
  const double mean_index = long_run.dataset().features().row(0).mean();
  CHECK(std::abs(mean_index - 10000) < 1600);
  // Seeded: the same additions keep the same samples.
  ReplayBuffer<double> again(200, 7), other(200, 8);
  again.add(numbered(20000, 3));
  other.add(numbered(20000, 3));
  CHECK(again.dataset().features() == long_run.dataset().features());
  CHECK(other.dataset().features() != long_run.dataset().features());
}

TEST_CASE("ReplayBuffer keeps regression targets with their samples and refuses mismatches",
          "[data][replay]") {
  Matrix<double> X(1, 50), Y(1, 50);
  for (Index i = 0; i < 50; ++i) {
    X(0, i) = static_cast<double>(i);
    Y(0, i) = 2.0 * static_cast<double>(i) + 1;
  }
  ReplayBuffer<double> buffer(8, 2);
  buffer.add(Dataset<double>(X, Y));
  const Dataset<double> kept = buffer.dataset();
  REQUIRE(kept.size() == 8);
  CHECK(kept.targets() == Matrix<double>((2 * kept.features()).array() + 1));
  REQUIRE_ERROR(buffer.add(numbered(5, 0)), Error, "2 features with labels do not match");
  CHECK(buffer.size() == 8);
  REQUIRE_ERROR(ReplayBuffer<double>(0), Error, "capacity = 0");
  REQUIRE_ERROR(ReplayBuffer<float>(3).dataset(), Error, "empty");
}

TEST_CASE("labels and statistics that would overflow are refused", "[data][errors]") {
  Matrix<double> X = Matrix<double>::Ones(2, 3);
  X(0, 1) = 2;
  CHECK_THROWS_WITH(Dataset<double>(X, {0, std::numeric_limits<int>::max(), 1}),
                    Catch::Contains("label of sample 1 is 2147483647"));
  CHECK(Dataset<double>(X, {0, std::numeric_limits<int>::max() - 1, 1}).class_count() ==
        std::numeric_limits<int>::max());
  Matrix<double> nan = X;
  nan(1, 2) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(StandardScaler<double>::fit(nan), Catch::Contains("StandardScaler::fit"));
  Matrix<double> huge = X;
  huge.row(0) << -1e200, 1e200, 0;
  CHECK_THROWS_WITH(StandardScaler<double>::fit(huge),
                    Catch::Contains("feature 0's standard deviation overflows"));
  const StandardScaler<double> fine = StandardScaler<double>::fit(X);
  CHECK(fine.sd(1) == 1);  // a constant feature is only centred
}
