// qlite — packed_weights<Format>: a weight matrix rearranged once for qlite::gemm.
//
// Packing is an explicit, named step ("make costs visible"): `qlite::prepack<Format>(src)`
// reads a quantized_tensor, ggml blocks or a float/half matrix once (O(N·K)) and returns the
// layout the kernels stream. The packed matrix is immutable and reusable across calls,
// threads and arch paths (every arch reads the same layout).
//
// Glossary (W is N × K row-major, n = output channel, k = input feature):
//
//   panel     16 consecutive rows n0 … n0+15 of W; the last panel is padded with zero rows.
//             One SIMD lane per row: a 512-bit register holds one int32/fp32 per row.
//   chunk     the bytes of a panel that cover a few consecutive k for all 16 rows: 64 bytes
//             (one cache line, one zmm, two ymm), stored k-chunk after k-chunk.
//   code  u   the unsigned stored integer; the weight is scale · (u − z) with z = 128 (int8,
//             Q8_0), 8 (symmetric int4, Q4_0) or the group's zero point (asymmetric int4).
//   group     G consecutive k of one row sharing a scale (and zero point): 32 for Q8_0/Q4_0,
//             G for int4, the whole (padded) row for int8 per-channel.
//
// Chunk pictures (lane l = row n0 + l; byte offsets inside the 64-byte chunk c):
//
//   int8 / Q8_0, 4 k per chunk            int4 / Q4_0, 8 k per chunk
//   byte 4l+j = u[n0+l][4c+j]             byte 4l+j = u[n0+l][8c+j] | u[n0+l][8c+4+j] << 4
//   ┌────────┬────────┬───┬────────┐     ┌──────────────────┬───┬──────────────────┐
//   │ l=0    │ l=1    │ … │ l=15   │     │ l=0: lo k0..k3   │ … │ l=15             │
//   │k0..k3  │k0..k3  │   │k0..k3  │     │      hi k4..k7   │   │                  │
//   └────────┴────────┴───┴────────┘     └──────────────────┴───┴──────────────────┘
//   One vpdpbusd per chunk multiplies 4 u8 codes by the 4 s8 activations x[m][4c..4c+3]
//   (broadcast) and adds them into lane l: no horizontal sums, each lane is one output.
//
//   fp32: 16 floats per k (64 B)    fp16: 16 halves per k (32 B)
//   bf16, 2 k per chunk: 32-bit lane l = bf16(w[n0+l][2c]) | bf16(w[n0+l][2c+1]) << 16
//   (vdpbf16ps's pair layout).
//
// Beside the chunks: scales[panel][group][16] (fp16 bits for Q8_0/Q4_0, exactly ggml's
// values; fp32 otherwise) and, for asymmetric int4, zero_points[panel][group][16] (u8).
// Padding rows have scale 0; int8 rows whose K is not a multiple of 4 are padded with the
// code of 0.0 (the activations are padded with 0 too).
//
// Shapes: int4 and Q formats need K to be a multiple of G (32 for Q8_0/Q4_0): otherwise
// prepack throws qlite::error naming K and G. int8 per-channel and the float formats take
// any K.
//
//   qlite::quantizer<qlite::symmetric, qlite::per_group<32>, 4> q;
//   auto packed = qlite::prepack<qlite::int4_per_group_format<32>>(q.quantize(W));
//   std::vector<qlite::block_q4_0> blocks = ...;                 // a GGUF tensor, N × K
//   auto q40 = qlite::prepack<qlite::q4_0_format>(std::span<const qlite::block_q4_0>(blocks), N, K);
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

#include "qlite/core/aligned_buffer.hpp"
#include "qlite/core/bf16.hpp"
#include "qlite/core/error.hpp"
#include "qlite/core/fp16.hpp"
#include "qlite/core/matrix_view.hpp"
#include "qlite/quant/block_formats.hpp"
#include "qlite/quant/quantized_tensor.hpp"
#include "qlite/quant/scheme.hpp"

