#pragma once
/// \file
/// Readers for the IDX format of MNIST and Fashion-MNIST, gzip-compressed or plain.
///
/// An IDX file is a 4-byte magic (two zero bytes, an element type code, the number of
/// dimensions), one big-endian uint32 per dimension, then the elements in row-major order. Only
/// unsigned bytes (type 0x08) are supported: that is what every MNIST-family file uses. Link
/// zlib (`neuroplast::neuroplast` in CMake links it; `-lz` by hand).
///
/// Bad files throw FileError and never crash: the header is checked, and no buffer is sized from
/// the header alone — data is read in chunks, so a header claiming terabytes fails with
/// "truncated" after reading what is really there. Bytes after the declared data are rejected,
/// because they mean the header and the data disagree (e.g. a file cut from a larger one).

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/types.hpp"
#include "neuroplast/data/dataset.hpp"

namespace neuroplast {

namespace detail {

/// An open gzip-or-plain file (zlib reads uncompressed files transparently); closes itself.
class GzFile {
 public:
  GzFile(const std::string& path, const char* who) : path_(path), who_(who) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (!std::filesystem::exists(status)) {
      fail<FileError>(who, ": cannot open '", path, "': no such file");
    }
    if (std::filesystem::is_directory(status)) {
      fail<FileError>(who, ": '", path, "' is a directory; give the path of an IDX file");
    }
    errno = 0;
    file_ = gzopen(path.c_str(), "rb");
    if (file_ == nullptr) {
      fail<FileError>(who, ": cannot open '", path, "': ",
                      errno != 0 ? std::strerror(errno) : "zlib could not allocate its state");
    }
    gzbuffer(file_, 1U << 17);  // larger than zlib's 8 KiB default: fewer syscalls on 26 MB files
  }
  ~GzFile() {
    if (file_ != nullptr) gzclose(file_);
  }
  GzFile(GzFile&& other) noexcept
      : file_(std::exchange(other.file_, nullptr)),
        path_(std::move(other.path_)),
        who_(other.who_) {}
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;
  GzFile& operator=(GzFile&&) = delete;

  const std::string& path() const noexcept { return path_; }
  const char* who() const noexcept { return who_; }

