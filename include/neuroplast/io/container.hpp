#pragma once
/// \file
/// The envelope of every neuroplast binary file (docs/file-format.md): magic number, format
/// version, payload size and CRC-32, then a payload of tagged sections.

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/io/byte_io.hpp"
#include "neuroplast/io/crc32.hpp"

namespace neuroplast {

/// Version of the binary format that `save` writes and the newest that `load` reads.
/// The format version this neuroplast writes. The version is outside the checksum, so a new
/// version is the next one from which no single flipped bit gives a version a reader accepts
/// (1 … itself): 3 (→ 1, 2), 5–7 (→ 4 and below) and 9–15 (→ 8 and below) were skipped. 4 added
/// the scaler section, 8 each layer's plasticity, 16 one code table for structural events (a
/// trainer history's prune_connections and grow_connections swap codes; older files are read
/// with their own table).
inline constexpr std::uint32_t kFileFormatVersion = 16;

namespace detail {

/// First 8 bytes of every file. As PNG's: a non-ASCII first byte (no text file starts so), the
/// name, then CR LF, Ctrl-Z, LF, which any newline conversion or text-mode transfer would damage.
inline constexpr std::array<unsigned char, 8> kFileMagic = {0x89, 'N',  'P',  'L',
                                                            '\r', '\n', 0x1a, '\n'};
/// magic (8) + version (4) + CRC-32 (4) + payload size (8).
inline constexpr std::size_t kFileHeaderBytes = 24;

/// One tagged section of a payload: a 4-character tag and its body.
struct Section {
  std::string_view tag{};                      ///< e.g. "NETW"; points into the file's bytes
  std::span<const unsigned char> body{};       ///< the section's bytes
  std::size_t offset = 0;                      ///< file offset of the body (for messages)
  std::uint32_t version = kFileFormatVersion;  ///< format version of the file it came from
};

/// Builds a file: sections are opened and closed around their fields; `finish` adds the header.
class ContainerWriter {
 public:
  ContainerWriter() {
    w_.raw(std::span<const unsigned char>(kFileMagic));
    w_.u32(kFileFormatVersion);
    w_.u32(0);  // CRC-32, patched by finish()
    w_.u64(0);  // payload size, patched by finish()
  }
  /// The writer the current section's fields go to.
  ByteWriter& out() noexcept { return w_; }

  /// Starts a section with a 4-character tag.
  void begin(std::string_view tag) {
    w_.raw(tag.substr(0, 4));
    length_at_ = w_.size();
    w_.u64(0);
  }
  /// Ends the current section (its length is now known).
  void end() { w_.patch_u64(length_at_, w_.size() - length_at_ - 8); }

  /// The complete file: header with the payload's size and CRC-32.
  std::vector<unsigned char> finish() {
    std::vector<unsigned char> bytes = w_.take();
    const std::span<const unsigned char> payload(bytes.data() + kFileHeaderBytes,
                                                 bytes.size() - kFileHeaderBytes);
    ByteWriter fix;
    fix.u32(crc32(payload));
    fix.u64(payload.size());
    std::copy(fix.bytes().begin(), fix.bytes().end(), bytes.begin() + 12);
    return bytes;
  }

 private:
  ByteWriter w_{};
  std::size_t length_at_ = 0;
};

/// Checks the envelope of a file in this order — magic (a foreign file), size of the header, format
/// version, payload size (truncated or trailing bytes), CRC-32 (damaged) — and splits the payload
/// into sections. Each failure throws FileError saying which. `where` is the calling API function,
/// `file` the path (both for messages).
inline std::vector<Section> read_container(std::span<const unsigned char> bytes,
                                           const std::string& where, const std::string& file) {
  auto bad = [&](auto&&... parts) {
    fail<FileError>(where, ": ", file, " ", std::forward<decltype(parts)>(parts)...);
  };
  if (bytes.empty()) bad("is empty (0 bytes); expected a neuroplast model file");
  const std::size_t prefix = std::min(bytes.size(), kFileMagic.size());
  if (!std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(prefix),
                  kFileMagic.begin())) {
    if (bytes.size() > 8 && bytes[8] == '{') {
      bad("is not a neuroplast model file but looks like a safetensors file; read it with "
          "load_safetensors");
    }
    bad("is not a neuroplast model file (its first bytes are not the magic number 89 4E 50 4C 0D "
        "0A 1A 0A)");
  }
  if (bytes.size() < kFileHeaderBytes) {
    bad("is truncated: ", bytes.size(), " bytes, shorter than the ", kFileHeaderBytes,
        "-byte header");
  }
  ByteReader header(bytes.first(kFileHeaderBytes), where, file);
  (void)header.take(8, "magic");
  const std::uint32_t version = header.u32("format version");
  const std::uint32_t stored_crc = header.u32("CRC-32");
  const std::uint64_t payload_size = header.u64("payload size");
  if (version == 0 || version > kFileFormatVersion) {
    bad("has format version ", version,
        ", which this neuroplast does not know (it reads versions "
        "1 to ",
        kFileFormatVersion,
        "): it was written by a newer neuroplast, or its header is "
        "damaged");
  }
  const std::size_t actual = bytes.size() - kFileHeaderBytes;
  if (payload_size > actual) {
    bad("is truncated: its header announces ", payload_size, " payload bytes but only ", actual,
        " follow");
  }
  if (payload_size < actual) {
    bad("is damaged: ", actual - payload_size, " unexpected bytes follow the ", payload_size,
        "-byte payload its header announces");
  }
  const auto payload = bytes.subspan(kFileHeaderBytes);
  const std::uint32_t computed = crc32(payload);
  if (computed != stored_crc) {
    std::ostringstream os;
    os << std::hex << "stored 0x" << stored_crc << ", computed 0x" << computed;
    bad("is damaged: its CRC-32 check failed (", os.str(), "); restore it from a backup");
  }
  ByteReader r(payload, where, file, kFileHeaderBytes);
  std::vector<Section> sections;
  while (!r.done()) {
    const auto tag = r.take(4, "section tag");
    const std::uint64_t n = r.u64("section length");
    const std::size_t offset = r.offset();
    const auto body = r.take(n, "section body");
    sections.push_back(
        {std::string_view(reinterpret_cast<const char*>(tag.data()), 4), body, offset, version});
  }
  return sections;
}

}  // namespace detail
}  // namespace neuroplast
