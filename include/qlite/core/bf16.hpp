// qlite — bf16: the bfloat16 storage type (the top half of an IEEE binary32).
//
// Contract
//   `qlite::bf16` is a trivially copyable 2-byte value holding bfloat16 bits: float's sign
//   and 8-bit exponent with a 7-bit mantissa. Same range as float (≈ ±3.39e38, subnormals
//   down to 2^-133), 8 significant bits. A storage format: widen to float to compute.
//
//     bits  15 | 14 ........ 7 | 6 ...... 0        float bits 31..16, exactly
//          sign  exponent (8)    mantissa (7)
//
// float → bf16 (`bf16(float)`, `ref::fp32_to_bf16_bits`), round-to-nearest, ties-to-even,
// exact IEEE semantics whatever the FPU mode:
//   * finite values round to the nearest bfloat16, ties to the even mantissa; subnormal
//     inputs round like all others (AVX512-BF16 and many libraries flush them to ±0; qlite
//     does not, and its vectorised path corrects the hardware where it would).
//   * values at or above bf16's max plus half an ulp (0x7f7f8000 as float bits) overflow
//     to ±Inf; ±Inf stays.
//   * NaN stays NaN: sign and the top 7 mantissa bits kept, the quiet bit (bit 6) forced on,
//     so a payload only in the dropped low bits cannot become Inf.
// bf16 → float (`operator float`, `ref::bf16_bits_to_fp32`) appends 16 zero bits: exact for
// every pattern, NaNs included (a signaling NaN stays signaling; it is quieted on the way
// back). Hence all 65,536 patterns round-trip bf16 → float → bf16 unchanged except signaling
// NaNs, which come back quieted.
//
// Cost: a few integer operations per value, constexpr. For arrays use `qlite::convert`
// (qlite/core/convert.hpp): AVX512-BF16 / SIMD, bit-identical to this.
//
//   qlite::bf16 b(3.14159f);             // 0x4049: 3.140625
//   float back = b;                      // exact widening
//   static_assert(qlite::bf16(1.0f).bits() == 0x3f80);
#pragma once

#include <bit>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace qlite {

namespace detail {

// `Tag` gives each per-arch instantiation its own symbol (ODR; see fp16.hpp).
template <class Tag>
constexpr std::uint16_t fp32_bits_to_bf16_bits(std::uint32_t x) noexcept {
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);
  // Round the dropped 16 bits to nearest-even; a carry propagates into the exponent, up to
  // Inf (0x7f7f8000 + 0x7fff + 1 = 0x7f807fff → 0x7f80). No overflow past bit 31.
  return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

template <class Tag>
constexpr std::uint32_t bf16_bits_to_fp32_bits(std::uint16_t b) noexcept {
  return std::uint32_t{b} << 16;
}

}  // namespace detail

namespace ref {

/// float → bfloat16 bits, round-to-nearest-even, overflow to ±Inf, NaN quieted (see top).
constexpr std::uint16_t fp32_to_bf16_bits(float f) noexcept {
  return detail::fp32_bits_to_bf16_bits<void>(std::bit_cast<std::uint32_t>(f));
}

/// bfloat16 bits → float, exact.
constexpr float bf16_bits_to_fp32(std::uint16_t b) noexcept {
  return std::bit_cast<float>(detail::bf16_bits_to_fp32_bits<void>(b));
}

}  // namespace ref

/// bfloat16. Default construction leaves the bits uninitialised, like `float`; `bf16{}` is +0.
class bf16 {
 public:
  bf16() = default;

  /// Rounds to nearest-even (see the top of this header).
  constexpr explicit bf16(float f) noexcept : bits_(ref::fp32_to_bf16_bits(f)) {}

  /// The value with these bfloat16 bits.
  static constexpr bf16 from_bits(std::uint16_t bits) noexcept { return bf16(bits_tag{}, bits); }

  constexpr std::uint16_t bits() const noexcept { return bits_; }

  /// Exact widening.
  constexpr operator float() const noexcept { return ref::bf16_bits_to_fp32(bits_); }

 private:
  struct bits_tag {};
  constexpr bf16(bits_tag, std::uint16_t bits) noexcept : bits_(bits) {}

  std::uint16_t bits_;
};

static_assert(sizeof(bf16) == 2 && alignof(bf16) == 2, "qlite::bf16 must be exactly 2 bytes");
static_assert(std::is_trivially_copyable_v<bf16> && std::is_standard_layout_v<bf16>,
              "qlite::bf16 must be memcpy-able storage");

}  // namespace qlite

/// numeric_limits for bfloat16.
namespace std {
template <>
struct numeric_limits<qlite::bf16> {
  static constexpr bool is_specialized = true;
  static constexpr bool is_signed = true;
  static constexpr bool is_integer = false;
  static constexpr bool is_exact = false;
  static constexpr bool has_infinity = true;
  static constexpr bool has_quiet_NaN = true;
  static constexpr bool has_signaling_NaN = true;
  static constexpr std::float_denorm_style has_denorm = std::denorm_present;
  static constexpr bool has_denorm_loss = false;
  static constexpr std::float_round_style round_style = std::round_to_nearest;
  static constexpr bool is_iec559 = false;  // not an IEEE 754 interchange format
  static constexpr bool is_bounded = true;
  static constexpr bool is_modulo = false;
  static constexpr int digits = 8;
  static constexpr int digits10 = 2;
  static constexpr int max_digits10 = 4;
  static constexpr int radix = 2;
  static constexpr int min_exponent = -125;
  static constexpr int min_exponent10 = -37;
  static constexpr int max_exponent = 128;
  static constexpr int max_exponent10 = 38;
  static constexpr bool traps = false;
  static constexpr bool tinyness_before = false;

  static constexpr qlite::bf16 min() noexcept { return qlite::bf16::from_bits(0x0080); }
  static constexpr qlite::bf16 lowest() noexcept { return qlite::bf16::from_bits(0xff7f); }
  static constexpr qlite::bf16 max() noexcept { return qlite::bf16::from_bits(0x7f7f); }
  static constexpr qlite::bf16 epsilon() noexcept { return qlite::bf16::from_bits(0x3c00); }
  static constexpr qlite::bf16 round_error() noexcept { return qlite::bf16::from_bits(0x3f00); }
  static constexpr qlite::bf16 infinity() noexcept { return qlite::bf16::from_bits(0x7f80); }
  static constexpr qlite::bf16 quiet_NaN() noexcept { return qlite::bf16::from_bits(0x7fc0); }
  static constexpr qlite::bf16 signaling_NaN() noexcept { return qlite::bf16::from_bits(0x7fa0); }
  static constexpr qlite::bf16 denorm_min() noexcept { return qlite::bf16::from_bits(0x0001); }
};
}  // namespace std
