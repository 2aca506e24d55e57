#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <qlite/quant/metrics.hpp>

TEST_SUITE("quant") {
  TEST_CASE("metrics on a hand-computed pair") {
    const std::vector<float> x = {1, -2, 3, 4}, y = {1, -2, 2, 6};
    qlite::matrix_view<const float> X(x.data(), 2, 2), Y(y.data(), 2, 2);
    const auto s = qlite::compare(X, Y);
    CHECK(s.mse == doctest::Approx(5.0 / 4));
    CHECK(s.rmse == doctest::Approx(std::sqrt(5.0 / 4)));
    CHECK(s.max_abs == 2.0);
    CHECK(s.sqnr_db == doctest::Approx(10 * std::log10(30.0 / 5.0)));
    CHECK(s.cosine == doctest::Approx((1 + 4 + 6 + 24) / (std::sqrt(30.0) * std::sqrt(45.0))));
    CHECK(qlite::sqnr_db(X, X) == INFINITY);
    CHECK_THROWS_AS((void)qlite::mse(X, qlite::matrix_view<const float>(y.data(), 1, 4)), qlite::error);
  }
}
