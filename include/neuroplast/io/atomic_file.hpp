#pragma once
/// \file
/// Whole-file writes that either replace the target completely or leave it untouched, and
/// whole-file reads with FileError messages.

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "neuroplast/core/error.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
/// 1 where the POSIX file calls are available (Unix, macOS), else 0.
#define NEUROPLAST_POSIX_FILES 1
#else
/// 1 where the POSIX file calls are available (Unix, macOS), else 0.
#define NEUROPLAST_POSIX_FILES 0
#endif

namespace neuroplast {

namespace detail {

/// The steps of an atomic write, in order; a fault hook (tests) can fail any of them.
enum class WriteStage { create, write, sync, close, rename };

/// Test-only fault injection: when set, called before each stage of every atomic write; whatever
/// it throws is handled exactly like a failure of that stage (the temporary file is removed, the
/// target is untouched). Lets tests show that a crash or a full disk mid-write loses nothing,
/// which real permissions cannot (root writes through read-only directories).
inline std::function<void(WriteStage)>& atomic_write_fault_hook() {
  static std::function<void(WriteStage)> hook;
  return hook;
}

inline const char* stage_name(WriteStage s) {
  switch (s) {
    case WriteStage::create: return "creating the temporary file";
    case WriteStage::write: return "writing";
    case WriteStage::sync: return "flushing to disk";
    case WriteStage::close: return "closing";
    case WriteStage::rename: return "renaming over the target";
  }
  return "?";
}

/// A name next to `path` (same directory, hence same file system, so rename is atomic) that no
/// other writer picks: the process id and a per-process counter.
inline std::string temporary_name(const std::string& path) {
  static std::atomic<std::uint64_t> counter{0};  // concurrent saves get distinct names
#if NEUROPLAST_POSIX_FILES
  const long pid = static_cast<long>(::getpid());
#else
  const long pid = 0;
#endif
  return path + ".tmp-" + std::to_string(pid) + "-" + std::to_string(++counter);
}

}  // namespace detail

/// Writes `bytes` to `path` atomically: into a temporary file in the same directory, flushed and
/// fsync'ed, then renamed over `path` (and the directory synced, so the rename itself survives a
/// power cut). A reader sees the old file or the new one, never a mixture; after a crash, a full
/// disk or any error the old file is intact and the temporary file removed. An existing target's
/// permission bits are kept. Throws FileError naming the file, the step and the system's reason.
inline void write_file_atomically(const std::string& path, std::span<const unsigned char> bytes,
                                  const char* where = "save") {
  const std::string tmp = detail::temporary_name(path);
  auto& hook = detail::atomic_write_fault_hook();
  detail::WriteStage stage = detail::WriteStage::create;
  auto step = [&](detail::WriteStage s) {
    stage = s;
    if (hook) hook(s);
  };
  bool created = false;
#if NEUROPLAST_POSIX_FILES
  int fd = -1;
  auto cleanup = [&] {  // idempotent: every failure path ends here once
    if (fd >= 0) ::close(std::exchange(fd, -1));
    if (created) ::unlink(tmp.c_str());
    created = false;
  };
  auto check = [&](bool ok) {
    if (!ok) {
      const int err = errno;
      detail::fail<FileError>(where, ": cannot write ", path, " (", detail::stage_name(stage), ": ",
                              std::strerror(err), "); the previous file, if any, is unchanged");
    }
  };
  try {
    step(detail::WriteStage::create);
    mode_t mode = 0666;
    struct stat old {};
    const bool replace = ::stat(path.c_str(), &old) == 0;
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    check(fd >= 0);
    created = true;
    if (replace) (void)::fchmod(fd, old.st_mode & 07777);  // best effort: keep the old permissions
    step(detail::WriteStage::write);
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ::ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      check(n > 0);
      done += static_cast<std::size_t>(n);
    }
    step(detail::WriteStage::sync);
    check(::fsync(fd) == 0);
    step(detail::WriteStage::close);
    const int closing = fd;
    fd = -1;
    check(::close(closing) == 0);
    step(detail::WriteStage::rename);
    check(::rename(tmp.c_str(), path.c_str()) == 0);
    created = false;
  } catch (const FileError&) {
    cleanup();
    throw;
  } catch (const std::exception& e) {
    cleanup();
    detail::fail<FileError>(where, ": cannot write ", path, " (", detail::stage_name(stage), ": ",
                            e.what(), "); the previous file, if any, is unchanged");
  } catch (...) {
    cleanup();
    throw;
  }
  // The rename is durable only once the directory entry is: sync the directory (best effort, some
  // file systems refuse to open directories).
  std::string dir = path.substr(0, path.find_last_of('/') + 1);
  if (dir.empty()) dir = ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
#else
  // Portable fallback: no fsync, but still a temporary file renamed over the target.
  try {
    step(detail::WriteStage::create);
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot create the file");
    created = true;
    step(detail::WriteStage::write);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    step(detail::WriteStage::sync);
    out.flush();
    step(detail::WriteStage::close);
    out.close();
    if (!out) throw std::runtime_error("write failed");
    step(detail::WriteStage::rename);
    std::filesystem::rename(tmp, path);
  } catch (const std::exception& e) {
    if (created) {
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
    }
    detail::fail<FileError>(where, ": cannot write ", path, " (", detail::stage_name(stage), ": ",
                            e.what(), "); the previous file, if any, is unchanged");
  }
#endif
}

/// The whole content of `path`. Throws FileError naming the file and the reason when it cannot be
/// opened or read (a directory, say). Reads until the end rather than trusting a reported size, so
/// pipes and special files work and nothing is allocated beyond what the file holds.
inline std::vector<unsigned char> read_file(const std::string& path, const char* where = "load") {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    detail::fail<FileError>(where, ": cannot read ", path, ": it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    detail::fail<FileError>(where, ": cannot open ", path, ": ", std::strerror(err));
  }
  std::vector<unsigned char> bytes;
  constexpr std::size_t chunk = 1 << 16;
  while (in) {
    const std::size_t at = bytes.size();
    bytes.resize(at + chunk);
    in.read(reinterpret_cast<char*>(bytes.data() + at), static_cast<std::streamsize>(chunk));
    bytes.resize(at + static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) detail::fail<FileError>(where, ": cannot read ", path, ": read error");
  return bytes;
}

}  // namespace neuroplast
