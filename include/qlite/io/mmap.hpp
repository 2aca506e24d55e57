// qlite — a read-only memory-mapped file.
//
// Contract
//   mapped_file f(path) maps the whole file read-only (POSIX mmap; elsewhere the file is read
//   into memory). f.bytes() is a std::span<const std::byte> of exactly the file's size; it
//   stays valid, and its content unchanged as far as qlite is concerned, while f lives. An
//   empty file maps to an empty span. Failures (missing file, a directory, permission,
//   mmap refusal) throw qlite::error(errc::io) naming the path and the system's reason.
//   The object is move-only; the mapping is released by the destructor.
//
//   qlite's writers refuse to replace a file that a live mapped_file maps (same device and
//   inode): the "never overwrite the input" rule of io/. is_mapped(path) asks that question.
//
// Cost: O(1) to map (pages are read on first touch); the fallback reads the whole file.
//
//   qlite::mapped_file f("model.gguf");
//   std::span<const std::byte> b = f.bytes();
//   if (b.size() < 4) throw ...;
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qlite/core/error.hpp"

#if defined(__unix__) || defined(__APPLE__)
#define QLITE_DETAIL_HAVE_MMAP 1
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace qlite {

namespace detail {

/// Identity of a file (device, inode) where the platform has one.
struct file_identity {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  bool valid = false;
  friend bool operator==(const file_identity&, const file_identity&) = default;
};

inline file_identity identity_of(const std::string& path) noexcept {
#if defined(QLITE_DETAIL_HAVE_MMAP)
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino), true};
#else
  (void)path;
  return {};
#endif
}

/// Files currently mapped by this process through mapped_file (a multiset of identities).
struct mapped_registry {
  std::mutex mutex;
  std::vector<std::pair<file_identity, std::string>> files;
  static mapped_registry& instance() {
    static mapped_registry r;
    return r;
  }
  void add(const file_identity& id, const std::string& path) {
    if (!id.valid) return;
    const std::lock_guard lock(mutex);
    files.emplace_back(id, path);
  }
  void remove(const file_identity& id) noexcept {
    if (!id.valid) return;
    const std::lock_guard lock(mutex);
    for (auto it = files.begin(); it != files.end(); ++it) {
      if (it->first == id) {
        files.erase(it);
        return;
      }
    }
  }
  bool contains(const file_identity& id) {
    if (!id.valid) return false;
    const std::lock_guard lock(mutex);
    for (const auto& f : files)
      if (f.first == id) return true;
    return false;
  }
};

inline std::string errno_text(int e) { return std::string(std::strerror(e)); }

}  // namespace detail

/// A read-only view of a whole file, mapped into memory.
class mapped_file {
 public:
  mapped_file() = default;

  explicit mapped_file(std::string path) : path_(std::move(path)) {
#if defined(QLITE_DETAIL_HAVE_MMAP)
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("cannot open for reading", errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int e = errno;
      ::close(fd);
      fail("cannot stat", e);
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      throw error(errc::io, path_ + ": not a regular file");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int e = errno;
        ::close(fd);
        fail("cannot map", e);
      }
      data_ = static_cast<const std::byte*>(p);
    }
    ::close(fd);
    identity_ = {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino), true};
    detail::mapped_registry::instance().add(identity_, path_);
#else
    std::FILE* f = std::fopen(path_.c_str(), "rb");
    if (!f) fail("cannot open for reading", errno);
    std::vector<std::byte> buf;
    std::byte chunk[65536];
    std::size_t n = 0;
    while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) buf.insert(buf.end(), chunk, chunk + n);
    const bool bad = std::ferror(f) != 0;
    std::fclose(f);
    if (bad) throw error(errc::io, path_ + ": read error");
    owned_ = std::move(buf);
    data_ = owned_.data();
    size_ = owned_.size();
#endif
  }

  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;
  mapped_file(mapped_file&& o) noexcept { swap(o); }
  mapped_file& operator=(mapped_file&& o) noexcept {
    if (this != &o) {
      release();
      swap(o);
    }
    return *this;
  }
  ~mapped_file() { release(); }

  /// The file's bytes.
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  [[nodiscard]] const std::byte* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// The path given to the constructor.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

 private:
  [[noreturn]] void fail(const char* what, int e) const {
    throw error(errc::io, path_ + ": " + what + ": " + detail::errno_text(e));
  }
  void release() noexcept {
#if defined(QLITE_DETAIL_HAVE_MMAP)
    if (data_ != nullptr && size_ > 0) ::munmap(const_cast<std::byte*>(data_), size_);
    detail::mapped_registry::instance().remove(identity_);
#else
    owned_.clear();
#endif
    data_ = nullptr;
    size_ = 0;
    identity_ = {};
  }
  void swap(mapped_file& o) noexcept {
    std::swap(path_, o.path_);
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(identity_, o.identity_);
#if !defined(QLITE_DETAIL_HAVE_MMAP)
    std::swap(owned_, o.owned_);
#endif
  }

  std::string path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  detail::file_identity identity_{};
#if !defined(QLITE_DETAIL_HAVE_MMAP)
  std::vector<std::byte> owned_;
#endif
};

/// True when a live mapped_file maps the file at `path` (compared by device and inode).
inline bool is_mapped(const std::string& path) {
  return detail::mapped_registry::instance().contains(detail::identity_of(path));
}

}  // namespace qlite
