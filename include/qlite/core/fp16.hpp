// qlite — fp16: the IEEE 754 binary16 ("half") storage type.
//
// Contract
//   `qlite::fp16` is a trivially copyable 2-byte value holding binary16 bits: 1 sign bit,
//   5 exponent bits (bias 15), 10 mantissa bits. It is a storage format: there is no fp16
//   arithmetic; widen to float (exact, implicit), compute, narrow back (explicit).
//
//     bits  15 | 14 ....... 10 | 9 ................. 0
//          sign  exponent (5)    mantissa (10)
//
//     exponent 1..30   normal     (-1)^s · 2^(e-15) · 1.m      6.10e-5 ≤ |x| ≤ 65504
//     exponent 0       subnormal  (-1)^s · 2^-14  · 0.m      5.96e-8 = 2^-24 is the smallest
//     exponent 31      m = 0: ±Inf; m ≠ 0: NaN (m bit 9 set = quiet)
//
// float → fp16 (`fp16(float)`, `ref::fp32_to_fp16_bits`), IEEE 754 convertFormat with
// round-to-nearest, ties-to-even, whatever the FPU's rounding mode or FTZ/DAZ flags:
//   * finite values round to the nearest binary16; a tie goes to the even mantissa.
//     Subnormal results are rounded exactly like normal ones (no flush to zero).
//   * |x| ≥ 65520 (65504 plus half an ulp) overflows to ±Inf, as IEEE requires; ±Inf stays.
//   * NaN stays NaN: sign kept, the quiet bit set, the top 9 payload bits below float's
//     quiet bit kept (float mantissa bits 21..13 → fp16 bits 8..0). A payload living only in
//     the dropped low bits still gives a NaN (the quiet bit), never Inf. This is what F16C's
//     vcvtps2ph produces.
// fp16 → float (`operator float`, `ref::fp16_bits_to_fp32`) is exact for every non-NaN
// value, subnormals included. A NaN keeps its sign and payload and is quieted (a signaling
// fp16 NaN becomes quiet, as IEEE convertFormat and F16C's vcvtph2ps do). Hence every one
// of the 65,536 patterns round-trips fp16 → float → fp16 unchanged except signaling NaNs,
// which come back quieted.
//
// Cost: a few integer operations per value, constexpr, no FPU involvement. For arrays use
// `qlite::convert` (qlite/core/convert.hpp): F16C / AVX-512 / SIMD, bit-identical to this.
//
//   qlite::fp16 h(0.1f);                 // 0x2e66: 0.0999755859375, the nearest binary16
//   float back = h;                      // exact widening
//   static_assert(qlite::fp16(1.0f).bits() == 0x3c00);
#pragma once

#include <bit>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace qlite {

namespace detail {

// The conversion algorithms. `Tag` only gives each instantiation its own symbol: per-arch
// kernels instantiate them with their arch tag, so a copy compiled with -mavx512f can never
// be the one the scalar path links to (ODR). `qlite::ref` uses Tag = void.

template <class Tag>
constexpr std::uint16_t fp32_bits_to_fp16_bits(std::uint32_t x) noexcept {
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t a = x & 0x7fffffffu;  // |x|
  std::uint32_t r = 0;
  if (a > 0x7f800000u) {
    r = 0x7e00u | ((a >> 13) & 0x3ffu);  // NaN: quiet bit + top payload bits
  } else if (a >= 0x477ff000u) {
    r = 0x7c00u;  // |x| ≥ 65520 rounds to 2^16: overflow to Inf (and Inf itself)
  } else if (a >= 0x38800000u) {
    // Normal result (|x| ≥ 2^-14): rebias the exponent (127 → 15, i.e. subtract 112 << 23)
    // and round the 13 dropped mantissa bits to nearest-even; a carry bumps the exponent.
    r = (a - 0x38000000u + 0x0fffu + ((a >> 13) & 1u)) >> 13;
  } else if (a >= 0x33000000u) {
    // Subnormal result: |x| = m · 2^(e-150) with the implicit bit in m; in units of 2^-24
    // that is m >> s with s = 126 - e in [14, 24], rounded to nearest-even.
    const std::uint32_t e = a >> 23;
    const std::uint32_t m = (a & 0x7fffffu) | 0x800000u;
    const std::uint32_t s = 126u - e;
    r = m >> s;
    const std::uint32_t rest = m & ((1u << s) - 1u);
    const std::uint32_t half = 1u << (s - 1u);
    if (rest > half || (rest == half && (r & 1u) != 0)) ++r;  // may carry into 2^-14: fine
  }
  // else |x| < 2^-25 (half the smallest subnormal): rounds to zero; r = 0.
  return static_cast<std::uint16_t>(sign | r);
}

template <class Tag>
constexpr std::uint32_t fp16_bits_to_fp32_bits(std::uint16_t h) noexcept {
  const std::uint32_t sign = (std::uint32_t{h} & 0x8000u) << 16;
  const std::uint32_t e = (std::uint32_t{h} >> 10) & 0x1fu;
  const std::uint32_t m = std::uint32_t{h} & 0x3ffu;
  if (e == 0x1fu) return sign | 0x7f800000u | (m << 13) | (m != 0 ? 0x400000u : 0u);
  if (e != 0) return sign | ((e + 112u) << 23) | (m << 13);
  if (m == 0) return sign;
  // Subnormal m · 2^-24: normalise. With p the index of m's top bit, the value is
  // 2^(p-24) · 1.f, exponent field p - 24 + 127.
  const auto p = static_cast<std::uint32_t>(31 - std::countl_zero(m));
  return sign | ((p + 103u) << 23) | ((m << (23u - p)) & 0x7fffffu);
}

}  // namespace detail

