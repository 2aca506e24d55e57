// Helpers for the io tests: a private temporary directory and whole-file byte access.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <qlite/core/error.hpp>

namespace qlite::test {

/// A directory under the system temp dir, unique to this process, removed at exit.
inline const std::filesystem::path& temp_dir() {
  struct holder {
    std::filesystem::path p;
    holder() {
      p = std::filesystem::temp_directory_path() / ("qlite-io-test-" + std::to_string(::getpid()));
      std::filesystem::create_directories(p);
    }
    ~holder() {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  };
  static holder h;
  return h.p;
}

/// A fresh path inside temp_dir().
inline std::string temp_path(const std::string& stem) {
  static std::atomic<int> counter{0};
  return (temp_dir() / (std::to_string(counter++) + "-" + stem)).string();
}

inline std::vector<std::byte> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> c((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::byte> b(c.size());
  if (!c.empty()) std::memcpy(b.data(), c.data(), c.size());
  return b;
}

inline void write_bytes(const std::string& path, const std::vector<std::byte>& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

template <class T>
void poke(std::vector<std::byte>& b, std::size_t offset, T v) {
  REQUIRE(offset + sizeof(T) <= b.size());
  std::memcpy(b.data() + offset, &v, sizeof(T));
}
template <class T>
T peek(const std::vector<std::byte>& b, std::size_t offset) {
  T v;
  std::memcpy(&v, b.data() + offset, sizeof(T));
  return v;
}

/// Runs f() and returns the qlite::error message it threw; fails the test if it did not
/// throw a qlite::error.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const qlite::error& e) {
    return e.what();
  }
  FAIL("expected a qlite::error");
  return {};
}

/// True when every entry of temp_dir()'s listing starting with `prefix` is in `allowed`.
inline std::size_t count_files(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace qlite::test
