// qlite — the one exception type.
//
// Every failure the user can cause (bad shapes, non-finite input, malformed files, an
// instruction set the CPU lacks) is reported as `qlite::error`, thrown at the border where
// the input is validated. Kernels and hot loops never throw. The message names what was
// wrong and where (file, offset, field, index) and what was expected.
//
//   try { q.quantize(w); }
//   catch (const qlite::error& e) {
//     if (e.category() == qlite::errc::not_finite) { /* e.what(): "... index 1234 ..." */ }
//   }
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace qlite {

/// What kind of problem an error reports.
enum class errc {
  invalid_argument,  ///< a parameter or shape the function does not accept
  not_finite,        ///< NaN or ±Inf where finite values are required
  io,                ///< the operating system refused a file operation
  format,            ///< a file or buffer does not follow its format
  unsupported,       ///< valid input that qlite does not implement (names the feature)
  arch_unavailable,  ///< an instruction set that this CPU or this build does not have
};

/// Human-readable name of a category ("invalid_argument", ...).
constexpr std::string_view to_string(errc c) noexcept {
  switch (c) {
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::not_finite:
      return "not_finite";
    case errc::io:
      return "io";
    case errc::format:
      return "format";
    case errc::unsupported:
      return "unsupported";
    case errc::arch_unavailable:
      return "arch_unavailable";
  }
  return "unknown";
}

/// The exception qlite throws. `what()` is "qlite: <message>".
class error : public std::runtime_error {
 public:
  error(errc category, const std::string& message)
      : std::runtime_error("qlite: " + message), category_(category) {}
  [[nodiscard]] errc category() const noexcept { return category_; }

 private:
  errc category_;
};

}  // namespace qlite
