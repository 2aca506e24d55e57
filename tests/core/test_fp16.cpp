// fp16: the scalar reference against an independent oracle (decode by ldexp, encode by a
// nearest-value search in double), every bit pattern, every rounding boundary; the bulk
// conversion against the reference on every arch.
#include "../test_util.hpp"
#include "half_oracle.hpp"

#include <qlite/core/convert.hpp>
#include <qlite/core/fp16.hpp>

#include <algorithm>
#include <bit>
#include <cfenv>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#if defined(QLITE_X86_64)
#include <immintrin.h>
#endif

namespace fp16_test {

using qlite::fp16;

// Facts of IEEE 754 binary16, checked at compile time (the conversions are constexpr).
static_assert(sizeof(fp16) == 2 && std::is_trivially_copyable_v<fp16>);
static_assert(!std::is_convertible_v<float, fp16> && std::is_constructible_v<fp16, float>,
              "float → fp16 rounds: explicit");
static_assert(std::is_convertible_v<fp16, float>, "fp16 → float is exact: implicit");
static_assert(fp16(1.0f).bits() == 0x3c00 && fp16(-2.0f).bits() == 0xc000);
static_assert(fp16(65504.0f).bits() == 0x7bff && fp16(0.1f).bits() == 0x2e66);
static_assert(fp16(0.0f).bits() == 0x0000 && fp16(-0.0f).bits() == 0x8000);
static_assert(float(fp16::from_bits(0x0001)) == 0x1p-24f && float(fp16::from_bits(0x0400)) == 0x1p-14f);
static_assert(float(fp16::from_bits(0x3555)) == 0x1.554p-2f);

// ---- independent oracle (half_oracle.hpp) ------------------------------------------------

using oracle = qlite_test::half_oracle<5, 10>;
using qlite_test::bits_of;
using qlite_test::float_of;
using qlite_test::mismatch_count;

/// A dense set of floats: every fp16 value, its neighbours, every midpoint and its
/// neighbours (all tie cases, both directions), the overflow threshold, rounding-bit
/// patterns over the whole fp16 exponent range, specials, NaNs with payloads, random bits.
std::vector<float> dense_floats() {
  std::vector<float> v;
  const auto& mags = oracle::magnitudes();
  const float inf = std::numeric_limits<float>::infinity();
  for (std::size_t h = 0; h < 0x7c00; ++h) {
    const auto lo = static_cast<float>(mags[h]);
    const auto mid = static_cast<float>((mags[h] + mags[h + 1]) / 2);  // exact: 12 bits
    for (float f : {lo, std::nextafter(lo, inf), std::nextafter(lo, 0.0f), mid, std::nextafter(mid, 0.0f),
                    std::nextafter(mid, inf)}) {
      v.push_back(f);
      v.push_back(-f);
    }
  }
  // Rounding bits: exponents from far below the smallest subnormal to beyond the largest
  // normal; top mantissa bits vary, the 13 dropped ones take their boundary patterns.
  for (std::uint32_t e = 90; e <= 145; ++e)
    for (std::uint32_t top = 0; top < 1024; ++top)
      for (std::uint32_t low : {0x0u, 0x1u, 0xfffu, 0x1000u, 0x1001u, 0x1fffu}) {
        const std::uint32_t x = (e << 23) | (top << 13) | low;
        v.push_back(float_of(x));
        v.push_back(float_of(x | 0x80000000u));
      }
  for (float f : {0.0f, inf, std::numeric_limits<float>::max(), std::numeric_limits<float>::min(),
                  std::numeric_limits<float>::denorm_min(), 65504.0f, 65520.0f, 65536.0f,
                  std::nextafter(65520.0f, 0.0f), 0x1p-24f, 0x1p-25f, 0x1.8p-25f, 0x1p-26f, 0x1p-14f}) {
    v.push_back(f);
    v.push_back(-f);
  }
  // NaNs: quiet and signaling, payloads in the kept bits, only in the dropped bits, full.
  for (std::uint32_t payload :
       {0x400000u, 0x000001u, 0x001fffu, 0x002000u, 0x200000u, 0x3fffffu, 0x7fffffu, 0x155555u, 0x600000u}) {
    v.push_back(float_of(0x7f800000u | payload));
    v.push_back(float_of(0xff800000u | payload));
  }
  std::mt19937 rng(20261124);
  for (int i = 0; i < (1 << 20); ++i) v.push_back(float_of(static_cast<std::uint32_t>(rng())));
  return v;
}

std::vector<fp16> all_fp16() {
  std::vector<fp16> v(65536);
  for (std::uint32_t h = 0; h < 65536; ++h) v[h] = fp16::from_bits(static_cast<std::uint16_t>(h));
  return v;
}

// (the tests below stay in this namespace: the files of test_core build as one unity TU)

TEST_SUITE("core") {
  TEST_CASE("fp16: every pattern widens exactly and narrows back to itself") {
    mismatch_count bad_value, bad_round_trip;
    for (std::uint32_t i = 0; i < 65536; ++i) {
      const auto h = static_cast<std::uint16_t>(i);
      const float f = fp16::from_bits(h);
      const double want = oracle::value(h);
      if (std::isnan(want)) {
        // NaN stays NaN: sign and payload kept, quiet bit set (F16C's vcvtph2ps does this).
        const std::uint32_t expect = ((i & 0x8000u) << 16) | 0x7fc00000u | ((i & 0x3ffu) << 13);
        if (bits_of(f) != expect) bad_value.add(i, i, bits_of(f), expect);
        const std::uint16_t back = fp16(f).bits();
        if (back != (h | 0x200)) bad_round_trip.add(i, i, back, h | 0x200u);
      } else {
        if (static_cast<double>(f) != want || std::signbit(f) != std::signbit(want))
          bad_value.add(i, i, bits_of(f), bits_of(static_cast<float>(want)));
        const std::uint16_t back = fp16(f).bits();
        if (back != h) bad_round_trip.add(i, i, back, h);
      }
    }
    INFO(bad_value.first);
    CHECK(bad_value.count == 0);
    INFO(bad_round_trip.first);
    CHECK(bad_round_trip.count == 0);
  }

  TEST_CASE("fp16: float → fp16 rounds to nearest-even on a dense set (oracle)") {
    const std::vector<float> in = dense_floats();
    mismatch_count bad;
    std::size_t nans = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
      const std::uint16_t got = qlite::ref::fp32_to_fp16_bits(in[i]);
      if (std::isnan(in[i])) {
        ++nans;
        if (!oracle::nan_ok(in[i], got)) bad.add(i, bits_of(in[i]), got, 0x7e00);
        continue;
      }
      const std::uint16_t want = oracle::encode(in[i]);
      if (got != want) bad.add(i, bits_of(in[i]), got, want);
    }
    INFO(bad.first);
    CHECK(bad.count == 0);
    CHECK(nans > 18);  // the chosen NaNs plus random ones were exercised
  }

