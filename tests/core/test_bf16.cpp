// bf16: the scalar reference against an independent oracle (decode by ldexp, encode by a
// nearest-value search in double), every bit pattern, every rounding boundary; the bulk
// conversion against the reference on every arch, AVX-512 with and without AVX512-BF16.
#include "../test_util.hpp"
#include "half_oracle.hpp"

#include <qlite/core/bf16.hpp>
#include <qlite/core/convert.hpp>
#include <qlite/core/cpu_features.hpp>

#include <algorithm>
#include <bit>
#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#if defined(QLITE_X86_64)
#include <immintrin.h>
#endif

namespace bf16_test {

using qlite::bf16;

static_assert(sizeof(bf16) == 2 && std::is_trivially_copyable_v<bf16>);
static_assert(!std::is_convertible_v<float, bf16> && std::is_constructible_v<bf16, float>,
              "float → bf16 rounds: explicit");
static_assert(std::is_convertible_v<bf16, float>, "bf16 → float is exact: implicit");
static_assert(bf16(1.0f).bits() == 0x3f80 && bf16(-2.0f).bits() == 0xc000);
static_assert(bf16(3.14159f).bits() == 0x4049 && float(bf16::from_bits(0x4049)) == 3.140625f);
static_assert(bf16(0.0f).bits() == 0x0000 && bf16(-0.0f).bits() == 0x8000);
static_assert(float(bf16::from_bits(0x0001)) == 0x1p-133f);

// ---- independent oracle (half_oracle.hpp) ------------------------------------------------

using oracle = qlite_test::half_oracle<8, 7>;
using qlite_test::bits_of;
using qlite_test::float_of;
using qlite_test::mismatch_count;

/// Every bf16 value, its float neighbours, every midpoint and its neighbours (subnormal
/// midpoints are float subnormals), rounding-bit patterns, specials, NaNs, random bits.
std::vector<float> dense_floats() {
  std::vector<float> v;
  const auto& mags = oracle::magnitudes();
  const float inf = std::numeric_limits<float>::infinity();
  for (std::size_t b = 0; b < 0x7f80; ++b) {
    const auto lo = static_cast<float>(mags[b]);
    const auto mid = static_cast<float>((mags[b] + mags[b + 1]) / 2);  // exact; the last is 0x7f7f8000
    for (float f : {lo, std::nextafter(lo, inf), std::nextafter(lo, 0.0f), mid, std::nextafter(mid, 0.0f),
                    std::nextafter(mid, inf)}) {
      v.push_back(f);
      v.push_back(-f);
    }
  }
  for (std::uint32_t e : {0u, 1u, 2u, 100u, 127u, 200u, 253u, 254u})
    for (std::uint32_t top = 0; top < 128; ++top)
      for (std::uint32_t low : {0x0u, 0x1u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu}) {
        const std::uint32_t x = (e << 23) | (top << 16) | low;
        v.push_back(float_of(x));
        v.push_back(float_of(x | 0x80000000u));
      }
  for (std::uint32_t payload :
       {0x400000u, 0x000001u, 0x00ffffu, 0x010000u, 0x200000u, 0x3fffffu, 0x7fffffu, 0x155555u, 0x600000u}) {
    v.push_back(float_of(0x7f800000u | payload));
    v.push_back(float_of(0xff800000u | payload));
  }
  std::mt19937 rng(20261124);
  for (int i = 0; i < (1 << 20); ++i) v.push_back(float_of(static_cast<std::uint32_t>(rng())));
  return v;
}

std::vector<bf16> all_bf16() {
  std::vector<bf16> v(65536);
  for (std::uint32_t b = 0; b < 65536; ++b) v[b] = bf16::from_bits(static_cast<std::uint16_t>(b));
  return v;
}

/// Runs the float → bf16 kernel of `a` directly, choosing the AVX512-BF16 path or not.
void kernel_f32_to_bf16(qlite::arch_id a, std::span<const float> src, std::span<bf16> dst,
                        bool use_bf16_insn) {
  qlite::dispatch(
      [&](auto arch) {
        if constexpr (std::is_same_v<decltype(arch), qlite::scalar_arch>)
          qlite::ref::convert(src, dst);
        else
          qlite::kernel::f32_to_bf16(arch, src.data(), reinterpret_cast<std::uint16_t*>(dst.data()),
                                     src.size(), use_bf16_insn);
      },
      a);
}

// (the tests below stay in this namespace: the files of test_core build as one unity TU)

TEST_SUITE("core") {
  TEST_CASE("bf16: every pattern widens exactly and narrows back to itself") {
    mismatch_count bad_value, bad_round_trip;
    for (std::uint32_t i = 0; i < 65536; ++i) {
      const auto b = static_cast<std::uint16_t>(i);
      const float f = bf16::from_bits(b);
      const double want = oracle::value(b);
      if (std::isnan(want)) {
        // bf16 → float keeps the bits; float → bf16 quiets, so signaling NaNs come back quiet.
        if (bits_of(f) != i << 16) bad_value.add(i, i, bits_of(f), i << 16);
        const std::uint16_t back = bf16(f).bits();
        if (back != (b | 0x40)) bad_round_trip.add(i, i, back, b | 0x40u);
      } else {
        if (static_cast<double>(f) != want || std::signbit(f) != std::signbit(want))
          bad_value.add(i, i, bits_of(f), bits_of(static_cast<float>(want)));
        const std::uint16_t back = bf16(f).bits();
        if (back != b) bad_round_trip.add(i, i, back, b);
      }
    }
    INFO(bad_value.first);
    CHECK(bad_value.count == 0);
    INFO(bad_round_trip.first);
    CHECK(bad_round_trip.count == 0);
  }

  TEST_CASE("bf16: float → bf16 rounds to nearest-even on a dense set (oracle)") {
    const std::vector<float> in = dense_floats();
    mismatch_count bad;
    for (std::size_t i = 0; i < in.size(); ++i) {
      const std::uint16_t got = qlite::ref::fp32_to_bf16_bits(in[i]);
      if (std::isnan(in[i])) {
        if (!oracle::nan_ok(in[i], got)) bad.add(i, bits_of(in[i]), got, 0x7fc0);
        continue;
      }
      const std::uint16_t want = oracle::encode(in[i]);
      if (got != want) bad.add(i, bits_of(in[i]), got, want);
    }
    INFO(bad.first);
    CHECK(bad.count == 0);
  }

  TEST_CASE("bf16: the boundaries named by the contract") {
    using qlite::ref::fp32_to_bf16_bits;
    CHECK(fp32_to_bf16_bits(float_of(0x7f7f7fffu)) == 0x7f7f);  // below max + half ulp
    CHECK(fp32_to_bf16_bits(float_of(0x7f7f8000u)) == 0x7f80);  // tie, odd max: overflow to Inf
    CHECK(fp32_to_bf16_bits(float_of(0xff7f8000u)) == 0xff80);
    CHECK(fp32_to_bf16_bits(float_of(0x3f808000u)) == 0x3f80);  // tie, down to even
    CHECK(fp32_to_bf16_bits(float_of(0x3f818000u)) == 0x3f82);  // tie, up to even
    CHECK(fp32_to_bf16_bits(float_of(0x00008000u)) == 0x0000);  // subnormal tie with 0: even
    CHECK(fp32_to_bf16_bits(float_of(0x00008001u)) == 0x0001);  // subnormals round, not flush
    CHECK(fp32_to_bf16_bits(float_of(0x007fffffu)) == 0x0080);  // max subnormal → min normal
    CHECK(fp32_to_bf16_bits(float_of(0x7f800001u)) == 0x7fc0);  // payload lost → still NaN
    CHECK(fp32_to_bf16_bits(float_of(0xffa10000u)) == 0xffe1);  // signaling: quieted, sign kept
  }

  TEST_CASE("bf16: numeric_limits match the format") {
    using L = std::numeric_limits<bf16>;
    CHECK(float(L::max()) == float_of(0x7f7f0000u));
    CHECK(float(L::lowest()) == -float(L::max()));
    CHECK(float(L::min()) == std::numeric_limits<float>::min());
    CHECK(float(L::denorm_min()) == 0x1p-133f);
    CHECK(float(L::epsilon()) == float(bf16::from_bits(0x3f81)) - 1.0f);
    CHECK(std::isinf(float(L::infinity())));
    CHECK(std::isnan(float(L::quiet_NaN())));
    CHECK(std::isnan(float(L::signaling_NaN())));
    CHECK((L::signaling_NaN().bits() & 0x40) == 0);
  }

  TEST_CASE("bf16: bulk conversion equals the reference on every arch") {
    const std::vector<float> floats = dense_floats();
    const std::vector<bf16> halves = all_bf16();
    std::vector<std::uint16_t> want16(floats.size());
    for (std::size_t i = 0; i < floats.size(); ++i) want16[i] = qlite::ref::fp32_to_bf16_bits(floats[i]);

    qlite::test::for_each_arch([&](qlite::arch_id a) {
      // Through qlite::convert (AVX512-BF16 used when the CPU has it), and the kernel with the
      // instruction explicitly off (the integer path of the AVX-512 kernel).
      for (int path = 0; path < 2; ++path) {
        std::vector<bf16> got(floats.size());
        if (path == 0)
          qlite::convert(floats, got);
        else
          kernel_f32_to_bf16(a, floats, got, false);
        mismatch_count bad;
        for (std::size_t i = 0; i < floats.size(); ++i)
          if (got[i].bits() != want16[i]) bad.add(i, bits_of(floats[i]), got[i].bits(), want16[i]);
        INFO("path " << (path == 0 ? "qlite::convert" : "kernel without AVX512-BF16") << ": " << bad.first);
        CHECK(bad.count == 0);
      }
      std::vector<float> got32(halves.size());
      qlite::convert(halves, got32);
      mismatch_count bad32;
      for (std::size_t i = 0; i < halves.size(); ++i) {
        const std::uint32_t want = bits_of(qlite::ref::bf16_bits_to_fp32(halves[i].bits()));
        if (bits_of(got32[i]) != want) bad32.add(i, halves[i].bits(), bits_of(got32[i]), want);
      }
      INFO(bad32.first);
      CHECK(bad32.count == 0);
    });
  }

  TEST_CASE("bf16: a denormal anywhere in a block is rounded, not flushed (AVX512-BF16 fix-up)") {
    // vcvtne2ps2bf16 reads denormals as zero; the kernel must redo such blocks. Place one
    // denormal at every position of a 32-value block, among normal values and NaNs.
    std::vector<float> in;
    for (std::size_t pos = 0; pos < 64; ++pos)
      for (std::size_t i = 0; i < 64; ++i)
        in.push_back(i == pos ? float_of(0x00018001u + static_cast<std::uint32_t>(i))
                              : (i % 7 == 3 ? float_of(0x7fa00000u) : 1.0f + static_cast<float>(i) / 64.0f));
    qlite::test::for_each_arch([&](qlite::arch_id a) {
      for (bool insn : {true, false}) {
        if (insn && !qlite::cpu().avx512_bf16) continue;
        std::vector<bf16> got(in.size());
        kernel_f32_to_bf16(a, in, got, insn);
        mismatch_count bad;
        for (std::size_t i = 0; i < in.size(); ++i) {
          const std::uint16_t want = qlite::ref::fp32_to_bf16_bits(in[i]);
          if (got[i].bits() != want) bad.add(i, bits_of(in[i]), got[i].bits(), want);
        }
        INFO("AVX512-BF16 " << insn << ": " << bad.first);
        CHECK(bad.count == 0);
      }
    });
  }

  TEST_CASE("bf16: bulk conversion, every length 0..67 at unaligned offsets, no stray writes") {
    std::mt19937 rng(11);
    std::vector<float> pool(96);
    const float specials[] = {0.0f,
                              -0.0f,
                              float_of(0x7f7f8000u),
                              float_of(0x00008000u),
                              float_of(0x00000001u),
                              float_of(0x3f818000u),
                              std::numeric_limits<float>::infinity(),
                              float_of(0xffa00001u)};
    for (std::size_t i = 0; i < pool.size(); ++i)
      pool[i] =
          i % 5 == 0 ? specials[(i / 5) % std::size(specials)] : float_of(static_cast<std::uint32_t>(rng()));
    qlite::test::for_each_arch([&](qlite::arch_id a) {
      mismatch_count bad;
      std::size_t stray = 0;
      for (bool insn : {true, false})
        for (std::size_t off = 0; off < 4; ++off)
          for (std::size_t n = 0; n <= 67; ++n) {
            const std::size_t o16 = 1 + off % 2, o32 = off + 1;
            const std::span<const float> src(pool.data() + off, n);
            std::vector<bf16> mid(n + 8, bf16::from_bits(0xdead));
            const std::span<bf16> dst(mid.data() + o16, n);
            if (insn)
              qlite::convert(src, dst);
            else
              kernel_f32_to_bf16(a, src, dst, false);
            std::vector<float> back(n + 8, float_of(0xdeadbeefu));
            qlite::convert(std::span<const bf16>(mid.data() + o16, n),
                           std::span<float>(back.data() + o32, n));
            for (std::size_t i = 0; i < n; ++i) {
              const std::uint16_t want = qlite::ref::fp32_to_bf16_bits(src[i]);
              if (mid[o16 + i].bits() != want)
                bad.add(n * 1000 + i, bits_of(src[i]), mid[o16 + i].bits(), want);
              if (bits_of(back[o32 + i]) != std::uint32_t{want} << 16)
                bad.add(n * 1000 + i, want, bits_of(back[o32 + i]), std::uint32_t{want} << 16);
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

  TEST_CASE("bf16: bulk results do not depend on the FPU rounding mode or FTZ/DAZ") {
    const std::vector<float> floats = dense_floats();
    qlite::test::for_each_arch([&](qlite::arch_id) {
      std::vector<bf16> normal16(floats.size()), odd16(floats.size());
      qlite::convert(floats, normal16);
      const int saved_round = std::fegetround();
#if defined(QLITE_X86_64)
      const unsigned saved_csr = _mm_getcsr();
      _mm_setcsr(saved_csr | 0x8040u);  // FTZ | DAZ
#endif
      std::fesetround(FE_UPWARD);
      qlite::convert(floats, odd16);
      std::fesetround(saved_round);
#if defined(QLITE_X86_64)
      _mm_setcsr(saved_csr);
#endif
      CHECK(std::memcmp(normal16.data(), odd16.data(), normal16.size() * 2) == 0);
    });
  }

#if defined(QLITE_X86_64) && (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 10))
  TEST_CASE("bf16: vcvtne2ps2bf16 equals the reference except that it flushes denormal inputs") {
    // Evidence for the kernel's design: the instruction may be used for every block without
    // a denormal, and must not be for blocks with one.
    if (!qlite::cpu().avx512_bf16) {
      MESSAGE("this CPU has no AVX512-BF16: nothing to check");
      return;
    }
    const std::vector<float> in = dense_floats();
    std::vector<std::uint16_t> hw(in.size() + 32);
    struct raw {
      __attribute__((target("avx512bf16,avx512f"))) static void run(const float* s, std::uint16_t* d,
                                                                    std::size_t n) {
        for (std::size_t i = 0; i + 32 <= n; i += 32)
          _mm512_storeu_si512(d + i, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(
                                         _mm512_loadu_ps(s + i + 16), _mm512_loadu_ps(s + i))));
      }
    };
    raw::run(in.data(), hw.data(), in.size());
    std::size_t denormals = 0, flushed = 0;
    mismatch_count bad;
    const std::size_t full = in.size() / 32 * 32;
    for (std::size_t i = 0; i < full; ++i) {
      const std::uint32_t x = bits_of(in[i]);
      const std::uint16_t want = qlite::ref::fp32_to_bf16_bits(in[i]);
      if ((x & 0x7f800000u) == 0 && (x & 0x7fffffu) != 0) {
        ++denormals;
        if (hw[i] == ((x >> 16) & 0x8000u)) ++flushed;
      } else if (hw[i] != want) {
        bad.add(i, x, hw[i], want);
      }
    }
    INFO(bad.first);
    CHECK(bad.count == 0);
    CHECK(denormals > 1000);
    CHECK(flushed == denormals);
  }
#endif
}

}  // namespace bf16_test
