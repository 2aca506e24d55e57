// qlite::gemm against ref::gemm: every format × mode × arch, odd shapes, M = 1…9 and 40, threads 1…3;
// the per-call conversions of x against the reference's.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <qlite/gemm/gemm.hpp>

#include "../test_util.hpp"
#include "gemm_test_util.hpp"

namespace {

using namespace qlite;

struct shape {
  std::size_t n, k;
};

// Runs gemm and ref::gemm on M = 1…9 and 40 for every shape and checks bitwise equality.
// x and y use row strides larger than their widths for odd M (views, not copies). M = 40 runs on
// 2 threads, which split the int8 quantization of x by rows as well as the panels.
// N = 293 (19 panels) reaches the 8-panel weight-only decode tile: M = 1 runs on 2 threads,
// 10 + 9 panels.
template <class Format>
void check_exact(const packed_weights<Format>& w, gemm_mode mode, std::uint32_t seed) {
  const std::size_t n = w.rows(), k = w.cols();
  const std::vector<float> bias = test::random_floats(n, seed + 7);
  for (const std::size_t m : std::initializer_list<std::size_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 40}) {
    const std::size_t ldx = k + (m % 2) * 3, ldy = n + (m % 2) * 5;
    const std::vector<float> x = test::random_activations(m, k, ldx, seed + static_cast<std::uint32_t>(m));
    gemm_params p;
    p.mode = mode;
    p.threads = static_cast<unsigned>(1 + m % 3);
    if (m % 3 == 1) p.bias = bias;
    if (m % 4 == 0) p.output_scale = 0.75f;  // with the bias at M = 4 and 40
    std::vector<float> y(m * ldy, -1.0f), yr(m * ldy, -1.0f);
    gemm(matrix_view<const float>(x.data(), m, k, ldx), w, matrix_view<float>(y.data(), m, n, ldy), p);
    ref::gemm(matrix_view<const float>(x.data(), m, k, ldx), w, matrix_view<float>(yr.data(), m, n, ldy), p);
    const long d = test::first_difference(y, yr);
    INFO("format ", Format::name(), " mode ", std::string(to_string(mode)), " M ", m, " N ", n, " K ", k,
         " threads ", p.threads);
    if (d >= 0)
      INFO("first difference at y[", d / static_cast<long>(ldy), "][", d % static_cast<long>(ldy),
           "]: ", y[static_cast<std::size_t>(d)], " vs ref ", yr[static_cast<std::size_t>(d)]);
    CHECK(d == -1);
  }
}

template <std::size_t G, class S>
void check_int4(const std::vector<shape>& shapes) {
  std::uint32_t seed = 100 + static_cast<std::uint32_t>(G);
  for (const shape s : shapes) {
    const scheme_id sid = std::is_same_v<S, asymmetric> ? scheme_id::asymmetric : scheme_id::symmetric;
    auto w = prepack<int4_per_group_format<G, S>>(test::random_tensor(s.n, s.k, 4, sid, G, ++seed));
    check_exact(w, gemm_mode::weight_only, seed);
    check_exact(w, gemm_mode::int8_activations, seed);
  }
}

// Rows of x that stress the per-call conversions of x (all of length k, row stride k + 3; the
// last row ends at the end of the buffer, so a read past it is an ASan error).
std::vector<float> awkward_rows(std::size_t k, std::size_t ld, std::size_t& m) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::vector<float> noise = test::random_floats(k, static_cast<std::uint32_t>(k), -2.0f, 2.0f);
  std::vector<std::vector<float>> rows;
  auto row = [&](auto f) {
    std::vector<float> r(k);
    for (std::size_t c = 0; c < k; ++c) r[c] = f(c);
    rows.push_back(r);
  };
  row([&](std::size_t c) { return noise[c]; });
  row([&](std::size_t c) { return c == k - 1 ? 300.0f : noise[c]; });  // outlier in the tail
  row([&](std::size_t) { return 0.0f; });                              // amax 0
  row([&](std::size_t c) { return c % 2 ? -0.0f : 0.0f; });            // ±0
  // subnormal and −0: amax < FLT_MIN
  row([&](std::size_t c) { return c % 3 ? 1e-40f * static_cast<float>(c % 7) : -0.0f; });
  row([&](std::size_t c) { return c % 3 ? 0.0f : FLT_MIN; });  // amax = FLT_MIN: inv = ∞, 0 · ∞
  row([&](std::size_t c) { return c % 4 ? 1e-37f * noise[c] : 0.0f; });          // inv = ∞ again
  row([&](std::size_t c) { return c % 5 == 1 ? 2e-38f : 1e-39f * noise[c]; });   // amax just above FLT_MIN
  row([&](std::size_t c) { return c % 9 == 4 ? -FLT_MAX : noise[c] * 1e36f; });  // huge; tiny products
  row([&](std::size_t c) { return c == 0 ? 127.0f : static_cast<float>(c % 6) - 2.5f; });  // ties ±0.5…2.5
  row([&](std::size_t c) { return c == k / 2 ? -127.0f : (c % 2 ? 126.5f : -125.5f); });   // ties near 127
  row([&](std::size_t c) { return c % 11 == 3 ? nan : noise[c]; });  // NaN skipped by max, code 0
  row([&](std::size_t c) { return c == k / 3 ? inf : noise[c]; });   // amax ∞: inv 0, ∞ · 0 = NaN
  row([&](std::size_t c) { return c == k - 1 ? -inf : noise[c]; });
  row([&](std::size_t) { return std::numeric_limits<float>::quiet_NaN(); });  // all NaN: amax 0
  row([&](std::size_t c) {  // bf16 ties, overflow to ∞, payload-only NaN, subnormals
    const std::uint32_t bits[] = {0x3f808000U, 0x3f818000U, 0x7f7f8000U, 0xff7f7fffU, 0x7f800001U,
                                  0xff800100U, 0x00008000U, 0x80018000U, 0x007fffffU};
    return c % 2 ? std::bit_cast<float>(bits[c / 2 % 9]) : noise[c];
  });
  m = rows.size();
  std::vector<float> x((m - 1) * ld + k, -1.0f);
  for (std::size_t r = 0; r < m; ++r)
    std::copy(rows[r].begin(), rows[r].end(), x.begin() + static_cast<long>(r * ld));
  return x;
}