namespace qlite {

// ---- formats ---------------------------------------------------------------------------

/// int8, one scale per output channel (symmetric): from a quantized_tensor with bits = 8.
struct int8_per_channel_format {
  static constexpr const char* name() noexcept { return "int8"; }
};
/// int4, one scale per G weights of a row; Scheme symmetric (z = 8) or asymmetric (zero point).
template <std::size_t G, class Scheme = symmetric>
struct int4_per_group_format {
  static_assert(G == 32 || G == 64 || G == 128, "qlite::int4_per_group_format: G must be 32, 64 or 128");
  static_assert(std::is_same_v<Scheme, symmetric> || std::is_same_v<Scheme, asymmetric>,
                "qlite::int4_per_group_format: Scheme must be qlite::symmetric or qlite::asymmetric");
  static constexpr std::size_t group_size = G;
  static constexpr bool asymmetric_zero = std::is_same_v<Scheme, asymmetric>;
  static constexpr const char* name() noexcept {
    if constexpr (asymmetric_zero)
      return G == 32 ? "int4a_g32" : G == 64 ? "int4a_g64" : "int4a_g128";
    else
      return G == 32 ? "int4_g32" : G == 64 ? "int4_g64" : "int4_g128";
  }
};
/// ggml Q8_0 blocks (34 bytes per 32 weights), values identical to ggml's.
struct q8_0_format {
  static constexpr const char* name() noexcept { return "q8_0"; }
};
/// ggml Q4_0 blocks (18 bytes per 32 weights), values identical to ggml's.
struct q4_0_format {
  static constexpr const char* name() noexcept { return "q4_0"; }
};
/// Unquantized weights in bfloat16, IEEE binary16 and fp32.
struct bf16_format {
  static constexpr const char* name() noexcept { return "bf16"; }
};
struct fp16_format {
  static constexpr const char* name() noexcept { return "fp16"; }
};
struct fp32_format {
  static constexpr const char* name() noexcept { return "fp32"; }
};

namespace detail {

template <class F>
inline constexpr bool is_int4_format_v = false;
template <std::size_t G, class S>
inline constexpr bool is_int4_format_v<int4_per_group_format<G, S>> = true;

/// What the kernels switch on.
enum class weight_kind : std::uint8_t { int8, int4, f32, f16, bf16 };

inline constexpr std::size_t panel_rows = 16;
inline constexpr std::size_t chunk_bytes = 64;

/// The runtime description every format shares (see the glossary above).
struct packed_storage {
  weight_kind kind = weight_kind::f32;
  bool scale_fp16 = false;              ///< scales are fp16 bits (Q formats), else fp32
  bool asym = false;                    ///< per-group zero points (asymmetric int4)
  std::size_t rows = 0;                 ///< N
  std::size_t cols = 0;                 ///< K
  std::size_t k_padded = 0;             ///< K rounded up to the chunk's k count
  std::size_t group = 0;                ///< k per scale group (k_padded for per-channel, 0 for floats)
  std::size_t groups = 0;               ///< groups per row
  std::size_t panels = 0;               ///< ceil(N / 16)
  std::size_t panel_bytes = 0;          ///< bytes of chunks per panel
  std::size_t source_bytes = 0;         ///< size of the source format (e.g. ggml's block bytes)
  aligned_buffer<std::uint8_t> data;    ///< panels × panel_bytes
  aligned_buffer<std::uint8_t> scales;  ///< panels × groups × 16 × (2 or 4) bytes
  aligned_buffer<std::uint8_t> zeros;   ///< asym: panels × groups × 16

