#pragma once
/// \file
/// Little-endian encoding of the primitive fields of neuroplast's files, with a bounds-checked
/// reader whose every failure is a FileError naming the file and the byte offset.

#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "neuroplast/core/error.hpp"

namespace neuroplast::detail {

/// Longest string field the readers accept (names, reasons): far above any real one, and small
/// enough that a corrupt length cannot make a reader allocate much.
inline constexpr std::uint32_t kMaxFileString = 1u << 16;

/// Unsigned integer of the same width as `V`, for moving floats through their bit pattern.
template <class V>
using BitsOf = std::conditional_t<
    sizeof(V) == 8, std::uint64_t,
    std::conditional_t<sizeof(V) == 4, std::uint32_t,
                       std::conditional_t<sizeof(V) == 2, std::uint16_t, std::uint8_t>>>;

/// Appends fields to a byte buffer in little-endian order, whatever the host's byte order.
class ByteWriter {
 public:
  /// The bytes written so far.
  const std::vector<unsigned char>& bytes() const noexcept { return bytes_; }
  /// Moves the bytes out.
  std::vector<unsigned char> take() noexcept { return std::move(bytes_); }
  std::size_t size() const noexcept { return bytes_.size(); }

  /// Any integer, boolean (as one byte 0/1) or IEEE float, little-endian.
  template <class V>
    requires std::is_arithmetic_v<V>
  void put(V v) {
    if constexpr (std::is_same_v<V, bool>) {
      bytes_.push_back(v ? 1 : 0);
    } else {
      const auto bits = std::bit_cast<BitsOf<V>>(v);
      for (std::size_t i = 0; i < sizeof(V); ++i)
        bytes_.push_back(static_cast<unsigned char>(bits >> (8 * i)));
    }
  }
  void u8(std::uint8_t v) { put(v); }
  void u32(std::uint32_t v) { put(v); }
  void u64(std::uint64_t v) { put(v); }
  void i32(std::int32_t v) { put(v); }
  void i64(std::int64_t v) { put(v); }
  void f64(double v) { put(v); }

  /// A run of floats, in order (little-endian hosts copy it in one go).
  template <class V>
  void put_run(const V* values, std::size_t n) {
    if constexpr (std::endian::native == std::endian::little) {
      const auto* p = reinterpret_cast<const unsigned char*>(values);
      bytes_.insert(bytes_.end(), p, p + n * sizeof(V));
    } else {
      for (std::size_t i = 0; i < n; ++i) put(values[i]);
    }
  }

  /// u32 byte length, then the bytes (no terminator).
  void str(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    raw(s);
  }
  /// The bytes as they are.
  void raw(std::string_view s) {
    raw(std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(s.data()), s.size()));
  }
  // resize + memcpy rather than insert: g++ 12 at -O3 reports a false stringop-overflow for an
  // insert into the empty vector of a new file.
  void raw(std::span<const unsigned char> s) {
    if (s.empty()) return;
    const std::size_t at = bytes_.size();
    bytes_.resize(at + s.size());
    std::memcpy(bytes_.data() + at, s.data(), s.size());
  }

  /// Overwrites 4 or 8 bytes at `at` (a length or checksum known only after its content).
  void patch_u32(std::size_t at, std::uint32_t v) {
    for (std::size_t i = 0; i < 4; ++i) bytes_[at + i] = static_cast<unsigned char>(v >> (8 * i));
  }
  void patch_u64(std::size_t at, std::uint64_t v) {
    for (std::size_t i = 0; i < 8; ++i) bytes_[at + i] = static_cast<unsigned char>(v >> (8 * i));
  }

 private:
  std::vector<unsigned char> bytes_{};
};

/// Reads fields from a byte range. Every read checks the bytes remaining first and throws
/// FileError("<where>: <file> is corrupt: <what> ... at byte <offset>") when they do not suffice,
/// so a reader never touches memory outside the range and never trusts a length it cannot back
/// with bytes.
class ByteReader {
 public:
  /// `where` (the API function) and `file` (its argument) prefix every message; `base` is the
  /// offset of `bytes` in the file, so offsets in messages are file offsets.
  ByteReader(std::span<const unsigned char> bytes, std::string where, std::string file,
             std::size_t base = 0)
      : bytes_(bytes), where_(std::move(where)), file_(std::move(file)), base_(base) {}