  /// Reads up to `count` bytes into `into`; fewer only when the data ends. Throws FileError when
  /// zlib reports corruption (bad CRC, invalid deflate data, read error).
  std::size_t read(unsigned char* into, std::size_t count) {
    std::size_t done = 0;
    while (done < count) {
      // gzread takes an unsigned int and returns an int, so never ask for more than 1 GiB at once.
      const auto ask = static_cast<unsigned>(std::min<std::size_t>(count - done, 1U << 30));
      const int got = gzread(file_, into + done, ask);
      if (got < 0) {
        int code = Z_OK;
        std::string_view why = gzerror(file_, &code);
        if (why.starts_with(path_ + ": ")) why.remove_prefix(path_.size() + 2);  // zlib adds it
        fail<FileError>(who_, ": cannot read '", path_, "': ", why,
                        code == Z_DATA_ERROR ? " (the compressed data is corrupt)" : "");
      }
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    return done;
  }

  /// True when zlib saw the compressed stream end early, to make "truncated" messages precise.
  bool stream_cut_short() {
    int code = Z_OK;
    gzerror(file_, &code);
    return code == Z_BUF_ERROR;
  }

 private:
  gzFile file_ = nullptr;
  std::string path_;
  const char* who_;
};

/// Big-endian uint32, the byte order of every IDX header field.
inline std::uint32_t read_be32(const unsigned char* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

/// Name of an IDX element type code, so a wrong one can be reported as more than a number.
inline const char* idx_type_name(unsigned code) noexcept {
  switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "16-bit integer";
    case 0x0C: return "32-bit integer";
    case 0x0D: return "32-bit float";
    case 0x0E: return "64-bit float";
    default: return "unknown";
  }
}

/// An IDX file whose header has been read and checked; `dims` are the sizes it declares.
struct IdxFile {
  GzFile file;
  std::vector<std::uint64_t> dims;
  std::uint64_t element_count = 0;  // product of dims, checked not to overflow
};

/// Opens `path`, checks magic, type code and dimension count (`expected_dims`), and that the
/// dims' product fits in memory indices. `role` ("an image", "a label") tailors the hints.
inline IdxFile open_idx(const std::string& path, const char* who, unsigned expected_dims,
                        const char* role) {
  IdxFile idx{GzFile(path, who), {}, 0};
  std::array<unsigned char, 4> magic{};
  const std::size_t got = idx.file.read(magic.data(), magic.size());
  if (got < magic.size()) {
    fail<FileError>(who, ": '", path, "' is too short for an IDX file (", got,
                    " bytes; the magic number alone takes 4)");
  }
  if (magic[0] != 0 || magic[1] != 0) {
    fail<FileError>(who, ": '", path, "' is not an IDX file: it starts with bytes ",
                    unsigned{magic[0]}, ", ", unsigned{magic[1]},
                    " instead of 0, 0 (wrong magic number; is it another format?)");
  }
  if (magic[2] != 0x08) {
    fail<FileError>(who, ": '", path, "' holds elements of IDX type code ", unsigned{magic[2]},
                    " (", idx_type_name(magic[2]),
                    "); only unsigned byte (type code 8), as in MNIST, is supported");
  }
  const unsigned dim_count = magic[3];
  if (dim_count != expected_dims) {
    fail<FileError>(who, ": '", path, "' declares ", dim_count, " dimension",
                    dim_count == 1 ? "" : "s", " but ", role, " file has ", expected_dims,
                    expected_dims == 3 ? " (count, rows, columns)" : " (count)",
                    expected_dims == 3 ? "; is it a label file?" : "; is it an image file?");
  }
  std::array<unsigned char, 4 * 3> raw{};
  const std::size_t header_bytes = 4 * std::size_t{dim_count};
  const std::size_t got_dims = idx.file.read(raw.data(), header_bytes);
  if (got_dims < header_bytes) {
    fail<FileError>(who, ": '", path, "' is truncated: its header needs ", 4 + header_bytes,
                    " bytes but the file has only ", 4 + got_dims);
  }
  idx.element_count = 1;
  for (unsigned d = 0; d < dim_count; ++d) {
    const std::uint64_t size = read_be32(raw.data() + 4 * d);
    idx.dims.push_back(size);
    if (__builtin_mul_overflow(idx.element_count, size, &idx.element_count)) {
      fail<FileError>(who, ": '", path, "' declares dimensions whose product overflows 64 bits; ",
                      "the header is corrupt");
    }
  }
  // Bound by what an Eigen index and a double matrix can address, not by any guess at file size.
  constexpr auto limit = static_cast<std::uint64_t>(std::numeric_limits<Index>::max() / 8);
  if (idx.element_count > limit) {
    fail<FileError>(who, ": '", path, "' declares ", idx.element_count,
                    " elements, more than can be held in memory; the header is corrupt");
  }
  return idx;
}

/// Reads exactly `idx.element_count` bytes in chunks, growing the buffer only as data really
/// arrives, then insists the file ends there. `what` names the data in messages ("pixel data").
inline std::vector<unsigned char> read_idx_payload(IdxFile& idx, const char* what) {
  constexpr std::size_t chunk = std::size_t{1} << 20;
  const auto expected = static_cast<std::size_t>(idx.element_count);
  std::vector<unsigned char> bytes;
  bytes.reserve(std::min(expected, chunk * 64));
  while (bytes.size() < expected) {
    const std::size_t old = bytes.size();
    const std::size_t want = std::min(chunk, expected - old);
    bytes.resize(old + want);
    const std::size_t got = idx.file.read(bytes.data() + old, want);
    if (got < want) {
      fail<FileError>(idx.file.who(), ": '", idx.file.path(), "' is truncated: expected ", expected,
                      " bytes of ", what, ", found ", old + got,
                      idx.file.stream_cut_short() ? " (the compressed stream ends early)" : "",
                      "; download the file again");
    }
  }
  std::array<unsigned char, 4096> rest{};
  std::size_t extra = 0;
  for (std::size_t got; (got = idx.file.read(rest.data(), rest.size())) > 0;) extra += got;
  if (extra > 0) {
    fail<FileError>(idx.file.who(), ": '", idx.file.path(), "' has ", extra, " bytes after the ",
                    expected, " bytes of ", what,
                    " its header declares; the header and the data disagree");
  }
  return bytes;
}

/// The payload of an opened 3-dim image file as `(rows·cols) × count`, each byte times `scale`.
template <Scalar T>
Matrix<T> idx_images_from(IdxFile& idx, T scale) {
  const std::uint64_t count = idx.dims[0];
  const std::uint64_t rows = idx.dims[1];
  const std::uint64_t cols = idx.dims[2];
  if (count == 0 || rows == 0 || cols == 0) {
    fail<FileError>(idx.file.who(), ": '", idx.file.path(), "' declares ", count, " images of ",
                    rows, " × ", cols, " pixels; a dataset needs at least one non-empty image");
  }
  const std::vector<unsigned char> bytes = read_idx_payload(idx, "pixel data");
  // Images follow each other and pixels are row-major within one, so the file is already the
  // column-major (rows·cols) × count matrix: a straight element-wise conversion.
  Matrix<T> images(static_cast<Index>(rows * cols), static_cast<Index>(count));
  T* out = images.data();
  for (std::size_t i = 0; i < bytes.size(); ++i) out[i] = static_cast<T>(bytes[i]) * scale;
  return images;
}

/// The payload of an opened 1-dim label file, one int per byte.
inline std::vector<int> idx_labels_from(IdxFile& idx) {
  if (idx.dims[0] == 0) {
    fail<FileError>(idx.file.who(), ": '", idx.file.path(), "' declares 0 labels");
  }
  const std::vector<unsigned char> bytes = read_idx_payload(idx, "label data");
  return std::vector<int>(bytes.begin(), bytes.end());
}

}  // namespace detail

/// Reads an IDX image file (type 0x08, 3 dims: count, rows, cols) into a `(rows·cols) × count`
/// matrix, one image per column; pixel (r, c) is row `r·cols + c`. Each byte is multiplied by
/// `scale` (default 1/255, giving values in [0, 1]). Throws FileError on a missing, malformed,
/// truncated or over-long file, Error on a scale that is not finite or makes a pixel overflow.
template <Scalar T>
Matrix<T> read_idx_images(const std::string& path, T scale = T(1) / T(255)) {
  constexpr const char* who = "read_idx_images";
  // The largest byte times the scale must be finite too (255 · 3e38 overflows a float).
  if (!std::isfinite(scale) || !std::isfinite(static_cast<T>(255) * scale))
    detail::fail(who, ": scale is ", scale, "; it must be finite, and 255 times it too");
  detail::IdxFile idx = detail::open_idx(path, who, 3, "an image");
  return detail::idx_images_from(idx, scale);
}

/// Reads an IDX label file (type 0x08, 1 dim: count) into one label (0..255) per sample.
/// Throws FileError on a missing, malformed, truncated or over-long file.
inline std::vector<int> read_idx_labels(const std::string& path) {
  detail::IdxFile idx = detail::open_idx(path, "read_idx_labels", 1, "a label");
  return detail::idx_labels_from(idx);
}

/// A labeled dataset from an IDX image file and an IDX label file: features are
/// `(rows·cols) × count` scaled to [0, 1], labels as stored. Both headers are checked, and their
/// counts compared, before any data is read. Throws FileError on a bad file or a count mismatch.
template <Scalar T>
Dataset<T> load_idx(const std::string& images, const std::string& labels) {
  constexpr const char* who = "load_idx";
  detail::IdxFile image_file = detail::open_idx(images, who, 3, "an image");
  detail::IdxFile label_file = detail::open_idx(labels, who, 1, "a label");
  if (image_file.dims[0] != label_file.dims[0]) {
    detail::fail<FileError>(who, ": '", images, "' holds ", image_file.dims[0], " images but '",
                            labels, "' holds ", label_file.dims[0],
                            " labels; use the label file that belongs to these images");
  }
  std::vector<int> label_values = detail::idx_labels_from(label_file);
  Matrix<T> features = detail::idx_images_from(image_file, T(1) / T(255));
  return Dataset<T>(std::move(features), std::move(label_values));
}

/// Which half of a dataset distributed as a train and a test split.
enum class Split {
  train,  ///< the larger split, for fitting (Fashion-MNIST: 60000 samples)
  test    ///< the held-out split (Fashion-MNIST: 10000 samples, files named `t10k-...`)
};

/// Where Fashion-MNIST is looked for: `$NEUROPLAST_FASHION_MNIST_DIR` when set and not empty,
/// otherwise `/usr/share/datasets/fashion-mnist` (where `apt-get install dataset-fashion-mnist`
/// puts it).
inline std::string default_fashion_mnist_directory() {
  const char* env = std::getenv("NEUROPLAST_FASHION_MNIST_DIR");
  if (env != nullptr && *env != '\0') return env;
  return "/usr/share/datasets/fashion-mnist";
}

/// Fashion-MNIST: 784 × 60000 (train) or 784 × 10000 (test), pixels in [0, 1], labels 0..9.
/// Reads `train-images-idx3-ubyte.gz` and `train-labels-idx1-ubyte.gz` (or `t10k-...` for the
/// test split) from `directory`, falling back to the same names without `.gz`. Throws FileError
/// naming the missing file and how to get it, or on files that are not Fashion-MNIST.
template <Scalar T>
Dataset<T> load_fashion_mnist(Split split,
                              const std::string& directory = default_fashion_mnist_directory()) {
  constexpr const char* who = "load_fashion_mnist";
  const std::string prefix = split == Split::train ? "train" : "t10k";
  const auto locate = [&](const std::string& stem) {
    const std::filesystem::path gz = std::filesystem::path(directory) / (stem + ".gz");
    const std::filesystem::path plain = std::filesystem::path(directory) / stem;
    std::error_code ec;
    if (std::filesystem::is_regular_file(gz, ec)) return gz.string();
    if (std::filesystem::is_regular_file(plain, ec)) return plain.string();
    detail::fail<FileError>(who, ": '", gz.string(), "' not found; install the dataset with ",
                            "`apt-get install dataset-fashion-mnist`, or set ",
                            "NEUROPLAST_FASHION_MNIST_DIR (or pass a directory) to where ",
                            "Fashion-MNIST's four IDX files are");
  };
  const std::string images = locate(prefix + "-images-idx3-ubyte");
  const std::string labels = locate(prefix + "-labels-idx1-ubyte");
  Dataset<T> data = load_idx<T>(images, labels);
  if (data.feature_count() != 28 * 28 || data.class_count() > 10) {
    detail::fail<FileError>(who, ": '", images, "' holds ", data.feature_count(),
                            "-pixel images with ", data.class_count(),
                            " classes; Fashion-MNIST has 784 (28 × 28) pixels and 10 classes");
  }
  return data;
}

}  // namespace neuroplast