  /// Bytes a call streams: chunks + scales + zero points.
  [[nodiscard]] std::size_t bytes() const noexcept { return data.size() + scales.size() + zeros.size(); }
  /// k per 64-byte chunk.
  [[nodiscard]] std::size_t chunk_k() const noexcept {
    switch (kind) {
      case weight_kind::int8:
        return 4;
      case weight_kind::int4:
        return 8;
      case weight_kind::bf16:
        return 2;
      case weight_kind::f16:
        return 2;  // 32 B per k: two k per cache line
      case weight_kind::f32:
        return 1;
    }
    return 1;
  }
};

inline std::size_t round_up(std::size_t v, std::size_t m) noexcept { return (v + m - 1) / m * m; }

inline packed_storage make_storage(weight_kind kind, std::size_t n, std::size_t k, std::size_t group,
                                   bool scale_fp16, bool asym) {
  packed_storage s;
  s.kind = kind;
  s.rows = n;
  s.cols = k;
  s.scale_fp16 = scale_fp16;
  s.asym = asym;
  s.k_padded = round_up(k, s.chunk_k());
  s.panels = (n + panel_rows - 1) / panel_rows;
  switch (kind) {
    case weight_kind::int8:
      s.panel_bytes = s.k_padded * panel_rows;
      break;
    case weight_kind::int4:
      s.panel_bytes = s.k_padded * panel_rows / 2;
      break;
    case weight_kind::f32:
      s.panel_bytes = s.k_padded * panel_rows * 4;
      break;
    case weight_kind::f16:
    case weight_kind::bf16:
      s.panel_bytes = s.k_padded * panel_rows * 2;
      break;
  }
  if (kind == weight_kind::int8 || kind == weight_kind::int4) {
    s.group = group == 0 ? s.k_padded : group;
    s.groups = s.k_padded / s.group;
    s.scales = aligned_buffer<std::uint8_t>(s.panels * s.groups * panel_rows * (scale_fp16 ? 2 : 4));
    if (asym) s.zeros = aligned_buffer<std::uint8_t>(s.panels * s.groups * panel_rows);
  }
  s.data = aligned_buffer<std::uint8_t>(s.panels * s.panel_bytes);
  return s;
}

/// Stores code u of (n, k) into an int8 or int4 panel layout.
inline void put_code(packed_storage& s, std::size_t n, std::size_t k, unsigned u) noexcept {
  const std::size_t p = n / panel_rows, l = n % panel_rows;
  std::uint8_t* panel = s.data.data() + p * s.panel_bytes;
  if (s.kind == weight_kind::int8) {
    panel[(k / 4) * chunk_bytes + l * 4 + k % 4] = static_cast<std::uint8_t>(u);
  } else {
    const std::size_t j = k % 8;
    std::uint8_t& b = panel[(k / 8) * chunk_bytes + l * 4 + j % 4];
    b = static_cast<std::uint8_t>(j < 4 ? ((b & 0xF0U) | u) : ((b & 0x0FU) | (u << 4)));
  }
}

inline void put_scale(packed_storage& s, std::size_t n, std::size_t g, float scale,
                      std::uint16_t bits16) noexcept {
  const std::size_t idx = ((n / panel_rows) * s.groups + g) * panel_rows + n % panel_rows;
  if (s.scale_fp16)
    std::memcpy(s.scales.data() + idx * 2, &bits16, 2);
  else
    std::memcpy(s.scales.data() + idx * 4, &scale, 4);
}

/// Fills every code of an integer layout with z (the code of 0.0): padding rows and k.
inline void fill_codes(packed_storage& s, unsigned z) noexcept {
  const unsigned b = s.kind == weight_kind::int8 ? z : (z | (z << 4));
  std::memset(s.data.data(), static_cast<int>(b), s.data.size());
}

inline std::string shape_text(std::size_t n, std::size_t k) {
  return std::to_string(n) + " × " + std::to_string(k);
}

}  // namespace detail

/// A weight matrix packed for qlite::gemm in the layout of `Format` (see the file comment).
template <class Format>
class packed_weights {
 public:
  using format = Format;
  packed_weights() = default;
  explicit packed_weights(detail::packed_storage s) noexcept : s_(std::move(s)) {}

  /// N (output channels) and K (input features).
  [[nodiscard]] std::size_t rows() const noexcept { return s_.rows; }
  [[nodiscard]] std::size_t cols() const noexcept { return s_.cols; }
  /// Bytes a gemm call streams (codes + scales + zero points, padding included).
  [[nodiscard]] std::size_t bytes() const noexcept { return s_.bytes(); }
  /// Bytes of the source format (ggml block bytes, quantized_tensor storage, N·K·sizeof).
  [[nodiscard]] std::size_t source_bytes() const noexcept { return s_.source_bytes; }
  [[nodiscard]] const detail::packed_storage& storage() const noexcept { return s_; }