  std::size_t remaining() const noexcept { return bytes_.size() - pos_; }
  /// Offset of the next byte in the file.
  std::size_t offset() const noexcept { return base_ + pos_; }
  bool done() const noexcept { return pos_ == bytes_.size(); }

  template <class V>
    requires std::is_arithmetic_v<V> V get(std::string_view what) {
      need(sizeof(V), what);
      if constexpr (std::is_same_v<V, bool>) {
        const unsigned char b = bytes_[pos_++];
        if (b > 1) corrupt(what, " is ", static_cast<int>(b), " where a boolean 0 or 1 belongs");
        return b == 1;
      } else {
        BitsOf<V> bits = 0;
        for (std::size_t i = 0; i < sizeof(V); ++i)
          bits |= static_cast<BitsOf<V>>(static_cast<BitsOf<V>>(bytes_[pos_ + i]) << (8 * i));
        pos_ += sizeof(V);
        return std::bit_cast<V>(bits);
      }
    }
  std::uint8_t u8(std::string_view what) { return get<std::uint8_t>(what); }
  std::uint32_t u32(std::string_view what) { return get<std::uint32_t>(what); }
  std::uint64_t u64(std::string_view what) { return get<std::uint64_t>(what); }
  std::int32_t i32(std::string_view what) { return get<std::int32_t>(what); }
  std::int64_t i64(std::string_view what) { return get<std::int64_t>(what); }
  double f64(std::string_view what) { return get<double>(what); }
  bool boolean(std::string_view what) { return get<bool>(what); }

  /// A run of `n` values of `V` into `out` (which holds n).
  template <class V>
  void get_run(V* out, std::size_t n, std::string_view what) {
    need_items(n, sizeof(V), what);
    if constexpr (std::endian::native == std::endian::little) {
      if (n > 0) std::memcpy(out, bytes_.data() + pos_, n * sizeof(V));
      pos_ += n * sizeof(V);
    } else {
      for (std::size_t i = 0; i < n; ++i) out[i] = get<V>(what);
    }
  }

  /// A u32-length-prefixed string of at most `max` bytes.
  std::string str(std::string_view what, std::uint32_t max = kMaxFileString) {
    const std::uint32_t n = u32(what);
    if (n > max) corrupt(what, " claims ", n, " bytes, more than the ", max, " allowed");
    need(n, what);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }

  /// The next `n` bytes as a sub-range (checked), advancing past them.
  std::span<const unsigned char> take(std::size_t n, std::string_view what) {
    need(n, what);
    auto s = bytes_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

  /// Throws unless `count` items of `item_bytes` each fit in what remains: the check to run before
  /// allocating anything sized by a field of the file. Overflow-safe.
  void need_items(std::uint64_t count, std::uint64_t item_bytes, std::string_view what) const {
    if (item_bytes != 0 && count > remaining() / item_bytes) {
      corrupt(what, " needs ", count, " × ", item_bytes, " bytes but only ", remaining(),
              " remain (a size field is wrong or the file is cut short)");
    }
  }
  /// Throws unless `n` bytes remain.
  void need(std::uint64_t n, std::string_view what) const { need_items(n, 1, what); }

  /// Throws FileError "<where>: <file> is corrupt: <parts> (at byte <offset>)".
  template <class... Parts>
  [[noreturn]] void corrupt(Parts&&... parts) const {
    fail<FileError>(where_, ": ", file_, " is corrupt: ", std::forward<Parts>(parts)...,
                    " (at byte ", offset(), ")");
  }

  const std::string& where() const noexcept { return where_; }
  const std::string& file() const noexcept { return file_; }

 private:
  std::span<const unsigned char> bytes_;
  std::string where_;
  std::string file_;
  std::size_t base_ = 0;
  std::size_t pos_ = 0;
};

}  // namespace neuroplast::detail
