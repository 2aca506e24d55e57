// qlite — weight quantization schemes chosen by name at run time.
//
// Tools (qlite-quantize, qlite-compare) and the model's precision policy must pick a scheme
// from a string. A qlite::named_scheme wraps one compile-time quantizer<...> or one ggml block
// format behind two functions: `quantize` (qlite schemes only: a quantized_tensor) and
// `fake_quantize` (every scheme: out = dequantize(quantize(W)), bit for bit).
//
//   name              what it is                                          bits/weight
//   int8_tensor       symmetric ±127, one scale per tensor                8
//   int8              symmetric ±127, one scale per row (output channel)  8 (+32/K)
//   int4_row_narrow   symmetric ±7 (amax/7), per row                      4 (+32/K)
//   int4_g{32,64,128} symmetric full grid [−8, 7] (signed max), per group 4 + 32/G
//   int4_g{32,128}_narrow   symmetric ±7 (amax/7), per group              4 + 32/G
//   int4a_g{32,64,128} asymmetric [0, 15] with a zero point, per group    4 + 40/G
//   int3_g32_narrow   symmetric ±3, g32;  int3a_g32 / int2a_g32  asymmetric, g32
//   q8_0 q4_0 q4_1    ggml blocks of 32 (ggml's reference rounding)       8.5 / 4.5 / 5
//   q4_k q6_k         ggml K-quant super-blocks of 256                     4.5 / 6.5625
//
// The "_narrow" schemes are the restricted grid that wastes the code −8 (the reference table's
// "int4 sym"); qlite's int4_g* use every code (docs/quantization.md). Per-group schemes give a
// row whose length G does not divide a tail group. ggml block schemes fake-quantize a row whose
// length is not a multiple of 32 by zero-padding its last block (the tail's scale then comes
// from the tail alone, as a tail group's does); K-quants need rows·cols to be a multiple of 256
// and quantize the flattened tensor when a row is not a multiple of 256 (errc::invalid_argument
// otherwise).
//
//   const qlite::named_scheme& s = qlite::find_scheme("int4a_g32");
//   qlite::quantized_tensor t = s.quantize(W);            // W: matrix_view<const float>
//   s.fake_quantize(W, qlite::matrix_view<float>(out.data(), W.rows(), W.cols()));
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qlite/core/error.hpp"
#include "qlite/core/matrix_view.hpp"
#include "qlite/quant/block_formats.hpp"
#include "qlite/quant/quantizer.hpp"

