#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include <qlite/quant/metrics.hpp>
#include <qlite/quant/observer.hpp>
#include <qlite/quant/quantizer.hpp>

namespace {
// Activations: Laplacian-ish body with rare huge outliers (as in LLM hidden states).
std::vector<float> activations(std::size_t rows, std::size_t cols, unsigned seed, float outlier = 60.0f) {
  std::mt19937 rng(seed);
  std::exponential_distribution<float> e(1.0f);
  std::vector<float> x(rows * cols);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = (rng() & 1 ? 1.0f : -1.0f) * e(rng);
  x[7] = outlier;
  return x;
}
}  // namespace

TEST_SUITE("quant") {
  TEST_CASE("minmax observer tracks the running range") {
    qlite::minmax_observer<qlite::asymmetric, qlite::per_tensor, 8> obs;
    std::vector<float> a = {-1, 2, 0.5f, 0}, b = {-3, 1, 0, 0};
    obs.observe({a.data(), 2, 2});
    obs.observe({b.data(), 2, 2});
    const auto p = obs.calculate_params();
    REQUIRE(p.size() == 1);
    CHECK(p[0] == qlite::params_from_range(qlite::scheme_id::asymmetric, 8, -3, 2));
    CHECK(obs.batches() == 2);
  }

  TEST_CASE("moving average min/max smooths per batch") {
    qlite::moving_average_minmax_observer<qlite::symmetric_narrow, qlite::per_tensor, 8> obs(0.5f);
    std::vector<float> a = {-1, 1}, b = {-3, 3};
    obs.observe({a.data(), 1, 2});
    obs.observe({b.data(), 1, 2});
    CHECK(obs.calculate_params()[0].scale == doctest::Approx(2.0 / 127));
  }

  TEST_CASE("per-token observers give one parameter set per row and check the row count") {
    qlite::minmax_observer<qlite::symmetric, qlite::per_token, 8> obs;
    std::vector<float> x = {1, -2, 4, 0.5f, 0.25f, -8};
    obs.observe({x.data(), 2, 3});
    const auto p = obs.calculate_params();
    REQUIRE(p.size() == 2);
    CHECK(p[0].scale == doctest::Approx(4.0 / -128));
    CHECK(p[1].scale == doctest::Approx(8.0 / 128));
    CHECK_THROWS_WITH_AS(obs.observe({x.data(), 3, 2}), doctest::Contains("per-token batch with 3 rows"),
                         qlite::error);
  }

  TEST_CASE("percentile and MSE observers beat min/max on outlier-heavy activations at 4 bits") {
    const std::size_t R = 64, C = 256;
    std::vector<std::vector<float>> batches;
    for (unsigned b = 0; b < 4; ++b) batches.push_back(activations(R, C, 100 + b));
    const std::vector<float> test = activations(R, C, 999);
    qlite::matrix_view<const float> X(test.data(), R, C);
    using Q = qlite::quantizer<qlite::asymmetric, qlite::per_tensor, 4>;
    Q q;
    auto error_with = [&](const std::vector<qlite::quant_params>& p) {
      std::vector<float> out(test.size());
      q.fake_quantize(X, p, qlite::matrix_view<float>(out.data(), R, C));
      return qlite::mse(X, qlite::matrix_view<const float>(out.data(), R, C));
    };
    qlite::minmax_observer<qlite::asymmetric, qlite::per_tensor, 4> mm;
    qlite::percentile_observer<qlite::asymmetric, qlite::per_tensor, 4> pc(99.9);
    qlite::mse_observer<qlite::asymmetric, qlite::per_tensor, 4> ms;
    for (auto& b : batches) {
      mm.observe({b.data(), R, C});
      pc.observe({b.data(), R, C});
      ms.observe({b.data(), R, C});
    }
    const double e_mm = error_with(mm.calculate_params()), e_pc = error_with(pc.calculate_params()),
                 e_ms = error_with(ms.calculate_params());
    MESSAGE("mse: minmax " << e_mm << ", percentile " << e_pc << ", mse search " << e_ms);
    CHECK(e_pc < e_mm);
    CHECK(e_ms < e_mm);
  }

  TEST_CASE("observers reject bad input") {
    qlite::minmax_observer<qlite::asymmetric, qlite::per_tensor, 8> obs;
    CHECK_THROWS_WITH_AS((void)obs.calculate_params(), doctest::Contains("before observe()"), qlite::error);
    std::vector<float> x = {1, NAN};
    CHECK_THROWS_WITH_AS(obs.observe({x.data(), 1, 2}), doctest::Contains("NaN value at row 0, column 1"),
                         qlite::error);
    CHECK_THROWS_AS((qlite::percentile_observer<qlite::symmetric, qlite::per_tensor, 8>(20.0)), qlite::error);
  }
}
