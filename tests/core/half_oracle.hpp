// An independent oracle for 16-bit floats with E exponent and M mantissa bits (binary16:
// 5/10, bfloat16: 8/7): decode by ldexp from the definition, encode by a nearest-value search
// in double (ties to the even pattern) — no bit tricks, so it shares nothing with qlite's
// conversions. Used by test_fp16.cpp and test_bf16.cpp.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

namespace qlite_test {

template <int E, int M>
struct half_oracle {
  static constexpr int bias = (1 << (E - 1)) - 1;
  static constexpr std::uint32_t exp_all_ones = (1u << E) - 1;
  static constexpr std::uint16_t inf_bits = static_cast<std::uint16_t>(exp_all_ones << M);
  static constexpr std::uint16_t quiet_bit = static_cast<std::uint16_t>(1u << (M - 1));
  static constexpr std::uint16_t payload_mask = static_cast<std::uint16_t>(quiet_bit - 1);

  /// The value of a pattern, from the definition (NaN patterns give NaN).
  static double value(std::uint16_t b) {
    const auto e = static_cast<int>((b >> M) & exp_all_ones);
    const int m = b & ((1 << M) - 1);
    double v = 0;
    if (e == 0)
      v = std::ldexp(m, 1 - bias - M);
    else if (e == static_cast<int>(exp_all_ones))
      v = m != 0 ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
    else
      v = std::ldexp((1 << M) + m, e - bias - M);
    return (b & 0x8000) != 0 ? -v : v;
  }

  /// Magnitudes of patterns 0 .. inf_bits, increasing; inf_bits stands for the value a
  /// rounding to "one past max" would have (IEEE overflows it to Inf).
  static const std::vector<double>& magnitudes() {
    static const std::vector<double> m = [] {
      std::vector<double> v(inf_bits + 1u);
      for (std::uint32_t b = 0; b < inf_bits; ++b) v[b] = value(static_cast<std::uint16_t>(b));
      v[inf_bits] = std::ldexp(1.0, static_cast<int>(exp_all_ones) - bias);
      return v;
    }();
    return m;
  }

  /// Nearest pattern of a non-NaN float, ties to the even pattern: a search.
  static std::uint16_t encode(float f) {
    const std::uint16_t sign = std::signbit(f) ? 0x8000 : 0;
    const double x = std::fabs(static_cast<double>(f));
    const auto& mags = magnitudes();
    const auto it = std::upper_bound(mags.begin(), mags.end(), x);  // first magnitude > x
    if (it == mags.end()) return static_cast<std::uint16_t>(sign | inf_bits);
    const auto hi = static_cast<std::uint16_t>(it - mags.begin());
    const auto lo = static_cast<std::uint16_t>(hi - 1);
    std::uint16_t r = lo;
    if (mags[lo] != x) {
      const double dlo = x - mags[lo], dhi = mags[hi] - x;
      r = dlo < dhi ? lo : dhi < dlo ? hi : ((lo & 1) == 0 ? lo : hi);
    }
    return static_cast<std::uint16_t>(sign | r);
  }

  /// What a float NaN must become: NaN, same sign, quiet bit, the payload bits that fit.
  static bool nan_ok(float f, std::uint16_t b) {
    const auto x = std::bit_cast<std::uint32_t>(f);
    return (b & inf_bits) == inf_bits && (b & quiet_bit) != 0 && (b >> 15) == (x >> 31) &&
           (b & payload_mask) == ((x >> (23 - M)) & payload_mask);
  }
};

inline std::uint32_t bits_of(float f) { return std::bit_cast<std::uint32_t>(f); }
inline float float_of(std::uint32_t u) { return std::bit_cast<float>(u); }

/// Counts positions where results differ; remembers the first for the message.
struct mismatch_count {
  std::size_t count = 0;
  std::string first;
  void add(std::size_t i, std::uint32_t in, std::uint32_t got, std::uint32_t want) {
    if (count++ == 0)
      first = "index " + std::to_string(i) + ": input 0x" + hex(in) + " gave 0x" + hex(got) +
              ", expected 0x" + hex(want);
  }
  static std::string hex(std::uint32_t x) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%x", x);
    return buf;
  }
};

}  // namespace qlite_test