namespace qlite {

/// A weight quantization scheme selected by name (see the file comment for the list).
struct named_scheme {
  std::string_view name;
  std::string_view description;
  double nominal_bits = 0;  ///< bits per weight including fp16/fp32 parameters, for a long row
  /// Quantizes W to a quantized_tensor; nullptr for the ggml block schemes (use io/gguf.hpp).
  quantized_tensor (*quantize)(matrix_view<const float> w) = nullptr;
  /// out = dequantize(quantize(W)); out has W's shape.
  void (*fake_quantize)(matrix_view<const float> w, matrix_view<float> out) = nullptr;
};

namespace detail {

template <class Q>
quantized_tensor named_quantize(matrix_view<const float> w) {
  return Q{}.quantize(w);
}
template <class Q>
void named_fake_quantize(matrix_view<const float> w, matrix_view<float> out) {
  Q{}.fake_quantize(w, out);
}

/// Block schemes: each row is quantized and dequantized in blocks; a partial last block is
/// padded with zeros (which change neither an amax nor, for K-quants, anything but the padding).
template <class Block>
void block_fake_quantize_rows(matrix_view<const float> w, matrix_view<float> out) {
  check_same_shape("fake_quantize: output", w.rows(), w.cols(), out.rows(), out.cols());
  constexpr std::size_t B = block_traits<Block>::block_size;
  const std::size_t padded = (w.cols() + B - 1) / B * B;
  std::vector<float> x(padded, 0.0f), y(padded);
  std::vector<Block> blocks(padded / B);
  for (std::size_t r = 0; r < w.rows(); ++r) {
    const auto row = w.row(r);
    std::copy(row.begin(), row.end(), x.begin());
    ref::quantize_row(std::span<const float>(x), std::span<Block>(blocks));
    ref::dequantize_row(std::span<const Block>(blocks), std::span<float>(y));
    std::copy_n(y.begin(), w.cols(), out.row(r).begin());
  }
}

/// K-quants: rows when a row holds whole super-blocks, else the flattened tensor.
template <class Block>
void kquant_fake_quantize(matrix_view<const float> w, matrix_view<float> out) {
  check_same_shape("fake_quantize: output", w.rows(), w.cols(), out.rows(), out.cols());
  constexpr std::size_t B = block_traits<Block>::block_size;
  if (w.cols() % B == 0) return block_fake_quantize_rows<Block>(w, out);
  const std::size_t n = w.rows() * w.cols();
  if (n % B != 0)
    throw error(errc::invalid_argument, "fake_quantize: a K-quant needs rows·cols (" + std::to_string(n) +
                                            ") to be a multiple of " + std::to_string(B));
  std::vector<float> x(n), y(n);
  for (std::size_t r = 0; r < w.rows(); ++r)
    std::copy(w.row(r).begin(), w.row(r).end(), x.data() + r * w.cols());
  std::vector<Block> blocks(n / B);
  ref::quantize_row(std::span<const float>(x), std::span<Block>(blocks));
  ref::dequantize_row(std::span<const Block>(blocks), std::span<float>(y));
  for (std::size_t r = 0; r < w.rows(); ++r)
    std::copy_n(y.data() + r * w.cols(), w.cols(), out.row(r).begin());
}

template <class Q>
constexpr named_scheme qlite_scheme(std::string_view name, std::string_view description, double bits) {
  return {name, description, bits, &named_quantize<Q>, &named_fake_quantize<Q>};
}

inline constexpr std::array named_schemes_table{
    qlite_scheme<quantizer<symmetric_narrow, per_tensor, 8>>("int8_tensor", "int8 symmetric ±127 per tensor",
                                                             8),
    qlite_scheme<quantizer<symmetric_narrow, per_channel, 8>>("int8", "int8 symmetric ±127 per row", 8),
    qlite_scheme<quantizer<symmetric_narrow, per_channel, 4>>("int4_row_narrow", "int4 symmetric ±7 per row",
                                                              4),
    qlite_scheme<quantizer<symmetric, per_group<32>, 4>>("int4_g32", "int4 symmetric full grid g32", 5),
    qlite_scheme<quantizer<symmetric, per_group<64>, 4>>("int4_g64", "int4 symmetric full grid g64", 4.5),
    qlite_scheme<quantizer<symmetric, per_group<128>, 4>>("int4_g128", "int4 symmetric full grid g128", 4.25),
    qlite_scheme<quantizer<symmetric_narrow, per_group<32>, 4>>("int4_g32_narrow", "int4 symmetric ±7 g32",
                                                                5),
    qlite_scheme<quantizer<symmetric_narrow, per_group<128>, 4>>("int4_g128_narrow", "int4 symmetric ±7 g128",
                                                                 4.25),
    qlite_scheme<quantizer<asymmetric, per_group<32>, 4>>("int4a_g32", "int4 asymmetric g32", 5.25),
    qlite_scheme<quantizer<asymmetric, per_group<64>, 4>>("int4a_g64", "int4 asymmetric g64", 4.625),
    qlite_scheme<quantizer<asymmetric, per_group<128>, 4>>("int4a_g128", "int4 asymmetric g128", 4.3125),
    qlite_scheme<quantizer<symmetric_narrow, per_group<32>, 3>>("int3_g32_narrow", "int3 symmetric ±3 g32",
                                                                4),
    qlite_scheme<quantizer<asymmetric, per_group<32>, 3>>("int3a_g32", "int3 asymmetric g32", 4.25),
    qlite_scheme<quantizer<asymmetric, per_group<32>, 2>>("int2a_g32", "int2 asymmetric g32", 3.25),
    named_scheme{"q8_0", "ggml Q8_0 (blocks of 32, fp16 scale)", 8.5, nullptr,
                 &block_fake_quantize_rows<block_q8_0>},
    named_scheme{"q4_0", "ggml Q4_0 (blocks of 32, fp16 scale)", 4.5, nullptr,
                 &block_fake_quantize_rows<block_q4_0>},
    named_scheme{"q4_1", "ggml Q4_1 (blocks of 32, fp16 scale and min)", 5, nullptr,
                 &block_fake_quantize_rows<block_q4_1>},
    named_scheme{"q4_k", "ggml Q4_K (super-blocks of 256)", 4.5, nullptr, &kquant_fake_quantize<block_q4_k>},
    named_scheme{"q6_k", "ggml Q6_K (super-blocks of 256)", 6.5625, nullptr,
                 &kquant_fake_quantize<block_q6_k>},
};

}  // namespace detail

/// Every named scheme, in the order of the file comment.
inline std::span<const named_scheme> named_schemes() noexcept { return detail::named_schemes_table; }

/// The scheme called `name`, or nullptr.
inline const named_scheme* find_scheme_or_null(std::string_view name) noexcept {
  for (const named_scheme& s : detail::named_schemes_table)
    if (s.name == name) return &s;
  return nullptr;
}

/// The scheme called `name`; qlite::error(invalid_argument) listing the known names otherwise.
inline const named_scheme& find_scheme(std::string_view name) {
  if (const named_scheme* s = find_scheme_or_null(name)) return *s;
  std::string known;
  for (const named_scheme& s : detail::named_schemes_table) {
    if (!known.empty()) known += ", ";
    known += s.name;
  }
  throw error(errc::invalid_argument,
              "unknown quantization scheme '" + std::string(name) + "' (known: " + known + ")");
}

}  // namespace qlite
