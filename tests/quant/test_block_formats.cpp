// Tests of quant/block_formats.hpp: the ggml-compatible Q8_0, Q4_0, Q4_1, Q4_K, Q6_K blocks.
#include <qlite/quant/block_formats.hpp>

#include <qlite/io/llama2c.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../test_util.hpp"

namespace {

using namespace qlite;

template <class Block>
std::vector<Block> quantize(const std::vector<float>& x) {
  std::vector<Block> b(blocks_for<Block>(x.size()));
  ref::quantize_row(std::span<const float>(x), std::span<Block>(b));
  return b;
}
template <class Block>
std::vector<float> dequantize(const std::vector<Block>& b, std::size_t n) {
  std::vector<float> y(n);
  ref::dequantize_row(std::span<const Block>(b), std::span<float>(y));
  return y;
}
template <class Block>
std::vector<float> roundtrip(const std::vector<float>& x) {
  return dequantize(quantize<Block>(x), x.size());
}

std::vector<float> gaussian(std::size_t n, unsigned seed, float sigma = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

double sqnr_db(const std::vector<float>& x, const std::vector<float>& y) {
  double s = 0, e = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    s += double(x[i]) * x[i];
    e += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
  }
  return 10 * std::log10(s / e);
}

}  // namespace

TEST_SUITE("block_formats") {
  TEST_CASE("layout and traits match ggml") {
    CHECK(sizeof(block_q8_0) == 34);
    CHECK(offsetof(block_q8_0, quants) == 2);
    CHECK(offsetof(block_q4_1, min) == 2);
    CHECK(offsetof(block_q4_1, quants) == 4);
    CHECK(offsetof(block_q4_k, min_scale) == 2);
    CHECK(offsetof(block_q4_k, sub_scales) == 4);
    CHECK(offsetof(block_q4_k, quants) == 16);
    CHECK(offsetof(block_q6_k, high_bits) == 128);
    CHECK(offsetof(block_q6_k, sub_scales) == 192);
    CHECK(offsetof(block_q6_k, scale) == 208);
    CHECK(block_traits<block_q8_0>::bits_per_weight == 8.5);
    CHECK(block_traits<block_q4_0>::bits_per_weight == 4.5);
    CHECK(block_traits<block_q4_1>::bits_per_weight == 5.0);
    CHECK(block_traits<block_q4_k>::bits_per_weight == 4.5);
    CHECK(block_traits<block_q6_k>::bits_per_weight == 6.5625);
    CHECK(std::size(block_formats) == 5);
    CHECK(blocks_for<block_q8_0>(172) == 6);
    CHECK(blocks_for<block_q6_k>(256) == 1);
    CHECK(blocks_for<block_q6_k>(257) == 2);
  }

  TEST_CASE("fp16 conversion: exact round trip, round-to-nearest-even, overflow, NaN") {
    for (std::uint32_t h = 0; h < 65536; ++h) {
      const auto bits = static_cast<std::uint16_t>(h);
      const float f = ref::fp16_bits_to_fp32(bits);
      if (std::isnan(f)) {
        CHECK(((h >> 10) & 0x1f) == 0x1f);
        CHECK((h & 0x3ff) != 0);
        CHECK(std::isnan(ref::fp16_bits_to_fp32(ref::fp32_to_fp16_bits(f))));
        continue;
      }
      REQUIRE(ref::fp32_to_fp16_bits(f) == bits);
      // The midpoint to the next larger-magnitude half rounds to the even one of the two.
      const std::uint32_t mag = h & 0x7fffu;
      if (mag < 0x7bffu) {
        const float g = ref::fp16_bits_to_fp32(static_cast<std::uint16_t>(h + 1));
        const float mid = static_cast<float>((static_cast<double>(f) + g) / 2);  // exact in fp32
        const std::uint16_t even = (h & 1u) == 0 ? bits : static_cast<std::uint16_t>(h + 1);
        REQUIRE(ref::fp32_to_fp16_bits(mid) == even);
        // Just above the midpoint goes up, just below goes down.
        REQUIRE(ref::fp32_to_fp16_bits(std::nextafter(mid, 2 * g)) == static_cast<std::uint16_t>(h + 1));
        REQUIRE(ref::fp32_to_fp16_bits(std::nextafter(mid, 0.f)) == bits);
      }
    }
    CHECK(ref::fp32_to_fp16_bits(65504.f) == 0x7bff);
    CHECK(ref::fp32_to_fp16_bits(65519.99f) == 0x7bff);
    CHECK(ref::fp32_to_fp16_bits(65520.f) == 0x7c00);  // the midpoint to 2^16 rounds to inf
    CHECK(ref::fp32_to_fp16_bits(-1e30f) == 0xfc00);
    CHECK(ref::fp32_to_fp16_bits(1e-10f) == 0);
    CHECK(ref::fp32_to_fp16_bits(std::ldexp(1.f, -25)) ==
          0);  // half of the smallest subnormal: ties to even (0)
    CHECK(ref::fp32_to_fp16_bits(std::ldexp(1.5f, -25)) == 1);
  }

  TEST_CASE("nearest_int is round-half-even like ggml's 1.5·2^23 trick") {
    CHECK(detail::nearest_int(0.5f) == 0);
    CHECK(detail::nearest_int(1.5f) == 2);
    CHECK(detail::nearest_int(2.5f) == 2);
    CHECK(detail::nearest_int(-0.5f) == 0);
    CHECK(detail::nearest_int(-1.5f) == -2);
    CHECK(detail::nearest_int(-2.49f) == -2);
    CHECK(detail::nearest_int(4194303.f) == 4194303);
    CHECK(detail::nearest_int(NAN) == 0);  // defined, not UB
  }

  TEST_CASE("Q8_0: hand-derived bytes (scale 1, round half away from zero)") {
    std::vector<float> x(32, 0.f);
    x[0] = 127.f;  // amax 127 → d = 1 exactly, id = 1
    x[1] = -127.f;
    x[2] = 0.5f;
    x[3] = -0.5f;
    x[4] = 2.5f;  // roundf: 3 (round-half-even would give 2)
    x[5] = -2.5f;
    x[6] = 3.49f;
    x[31] = -100.4f;
    const auto b = quantize<block_q8_0>(x);
    REQUIRE(b.size() == 1);
    CHECK(b[0].scale == 0x3c00);
    const std::int8_t expect[8] = {127, -127, 1, -1, 3, -3, 3, 0};
    for (int j = 0; j < 8; ++j) CHECK(b[0].quants[j] == expect[j]);
    CHECK(b[0].quants[31] == -100);
    const auto y = dequantize(b, 32);
    CHECK(y[4] == 3.f);
    CHECK(y[31] == -100.f);
    // An all-zero block: d = 0, every code 0.
    const auto z = quantize<block_q8_0>(std::vector<float>(32, 0.f));
    CHECK(z[0].scale == 0);
    for (auto q : z[0].quants) CHECK(q == 0);
  }

  TEST_CASE("Q4_0: hand-derived bytes, including ggml's sign convention") {
    std::vector<float> x(32, 0.f);
    // Largest magnitude is negative: d = -8 / -8 = 1, q = min(15, trunc(x + 8.5)).
    x[0] = -8.f;   // 0
    x[1] = 7.f;    // 15.5 → 15
    x[2] = 7.4f;   // 15
    x[3] = -0.5f;  // 8
    x[4] = 0.49f;  // 8
    x[16] = 1.f;   // 9, high nibble of byte 0
    x[17] = -3.f;  // 5, high nibble of byte 1
    auto b = quantize<block_q4_0>(x);
    CHECK(b[0].scale == 0x3c00);
    CHECK(b[0].quants[0] == 0x90);
    CHECK(b[0].quants[1] == 0x5f);
    CHECK(b[0].quants[2] == 0x8f);
    CHECK(b[0].quants[3] == 0x88);
    CHECK(b[0].quants[4] == 0x88);
    CHECK(b[0].quants[5] == 0x88);  // zeros → 8
    // Largest magnitude positive: d = 8 / -8 = -1 (stored negative), the max maps to code 0
    // and −8 would need code 16, clamped to 15 (the format's asymmetric range).
    std::vector<float> p(32, 0.f);
    p[0] = 8.f;
    p[1] = -8.f;
    p[2] = 2.f;
    b = quantize<block_q4_0>(p);
    CHECK(b[0].scale == 0xbc00);
    CHECK((b[0].quants[0] & 0xf) == 0);
    CHECK((b[0].quants[1] & 0xf) == 15);
    CHECK((b[0].quants[2] & 0xf) == 6);  // trunc(-2 + 8.5) = 6
    const auto y = dequantize(b, 32);
    CHECK(y[0] == 8.f);
    CHECK(y[1] == -7.f);
    CHECK(y[2] == 2.f);
    // Ties in magnitude: the first one wins (ggml's strict <).
    std::vector<float> t(32, 0.f);
    t[0] = 4.f;
    t[1] = -4.f;
    CHECK(quantize<block_q4_0>(t)[0].scale == ref::fp32_to_fp16_bits(-0.5f));
  }

  TEST_CASE("Q4_1: hand-derived bytes") {
    std::vector<float> x(32);
    for (int j = 0; j < 32; ++j) x[static_cast<std::size_t>(j)] = static_cast<float>(j % 16) - 1.f;  // -1..14
    x[5] = 3.4f;  // (3.4 + 1) + 0.5 → trunc 4.9 = 4
    const auto b = quantize<block_q4_1>(x);
    CHECK(b[0].scale == 0x3c00);  // (14 − (−1)) / 15 = 1
    CHECK(b[0].min == 0xbc00);    // −1
    for (int j = 0; j < 16; ++j) {
      const int lo = j == 5 ? 4 : j;
      CHECK(b[0].quants[j] == static_cast<std::uint8_t>(lo | (j << 4)));
    }
    const auto y = dequantize(b, 32);
    CHECK(y[5] == 3.f);
    CHECK(y[31] == 14.f);
  }

  TEST_CASE("row tails: the last block is zero-padded, dequantize writes only real elements") {
    const auto x = gaussian(172, 7);
    const auto b = quantize<block_q8_0>(x);
    REQUIRE(b.size() == 6);
    std::vector<float> tail(x.begin() + 160, x.end());
    tail.resize(32, 0.f);
    const auto bt = quantize<block_q8_0>(tail);
    CHECK(std::memcmp(&b[5], &bt[0], sizeof(block_q8_0)) == 0);
    std::vector<float> y(172 + 4, 12345.f);
    ref::dequantize_row(std::span<const block_q8_0>(b), std::span<float>(y.data(), 172));
    CHECK(y[172] == 12345.f);  // nothing written past the row
    // Size mismatches are errors.
    std::vector<block_q8_0> few(5);
    CHECK_THROWS_AS(ref::quantize_row(std::span<const float>(x), std::span<block_q8_0>(few)), qlite::error);
    std::vector<float> big(200);
    CHECK_THROWS_AS(ref::dequantize_row(std::span<const block_q8_0>(b), std::span<float>(big)), qlite::error);
  }

  TEST_CASE("error bounds: |x − x̂| ≤ |d|/2 (Q8_0, Q4_1) and ≤ |d| (Q4_0), plus fp16 scale rounding") {
    for (unsigned seed = 1; seed <= 20; ++seed) {
      const auto x = gaussian(32 * 16, seed, seed % 2 ? 0.02f : 3.f);
      const auto b8 = quantize<block_q8_0>(x);
      const auto y8 = dequantize(b8, x.size());
      const auto b40 = quantize<block_q4_0>(x);
      const auto y40 = dequantize(b40, x.size());
      const auto b41 = quantize<block_q4_1>(x);
      const auto y41 = dequantize(b41, x.size());
      for (std::size_t i = 0; i < x.size(); ++i) {
        const float d8 = ref::fp16_bits_to_fp32(b8[i / 32].scale);
        const float d40 = std::fabs(ref::fp16_bits_to_fp32(b40[i / 32].scale));
        const float d41 = ref::fp16_bits_to_fp32(b41[i / 32].scale);
        // fp16 rounding of d adds up to 2^-11 relative per code step (≤ 127 steps).
        REQUIRE(std::fabs(x[i] - y8[i]) <= d8 * (0.5f + 127.f / 2048.f) + 1e-7f);
        REQUIRE(std::fabs(x[i] - y40[i]) <= d40 * (1.f + 8.f / 2048.f) + 1e-7f);
        // Q4_1 also rounds the min to fp16.
        const float m = std::fabs(ref::fp16_bits_to_fp32(b41[i / 32].min));
        REQUIRE(std::fabs(x[i] - y41[i]) <= d41 * (0.5f + 15.f / 2048.f) + m / 2048.f + 1e-7f);
      }
    }
  }

  TEST_CASE("Q4_K and Q6_K dequantize: hand-built blocks against the byte pictures") {
    block_q4_k k{};
    k.scale = ref::fp32_to_fp16_bits(0.5f);
    k.min_scale = ref::fp32_to_fp16_bits(0.25f);
    const int sc[8] = {1, 2, 3, 63, 17, 40, 5, 62};
    const int mn[8] = {0, 7, 63, 1, 33, 2, 60, 9};
    for (int j = 0; j < 8; ++j) {  // pack by the picture in the header
      if (j < 4) {
        k.sub_scales[j] = static_cast<std::uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
        k.sub_scales[j + 4] = static_cast<std::uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
      } else {
        k.sub_scales[j + 4] = static_cast<std::uint8_t>((sc[j] & 15) | ((mn[j] & 15) << 4));
      }
    }
    std::uint8_t code[256];
    for (int e = 0; e < 256; ++e) code[e] = static_cast<std::uint8_t>((e * 7 + 3) % 16);
    for (int g = 0; g < 4; ++g)
      for (int l = 0; l < 32; ++l)
        k.quants[32 * g + l] = static_cast<std::uint8_t>(code[64 * g + l] | (code[64 * g + 32 + l] << 4));
    std::vector<float> y(256);
    ref::dequantize_row(std::span<const block_q4_k>(&k, 1), std::span<float>(y));
    for (int e = 0; e < 256; ++e) {
      const int s = e / 32;
      const float expect = 0.5f * static_cast<float>(sc[s]) * code[e] - 0.25f * static_cast<float>(mn[s]);
      REQUIRE(y[static_cast<std::size_t>(e)] == doctest::Approx(expect).epsilon(1e-6));
    }

    block_q6_k q{};
    q.scale = ref::fp32_to_fp16_bits(0.125f);
    for (int s = 0; s < 16; ++s) q.sub_scales[s] = static_cast<std::int8_t>(s * 17 - 128);
    std::uint8_t c6[256];
    for (int e = 0; e < 256; ++e) c6[e] = static_cast<std::uint8_t>((e * 29 + 11) % 64);
    for (int h = 0; h < 2; ++h) {
      for (int l = 0; l < 32; ++l) {
        const std::uint8_t* c = c6 + 128 * h;
        q.low_bits[64 * h + l] = static_cast<std::uint8_t>((c[l] & 15) | ((c[l + 64] & 15) << 4));
        q.low_bits[64 * h + l + 32] = static_cast<std::uint8_t>((c[l + 32] & 15) | ((c[l + 96] & 15) << 4));
        q.high_bits[32 * h + l] = static_cast<std::uint8_t>(
            (c[l] >> 4) | ((c[l + 32] >> 4) << 2) | ((c[l + 64] >> 4) << 4) | ((c[l + 96] >> 4) << 6));
      }
    }
    ref::dequantize_row(std::span<const block_q6_k>(&q, 1), std::span<float>(y));
    for (int e = 0; e < 256; ++e) {
      const float expect = 0.125f * static_cast<float>(q.sub_scales[e / 16]) * static_cast<float>(c6[e] - 32);
      REQUIRE(y[static_cast<std::size_t>(e)] == expect);
    }
  }

  TEST_CASE("Q4_K and Q6_K quantize: round trip quality, structure, determinism") {
    for (unsigned seed = 1; seed <= 6; ++seed) {
      const auto x = gaussian(256 * 4, seed, 0.05f);
      const auto bk = quantize<block_q4_k>(x);
      const auto yk = dequantize(bk, x.size());
      const double s4 = sqnr_db(x, yk);
      CHECK(s4 > 18.0);  // ≈ 4.5 bpw asymmetric: ~20 dB on Gaussian data
      CHECK(s4 < 30.0);
      const auto b6 = quantize<block_q6_k>(x);
      const auto y6 = dequantize(b6, x.size());
      const double s6 = sqnr_db(x, y6);
      CHECK(s6 > 28.0);  // ≈ 6.56 bpw: ~32 dB
      CHECK(s6 > s4 + 8.0);
      // Q6_K's largest sub-scale is −128 (ggml stores d with the sign of the extreme scale).
      for (const auto& blk : b6) {
        int mx = 0;
        for (auto s : blk.sub_scales) mx = std::max(mx, std::abs(int(s)));
        CHECK(mx == 128);
      }
      // Deterministic and idempotent on its own output's grid.
      const auto bk2 = quantize<block_q4_k>(x);
      CHECK(std::memcmp(bk.data(), bk2.data(), bk.size() * sizeof(block_q4_k)) == 0);
    }
    // All-zero input: zero blocks.
    const auto z6 = quantize<block_q6_k>(std::vector<float>(256, 0.f));
    for (auto s : z6[0].sub_scales) CHECK(s == 0);
    CHECK(z6[0].scale == 0);
    const auto zk = dequantize(quantize<block_q4_k>(std::vector<float>(256, 0.f)), 256);
    for (float v : zk) CHECK(v == 0.f);
  }

  TEST_CASE("quantize_rows / dequantize_rows: rows back to back, equal to quantize_row per row") {
    using namespace qlite;
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.f, 1.f);
    std::vector<std::string_view> seen;
    for (const auto& info : block_formats) {
      const std::size_t cols = 2 * info.block_size, rows = 3;
      std::vector<float> m(rows * cols);
      for (float& v : m) v = nd(rng);
      const bool known = ref::visit_block_type(info.name, [&]<class Block>(Block*) {
        seen.push_back(block_traits<Block>::name);
        std::vector<std::byte> bytes(rows * 2 * sizeof(Block));
        ref::quantize_rows<Block>(m, cols, bytes);
        std::vector<float> back(m.size()), expect(cols);
        ref::dequantize_rows<Block>(bytes, cols, back);
        for (std::size_t r = 0; r < rows; ++r) {
          std::vector<Block> one(2);
          ref::quantize_row(std::span<const float>(m).subspan(r * cols, cols), std::span<Block>(one));
          CHECK(std::memcmp(one.data(), bytes.data() + r * 2 * sizeof(Block), 2 * sizeof(Block)) == 0);
          ref::dequantize_row(std::span<const Block>(one), std::span<float>(expect));
          CHECK(
              std::equal(expect.begin(), expect.end(), back.begin() + static_cast<std::ptrdiff_t>(r * cols)));
        }
        // Sizes that do not fit are errors, not overruns.
        CHECK_THROWS_AS(ref::quantize_rows<Block>(m, cols + 1, bytes), qlite::error);
        std::vector<std::byte> short_out(bytes.size() - 1);
        CHECK_THROWS_AS(ref::quantize_rows<Block>(m, cols, short_out), qlite::error);
        CHECK_THROWS_AS(ref::dequantize_rows<Block>(short_out, cols, back), qlite::error);
      });
      CHECK(known);
    }
    CHECK(seen.size() == std::size(block_formats));
    CHECK_FALSE(ref::visit_block_type("q5_0", [](auto*) { FAIL("called for an unknown type"); }));
  }

  TEST_CASE("non-finite input does not crash (output unspecified)") {
    std::vector<float> x(256, 1.f);
    x[3] = NAN;
    x[40] = INFINITY;
    x[77] = -INFINITY;
    (void)quantize<block_q8_0>(x);
    (void)quantize<block_q4_0>(x);
    (void)quantize<block_q4_1>(x);
    (void)quantize<block_q4_k>(x);
    (void)quantize<block_q6_k>(x);
    CHECK(true);
  }

  TEST_CASE("stories260K: reproduces the reference per-matrix SQNR of ggml Q8_0/Q4_0/Q4_1") {
    const qlite::llama2c_checkpoint ck(qlite::test::shared_data("models/stories260K.bin"));
    std::ifstream csv(qlite::test::shared_data("models/reference/per_matrix_sqnr.csv"));
    std::map<std::pair<std::string, std::string>, double> ref_db;
    std::string line;
    std::getline(csv, line);
    while (std::getline(csv, line)) {
      std::stringstream ss(line);
      std::string scheme, matrix, rows, cols, db;
      std::getline(ss, scheme, ',');
      std::getline(ss, matrix, ',');
      std::getline(ss, rows, ',');
      std::getline(ss, cols, ',');
      std::getline(ss, db, ',');
      ref_db[{scheme, matrix}] = std::stod(db);
    }
    // The CSV's names → the checkpoint's.
    std::vector<std::pair<std::string, std::string>> mats = {{"tok_embeddings", "token_embd.weight"}};
    const char* llama[7] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"};
    const char* gguf[7] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_down", "ffn_up"};
    for (int l = 0; l < 5; ++l)
      for (int k = 0; k < 7; ++k) {
        // (built with append: GCC 12 warns falsely on "literal" + std::string at -O3)
        std::string a = "L", b = "blk.";
        a.append(std::to_string(l)).append(".").append(llama[k]);
        b.append(std::to_string(l)).append(".").append(gguf[k]).append(".weight");
        mats.emplace_back(a, b);
      }

    auto run = [&](const std::string& scheme, auto block_tag) {
      using Block = decltype(block_tag);
      double worst = 0;
      for (const auto& [csv_name, name] : mats) {
        const auto& t = ck.at(name);
        const std::size_t rows = t.shape[0], cols = t.shape[1];
        double s = 0, e = 0;
        for (std::size_t r = 0; r < rows; ++r) {
          const std::vector<float> row(t.data.begin() + static_cast<std::ptrdiff_t>(r * cols),
                                       t.data.begin() + static_cast<std::ptrdiff_t>((r + 1) * cols));
          const auto y = roundtrip<Block>(row);
          for (std::size_t i = 0; i < cols; ++i) {
            s += double(row[i]) * row[i];
            e += (double(row[i]) - y[i]) * (double(row[i]) - y[i]);
          }
        }
        const double db = 10 * std::log10(s / e);
        const auto it = ref_db.find({scheme, csv_name});
        REQUIRE(it != ref_db.end());
        INFO(scheme, " ", csv_name, ": qlite ", db, " dB, reference ", it->second, " dB");
        CHECK(std::fabs(db - it->second) < 1e-4);  // the CSV has 4 decimals
        worst = std::max(worst, std::fabs(db - it->second));
      }
      MESSAGE(scheme, ": ", mats.size(), " matrices, worst |ΔSQNR| = ", worst, " dB");
    };
    run("ggml Q8_0", block_q8_0{});
    run("ggml Q4_0", block_q4_0{});
    run("ggml Q4_1", block_q4_1{});
  }

}  // TEST_SUITE