// awkward_rows plus rows that stress the digit split (weight-only integer formats): x · 2^−e
// with X = nearbyint(x · 2^−e) at the extremes ±(2^30 − 64), half-way ties, the boundaries of
// the balanced digits (X = 65025 n ± 32512/32513, 255 n ± 127/128), subnormal and single
// nonzero rows. Same layout: the last row ends at the end of the buffer.
std::vector<float> digit_rows(std::size_t k, std::size_t ld, std::size_t& m) {
  std::size_t m0 = 0;
  const std::vector<float> base = awkward_rows(k, ld, m0);
  const std::vector<float> noise = test::random_floats(k, static_cast<std::uint32_t>(k) + 99, -2.0f, 2.0f);
  std::vector<std::vector<float>> rows;
  for (std::size_t r = 0; r < m0; ++r)
    rows.emplace_back(base.begin() + static_cast<long>(r * ld), base.begin() + static_cast<long>(r * ld + k));
  auto row = [&](auto f) {
    std::vector<float> r(k);
    for (std::size_t c = 0; c < k; ++c) r[c] = f(c);
    rows.push_back(r);
  };
  // amax in [1, 2): e = −29, X = x · 2^29 (exact for the integers below 2^24 used here)
  const auto fixed = [](double big_x) { return static_cast<float>(std::ldexp(big_x, -29)); };
  row([&](std::size_t c) { return c % 3 ? (c % 2 ? FLT_MAX : -FLT_MAX) : noise[c] * 1e38f; });
  row([&](std::size_t c) { return c % 2 ? -0x1.fffffep0f : 0x1.fffffep0f; });  // X = ±(2^30 − 64)
  row([&](std::size_t c) {  // ties: X = ±(j + 1/2), half to even
    if (c == 0) return 1.0f;
    const double j = static_cast<double>((c * 12345) % (1U << 23));
    return fixed((c % 2 ? -1 : 1) * (j + 0.5));
  });
  row([&](std::size_t c) {  // balanced-digit boundaries
    if (c == k / 2) return -1.5f;
    const double n65025 = static_cast<double>(c % 258), n255 = static_cast<double>((c * 77) % 65793);
    const double offs[] = {32512, 32513, -32512, -32513, 127, 128, -127, -128, 0};
    const double big_x = c % 2 ? 65025 * n65025 + offs[c / 2 % 4] : 255 * n255 + offs[4 + c / 2 % 5];
    return fixed(c % 4 < 2 ? big_x : -big_x);
  });
  row([&](std::size_t c) {
    return noise[c] * std::ldexp(1.0f, static_cast<int>(c % 61) - 30);
  });                                                                                 // wide range
  row([&](std::size_t c) { return c == k / 2 ? -1.5e-20f : 0.0f; });                  // one nonzero
  row([&](std::size_t c) { return c == k - 1 ? std::bit_cast<float>(1U) : -0.0f; });  // one 2^−149, e = −149
  row([&](std::size_t c) {  // subnormal amax, scaled by 2^149 in two steps
    const float v = std::bit_cast<float>(static_cast<std::uint32_t>((c * 2654435761U) % 0x800000U));
    return c % 2 ? -v : v;
  });
  row([&](std::size_t c) { return c % 7 == 2 ? 0x1p-99f : noise[c] * 0x1p-100f; });  // e < −127 (two steps)
  m = rows.size();
  std::vector<float> x((m - 1) * ld + k, -1.0f);
  for (std::size_t r = 0; r < m; ++r)
    std::copy(rows[r].begin(), rows[r].end(), x.begin() + static_cast<long>(r * ld));
  return x;
}

/// Per-channel int8 weights, activations and ref::gemm's W8A8 result of an M × N × K problem.
struct w8a8_problem {
  std::size_t m, n, k;
  packed_weights<int8_per_channel_format> w;
  std::vector<float> x, yr;
  gemm_params p;
};

w8a8_problem make_w8a8_problem(std::size_t m, std::size_t n, std::size_t k, std::uint32_t seed) {
  w8a8_problem t{
      m,
      n,
      k,
      prepack<int8_per_channel_format>(test::random_tensor(n, k, 8, scheme_id::symmetric, 0, seed)),
      test::random_activations(m, k, k, seed + 1),
      std::vector<float>(m * n),
      {}};
  t.p.mode = gemm_mode::int8_activations;
  ref::gemm(matrix_view<const float>(t.x.data(), m, k), t.w, matrix_view<float>(t.yr.data(), m, n), t.p);
  return t;
}

}  // namespace

