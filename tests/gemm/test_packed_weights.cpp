// prepack: layouts, sizes and validation.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <qlite/gemm/packed_weights.hpp>

#include "gemm_test_util.hpp"

namespace {

using namespace qlite;

template <class Fn>
void expect_error(Fn&& fn, const std::string& needle) {
  try {
    fn();
    FAIL("no error thrown; expected one mentioning ", needle);
  } catch (const error& e) {
    INFO(e.what());
    CHECK(e.category() == errc::invalid_argument);
    CHECK(std::string(e.what()).find(needle) != std::string::npos);
  }
}

}  // namespace

TEST_SUITE("gemm") {
  TEST_CASE("prepack: sizes of each layout") {
    auto q4 = prepack<q4_0_format>(std::span<const block_q4_0>(test::random_q4_0(20, 64, 1)), 20, 64);
    CHECK(q4.rows() == 20);
    CHECK(q4.cols() == 64);
    CHECK(q4.source_bytes() == 20 * 2 * sizeof(block_q4_0));
    CHECK(q4.bytes() == 2 * 16 * 64 / 2 + 2 * 2 * 16 * 2);  // 2 panels: nibbles + fp16 scales
    auto q8 = prepack<q8_0_format>(std::span<const block_q8_0>(test::random_q8_0(16, 96, 2)), 16, 96);
    CHECK(q8.bytes() == 16 * 96 + 3 * 16 * 2);
    auto i8 = prepack<int8_per_channel_format>(test::random_tensor(17, 37, 8, scheme_id::symmetric, 0, 3));
    CHECK(i8.storage().k_padded == 40);  // padded to whole 4-k chunks
    CHECK(i8.bytes() == 2 * 16 * 40 + 2 * 16 * 4);
    auto a4 = prepack<int4_per_group_format<64, asymmetric>>(
        test::random_tensor(16, 128, 4, scheme_id::asymmetric, 64, 4));
    CHECK(a4.bytes() == 16 * 128 / 2 + 2 * 16 * 4 + 2 * 16);  // nibbles + fp32 scales + zero points
    const std::vector<float> wf = test::random_floats(5 * 3, 5);
    auto bf = prepack<bf16_format>(matrix_view<const float>(wf.data(), 5, 3));
    CHECK(bf.storage().k_padded == 4);
    CHECK(bf.bytes() == 16 * 4 * 2);
  }

  TEST_CASE("prepack: int4 codes land in the documented nibbles") {
    // Row r, column c holds code (r + c) % 16; lane l of chunk c8 byte j: lo = k 8c8+j, hi = k 8c8+4+j.
    quantized_tensor t = test::random_tensor(3, 32, 4, scheme_id::symmetric, 32, 6);
    for (std::size_t r = 0; r < 3; ++r)
      for (std::size_t c = 0; c < 32; c += 2)
        t.codes[r * 16 + c / 2] = static_cast<std::uint8_t>(((r + c) % 16) | (((r + c + 1) % 16) << 4));
    auto w = prepack<int4_per_group_format<32>>(t);
    const std::uint8_t* d = w.storage().data.data();
    for (std::size_t r = 0; r < 3; ++r)
      for (std::size_t k = 0; k < 32; ++k) {
        const std::size_t j = k % 8;
        const std::uint8_t b = d[(k / 8) * 64 + r * 4 + j % 4];
        CHECK((j < 4 ? (b & 15U) : (b >> 4)) == (r + k) % 16);
      }
  }

  TEST_CASE("prepack: shapes and tensors that do not fit are clear errors") {
    expect_error(
        [] {
          (void)prepack<int4_per_group_format<64>>(
              test::random_tensor(4, 96, 4, scheme_id::symmetric, 64, 1));
        },
        "K = 96 is not a multiple of G = 64");
    expect_error(
        [] {
          (void)prepack<int4_per_group_format<32>>(
              test::random_tensor(4, 64, 4, scheme_id::symmetric, 64, 1));
        },
        "per_group<32>");
    expect_error(
        [] {
          (void)prepack<int4_per_group_format<32, asymmetric>>(
              test::random_tensor(4, 64, 4, scheme_id::symmetric, 32, 1));
        },
        "expected asymmetric");
    expect_error(
        [] {
          (void)prepack<int8_per_channel_format>(test::random_tensor(4, 64, 4, scheme_id::symmetric, 0, 1));
        },
        "bits is 4, expected 8");
    expect_error(
        [] {
          (void)prepack<int8_per_channel_format>(test::random_tensor(4, 64, 8, scheme_id::asymmetric, 0, 1));
        },
        "scheme is asymmetric");
    expect_error(
        [] {
          auto b = test::random_q4_0(4, 64, 1);
          (void)prepack<q4_0_format>(std::span<const block_q4_0>(b), 4, 48);
        },
        "K = 48 is not a multiple of the block size 32");
    expect_error(
        [] {
          auto b = test::random_q8_0(4, 64, 1);
          (void)prepack<q8_0_format>(std::span<const block_q8_0>(b), 5, 64);
        },
        "8 blocks given, expected 10");
    expect_error(
        [] {
          quantized_tensor t = test::random_tensor(4, 64, 8, scheme_id::symmetric, 0, 1);
          t.scales.pop_back();
          (void)prepack<int8_per_channel_format>(t);
        },
        "do not match 4 × 64");
    expect_error([] { (void)prepack<fp32_format>(matrix_view<const float>(nullptr, 0, 8)); },
                 "empty matrix 0 × 8");
  }
}