  TEST_CASE("fp16: the boundaries named by the contract") {
    using qlite::ref::fp32_to_fp16_bits;
    CHECK(fp32_to_fp16_bits(65519.99609375f) == 0x7bff);  // just below max + half ulp
    CHECK(fp32_to_fp16_bits(65520.0f) == 0x7c00);         // tie with "2^16": overflow to Inf
    CHECK(fp32_to_fp16_bits(-65520.0f) == 0xfc00);
    CHECK(fp32_to_fp16_bits(1.0f + 0x1p-11f) == 0x3c00);      // tie, down to even
    CHECK(fp32_to_fp16_bits(1.0f + 3 * 0x1p-11f) == 0x3c02);  // tie, up to even
    CHECK(fp32_to_fp16_bits(0x1p-25f) == 0x0000);             // tie with 0: even
    CHECK(fp32_to_fp16_bits(std::nextafter(0x1p-25f, 1.0f)) == 0x0001);
    CHECK(fp32_to_fp16_bits(0x1.8p-24f) == 0x0002);    // 1.5 ulp: tie, to even
    CHECK(fp32_to_fp16_bits(0x1.ffcp-15f) == 0x0400);  // max subnormal + half ulp: up to min normal
    CHECK(fp32_to_fp16_bits(-0.0f) == 0x8000);
    CHECK(fp32_to_fp16_bits(std::numeric_limits<float>::denorm_min()) == 0x0000);
    CHECK(fp32_to_fp16_bits(float_of(0x7f800001u)) == 0x7e00);  // payload lost → still NaN
    CHECK(fp32_to_fp16_bits(float_of(0xffa00000u)) == 0xff00);  // signaling: quieted, sign kept
  }

#if defined(QLITE_X86_64) && defined(__FLT16_MANT_DIG__)
  TEST_CASE("fp16: agrees with the compiler's _Float16 on finite values and infinities") {
    const std::vector<float> in = dense_floats();
    mismatch_count bad;
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (std::isnan(in[i])) continue;
      const auto c = static_cast<_Float16>(in[i]);
      std::uint16_t want;
      std::memcpy(&want, &c, 2);
      const std::uint16_t got = qlite::ref::fp32_to_fp16_bits(in[i]);
      if (got != want) bad.add(i, bits_of(in[i]), got, want);
    }
    INFO(bad.first);
    CHECK(bad.count == 0);
  }
