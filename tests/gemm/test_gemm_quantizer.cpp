// The quantizer's tensors through prepack and gemm (the data flow of DESIGN.md).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <qlite/gemm/gemm.hpp>
#include <qlite/quant/quantizer.hpp>

#include "gemm_test_util.hpp"

using namespace qlite;

TEST_SUITE("gemm") {
  TEST_CASE("the real quantizer's tensors pack and multiply") {
    const std::size_t n = 40, k = 128, m = 2;
    const std::vector<float> wf = test::random_floats(n * k, 12);
    const matrix_view<const float> W(wf.data(), n, k);
    const std::vector<float> x = test::random_floats(m * k, 13);
    auto t4 = quantizer<symmetric, per_group<32>, 4>().quantize(W);
    auto t8 = quantizer<symmetric_narrow, per_channel, 8>().quantize(W);
    auto w4 = prepack<int4_per_group_format<32>>(t4);
    auto w8 = prepack<int8_per_channel_format>(t8);
    std::vector<float> y4(m * n), y8(m * n), yf(m * n);
    gemm(matrix_view<const float>(x.data(), m, k), w4, matrix_view<float>(y4.data(), m, n));
    gemm(matrix_view<const float>(x.data(), m, k), w8, matrix_view<float>(y8.data(), m, n));
    gemm(matrix_view<const float>(x.data(), m, k), prepack<fp32_format>(W),
         matrix_view<float>(yf.data(), m, n));
    for (std::size_t i = 0; i < m * n; ++i) {
      double d4 = 0, d8 = 0;  // the dequantized products, in double
      for (std::size_t c = 0; c < k; ++c) {
        d4 += static_cast<double>(t4.dequantize_one(i % n, c)) * x[(i / n) * k + c];
        d8 += static_cast<double>(t8.dequantize_one(i % n, c)) * x[(i / n) * k + c];
      }
      CHECK(std::fabs(y4[i] - d4) <= 1e-4);
      CHECK(std::fabs(y8[i] - d8) <= 1e-4);
      CHECK(std::fabs(y8[i] - yf[i]) <= 0.05);  // 8-bit weights are close to fp32
    }
  }
}
