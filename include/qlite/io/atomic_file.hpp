// qlite — write a file so that a failure never damages what exists.
//
// Contract
//   atomic_file out(path) creates a fresh temporary file "<path>.qlite-tmp-XXXXXX" in the
//   destination's directory (same file system, so the final rename is atomic). write()
//   appends bytes; commit() flushes, fsyncs and renames it over `path`. If commit() is never
//   reached (an exception, an early return) the destructor deletes the temporary: a failed
//   write leaves no partial file and leaves any existing `path` untouched.
//   The constructor refuses (qlite::error(errc::invalid_argument)) a destination that a live
//   qlite::mapped_file maps — the input of the running conversion — and, with
//   overwrite = false, any existing destination. I/O failures throw qlite::error(errc::io)
//   naming the path and the system's reason.
//
// Cost: one temporary file, one fsync and one rename per commit.
//
//   qlite::atomic_file out("model-q8.gguf");
//   out.write(header.data(), header.size());
//   out.pad_to(32);
//   out.commit();
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "qlite/core/error.hpp"
#include "qlite/io/mmap.hpp"

namespace qlite {

/// Options shared by qlite's file writers.
struct write_options {
  bool overwrite = true;  ///< replace an existing destination (never one qlite has mapped)
};

/// A file written to a temporary and renamed into place on commit().
class atomic_file {
 public:
  explicit atomic_file(std::string path, write_options options = {}) : path_(std::move(path)) {
    if (is_mapped(path_)) {
      throw error(errc::invalid_argument, path_ + ": refusing to overwrite a file that is open as an input");
    }
    std::error_code ec;
    if (!options.overwrite && std::filesystem::exists(path_, ec)) {
      throw error(errc::invalid_argument, path_ + ": exists and overwrite is off");
    }
    if (std::filesystem::is_directory(path_, ec)) {
      throw error(errc::invalid_argument, path_ + ": is a directory");
    }
#if defined(QLITE_DETAIL_HAVE_MMAP)
    std::string templ = path_ + ".qlite-tmp-XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    const int fd = ::mkstemp(buf.data());
    if (fd < 0) fail_errno("cannot create a temporary file beside", errno);
    tmp_.assign(buf.data());
    ::fchmod(fd, 0644);  // mkstemp creates 0600; a model file is normally world-readable
    file_ = ::fdopen(fd, "wb");
    if (file_ == nullptr) {
      const int e = errno;
      ::close(fd);
      ::unlink(tmp_.c_str());
      fail_errno("cannot open the temporary file for", e);
    }
#else
    tmp_ = path_ + ".qlite-tmp";
    file_ = std::fopen(tmp_.c_str(), "wb");
    if (file_ == nullptr) fail_errno("cannot create a temporary file beside", errno);
#endif
  }

  atomic_file(const atomic_file&) = delete;
  atomic_file& operator=(const atomic_file&) = delete;

  ~atomic_file() {
    if (file_ != nullptr) std::fclose(file_);
    if (!committed_ && !tmp_.empty()) std::remove(tmp_.c_str());
  }

  /// Appends n bytes.
  void write(const void* data, std::size_t n) {
    if (n == 0) return;
    if (std::fwrite(data, 1, n, file_) != n) fail_errno("write failed for", errno);
    written_ += n;
  }
  /// Appends zero bytes until the size is a multiple of `alignment`.
  void pad_to(std::uint64_t alignment) {
    static constexpr char zeros[64] = {};
    while (written_ % alignment != 0) {
      const auto n =
          static_cast<std::size_t>(std::min<std::uint64_t>(alignment - written_ % alignment, sizeof zeros));
      write(zeros, n);
    }
  }
  /// Bytes written so far.
  [[nodiscard]] std::uint64_t size() const noexcept { return written_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

  /// Flushes, syncs and renames the temporary over the destination.
  void commit() {
    if (std::fflush(file_) != 0) fail_errno("flush failed for", errno);
#if defined(QLITE_DETAIL_HAVE_MMAP)
    if (::fsync(::fileno(file_)) != 0) fail_errno("fsync failed for", errno);
#endif
    const int rc = std::fclose(file_);
    file_ = nullptr;
    if (rc != 0) fail_errno("close failed for", errno);
    if (is_mapped(path_)) {  // mapped since construction: still refuse
      throw error(errc::invalid_argument, path_ + ": refusing to overwrite a file that is open as an input");
    }
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail_errno("cannot rename into", errno);
    committed_ = true;
  }

 private:
  [[noreturn]] void fail_errno(const char* what, int e) const {
    throw error(errc::io, std::string(what) + " " + path_ + ": " + std::strerror(e));
  }

  std::string path_;
  std::string tmp_;
  std::FILE* file_ = nullptr;
  std::uint64_t written_ = 0;
  bool committed_ = false;
};

}  // namespace qlite
