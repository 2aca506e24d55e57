// qlite — a quantized weight matrix: packed codes + scales (+ zero points).
//
// Glossary (W is N × K row-major, N = rows = output channels, K = cols = input features):
//
//   group      the elements that share one scale (and zero point): the whole tensor
//              (per_tensor), one row (per_channel) or G consecutive elements of a row
//              (per_group<G>). A row whose length G does not divide ends in a shorter *tail
//              group* of K mod G elements with its own parameters.
//   code  u    the stored unsigned integer, 0 ≤ u < 2^bits.
//   q          the signed grid value: q = u − 2^(bits−1) for symmetric schemes (the stored
//              code is offset binary, like ggml's Q4_0 nibbles), q = u for asymmetric ones.
//   real       scale · (q − zero_point); zero_point = 0 for symmetric schemes.
//
// Codes are packed per row, each row starting on a byte boundary (row_bytes() bytes):
//
//   bits = 8   one code per byte:          byte j = u[j]
//   bits = 4   two per byte, low first:    byte j = u[2j] | u[2j+1] << 4
//   bits = 2   four per byte, low first:   byte j = u[4j] | u[4j+1] << 2 | u[4j+2] << 4 | u[4j+3] << 6
//   bits = 3, 5, 6, 7   a little-endian bit stream: code j occupies bits [j·b, j·b + b) of the
//              row, bit 0 being the least significant bit of the row's first byte.
//
// Unused bits at the end of a row are zero. docs/formats.md draws these byte pictures.
//
//   qlite::quantizer<qlite::asymmetric, qlite::per_group<32>, 4> q;
//   qlite::quantized_tensor t = q.quantize(W);        // t.scales.size() == N * ceil(K / 32)
//   float w = t.dequantize_one(3, 17);
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "qlite/core/aligned_buffer.hpp"

namespace qlite {

/// The affine scheme, at run time (the compile-time tags live in quant/scheme.hpp).
enum class scheme_id : std::uint8_t {
  symmetric,         ///< full signed grid [−2^(b−1), 2^(b−1)−1]; zero_point = 0
  symmetric_narrow,  ///< restricted grid [−(2^(b−1)−1), 2^(b−1)−1]; zero_point = 0
  asymmetric,        ///< unsigned grid [0, 2^b − 1] with an integer zero point
};

/// The granularity, at run time.
enum class granularity_id : std::uint8_t { per_tensor, per_channel, per_group };

/// Bytes that hold `count` codes of `bits` bits, packed as described above.
constexpr std::size_t packed_bytes(std::size_t count, int bits) noexcept {
  return (count * static_cast<std::size_t>(bits) + 7) / 8;
}

/// A quantized N × K matrix. Plain data: fields are public and validated by the consumers
/// that take a tensor from outside (loaders, packing).
struct quantized_tensor {
  std::size_t rows = 0;
  std::size_t cols = 0;
  int bits = 8;
  scheme_id scheme = scheme_id::symmetric;
  granularity_id granularity = granularity_id::per_channel;
  std::size_t group_size =
      0;  ///< elements per group along a row (per_group); cols for per_channel; 0 for per_tensor

  aligned_buffer<std::uint8_t> codes;     ///< rows × row_bytes(), see the packing above
  std::vector<float> scales;              ///< one per group, row-major over (row, group)
  std::vector<std::uint8_t> zero_points;  ///< asymmetric only: one per group, 0 ≤ z < 2^bits

  /// Bytes per packed row.
  [[nodiscard]] std::size_t row_bytes() const noexcept { return packed_bytes(cols, bits); }
  /// Groups per row (1 for per_channel; per_tensor has a single group for the whole tensor).
  [[nodiscard]] std::size_t groups_per_row() const noexcept {
    if (granularity != granularity_id::per_group) return 1;
    return (cols + group_size - 1) / group_size;
  }
  /// Index into `scales`/`zero_points` of element (r, c).
  [[nodiscard]] std::size_t group_index(std::size_t r, std::size_t c) const noexcept {
    switch (granularity) {
      case granularity_id::per_tensor:
        return 0;
      case granularity_id::per_channel:
        return r;
      case granularity_id::per_group:
        return r * groups_per_row() + c / group_size;
    }
    return 0;
  }
  /// The offset added to q in storage: 2^(bits−1) for symmetric schemes, 0 otherwise.
  [[nodiscard]] int code_offset() const noexcept {
    return scheme == scheme_id::asymmetric ? 0 : 1 << (bits - 1);
  }

  /// Stored code u of element (r, c).
  [[nodiscard]] unsigned code(std::size_t r, std::size_t c) const noexcept {
    const std::uint8_t* row = codes.data() + r * row_bytes();
    const std::size_t bit = c * static_cast<std::size_t>(bits);
    // A code of ≤ 8 bits spans at most two bytes, both inside the row.
    unsigned v = row[bit / 8];
    if ((bit % 8) + static_cast<std::size_t>(bits) > 8) v |= static_cast<unsigned>(row[bit / 8 + 1]) << 8;
    return (v >> (bit % 8)) & ((1U << bits) - 1U);
  }
  /// scale · (u − offset − zero_point) of element (r, c): the scalar definition.
  [[nodiscard]] float dequantize_one(std::size_t r, std::size_t c) const noexcept {
    const std::size_t g = group_index(r, c);
    const int z = scheme == scheme_id::asymmetric ? zero_points[g] : 0;
    return scales[g] * static_cast<float>(static_cast<int>(code(r, c)) - code_offset() - z);
  }
  /// Storage in bytes (codes + scales + zero points).
  [[nodiscard]] std::size_t storage_bytes() const noexcept {
    return codes.size() + scales.size() * sizeof(float) + zero_points.size();
  }
  /// Average bits per weight including the parameters.
  [[nodiscard]] double bits_per_weight() const noexcept {
    return rows != 0 && cols != 0
               ? 8.0 * static_cast<double>(storage_bytes()) / static_cast<double>(rows * cols)
               : 0.0;
  }
};

}  // namespace qlite
