#include "../test_util.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include <qlite/quant/metrics.hpp>
#include <qlite/quant/quantizer.hpp>

namespace {

// LLM-like weights: Gaussian body, a few heavy outlier columns, some exact zeros.
std::vector<float> make_weights(std::size_t rows, std::size_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 0.02f);
  std::vector<float> w(rows * cols);
  for (std::size_t i = 0; i < w.size(); ++i) {
    w[i] = n(rng);
    if (i % cols == 3) w[i] *= 25.0f;
    if (i % 17 == 0) w[i] = 0.0f;
  }
  return w;
}

struct shape {
  std::size_t rows, cols;
};
constexpr shape shapes[] = {{1, 1}, {3, 5}, {7, 45}, {4, 128}, {5, 172}, {2, 97}};

template <class Q>
void check_quantizer() {
  using qlite::matrix_view;
  const qlite::code_grid grid = Q::grid;
  for (const shape s : shapes) {
    const std::vector<float> w = make_weights(s.rows, s.cols, unsigned(s.rows * 131 + s.cols));
    matrix_view<const float> W(w.data(), s.rows, s.cols);
    Q q(qlite::quantize_options{1.0f, 2});

    // The scalar reference defines the result.
    qlite::set_active_arch(qlite::arch_id::scalar);
    const qlite::quantized_tensor ref = q.quantize(W);
    std::vector<float> ref_back(w.size());
    qlite::dequantize(ref, matrix_view<float>(ref_back.data(), s.rows, s.cols));

    CHECK(ref.scales.size() == Q::group_count(s.rows, s.cols));
    for (std::size_t r = 0; r < s.rows; ++r) {
      for (std::size_t c = 0; c < s.cols; ++c) {
        const int u = int(ref.code(r, c));
        REQUIRE(u >= grid.lo);
        REQUIRE(u <= grid.hi);
        CHECK(ref.dequantize_one(r, c) == ref_back[r * s.cols + c]);
        // Round-trip error ≤ |scale|/2 inside the clipping range; clipped values saturate.
        const std::size_t g = ref.group_index(r, c);
        const float scale = ref.scales[g];
        const int zc = ref.code_offset() + (ref.zero_points.empty() ? 0 : ref.zero_points[g]);
        const float a = scale * float(grid.lo - zc), b = scale * float(grid.hi - zc);
        const float lo = std::min(a, b), hi = std::max(a, b), x = w[r * s.cols + c];
        const float err = std::fabs(x - ref_back[r * s.cols + c]);
        if (x >= lo && x <= hi)
          REQUIRE(err <= std::fabs(scale) * 0.5f * (1 + 1e-5f) + 1e-30f);
        else
          REQUIRE(ref_back[r * s.cols + c] == (x < lo ? lo : hi));
      }
    }

    // fake_quantize == dequantize(quantize) bit for bit; idempotent under the same params.
    const auto params = q.compute_params(W);
    std::vector<float> fq(w.size()), fq2(w.size());
    std::vector<std::uint8_t> mask(w.size());
    q.fake_quantize(W, params, matrix_view<float>(fq.data(), s.rows, s.cols),
                    matrix_view<std::uint8_t>(mask.data(), s.rows, s.cols));
    CHECK(std::memcmp(fq.data(), ref_back.data(), fq.size() * sizeof(float)) == 0);
    q.fake_quantize(matrix_view<const float>(fq.data(), s.rows, s.cols), params,
                    matrix_view<float>(fq2.data(), s.rows, s.cols));
    CHECK(std::memcmp(fq.data(), fq2.data(), fq.size() * sizeof(float)) == 0);

    // Every arch gives the same codes, parameters, values and mask.
    qlite::test::for_each_arch([&](qlite::arch_id) {
      const qlite::quantized_tensor t = q.quantize(W);
      REQUIRE(t.codes.size() == ref.codes.size());
      CHECK(std::memcmp(t.codes.data(), ref.codes.data(), t.codes.size()) == 0);
      CHECK(t.scales == ref.scales);
      CHECK(t.zero_points == ref.zero_points);
      std::vector<float> back(w.size()), f(w.size());
      std::vector<std::uint8_t> m(w.size());
      qlite::dequantize(t, matrix_view<float>(back.data(), s.rows, s.cols));
      CHECK(std::memcmp(back.data(), ref_back.data(), back.size() * sizeof(float)) == 0);
      q.fake_quantize(W, matrix_view<float>(f.data(), s.rows, s.cols),
                      matrix_view<std::uint8_t>(m.data(), s.rows, s.cols));
      CHECK(std::memcmp(f.data(), ref_back.data(), f.size() * sizeof(float)) == 0);
      CHECK(m == mask);
    });
  }
}

