// qlite — bounds-checked little-endian decoding for the file readers (an io/ building block).
//
// Contract
//   byte_reader walks a span of bytes from offset 0. Every read checks that the bytes are
//   there; a short read, and every validation failure the readers report through fail(),
//   throws qlite::error(errc::format) whose message reads
//       "<file>: offset <n>: <field>: <what was expected>, found <what was found>"
//   so a user can open the file at that offset. checked_mul / checked_add make every size
//   computation from file data overflow-proof (they throw instead of wrapping).
//
//   Values are little-endian; qlite's readers support little-endian hosts only (checked at
//   compile time), so a read is a memcpy.
//
// Cost: O(1) per scalar read.
//
//   qlite::detail::byte_reader r(file.bytes(), file.path());
//   auto magic = r.read<std::uint32_t>("magic");
//   if (magic != 0x46554747) r.fail_at(0, "magic", "expected \"GGUF\"", std::to_string(magic));
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "qlite/core/error.hpp"

namespace qlite::detail {

static_assert(std::endian::native == std::endian::little,
              "qlite's file readers and writers support little-endian hosts only");

/// "<file>: offset <n>: <field>: <message>" as a qlite::error(errc::format).
[[noreturn]] inline void format_error(std::string_view file, std::uint64_t offset, std::string_view field,
                                      std::string_view message) {
  std::string m;
  m.reserve(file.size() + field.size() + message.size() + 40);
  m.append(file).append(": offset ").append(std::to_string(offset)).append(": ");
  m.append(field).append(": ").append(message);
  throw error(errc::format, m);
}

/// a · b, or a qlite::error naming `field` when the product does not fit 64 bits.
inline std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b, std::string_view file,
                                 std::uint64_t offset, std::string_view field) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) {
    format_error(file, offset, field,
                 "size overflows 64 bits (" + std::to_string(a) + " × " + std::to_string(b) + ")");
  }
  return a * b;
}

/// a + b, or a qlite::error naming `field` on overflow.
inline std::uint64_t checked_add(std::uint64_t a, std::uint64_t b, std::string_view file,
                                 std::uint64_t offset, std::string_view field) {
  if (b > std::numeric_limits<std::uint64_t>::max() - a) {
    format_error(file, offset, field,
                 "size overflows 64 bits (" + std::to_string(a) + " + " + std::to_string(b) + ")");
  }
  return a + b;
}

/// Sequential, bounds-checked reader over a byte span.
class byte_reader {
 public:
  byte_reader(std::span<const std::byte> data, std::string_view file) noexcept : data_(data), file_(file) {}

  [[nodiscard]] std::uint64_t offset() const noexcept { return pos_; }
  [[nodiscard]] std::uint64_t remaining() const noexcept { return data_.size() - pos_; }
  [[nodiscard]] std::uint64_t size() const noexcept { return data_.size(); }
  [[nodiscard]] std::string_view file() const noexcept { return file_; }

  /// Moves to an absolute offset ≤ size().
  void seek(std::uint64_t offset, std::string_view field) {
    if (offset > data_.size()) {
      fail(field, "expected an offset within the file of " + std::to_string(data_.size()) + " bytes, found " +
                      std::to_string(offset));
    }
    pos_ = offset;
  }

  /// Reads a trivially copyable little-endian value.
  template <class T>
  T read(std::string_view field) {
    static_assert(std::is_trivially_copyable_v<T>);
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  /// The next n bytes as a view.
  std::span<const std::byte> bytes(std::uint64_t n, std::string_view field) {
    need(n, field);
    auto s = data_.subspan(static_cast<std::size_t>(pos_), static_cast<std::size_t>(n));
    pos_ += n;
    return s;
  }

  /// The next n bytes as a string.
  std::string string(std::uint64_t n, std::string_view field) {
    const auto b = bytes(n, field);
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  }

  /// Throws unless n more bytes are available.
  void need(std::uint64_t n, std::string_view field) const {
    if (n > remaining()) {
      fail(field, "expected " + std::to_string(n) + " more bytes, found " + std::to_string(remaining()) +
                      " before the end of the file");
    }
  }

  /// Throws a format error at the current offset.
  [[noreturn]] void fail(std::string_view field, std::string_view message) const {
    format_error(file_, pos_, field, message);
  }
  /// Throws a format error at a given offset.
  [[noreturn]] void fail_at(std::uint64_t offset, std::string_view field, std::string_view message) const {
    format_error(file_, offset, field, message);
  }

 private:
  std::span<const std::byte> data_;
  std::string_view file_;
  std::uint64_t pos_ = 0;
};

}  // namespace qlite::detail