TEST_SUITE("gemm") {
  TEST_CASE("int8 per-channel: W8A8 and weight-only are exactly ref::gemm") {
    test::for_each_arch([](arch_id) {
      std::uint32_t seed = 1;
      for (const shape s : {shape{1, 4}, shape{33, 37}, shape{70, 130}, shape{293, 21}}) {
        auto w = prepack<int8_per_channel_format>(
            test::random_tensor(s.n, s.k, 8, scheme_id::symmetric, 0, ++seed));
        check_exact(w, gemm_mode::weight_only, seed);
        check_exact(w, gemm_mode::int8_activations, seed);
      }
    });
  }

  // The AVX-512 VNNI W8A8 prefill on per-channel int8 walks blocks of 256 rows, 4 panels and
  // 2048 k, carrying int32 sums between K blocks: M = 300 crosses a row block (and ends in a
  // 4 + 4 + … tail), K = 4100 gives K blocks of 2048, 2048 and 4, N = 150 is 2 steps of 4
  // panels, 2 panels left to the 6 × 2 loop and a partial last panel; 3 threads start at
  // panels 0, 4 and 7.
  TEST_CASE("int8 per-channel W8A8 across row, panel and K blocks: exactly ref::gemm") {
    w8a8_problem t = make_w8a8_problem(300, 150, 4100, 41);
    test::for_each_arch([&](arch_id) {
      for (const unsigned threads : {1U, 3U}) {
        t.p.threads = threads;
        std::vector<float> y(t.m * t.n, -1.0f);
        gemm(matrix_view<const float>(t.x.data(), t.m, t.k), t.w, matrix_view<float>(y.data(), t.m, t.n),
             t.p);
        INFO("threads ", threads);
        CHECK(test::first_difference(y, t.yr) == -1);
      }
    });
  }

  // Without scratch memory for its int32 carry (thread_scratch returns nullptr: the allocation
  // failed), the blocked W8A8 kernel hands all panels to the 6 × 2 loop; same results.
  TEST_CASE("int8 per-channel W8A8 without scratch memory: the unblocked loop, exactly ref::gemm") {
    const w8a8_problem t = make_w8a8_problem(40, 100, 4100, 43);
    const std::size_t m = t.m, n = t.n, k = t.k;
    static unsigned requests = 0;
    test::for_each_arch([&](arch_id id) {
      std::vector<float> y(m * n, -1.0f);
      detail::gemm_call c = detail::make_gemm_call(matrix_view<const float>(t.x.data(), m, k), t.w.storage(),
                                                   matrix_view<float>(y.data(), m, n), t.p, "int8");
      requests = 0;
      c.args.thread_scratch = [](std::size_t) noexcept -> void* {
        ++requests;
        return nullptr;
      };
      const detail::packed_storage& s = t.w.storage();
      ref::detail::quantize_activations<void>(t.x.data(), k, m, k, s.k_padded, s.group, c.xq, c.x_scale,
                                              c.x_gsum);
      dispatch([&](auto arch) {
        using A = decltype(arch);
        if constexpr (std::is_same_v<A, scalar_arch>)
          ref::detail::gemm_panels<void>(c.args, 0, s.panels);
        else
          kernel::gemm_panels<A>(c.args, 0, s.panels);
      });
      CHECK(test::first_difference(y, t.yr) == -1);
      // The blocked kernel runs on AVX-512 VNNI only; there it must have asked for the carry.
      if (id == arch_id::avx512vnni) CHECK(requests == 1);
    });
  }

  TEST_CASE("int4 per-group (G 32/64/128, sym/asym): W4A8 and weight-only are exactly ref::gemm") {
    test::for_each_arch([](arch_id) {
      check_int4<32, symmetric>({{17, 32}, {50, 96}, {293, 64}});
      check_int4<32, asymmetric>({{17, 32}, {50, 96}, {293, 64}});
      check_int4<64, symmetric>({{33, 192}});
      check_int4<64, asymmetric>({{33, 192}});
      check_int4<128, symmetric>({{20, 256}});
      check_int4<128, asymmetric>({{20, 256}});
    });
  }

  TEST_CASE("Q8_0 and Q4_0: W8A8/W4A8 and weight-only are exactly ref::gemm") {
    test::for_each_arch([](arch_id) {
      std::uint32_t seed = 300;
      for (const shape s : {shape{1, 32}, shape{35, 96}, shape{64, 160}, shape{293, 64}}) {
        auto w8 =
            prepack<q8_0_format>(std::span<const block_q8_0>(test::random_q8_0(s.n, s.k, ++seed)), s.n, s.k);
        check_exact(w8, gemm_mode::weight_only, seed);
        check_exact(w8, gemm_mode::int8_activations, seed);
        auto w4 =
            prepack<q4_0_format>(std::span<const block_q4_0>(test::random_q4_0(s.n, s.k, ++seed)), s.n, s.k);
        check_exact(w4, gemm_mode::weight_only, seed);
        check_exact(w4, gemm_mode::int8_activations, seed);
      }
    });
  }

  TEST_CASE("fp32, fp16, bf16 weight-only are exactly ref::gemm") {
    test::for_each_arch([](arch_id) {
      std::uint32_t seed = 500;
      for (const shape s : {shape{1, 1}, shape{18, 7}, shape{49, 66}}) {
        const std::vector<float> wf = test::random_floats(s.n * s.k, ++seed);
        const matrix_view<const float> W(wf.data(), s.n, s.k);
        check_exact(prepack<fp32_format>(W), gemm_mode::weight_only, seed);
        check_exact(prepack<fp16_format>(W), gemm_mode::weight_only, seed);
        check_exact(prepack<bf16_format>(W), gemm_mode::weight_only, seed);
      }
    });
  }

  TEST_CASE("float weights with ±inf, overflowing products and subnormals: exactly ref::gemm") {
    // sse4_2 emulates fma (round to odd in double): an infinite or NaN sum must pass through
    // unchanged, an overflowing product must give ±inf, subnormal sums must round like fma.
    test::for_each_arch([](arch_id) {
      const std::size_t n = 37, k = 45;
      std::vector<float> wf = test::random_floats(n * k, 901);
      const float inf = std::numeric_limits<float>::infinity();
      for (std::size_t r = 0; r < n; ++r) {
        float* row = wf.data() + r * k;
        if (r % 5 == 0) row[r % k] = r % 2 ? inf : -inf;  // ±inf
        if (r % 5 == 1)
          for (std::size_t c = 0; c < k; c += 3) row[c] = 3.0e38f;  // |w·x| > FLT_MAX
        if (r % 5 == 2)
          for (std::size_t c = 0; c < k; ++c) row[c] *= 0x1p-130f;  // subnormal sums
        if (r % 5 == 3) {                                           // inf − inf = NaN
          row[1] = inf;
          row[k - 2] = -inf;
        }
      }
      const matrix_view<const float> W(wf.data(), n, k);
      check_exact(prepack<fp32_format>(W), gemm_mode::weight_only, 902);
      check_exact(prepack<fp16_format>(W), gemm_mode::weight_only, 903);
      check_exact(prepack<bf16_format>(W), gemm_mode::weight_only, 904);
    });
  }

  TEST_CASE("bf16 activations: within the summation bound of ref::gemm (exact without AVX512-BF16)") {
    test::for_each_arch([](arch_id a) {
      const std::size_t n = 37, k = 91;
      const std::vector<float> wf = test::random_floats(n * k, 77);
      auto w = prepack<bf16_format>(matrix_view<const float>(wf.data(), n, k));
      for (std::size_t m = 1; m <= 9; ++m) {
        const std::vector<float> x = test::random_activations(m, k, k, static_cast<std::uint32_t>(m));
        gemm_params p;
        p.mode = gemm_mode::bf16_activations;
        p.threads = static_cast<unsigned>(1 + m % 3);
        std::vector<float> y(m * n), yr(m * n);
        gemm(matrix_view<const float>(x.data(), m, k), w, matrix_view<float>(y.data(), m, n), p);
        ref::gemm(matrix_view<const float>(x.data(), m, k), w, matrix_view<float>(yr.data(), m, n), p);
        const bool hw = (a == arch_id::avx512bw || a == arch_id::avx512vnni) && cpu().avx512_bf16;
        for (std::size_t i = 0; i < m; ++i)
          for (std::size_t j = 0; j < n; ++j) {
            double mag = 0;  // Σ|x·w|: any fp32 summation order of exact products errs by ≤ K·2^-24·mag
            for (std::size_t c = 0; c < k; ++c)
              mag += std::fabs(static_cast<double>(x[i * k + c]) * wf[j * k + c]);
            const double bound = hw ? 2.0 * static_cast<double>(k) * std::ldexp(mag, -24) + 1e-30 : 0.0;
            INFO("m ", i, " n ", j, " y ", y[i * n + j], " ref ", yr[i * n + j]);
            CHECK(std::fabs(static_cast<double>(y[i * n + j]) - yr[i * n + j]) <= bound);
          }
      }
    });
  }

  TEST_CASE("fused SiLU / GELU with bias: exactly ref::gemm") {
    test::for_each_arch([](arch_id) {
      const std::size_t n = 45, k = 64;
      auto w = prepack<q4_0_format>(std::span<const block_q4_0>(test::random_q4_0(n, k, 9)), n, k);
      const std::vector<float> bias = test::random_floats(n, 10);
      for (activation act : {activation::silu, activation::gelu})
        for (gemm_mode mode : {gemm_mode::weight_only, gemm_mode::int8_activations})
          for (std::size_t m : {std::size_t{1}, std::size_t{6}}) {
            const std::vector<float> x = test::random_floats(m * k, 11, -8.0f, 8.0f);
            gemm_params p;
            p.mode = mode;
            p.act = act;
            p.bias = bias;
            std::vector<float> y(m * n), yr(m * n);
            gemm(matrix_view<const float>(x.data(), m, k), w, matrix_view<float>(y.data(), m, n), p);
            ref::gemm(matrix_view<const float>(x.data(), m, k), w, matrix_view<float>(yr.data(), m, n), p);
            INFO("act ", std::string(to_string(act)), " mode ", std::string(to_string(mode)), " M ", m);
            CHECK(test::first_difference(y, yr) == -1);
          }
    });
  }

  TEST_CASE("the per-call conversions of x (int8 codes, bf16) are bitwise the reference on every arch") {
    // Odd K, group = K padded (per-channel) or 8…128, awkward rows (see awkward_rows); the
    // outputs start as garbage so that the padding must be written.
    test::for_each_arch([](arch_id) {
      std::vector<std::size_t> ks;
      for (std::size_t k = 1; k <= 70; ++k) ks.push_back(k);
      ks.push_back(4095);
      ks.push_back(4097);
      for (const std::size_t k : ks)
        for (const std::size_t g :
             {std::size_t{0}, std::size_t{8}, std::size_t{32}, std::size_t{64}, std::size_t{128}}) {
          const std::size_t ld = k + 3, k_padded = detail::round_up(k, g ? g : 4), group = g ? g : k_padded;
          const std::size_t groups = k_padded / group;
          std::size_t m = 0;
          const std::vector<float> x = awkward_rows(k, ld, m);
          std::vector<std::int8_t> q(m * k_padded, 0x55), qr(m * k_padded, 0x55);
          std::vector<float> sc(m, -1.0f), scr(m, -1.0f);
          std::vector<std::int32_t> gs(m * groups, -1), gsr(m * groups, -1);
          std::vector<std::uint16_t> b(m * k_padded, 0x5555), br(m * k_padded, 0x5555);
          dispatch([&](auto arch) {
            using A = decltype(arch);
            if constexpr (std::is_same_v<A, scalar_arch>) {
              ref::detail::quantize_activations<void>(x.data(), ld, m, k, k_padded, group, q.data(),
                                                      sc.data(), gs.data());
              ref::detail::round_activations_bf16<void>(x.data(), ld, m, k, k_padded, b.data());
            } else {
              kernel::gemm_quantize_activations<A>(x.data(), ld, m, k, k_padded, group, q.data(), sc.data(),
                                                   gs.data());
              kernel::gemm_round_bf16<A>(x.data(), ld, m, k, k_padded, b.data(), cpu().avx512_bf16);
            }
          });
          ref::detail::quantize_activations<void>(x.data(), ld, m, k, k_padded, group, qr.data(), scr.data(),
                                                  gsr.data());
          ref::detail::round_activations_bf16<void>(x.data(), ld, m, k, k_padded, br.data());
          INFO("K ", k, " group ", group);
          for (std::size_t r = 0; r < m; ++r) {
            INFO("row ", r);
            CHECK(std::bit_cast<std::uint32_t>(sc[r]) == std::bit_cast<std::uint32_t>(scr[r]));
            CHECK(std::equal(q.begin() + static_cast<long>(r * k_padded),
                             q.begin() + static_cast<long>((r + 1) * k_padded),
                             qr.begin() + static_cast<long>(r * k_padded)));
            CHECK(std::equal(gs.begin() + static_cast<long>(r * groups),
                             gs.begin() + static_cast<long>((r + 1) * groups),
                             gsr.begin() + static_cast<long>(r * groups)));
            CHECK(std::equal(b.begin() + static_cast<long>(r * k_padded),
                             b.begin() + static_cast<long>((r + 1) * k_padded),
                             br.begin() + static_cast<long>(r * k_padded)));
          }
        }
    });
  }

  TEST_CASE("the W4A8 group fold rounds once (fma): a sum just below a float midpoint") {
    // Group 0: d = 1, s = 1 + 2^-23; group 1: d = 65535, s = 65537·2^-56, so d·s = 2^-24 − 2^-56
    // and acc + d·s lies just below the midpoint of 1 + 2^-23 and 1 + 2^-22: one rounding gives
    // 1 + 2^-23; a rounded product then an add, or the sum rounded to double first, give 1 + 2^-22.
    test::for_each_arch([](arch_id) {
      const std::size_t n = 20, k = 256, m = 3;
      quantized_tensor t;
      t.rows = n;
      t.cols = k;
      t.bits = 4;
      t.scheme = scheme_id::symmetric;
      t.granularity = granularity_id::per_group;
      t.group_size = 128;
      t.codes = aligned_buffer<std::uint8_t>(n * t.row_bytes());
      std::vector<float> x(m * k, 0.0f);
      for (std::size_t r = 0; r < n; ++r) {
        std::vector<std::uint8_t> u(k, 8);                   // q = u − 8 = 0
        u[0] = 9;                                            // group 0: q = 1 against x = 1
        for (std::size_t c = 128; c <= 200; ++c) u[c] = 15;  // group 1: 73 · 7 · 127
        u[201] = 13;                                         // + 5 · 127
        u[202] = 9;                                          // + 1 · 3 = 65535
        for (std::size_t c = 0; c < k; c += 2)
          t.codes[r * t.row_bytes() + c / 2] = static_cast<std::uint8_t>(u[c] | u[c + 1] << 4);
        t.scales.push_back(1.0f + 0x1p-23f);
        t.scales.push_back(65537.0f * 0x1p-56f);
      }
      for (std::size_t i = 0; i < m; ++i) {  // amax = 127: the codes of x are x itself
        x[i * k] = 1.0f;
        for (std::size_t c = 128; c <= 201; ++c) x[i * k + c] = 127.0f;
        x[i * k + 202] = 3.0f;
      }
      auto w = prepack<int4_per_group_format<128, symmetric>>(t);
      gemm_params p;
      p.mode = gemm_mode::int8_activations;
      std::vector<float> y(m * n), yr(m * n);
      gemm(matrix_view<const float>(x.data(), m, k), w, matrix_view<float>(y.data(), m, n), p);
      ref::gemm(matrix_view<const float>(x.data(), m, k), w, matrix_view<float>(yr.data(), m, n), p);
      CHECK(yr[0] == 1.0f + 0x1p-23f);
      CHECK(test::first_difference(y, yr) == -1);
    });
  }

  TEST_CASE("results are bitwise identical for 1, 2 and 3 threads") {
    test::for_each_arch([](arch_id) {
      const std::size_t n = 250, k = 128, m = 5;
      auto w = prepack<int4_per_group_format<32, asymmetric>>(
          test::random_tensor(n, k, 4, scheme_id::asymmetric, 32, 3));
      const std::vector<float> x = test::random_floats(m * k, 4);
      for (gemm_mode mode : {gemm_mode::weight_only, gemm_mode::int8_activations}) {
        std::vector<float> y1(m * n), y2(m * n), y3(m * n);
        gemm_params p;
        p.mode = mode;
        p.threads = 1;
        gemm(matrix_view<const float>(x.data(), m, k), w, matrix_view<float>(y1.data(), m, n), p);
        p.threads = 2;
        gemm(matrix_view<const float>(x.data(), m, k), w, matrix_view<float>(y2.data(), m, n), p);
        p.threads = 3;
        gemm(matrix_view<const float>(x.data(), m, k), w, matrix_view<float>(y3.data(), m, n), p);
        CHECK(test::first_difference(y1, y2) == -1);
        CHECK(test::first_difference(y1, y3) == -1);
      }
    });
  }

  TEST_CASE("ggml compatibility: gemm of the identity reproduces ggml's dequantized Q8_0 / Q4_0 values") {
    test::for_each_arch([](arch_id) {
      const std::size_t n = 19, k = 64;
      const std::vector<float> wf = test::random_floats(n * k, 21);
      std::vector<block_q8_0> b8(n * k / 32);
      std::vector<block_q4_0> b4(n * k / 32);
      std::vector<float> d8(n * k), d4(n * k);
      for (std::size_t r = 0; r < n; ++r) {
        const std::span<const float> row(wf.data() + r * k, k);
        ref::quantize_row(row, std::span<block_q8_0>(b8.data() + r * k / 32, k / 32));
        ref::quantize_row(row, std::span<block_q4_0>(b4.data() + r * k / 32, k / 32));
        ref::dequantize_row(std::span<const block_q8_0>(b8.data() + r * k / 32, k / 32),
                            std::span<float>(d8.data() + r * k, k));
        ref::dequantize_row(std::span<const block_q4_0>(b4.data() + r * k / 32, k / 32),
                            std::span<float>(d4.data() + r * k, k));
      }
      std::vector<float> eye(k * k, 0.0f);
      for (std::size_t i = 0; i < k; ++i) eye[i * k + i] = 1.0f;
      auto p8 = prepack<q8_0_format>(std::span<const block_q8_0>(b8), n, k);
      auto p4 = prepack<q4_0_format>(std::span<const block_q4_0>(b4), n, k);
      std::vector<float> y8(k * n), y4(k * n);
      gemm(matrix_view<const float>(eye.data(), k, k), p8, matrix_view<float>(y8.data(), k, n));
      gemm(matrix_view<const float>(eye.data(), k, k), p4, matrix_view<float>(y4.data(), k, n));
      for (std::size_t r = 0; r < n; ++r)
        for (std::size_t c = 0; c < k; ++c) {
          INFO("W[", r, "][", c, "]");
          CHECK(y8[c * n + r] == d8[r * k + c]);
          CHECK(y4[c * n + r] == d4[r * k + c]);
        }
    });
  }

  TEST_CASE("ref::gemm: weight-only equals the dequantized product, W4A8 errs only by x's quantization") {
    // The reference itself against double precision on the dequantized weights.
    const std::size_t n = 24, k = 256, m = 3;
    quantized_tensor t = test::random_tensor(n, k, 4, scheme_id::asymmetric, 64, 5);
    auto w = prepack<int4_per_group_format<64, asymmetric>>(t);
    const std::vector<float> x = test::random_floats(m * k, 6);
    std::vector<float> y_wo(m * n), y_q(m * n);
    ref::gemm(matrix_view<const float>(x.data(), m, k), w, matrix_view<float>(y_wo.data(), m, n));
    gemm_params p;
    p.mode = gemm_mode::int8_activations;
    ref::gemm(matrix_view<const float>(x.data(), m, k), w, matrix_view<float>(y_q.data(), m, n), p);
    for (std::size_t i = 0; i < m; ++i) {
      double amax = 0;
      for (std::size_t c = 0; c < k; ++c) amax = std::max(amax, std::fabs(static_cast<double>(x[i * k + c])));
      const double sx = amax / 127;
      for (std::size_t j = 0; j < n; ++j) {
        double exact = 0, mag = 0, wsum = 0;
        for (std::size_t c = 0; c < k; ++c) {
          const double wv = t.dequantize_one(j, c);
          exact += wv * x[i * k + c];
          mag += std::fabs(wv * x[i * k + c]);
          wsum += std::fabs(wv);
        }
        INFO("m ", i, " n ", j);
        CHECK(std::fabs(y_wo[i * n + j] - exact) <= 1e-5 * mag + 1e-7);
        // |x − sx·qx| ≤ sx/2 per element, plus fp32 rounding of the epilogue.
        CHECK(std::fabs(y_q[i * n + j] - exact) <= 0.5001 * sx * wsum + 1e-5 * mag + 1e-6);
      }
    }
  }

  TEST_CASE("gemm: mismatched shapes and unsupported modes are clear errors") {
    const std::size_t n = 16, k = 64;
    auto w = prepack<q4_0_format>(std::span<const block_q4_0>(test::random_q4_0(n, k, 1)), n, k);
    auto f = prepack<fp32_format>(matrix_view<const float>(test::random_floats(n * k, 2).data(), n, k));
    std::vector<float> x(2 * k), y(2 * n), bias(n + 1);
    auto expect = [](auto&& fn, errc cat, const std::string& needle) {
      try {
        fn();
        FAIL("no error thrown; expected one mentioning ", needle);
      } catch (const error& e) {
        CHECK(e.category() == cat);
        INFO(e.what());
        CHECK(std::string(e.what()).find(needle) != std::string::npos);
      }
    };
    expect([&] { gemm(matrix_view<const float>(x.data(), 2, k - 1), w, matrix_view<float>(y.data(), 2, n)); },
           errc::invalid_argument, "expected K = 64");
    expect([&] { gemm(matrix_view<const float>(x.data(), 2, k), w, matrix_view<float>(y.data(), 1, n)); },
           errc::invalid_argument, "expected M × N");
    expect(
        [&] {
          gemm_params p;
          p.bias = bias;
          gemm(matrix_view<const float>(x.data(), 2, k), w, matrix_view<float>(y.data(), 2, n), p);
        },
        errc::invalid_argument, "bias has 17 values");
    expect(
        [&] {
          gemm_params p;
          p.mode = gemm_mode::int8_activations;
          gemm(matrix_view<const float>(x.data(), 2, k), f, matrix_view<float>(y.data(), 2, n), p);
        },
        errc::unsupported, "int8_activations");
    expect(
        [&] {
          gemm_params p;
          p.mode = gemm_mode::bf16_activations;
          gemm(matrix_view<const float>(x.data(), 2, k), w, matrix_view<float>(y.data(), 2, n), p);
        },
        errc::unsupported, "bf16");
    expect(
        [&] {  // one int8 group longer than the int32 accumulator allows
          const std::size_t big = 65540;
          auto w8 =
              prepack<int8_per_channel_format>(test::random_tensor(1, big, 8, scheme_id::symmetric, 0, 3));
          std::vector<float> xb(big), yb(1);
          gemm_params p;
          p.mode = gemm_mode::int8_activations;
          gemm(matrix_view<const float>(xb.data(), 1, big), w8, matrix_view<float>(yb.data(), 1, 1), p);
        },
        errc::unsupported, "overflow the int32 accumulators");
    expect(
        [&] {  // weight_only runs int8 weights on the same int32 dot products
          const std::size_t big = 65540;
          auto w8 =
              prepack<int8_per_channel_format>(test::random_tensor(1, big, 8, scheme_id::symmetric, 0, 3));
          std::vector<float> xb(big), yb(1);
          gemm(matrix_view<const float>(xb.data(), 1, big), w8, matrix_view<float>(yb.data(), 1, 1));
        },
        errc::unsupported, "max 65536 for int8 weights");
  }

  TEST_CASE("weight-only digits: x = sx · Σ 255^i · d_i within sx/2, exact near amax, on every arch") {
    // The reference's split against its definition (long double), then each arch's compiled
    // copy (the SIMD split of gemm_act_kernels.hpp) against the reference bit for bit: K = 1…70,
    // 4095, 4097 (every tail length of a 16-float step), groups of 8 and 32 (partial steps
    // inside groups), per-channel (group = K padded; 70001 takes the int32 group sums of groups
    // over 65536), awkward rows plus digit_rows; the outputs start as garbage.
    std::vector<std::size_t> ks;
    for (std::size_t k = 1; k <= 70; ++k) ks.push_back(k);
    ks.push_back(4095);
    ks.push_back(4097);
    ks.push_back(70001);
    for (const std::size_t k : ks)
      for (const std::size_t g0 : {std::size_t{0}, std::size_t{8}, std::size_t{32}}) {
        if (k > 4097 && g0) continue;
        const std::size_t ld = k + 3, k_padded = detail::round_up(k, g0 ? g0 : 4), group = g0 ? g0 : k_padded;
        const std::size_t groups = k_padded / group;
        std::size_t m = 0;
        const std::vector<float> x = digit_rows(k, ld, m);
        std::vector<std::int8_t> q(4 * m * k_padded, 0x55);
        std::vector<float> sc(m, -1.0f);
        std::vector<std::int32_t> gs(4 * m * groups, -1);
        ref::detail::split_activations<void>(x.data(), ld, m, k, k_padded, group, q.data(), sc.data(),
                                             gs.data());
        INFO("K ", k, " group ", group);
        for (std::size_t r = 0; r < m; ++r) {
          INFO("row ", r);
          const float* xr = x.data() + r * ld;
          const bool finite = std::all_of(xr, xr + k, [](float v) { return std::isfinite(v); });
          CHECK(std::isnan(sc[r]) == !finite);
          float amax = 0.0f;
          for (std::size_t c = 0; c < k; ++c) amax = std::max(amax, std::fabs(xr[c]));
          for (std::size_t c = 0; c < k_padded; ++c) {
            long double big_x = 0, weight = 1;
            for (std::size_t i = 0; i < 4; ++i, weight *= 255) {
              const int d = q[(4 * r + i) * k_padded + c];
              REQUIRE(d >= -127);
              REQUIRE(d <= 127);
              big_x += weight * d;
            }
            if (!finite || c >= k) {
              CHECK(big_x == 0);
              continue;
            }
            const long double err = std::fabs(static_cast<long double>(xr[c]) - big_x * sc[r]);
            INFO("x[", c, "] = ", xr[c], " sx ", sc[r]);
            CHECK(err <= 0.5L * sc[r]);
            CHECK(sc[r] <= std::max(amax * 0x1p-29f, 0x1p-149f));
            if (std::fabs(xr[c]) >= amax * 0x1p-6f) CHECK(err == 0);
          }
          for (std::size_t i = 0; i < 4; ++i)
            for (std::size_t g = 0; g < groups; ++g) {
              std::int32_t sum = 0;
              for (std::size_t c = g * group; c < (g + 1) * group; ++c) sum += q[(4 * r + i) * k_padded + c];
              CHECK(gs[(4 * r + i) * groups + g] == sum);
            }
        }
        test::for_each_arch([&](arch_id) {
          std::vector<std::int8_t> qa(q.size(), 0x55);
          std::vector<float> sa(m, -1.0f);
          std::vector<std::int32_t> ga(gs.size(), -1);
          dispatch([&](auto arch) {
            using A = decltype(arch);
            if constexpr (std::is_same_v<A, scalar_arch>)
              ref::detail::split_activations<void>(x.data(), ld, m, k, k_padded, group, qa.data(), sa.data(),
                                                   ga.data());
            else
              kernel::gemm_split_digits<A>(x.data(), ld, m, k, k_padded, group, qa.data(), sa.data(),
                                           ga.data());
          });
          CHECK(qa == q);
          CHECK(ga == gs);
          CHECK(test::first_difference(sa, sc) == -1);
        });
      }
  }

  TEST_CASE(
      "weight-only integer formats on awkward rows: exactly ref::gemm; NaN or ±inf in a row gives NaN") {
    test::for_each_arch([](arch_id) {
      const std::size_t n = 40, k = 96, ld = k + 3;
      std::size_t m = 0;
      const std::vector<float> x = awkward_rows(k, ld, m);
      auto w4 = prepack<q4_0_format>(std::span<const block_q4_0>(test::random_q4_0(n, k, 9)), n, k);
      auto w8 = prepack<int8_per_channel_format>(test::random_tensor(n, k, 8, scheme_id::symmetric, 0, 10));
      const auto run = [&](const auto& w) {
        std::vector<float> y(m * n, -1.0f), yr(m * n, -2.0f);
        gemm(matrix_view<const float>(x.data(), m, k, ld), w, matrix_view<float>(y.data(), m, n));
        ref::gemm(matrix_view<const float>(x.data(), m, k, ld), w, matrix_view<float>(yr.data(), m, n));
        CHECK(test::first_difference(y, yr) == -1);
        for (std::size_t r = 0; r < m; ++r) {
          const float* xr = x.data() + r * ld;
          const bool finite = std::all_of(xr, xr + k, [](float v) { return std::isfinite(v); });
          const bool all_nan =
              std::all_of(y.begin() + static_cast<long>(r * n), y.begin() + static_cast<long>((r + 1) * n),
                          [](float v) { return std::isnan(v); });
          INFO("row ", r);
          CHECK(all_nan == !finite);
        }
      };
      run(w4);
      run(w8);
    });
  }

  TEST_CASE("weight-only on LLM-like rows (outliers): error within the bound, below the fp32 FMA chain's") {
    // y against long double on the dequantized Q4_0 weights. Bound: x's fixed point (≤ sx/2 per
    // element) plus fp32 rounding of the group folds. The rms error is compared with the
    // per-weight fp32 FMA chain (acc = fma(s, fma(q, x, a)) per group): the digits must not be
    // worse (measured 1.01×, 0.92×, 0.86× of it for no outlier, 60, 3000).
    const std::size_t n = 256, k = 4096, groups = k / 32;
    const std::vector<block_q4_0> blocks = test::random_q4_0(n, k, 77);
    auto w = prepack<q4_0_format>(std::span<const block_q4_0>(blocks), n, k);
    for (const float outlier : {0.0f, 60.0f, 3000.0f}) {
      std::vector<float> x = test::random_floats(k, 78, -1.0f, 1.0f);
      if (outlier > 0)
        for (std::size_t i = 0; i < 8; ++i) x[(i * 977 + 5) % k] = i % 2 ? outlier : -outlier;
      std::vector<float> y(n);
      gemm(matrix_view<const float>(x.data(), 1, k), w, matrix_view<float>(y.data(), 1, n));
      float amax = 0.0f;
      for (const float v : x) amax = std::max(amax, std::fabs(v));
      const long double sx = std::ldexp(1.0L, std::ilogb(amax) - 29);
      long double se_new = 0, se_fma = 0;
      for (std::size_t j = 0; j < n; ++j) {
        long double exact = 0, wabs = 0, mag = 0;
        float chain = 0.0f;
        for (std::size_t g = 0; g < groups; ++g) {
          const block_q4_0& b = blocks[j * groups + g];
          const float d = std::bit_cast<float>(detail::fp16_bits_to_fp32_bits<void>(b.scale));
          float a = 0.0f;
          for (std::size_t i = 0; i < 32; ++i) {
            const int q = (i < 16 ? (b.quants[i] & 0x0F) : (b.quants[i - 16] >> 4)) - 8;
            const float xv = x[g * 32 + i];
            exact += static_cast<long double>(d) * q * xv;
            wabs += std::fabs(static_cast<long double>(d) * q);
            mag += std::fabs(static_cast<long double>(d) * q * xv);
            a = std::fma(static_cast<float>(q), xv, a);
          }
          chain = std::fma(a, d, chain);
        }
        const long double e = std::fabs(y[j] - exact);
        INFO("outlier ", outlier, " n ", j);
        CHECK(e <= 0.5L * sx * wabs + static_cast<long double>(groups + 8) * 0x1p-24L * (mag + sx * wabs));
        se_new += e * e;
        se_fma += (chain - exact) * (chain - exact);
      }
      INFO("outlier ", outlier, " rms error digits ", std::sqrt(se_new / n), " fp32 fma chain ",
           std::sqrt(se_fma / n));
      CHECK(se_new <= 1.21L * se_fma);  // rms ≤ 1.1×
    }
  }
}