template <class Scheme, class Gran>
void check_all_bits() {
  check_quantizer<qlite::quantizer<Scheme, Gran, 2>>();
  check_quantizer<qlite::quantizer<Scheme, Gran, 3>>();
  check_quantizer<qlite::quantizer<Scheme, Gran, 4>>();
  check_quantizer<qlite::quantizer<Scheme, Gran, 5>>();
  check_quantizer<qlite::quantizer<Scheme, Gran, 6>>();
  check_quantizer<qlite::quantizer<Scheme, Gran, 7>>();
  check_quantizer<qlite::quantizer<Scheme, Gran, 8>>();
}

// Wide rows (many whole groups: the kernels' transposed range reduction and whole-group
// loops) with all-zero, subnormal, constant and half-way groups and a NaN/Inf position check;
// every arch against the scalar reference, for several clipping ratios.
template <class Q>
void check_wide_rows() {
  using qlite::matrix_view;
  const shape wide[] = {{3, 4096}, {2, 1100}, {5, 545}, {1, 2048 + 7}};
  for (const shape s : wide) {
    std::vector<float> w = make_weights(s.rows, s.cols, unsigned(s.cols));
    for (std::size_t i = 0; i < w.size(); ++i) {
      const std::size_t blk = i / 32;
      if (blk % 23 == 3) w[i] = 0.0f;
      if (blk % 29 == 4) w[i] = 1e-39f;
      if (blk % 31 == 6) w[i] = -0.25f;
      if (blk % 37 == 7) w[i] = std::ldexp(std::nearbyint(w[i] * 1e3f), -9);
    }
    matrix_view<const float> W(w.data(), s.rows, s.cols);
    for (const float clip : {1.0f, 0.9f, 0.37f}) {
      const Q q(qlite::quantize_options{clip, 1});
      qlite::set_active_arch(qlite::arch_id::scalar);
      const qlite::quantized_tensor ref = q.quantize(W);
      std::vector<float> ref_back(w.size()), back(w.size());
      qlite::dequantize(ref, matrix_view<float>(ref_back.data(), s.rows, s.cols));
      for (const qlite::arch_id a : qlite::available_archs()) {  // no SUBCASE: every shape and ratio
        qlite::set_active_arch(a);
        INFO(std::string(qlite::to_string(a)), " ", s.rows, "x", s.cols, " clip ", clip);
        const qlite::quantized_tensor t = q.quantize(W);
        CHECK(std::memcmp(t.codes.data(), ref.codes.data(), t.codes.size()) == 0);
        CHECK(t.scales == ref.scales);
        CHECK(t.zero_points == ref.zero_points);
        qlite::dequantize(t, matrix_view<float>(back.data(), s.rows, s.cols));
        CHECK(std::memcmp(back.data(), ref_back.data(), back.size() * sizeof(float)) == 0);
      }
    }
    // A NaN or an infinity deep inside a wide row is still named exactly.
    for (const float v : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
      std::vector<float> bad = w;
      bad[(s.rows - 1) * s.cols + s.cols / 2 + 3] = v;
      const std::string where = "column " + std::to_string(s.cols / 2 + 3) + " ";
      for (const qlite::arch_id a : qlite::available_archs()) {
        qlite::set_active_arch(a);
        CHECK_THROWS_WITH_AS((void)Q().quantize(matrix_view<const float>(bad.data(), s.rows, s.cols)),
                             doctest::Contains(where.c_str()), qlite::error);
      }
    }
  }
}

}  // namespace