 private:
  detail::packed_storage s_;
};

// ---- prepack -----------------------------------------------------------------------------

/// Packs a quantized_tensor: int8 (per-channel or per-tensor, symmetric or symmetric_narrow)
/// for int8_per_channel_format; int4 per_group<G> with the format's scheme for
/// int4_per_group_format<G, Scheme>. Throws qlite::error (invalid_argument) naming the field
/// that does not match.
template <class Format>
requires(std::is_same_v<Format, int8_per_channel_format> ||
         detail::is_int4_format_v<Format>) packed_weights<Format> prepack(const quantized_tensor& t) {
  constexpr bool is8 = std::is_same_v<Format, int8_per_channel_format>;
  const std::string where = std::string("qlite::prepack<") + Format::name() + ">: ";
  const std::size_t n = t.rows, k = t.cols;
  if (n == 0 || k == 0)
    throw error(errc::invalid_argument, where + "empty tensor " + detail::shape_text(n, k));
  std::size_t group = 0;
  bool asym = false;
  if constexpr (is8) {
    if (t.bits != 8)
      throw error(errc::invalid_argument, where + "bits is " + std::to_string(t.bits) + ", expected 8");
    if (t.scheme == scheme_id::asymmetric)
      throw error(errc::invalid_argument,
                  where + "scheme is asymmetric, expected symmetric or symmetric_narrow");
    if (t.granularity == granularity_id::per_group)
      throw error(errc::invalid_argument,
                  where + "granularity is per_group, expected per_channel or per_tensor");
  } else {
    group = Format::group_size;
    asym = Format::asymmetric_zero;
    if (t.bits != 4)
      throw error(errc::invalid_argument, where + "bits is " + std::to_string(t.bits) + ", expected 4");
    if (t.granularity != granularity_id::per_group || t.group_size != group)
      throw error(errc::invalid_argument,
                  where + "granularity is not per_group<" + std::to_string(group) + ">");
    if (asym != (t.scheme == scheme_id::asymmetric))
      throw error(errc::invalid_argument, where + (asym ? "scheme is symmetric, expected asymmetric"
                                                        : "scheme is asymmetric, expected symmetric"));
    if (k % group != 0)
      throw error(errc::invalid_argument, where + "K = " + std::to_string(k) + " is not a multiple of G = " +
                                              std::to_string(group) + " (no tail groups in packed int4)");
  }
  const std::size_t expect_scales = t.granularity == granularity_id::per_tensor ? 1 : n * t.groups_per_row();
  if (t.codes.size() != n * t.row_bytes() || t.scales.size() != expect_scales ||
      (asym && t.zero_points.size() != expect_scales))
    throw error(errc::invalid_argument,
                where + "codes/scales/zero_points sizes (" + std::to_string(t.codes.size()) + "/" +
                    std::to_string(t.scales.size()) + "/" + std::to_string(t.zero_points.size()) +
                    ") do not match " + detail::shape_text(n, k));
  detail::packed_storage s = detail::make_storage(is8 ? detail::weight_kind::int8 : detail::weight_kind::int4,
                                                  n, k, group, false, asym);
  const unsigned zsym = is8 ? 128U : 8U;
  detail::fill_codes(s, zsym);
  // Symmetric codes are stored offset binary (u = q + 2^(b−1)): exactly the packed code's z.
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t c = 0; c < k; ++c) detail::put_code(s, r, c, t.code(r, c));
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t g = 0; g < s.groups; ++g) {
      const std::size_t src = t.group_index(r, is8 ? 0 : g * group);
      detail::put_scale(s, r, g, t.scales[src], 0);
      if (asym)
        s.zeros[((r / detail::panel_rows) * s.groups + g) * detail::panel_rows + r % detail::panel_rows] =
            t.zero_points[src];
    }
  s.source_bytes = t.storage_bytes();
  return packed_weights<Format>(std::move(s));
}

/// Packs ggml Q8_0 / Q4_0 blocks: N rows of K/32 blocks each, row-major (a GGUF tensor).
/// Values are exactly ggml's: fp16 scale · q (Q8_0), fp16 scale · (q − 8) (Q4_0).
template <class Format>
requires(std::is_same_v<Format, q8_0_format> || std::is_same_v<Format, q4_0_format>)
    packed_weights<Format> prepack(
        std::span<const std::conditional_t<std::is_same_v<Format, q8_0_format>, block_q8_0, block_q4_0>>
            blocks,
        std::size_t n, std::size_t k) {
  constexpr bool is8 = std::is_same_v<Format, q8_0_format>;
  const std::string where = std::string("qlite::prepack<") + Format::name() + ">: ";
  if (n == 0 || k == 0)
    throw error(errc::invalid_argument, where + "empty matrix " + detail::shape_text(n, k));
  if (k % 32 != 0)
    throw error(errc::invalid_argument,
                where + "K = " + std::to_string(k) + " is not a multiple of the block size 32");
  const std::size_t per_row = k / 32;
  if (blocks.size() != n * per_row)
    throw error(errc::invalid_argument, where + std::to_string(blocks.size()) + " blocks given, expected " +
                                            std::to_string(n * per_row) + " for " + detail::shape_text(n, k));
  detail::packed_storage s = detail::make_storage(is8 ? detail::weight_kind::int8 : detail::weight_kind::int4,
                                                  n, k, 32, true, false);
  detail::fill_codes(s, is8 ? 128U : 8U);
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t b = 0; b < per_row; ++b) {
      const auto& blk = blocks[r * per_row + b];
      for (std::size_t j = 0; j < 32; ++j) {
        unsigned u = 0;
        if constexpr (is8)
          u = static_cast<unsigned>(blk.quants[j] + 128);  // s8 → offset binary
        else
          u = j < 16 ? (blk.quants[j] & 0x0FU) : (blk.quants[j - 16] >> 4);
        detail::put_code(s, r, b * 32 + j, u);
      }
      detail::put_scale(s, r, b, 0.0f, blk.scale);
    }
  s.source_bytes = blocks.size_bytes();
  return packed_weights<Format>(std::move(s));
}