namespace ref {

/// float → binary16 bits, round-to-nearest-even, overflow to ±Inf, NaN quieted (see top).
constexpr std::uint16_t fp32_to_fp16_bits(float f) noexcept {
  return detail::fp32_bits_to_fp16_bits<void>(std::bit_cast<std::uint32_t>(f));
}

/// binary16 bits → float, exact (NaN quieted, sign and payload kept).
constexpr float fp16_bits_to_fp32(std::uint16_t h) noexcept {
  return std::bit_cast<float>(detail::fp16_bits_to_fp32_bits<void>(h));
}

}  // namespace ref

/// IEEE 754 binary16. Default construction leaves the bits uninitialised, like `float`;
/// `fp16{}` is +0.
class fp16 {
 public:
  fp16() = default;

  /// Rounds to nearest-even (see the top of this header).
  constexpr explicit fp16(float f) noexcept : bits_(ref::fp32_to_fp16_bits(f)) {}

  /// The value with these binary16 bits.
  static constexpr fp16 from_bits(std::uint16_t bits) noexcept { return fp16(bits_tag{}, bits); }

  constexpr std::uint16_t bits() const noexcept { return bits_; }

  /// Exact widening.
  constexpr operator float() const noexcept { return ref::fp16_bits_to_fp32(bits_); }

 private:
  struct bits_tag {};
  constexpr fp16(bits_tag, std::uint16_t bits) noexcept : bits_(bits) {}

  std::uint16_t bits_;
};

static_assert(sizeof(fp16) == 2 && alignof(fp16) == 2, "qlite::fp16 must be exactly binary16");
static_assert(std::is_trivially_copyable_v<fp16> && std::is_standard_layout_v<fp16>,
              "qlite::fp16 must be memcpy-able storage");

}  // namespace qlite

/// numeric_limits for binary16, so generic code (observers, clipping) can ask for its range.
namespace std {
template <>
struct numeric_limits<qlite::fp16> {
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
  static constexpr bool is_iec559 = true;
  static constexpr bool is_bounded = true;
  static constexpr bool is_modulo = false;
  static constexpr int digits = 11;
  static constexpr int digits10 = 3;
  static constexpr int max_digits10 = 5;
  static constexpr int radix = 2;
  static constexpr int min_exponent = -13;
  static constexpr int min_exponent10 = -4;
  static constexpr int max_exponent = 16;
  static constexpr int max_exponent10 = 4;
  static constexpr bool traps = false;
  static constexpr bool tinyness_before = false;

  static constexpr qlite::fp16 min() noexcept { return qlite::fp16::from_bits(0x0400); }
  static constexpr qlite::fp16 lowest() noexcept { return qlite::fp16::from_bits(0xfbff); }
  static constexpr qlite::fp16 max() noexcept { return qlite::fp16::from_bits(0x7bff); }
  static constexpr qlite::fp16 epsilon() noexcept { return qlite::fp16::from_bits(0x1400); }
  static constexpr qlite::fp16 round_error() noexcept { return qlite::fp16::from_bits(0x3800); }
  static constexpr qlite::fp16 infinity() noexcept { return qlite::fp16::from_bits(0x7c00); }
  static constexpr qlite::fp16 quiet_NaN() noexcept { return qlite::fp16::from_bits(0x7e00); }
  static constexpr qlite::fp16 signaling_NaN() noexcept { return qlite::fp16::from_bits(0x7d00); }
  static constexpr qlite::fp16 denorm_min() noexcept { return qlite::fp16::from_bits(0x0001); }
};
}  // namespace std