TEST_SUITE("quant") {
  TEST_CASE_TEMPLATE("quantizer properties over the template matrix", Scheme, qlite::symmetric,
                     qlite::symmetric_narrow, qlite::asymmetric) {
    check_all_bits<Scheme, qlite::per_tensor>();
    check_all_bits<Scheme, qlite::per_channel>();
    check_all_bits<Scheme, qlite::per_group<32>>();
    check_all_bits<Scheme, qlite::per_group<5>>();
    check_all_bits<Scheme, qlite::per_group<128>>();
    qlite::set_active_arch(qlite::detail::best_arch());
  }

  TEST_CASE("wide rows: every arch equals the reference") {
    check_wide_rows<qlite::quantizer<qlite::symmetric, qlite::per_group<32>, 4>>();
    check_wide_rows<qlite::quantizer<qlite::asymmetric, qlite::per_group<32>, 4>>();
    check_wide_rows<qlite::quantizer<qlite::symmetric_narrow, qlite::per_group<32>, 4>>();
    check_wide_rows<qlite::quantizer<qlite::asymmetric, qlite::per_group<32>, 2>>();
    check_wide_rows<qlite::quantizer<qlite::symmetric, qlite::per_group<16>, 8>>();
    check_wide_rows<qlite::quantizer<qlite::asymmetric, qlite::per_group<64>, 3>>();
    check_wide_rows<qlite::quantizer<qlite::symmetric, qlite::per_group<128>, 4>>();
    check_wide_rows<qlite::quantizer<qlite::asymmetric, qlite::per_group<48>, 5>>();
    check_wide_rows<qlite::quantizer<qlite::symmetric, qlite::per_channel, 8>>();
    check_wide_rows<qlite::quantizer<qlite::asymmetric, qlite::per_channel, 4>>();
    qlite::set_active_arch(qlite::detail::best_arch());
  }

  TEST_CASE("symmetric uses every code; narrow leaves the lowest unused") {
    const std::vector<float> w = {-1.0f, -0.5f, 0.0f, 0.25f, 0.875f, 1.0f};
    qlite::matrix_view<const float> W(w.data(), 1, 6);
    const auto full = qlite::quantizer<qlite::symmetric, qlite::per_channel, 4>().quantize(W);
    CHECK(full.scales[0] == 0.125f);             // −1 is the extreme: scale = −1 / −8
    CHECK(full.code(0, 0) == 0);                 // q = −8
    CHECK(full.code(0, 4) == 15);                // 0.875 = 7 · 0.125: the top code is reached
    CHECK(full.dequantize_one(0, 5) == 0.875f);  // +1 clips to the top of the grid
    const auto narrow = qlite::quantizer<qlite::symmetric_narrow, qlite::per_channel, 4>().quantize(W);
    CHECK(narrow.scales[0] == doctest::Approx(1.0 / 7));
    CHECK(narrow.code(0, 0) == 1);   // q = −7
    CHECK(narrow.code(0, 5) == 15);  // q = +7
    // A positive extreme gives a negative scale (the value lands on the −8 code).
    const std::vector<float> p = {0.1f, 2.0f, -1.0f};
    const auto pos = qlite::quantizer<qlite::symmetric, qlite::per_channel, 4>().quantize(
        qlite::matrix_view<const float>(p.data(), 1, 3));
    CHECK(pos.scales[0] == -0.25f);
    CHECK(pos.dequantize_one(0, 1) == 2.0f);
  }

  TEST_CASE("degenerate groups: all zero, constant, subnormal") {
    const std::vector<float> w = {0, 0, 0, 0, 3, 3, 3, 3, 1e-42f, -1e-42f, 0, 0};
    qlite::matrix_view<const float> W(w.data(), 3, 4);
    std::vector<float> back(12);
    auto check = [&](auto q) {
      const auto t = q.quantize(W);
      qlite::dequantize(t, qlite::matrix_view<float>(back.data(), 3, 4));
      for (int i = 0; i < 4; ++i) CHECK(back[std::size_t(i)] == 0.0f);
      for (int i = 4; i < 8; ++i) CHECK(back[std::size_t(i)] == 3.0f);
      for (int i = 8; i < 12; ++i) CHECK(back[std::size_t(i)] == 0.0f);
      CHECK(t.scales[0] == 0.0f);
      CHECK(t.scales[2] == 0.0f);
    };
    check(qlite::quantizer<qlite::symmetric, qlite::per_channel, 4>());
    check(qlite::quantizer<qlite::symmetric_narrow, qlite::per_channel, 3>());
    check(qlite::quantizer<qlite::asymmetric, qlite::per_channel, 2>());
  }

  TEST_CASE("NaN and Inf are errors naming the element") {
    std::vector<float> w(5 * 40, 0.5f);
    w[3 * 40 + 17] = std::numeric_limits<float>::quiet_NaN();
    qlite::matrix_view<const float> W(w.data(), 5, 40);
    qlite::test::for_each_arch([&](qlite::arch_id) {
      qlite::quantizer<qlite::asymmetric, qlite::per_group<32>, 4> q;
      CHECK_THROWS_WITH_AS((void)q.quantize(W), doctest::Contains("row 3, column 17 (flat index 137) is NaN"),
                           qlite::error);
      w[3 * 40 + 17] = -INFINITY;
      CHECK_THROWS_WITH_AS((void)q.quantize(W),
                           doctest::Contains("row 3, column 17 (flat index 137) is infinite"), qlite::error);
      std::vector<float> out(w.size());
      CHECK_THROWS_AS(q.fake_quantize(W, qlite::matrix_view<float>(out.data(), 5, 40)), qlite::error);
      w[3 * 40 + 17] = std::numeric_limits<float>::quiet_NaN();
    });
  }

  TEST_CASE("supplied parameters, clipping ratio and their errors") {
    const std::vector<float> w = {-2, -1, 0, 1, 2, 4};
    qlite::matrix_view<const float> W(w.data(), 2, 3);
    qlite::quantizer<qlite::asymmetric, qlite::per_tensor, 8> q;
    const qlite::quant_params p{1.0f / 64, 128};
    const auto t = q.quantize(W, std::span(&p, 1));
    CHECK(t.zero_points[0] == 128);
    CHECK(t.dequantize_one(1, 2) == doctest::Approx(127.0 / 64));  // 4 saturates at the top
    CHECK_THROWS_WITH_AS((void)q.quantize(W, std::span<const qlite::quant_params>()),
                         doctest::Contains("0 parameter sets given, the 2×3 input has 1 groups"),
                         qlite::error);
    const qlite::quant_params badzp{0.1f, 300};
    CHECK_THROWS_AS((void)q.quantize(W, std::span(&badzp, 1)), qlite::error);
    CHECK_THROWS_AS(
        (qlite::quantizer<qlite::symmetric, qlite::per_channel, 4>(qlite::quantize_options{1.5f})),
        qlite::error);
    // Clipping shrinks the scale; the mask marks the clipped elements.
    qlite::quantizer<qlite::symmetric_narrow, qlite::per_tensor, 4> clipped(qlite::quantize_options{0.5f});
    std::vector<float> out(6);
    std::vector<std::uint8_t> mask(6);
    clipped.fake_quantize(W, qlite::matrix_view<float>(out.data(), 2, 3),
                          qlite::matrix_view<std::uint8_t>(mask.data(), 2, 3));
    CHECK(out[5] == doctest::Approx(2.0));
    CHECK(mask[5] == 0);
    CHECK(mask[4] == 1);
  }

  TEST_CASE("dequantize validates the tensor") {
    qlite::quantizer<qlite::asymmetric, qlite::per_group<4>, 4> q;
    const std::vector<float> w(2 * 8, 1.0f);
    auto t = q.quantize(qlite::matrix_view<const float>(w.data(), 2, 8));
    std::vector<float> out(16);
    t.zero_points[1] = 16;
    CHECK_THROWS_WITH_AS(qlite::dequantize(t, qlite::matrix_view<float>(out.data(), 2, 8)),
                         doctest::Contains("zero point 1 is 16, beyond 4 bits"), qlite::error);
    t.zero_points[1] = 0;
    t.scales.pop_back();
    CHECK_THROWS_WITH_AS(qlite::dequantize(t, qlite::matrix_view<float>(out.data(), 2, 8)),
                         doctest::Contains("3 scales, expected 4"), qlite::error);
  }

  TEST_CASE("results do not depend on the thread count") {
    const std::vector<float> w = make_weights(37, 300, 5);
    qlite::matrix_view<const float> W(w.data(), 37, 300);
    const auto one = qlite::quantizer<qlite::asymmetric, qlite::per_group<64>, 3>({1.0f, 1}).quantize(W);
    for (unsigned th = 2; th <= 3; ++th) {
      const auto t = qlite::quantizer<qlite::asymmetric, qlite::per_group<64>, 3>({1.0f, th}).quantize(W);
      CHECK(std::memcmp(t.codes.data(), one.codes.data(), one.codes.size()) == 0);
      CHECK(t.scales == one.scales);
    }
  }
}