#endif

  TEST_CASE("fp16: numeric_limits match the format") {
    using L = std::numeric_limits<fp16>;
    CHECK(float(L::max()) == 65504.0f);
    CHECK(float(L::lowest()) == -65504.0f);
    CHECK(float(L::min()) == 0x1p-14f);
    CHECK(float(L::denorm_min()) == 0x1p-24f);
    CHECK(float(L::epsilon()) == float(fp16::from_bits(0x3c01)) - 1.0f);
    CHECK(std::isinf(float(L::infinity())));
    CHECK(std::isnan(float(L::quiet_NaN())));
    CHECK(std::isnan(float(L::signaling_NaN())));
    CHECK((L::signaling_NaN().bits() & 0x200) == 0);
    CHECK(std::ldexp(1.0, L::min_exponent - 1) == double(float(L::min())));
    CHECK(std::ldexp(1.0, L::max_exponent) > double(float(L::max())));
  }

  TEST_CASE("fp16: bulk conversion equals the reference on every arch") {
    const std::vector<float> floats = dense_floats();
    const std::vector<fp16> halves = all_fp16();
    std::vector<fp16> want16(floats.size());
    for (std::size_t i = 0; i < floats.size(); ++i)
      want16[i] = fp16::from_bits(qlite::ref::fp32_to_fp16_bits(floats[i]));
    std::vector<float> want32(halves.size());
    for (std::size_t i = 0; i < halves.size(); ++i)
      want32[i] = qlite::ref::fp16_bits_to_fp32(halves[i].bits());

    qlite::test::for_each_arch([&](qlite::arch_id) {
      std::vector<fp16> got16(floats.size());
      qlite::convert(floats, got16);
      mismatch_count bad16;
      for (std::size_t i = 0; i < floats.size(); ++i)
        if (got16[i].bits() != want16[i].bits())
          bad16.add(i, bits_of(floats[i]), got16[i].bits(), want16[i].bits());
      INFO(bad16.first);
      CHECK(bad16.count == 0);

      std::vector<float> got32(halves.size());
      qlite::convert(halves, got32);
      mismatch_count bad32;
      for (std::size_t i = 0; i < halves.size(); ++i)
        if (bits_of(got32[i]) != bits_of(want32[i]))
          bad32.add(i, halves[i].bits(), bits_of(got32[i]), bits_of(want32[i]));
      INFO(bad32.first);
      CHECK(bad32.count == 0);
    });
  }

  TEST_CASE("fp16: bulk conversion, every length 0..67 at unaligned offsets, no stray writes") {
    std::mt19937 rng(7);
    std::vector<float> pool(96);
    const float specials[] = {0.0f,
                              -0.0f,
                              65520.0f,
                              0x1p-25f,
                              0x1.8p-24f,
                              1e-9f,
                              -7e4f,
                              std::numeric_limits<float>::infinity(),
                              float_of(0x7fa00001u)};
    for (std::size_t i = 0; i < pool.size(); ++i)
      pool[i] = i % 5 == 0 ? specials[(i / 5) % std::size(specials)]
                           : std::ldexp(static_cast<float>(rng() % 20001) / 10000.0f - 1.0f,
                                        static_cast<int>(rng() % 40) - 26);
    qlite::test::for_each_arch([&](qlite::arch_id) {
      mismatch_count bad;
      std::size_t stray = 0;
      for (std::size_t off = 0; off < 4; ++off)
        for (std::size_t n = 0; n <= 67; ++n) {
          // float source at `off`, fp16 destination at 1 + off % 2 (2 or 4 bytes off 16-byte
          // alignment), the widened copy at `off + 1`; sentinels everywhere else.
          const std::size_t o16 = 1 + off % 2, o32 = off + 1;
          const std::span<const float> src(pool.data() + off, n);
          std::vector<fp16> mid(n + 8, fp16::from_bits(0xdead));
          qlite::convert(src, std::span<fp16>(mid.data() + o16, n));
          std::vector<float> back(n + 8, float_of(0xdeadbeefu));
          qlite::convert(std::span<const fp16>(mid.data() + o16, n), std::span<float>(back.data() + o32, n));
          for (std::size_t i = 0; i < n; ++i) {
            const std::uint16_t want = qlite::ref::fp32_to_fp16_bits(src[i]);
            if (mid[o16 + i].bits() != want)
              bad.add(n * 1000 + i, bits_of(src[i]), mid[o16 + i].bits(), want);
            const std::uint32_t wb = bits_of(qlite::ref::fp16_bits_to_fp32(want));
            if (bits_of(back[o32 + i]) != wb) bad.add(n * 1000 + i, want, bits_of(back[o32 + i]), wb);
          }
          for (std::size_t i = 0; i < mid.size(); ++i)
            if ((i < o16 || i >= o16 + n) && mid[i].bits() != 0xdead) ++stray;
          for (std::size_t i = 0; i < back.size(); ++i)
            if ((i < o32 || i >= o32 + n) && bits_of(back[i]) != 0xdeadbeefu) ++stray;
        }
      INFO(bad.first);
      CHECK(bad.count == 0);
      CHECK(stray == 0);
    });
  }

  TEST_CASE("fp16: bulk results do not depend on the FPU rounding mode or FTZ/DAZ") {
    const std::vector<float> floats = dense_floats();
    const std::vector<fp16> halves = all_fp16();
    qlite::test::for_each_arch([&](qlite::arch_id) {
      std::vector<fp16> normal16(floats.size()), odd16(floats.size());
      std::vector<float> normal32(halves.size()), odd32(halves.size());
      qlite::convert(floats, normal16);
      qlite::convert(halves, normal32);
      const int saved_round = std::fegetround();
#if defined(QLITE_X86_64)
      const unsigned saved_csr = _mm_getcsr();
      _mm_setcsr(saved_csr | 0x8040u);  // FTZ | DAZ
#endif
      std::fesetround(FE_TOWARDZERO);
      qlite::convert(floats, odd16);
      qlite::convert(halves, odd32);
      std::fesetround(saved_round);
#if defined(QLITE_X86_64)
      _mm_setcsr(saved_csr);
#endif
      CHECK(std::memcmp(normal16.data(), odd16.data(), normal16.size() * 2) == 0);
      CHECK(std::memcmp(normal32.data(), odd32.data(), normal32.size() * 4) == 0);
    });
  }

  TEST_CASE("fp16: size mismatch is a clear error") {
    std::vector<float> f(3);
    std::vector<fp16> h(4);
    CHECK_THROWS_WITH_AS(qlite::convert(f, h), doctest::Contains("destination has 4 elements, expected 3"),
                         qlite::error);
    CHECK_THROWS_AS(qlite::convert(h, f), qlite::error);
  }
}

}  // namespace fp16_test
