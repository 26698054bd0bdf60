#pragma once
/// \file
/// CRC-32 (the zlib / ISO-HDLC polynomial) over a byte range, for checkpoint payloads.

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>

namespace neuroplast {

/// CRC-32 of `bytes` as zlib computes it (polynomial 0xEDB88320 reflected, initial and final XOR
/// 0xFFFFFFFF), so any zlib, Python's `zlib.crc32` or `cksum -a crc32b` can recompute it. `seed`
/// continues a checksum over a range split in parts: crc32(b, crc32(a)) = crc32(a ++ b).
inline std::uint32_t crc32(std::span<const unsigned char> bytes, std::uint32_t seed = 0) noexcept {
  uLong crc = seed;
  // zlib takes uInt lengths: feed ranges over 4 GiB in pieces.
  constexpr std::size_t piece = std::numeric_limits<uInt>::max();
  while (!bytes.empty()) {
    const std::size_t n = std::min(bytes.size(), piece);
    crc = ::crc32(crc, bytes.data(), static_cast<uInt>(n));
    bytes = bytes.subspan(n);
  }
  return static_cast<std::uint32_t>(crc);
}

}  // namespace neuroplast