/// Packs an fp32 matrix as fp32, bf16 or fp16 (rounding to nearest even for the halves).
template <class Format>
requires(std::is_same_v<Format, fp32_format> || std::is_same_v<Format, bf16_format> ||
         std::is_same_v<Format, fp16_format>) packed_weights<Format> prepack(matrix_view<const float> w) {
  const std::string where = std::string("qlite::prepack<") + Format::name() + ">: ";
  const std::size_t n = w.rows(), k = w.cols();
  if (n == 0 || k == 0)
    throw error(errc::invalid_argument, where + "empty matrix " + detail::shape_text(n, k));
  using detail::weight_kind;
  constexpr weight_kind kind = std::is_same_v<Format, fp32_format>   ? weight_kind::f32
                               : std::is_same_v<Format, bf16_format> ? weight_kind::bf16
                                                                     : weight_kind::f16;
  detail::packed_storage s = detail::make_storage(kind, n, k, 0, false, false);
  for (std::size_t r = 0; r < n; ++r) {
    const std::size_t p = r / detail::panel_rows, l = r % detail::panel_rows;
    std::uint8_t* panel = s.data.data() + p * s.panel_bytes;
    for (std::size_t c = 0; c < k; ++c) {
      const float v = w(r, c);
      if constexpr (kind == weight_kind::f32) {
        std::memcpy(panel + (c * detail::panel_rows + l) * 4, &v, 4);
      } else if constexpr (kind == weight_kind::f16) {
        const std::uint16_t h = ref::fp32_to_fp16_bits(v);
        std::memcpy(panel + (c * detail::panel_rows + l) * 2, &h, 2);
      } else {
        const std::uint16_t h = ref::fp32_to_bf16_bits(v);
        std::memcpy(panel + ((c / 2) * detail::panel_rows + l) * 4 + (c % 2) * 2, &h, 2);
      }
    }
  }
  s.source_bytes = n * k * (kind == weight_kind::f32 ? 4 : 2);
  return packed_weights<Format>(std::move(s));
}

/// Packs a matrix already in bf16 / fp16 (the bits are kept).
template <class Format>
requires(std::is_same_v<Format, bf16_format> || std::is_same_v<Format, fp16_format>)
    packed_weights<Format> prepack(matrix_view<const std::uint16_t> bits) {
  const std::string where = std::string("qlite::prepack<") + Format::name() + ">: ";
  const std::size_t n = bits.rows(), k = bits.cols();
  if (n == 0 || k == 0)
    throw error(errc::invalid_argument, where + "empty matrix " + detail::shape_text(n, k));
  constexpr bool isbf = std::is_same_v<Format, bf16_format>;
  detail::packed_storage s = detail::make_storage(isbf ? detail::weight_kind::bf16 : detail::weight_kind::f16,
                                                  n, k, 0, false, false);
  for (std::size_t r = 0; r < n; ++r) {
    const std::size_t p = r / detail::panel_rows, l = r % detail::panel_rows;
    std::uint8_t* panel = s.data.data() + p * s.panel_bytes;
    for (std::size_t c = 0; c < k; ++c) {
      const std::uint16_t h = bits(r, c);
      const std::size_t off =
          isbf ? ((c / 2) * detail::panel_rows + l) * 4 + (c % 2) * 2 : (c * detail::panel_rows + l) * 2;
      std::memcpy(panel + off, &h, 2);
    }
  }
  s.source_bytes = n * k * 2;
  return packed_weights<Format>(std::move(s));
}

}  // namespace qlite
