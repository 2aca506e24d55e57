// qlite — ggml-compatible block formats: Q8_0, Q4_0, Q4_1, Q4_K, Q6_K.
//
// A *block* quantizes a fixed run of consecutive weights of one row (32 for the "_0/_1"
// formats, a 256-weight *super-block* for the K-quants) into one plain struct. The structs
// below have exactly ggml's layout (ggml-common.h), so an array of them is the byte image of
// a GGUF tensor row, and `ref::quantize_row` writes the same bytes as ggml's reference
// quantizers (quantize_row_*_ref): files qlite writes load in llama.cpp and vice versa.
//
// Glossary
//   x[j]        input weight j of the block (fp32).
//   scale  d    fp16, stored as its raw IEEE binary16 bits (`uint16_t`).
//   min    m    fp16 offset of the asymmetric formats (Q4_1 adds it; Q4_K subtracts it).
//   quant  q    the stored unsigned code.
//   real        what dequantize_row returns for element j.
//
// Byte pictures (element index j inside the block; "lo"/"hi" = low/high nibble):
//
//   Q8_0  34 B: [scale:2][quants[0..31]: int8]                 real = q·d
//   Q4_0  18 B: [scale:2][quants[0..15]]                       real = (q − 8)·d
//               byte i = lo: q[i] (element i), hi: q[i+16] (element i + 16)
//   Q4_1  20 B: [scale:2][min:2][quants[0..15]]                real = q·d + m
//               nibbles as Q4_0
//   Q4_K 144 B: [scale:2][min_scale:2][sub_scales:12][quants:128]   256 weights = 8 sub-blocks of 32
//               sub-block s has a 6-bit scale sc[s] and a 6-bit min mn[s]:
//                 s < 4:  sc = sub_scales[s] & 63,            mn = sub_scales[s+4] & 63
//                 s ≥ 4:  sc = (sub_scales[s+4] & 15) | (sub_scales[s-4] >> 6) << 4,
//                         mn = (sub_scales[s+4] >> 4) | (sub_scales[s]   >> 6) << 4
//               quants: 4 groups of 32 bytes; group g holds sub-block 2g in the low nibbles
//               and sub-block 2g+1 in the high nibbles.   real = d·sc·q − dmin·mn
//   Q6_K 210 B: [low_bits:128][high_bits:64][sub_scales:16 int8][scale:2]  16 sub-blocks of 16
//               two halves of 128 weights; in half h (l = 0..31):
//                 element l      : lo(low_bits[64h+l])    | ((high_bits[32h+l] >> 0) & 3) << 4
//                 element l + 32 : lo(low_bits[64h+l+32]) | ((high_bits[32h+l] >> 2) & 3) << 4
//                 element l + 64 : hi(low_bits[64h+l])    | ((high_bits[32h+l] >> 4) & 3) << 4
//                 element l + 96 : hi(low_bits[64h+l+32]) | ((high_bits[32h+l] >> 6) & 3) << 4
//               real = d·sub_scales[e/16]·(q − 32)
//
// Math of the reference quantizers (what ggml does; all arithmetic in fp32, no FMA):
//   Q8_0  d = max|x|/127, q = round_half_away(x/d)            (x·(1/d) in fact)
//   Q4_0  d = x_at_max|x| / −8, q = min(15, trunc(x·(1/d) + 8.5))
//   Q4_1  d = (max − min)/15, m = min, q = min(15, trunc((x − min)·(1/d) + 0.5))
//   Q4_K, Q6_K  ggml's iterative weighted least-squares search (make_qkx2_quants /
//         make_qx_quants) for sub-block scales, then 6/8-bit scales of the scales.
//   fp16 rounding is round-to-nearest-even (qlite/core/fp16.hpp), like F16C and ggml's
//   software path.
//
// Rows whose length is not a multiple of the block size: quantize_row pads the last block
// with zeros (the stored tail block then describes its real elements plus zeros), and
// dequantize_row writes only the real elements. GGUF itself forbids such rows; the tail rule
// is what qlite's comparisons use (it reproduces the reference SQNRs of stories260K's w2).
//
// Non-finite input is not rejected here (validate at the border): the output is then
// unspecified but the code has no undefined behaviour.
//
// Cost: O(n) per row for Q8_0/Q4_0/Q4_1 and all dequantizers; Q4_K ≈ 21 passes and Q6_K
// ≈ 19 passes over each sub-block (the scale search). Reference code, not tuned.
//
//   std::vector<float> w(4096);                                      // one row
//   std::vector<qlite::block_q4_0> b(qlite::blocks_for<qlite::block_q4_0>(w.size()));
//   qlite::ref::quantize_row(std::span<const float>(w), std::span<qlite::block_q4_0>(b));
//   std::vector<float> back(w.size());
//   qlite::ref::dequantize_row(std::span<const qlite::block_q4_0>(b), std::span<float>(back));
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qlite/core/error.hpp"
#include "qlite/core/fp16.hpp"

// The reference quantizers must not contract a·b + c into an FMA: ggml's reference bytes
// are defined by separately rounded fp32 operations. GCC contracts across statements even in
// ISO mode, so the definitions below are compiled with fp-contract=off; clang contracts only
// inside one expression and gets a block-scoped pragma as well. Verified: g++ -O3 -march=native
// and clang++ -O3 -march=native give bytes identical to a plain -O2 build. Not protected:
// -ffast-math, and clang's -ffp-contract=fast, which ignores the pragma by definition.
#if defined(__clang__)
#define QLITE_DETAIL_NO_FP_CONTRACT _Pragma("clang fp contract(off)")
#else
#define QLITE_DETAIL_NO_FP_CONTRACT
#endif
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

namespace qlite {

/// Weights per block of the 32-element formats (ggml QK8_0, QK4_0, QK4_1).
inline constexpr std::size_t qk_32 = 32;
/// Weights per K-quant super-block (ggml QK_K).
inline constexpr std::size_t qk_k = 256;

/// ggml Q8_0: 32 weights, symmetric 8-bit, one fp16 scale. 8.5 bits per weight.
struct block_q8_0 {
  std::uint16_t scale;     ///< d, fp16 bits; real = d · quants[j]
  std::int8_t quants[32];  ///< signed codes in [−127, 127]
};
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 must match ggml's 34-byte layout");

/// ggml Q4_0: 32 weights, symmetric 4-bit (offset binary), one fp16 scale. 4.5 bits per weight.
struct block_q4_0 {
  std::uint16_t scale;      ///< d, fp16 bits; real = d · (q − 8)
  std::uint8_t quants[16];  ///< byte i: element i in the low nibble, element i+16 in the high nibble
};
static_assert(sizeof(block_q4_0) == 18, "block_q4_0 must match ggml's 18-byte layout");

/// ggml Q4_1: 32 weights, asymmetric 4-bit, fp16 scale and min. 5 bits per weight.
struct block_q4_1 {
  std::uint16_t scale;      ///< d, fp16 bits
  std::uint16_t min;        ///< m, fp16 bits; real = d · q + m
  std::uint8_t quants[16];  ///< nibbles as block_q4_0 (codes 0..15, no offset)
};
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 must match ggml's 20-byte layout");

/// ggml Q4_K: 256 weights in 8 sub-blocks of 32, 6-bit sub-scales and sub-mins. 4.5 bits per weight.
struct block_q4_k {
  std::uint16_t scale;          ///< d, fp16 bits: multiplies the 6-bit sub-block scales
  std::uint16_t min_scale;      ///< dmin, fp16 bits: multiplies the 6-bit sub-block mins
  std::uint8_t sub_scales[12];  ///< 8 × (6-bit scale, 6-bit min), packed as drawn at the top
  std::uint8_t quants[128];     ///< 4-bit codes, see the byte picture
};
static_assert(sizeof(block_q4_k) == 144, "block_q4_k must match ggml's 144-byte layout");

/// ggml Q6_K: 256 weights in 16 sub-blocks of 16, 8-bit sub-scales. 6.5625 bits per weight.
struct block_q6_k {
  std::uint8_t low_bits[128];  ///< low 4 bits of the 6-bit codes, two per byte
  std::uint8_t high_bits[64];  ///< high 2 bits of the codes, four per byte
  std::int8_t sub_scales[16];  ///< signed 8-bit scale of each 16-weight sub-block
  std::uint16_t scale;         ///< d, fp16 bits; real = d · sub_scale · (q − 32)
};
static_assert(sizeof(block_q6_k) == 210, "block_q6_k must match ggml's 210-byte layout");

/// Compile-time facts about a block format.
template <class Block>
struct block_traits;

#define QLITE_DETAIL_BLOCK_TRAITS(TYPE, NAME, SIZE, GGML_ID)                          \
  template <>                                                                         \
  struct block_traits<TYPE> {                                                         \
    static constexpr std::string_view name = NAME;     /* ggml's type name */         \
    static constexpr std::size_t block_size = SIZE;    /* weights per block */        \
    static constexpr std::size_t bytes = sizeof(TYPE); /* bytes per block */          \
    static constexpr double bits_per_weight =                                         \
        8.0 * static_cast<double>(sizeof(TYPE)) / static_cast<double>(SIZE);          \
    static constexpr std::uint32_t ggml_type_id = GGML_ID; /* enum ggml_type value */ \
  }
QLITE_DETAIL_BLOCK_TRAITS(block_q4_0, "q4_0", qk_32, 2);
QLITE_DETAIL_BLOCK_TRAITS(block_q4_1, "q4_1", qk_32, 3);
QLITE_DETAIL_BLOCK_TRAITS(block_q8_0, "q8_0", qk_32, 8);
QLITE_DETAIL_BLOCK_TRAITS(block_q4_k, "q4_K", qk_k, 12);
QLITE_DETAIL_BLOCK_TRAITS(block_q6_k, "q6_K", qk_k, 14);
#undef QLITE_DETAIL_BLOCK_TRAITS

/// A type with block_traits: one of the ggml-compatible block PODs above.
template <class Block>
concept ggml_block = requires {
  { block_traits<Block>::block_size } -> std::convertible_to<std::size_t>;
};

/// Blocks needed for a row of `n` weights (the last one zero-padded when n is not a multiple).
template <ggml_block Block>
constexpr std::size_t blocks_for(std::size_t n) noexcept {
  return (n + block_traits<Block>::block_size - 1) / block_traits<Block>::block_size;
}

/// One row of the runtime table below.
struct block_format_info {
  std::string_view name;
  std::size_t block_size;
  std::size_t bytes;
  double bits_per_weight;
  std::uint32_t ggml_type_id;
};

/// The traits table, at run time (for printing and for code that picks a format by name).
inline constexpr block_format_info block_formats[] = {
#define QLITE_DETAIL_ROW(T)                                                     \
  block_format_info {                                                           \
    block_traits<T>::name, block_traits<T>::block_size, block_traits<T>::bytes, \
        block_traits<T>::bits_per_weight, block_traits<T>::ggml_type_id         \
  }
    QLITE_DETAIL_ROW(block_q8_0), QLITE_DETAIL_ROW(block_q4_0), QLITE_DETAIL_ROW(block_q4_1),
    QLITE_DETAIL_ROW(block_q4_k), QLITE_DETAIL_ROW(block_q6_k),
#undef QLITE_DETAIL_ROW
};

namespace detail {

/// ggml's nearest_int: round half to even for |v| ≤ 4194303 (the 1.5·2^23 trick); values
/// outside that range (and NaN) are clamped first so the result is always defined.
inline int nearest_int(float v) noexcept {
  if (!(v >= -4194303.f)) v = std::isnan(v) ? 0.f : -4194303.f;
  if (v > 4194303.f) v = 4194303.f;
  const float t = v + 12582912.f;
  const auto i = std::bit_cast<std::int32_t>(t);
  return (i & 0x007fffff) - 0x00400000;
}

/// (int)/(int8_t) truncation of a float as ggml's C casts do, defined for any input:
/// NaN → 0, out of range → clamped to [lo, hi].
inline int trunc_clamped(float v, int lo, int hi) noexcept {
  if (!(v == v)) return 0;
  if (v <= static_cast<float>(lo)) return lo;
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(v);
}

/// C roundf (half away from zero), clamped into int8 range with NaN → 0.
inline std::int8_t round_to_int8(float v) noexcept {
  if (!(v == v)) return 0;
  const float r = std::round(v);
  return static_cast<std::int8_t>(std::clamp(r, -128.f, 127.f));
}

/// Copies block b of a row of n weights into `buf`, padding past the end with zeros.
inline const float* block_input(std::span<const float> x, std::size_t b, std::size_t size,
                                float* buf) noexcept {
  const std::size_t begin = b * size;
  if (begin + size <= x.size()) return x.data() + begin;
  const std::size_t have = x.size() - begin;
  std::copy_n(x.data() + begin, have, buf);
  std::fill(buf + have, buf + size, 0.f);
  return buf;
}

template <ggml_block Block>
void check_row(std::size_t n, std::size_t blocks, const char* what) {
  if (blocks != blocks_for<Block>(n)) {
    throw error(errc::invalid_argument, std::string(what) + " " + std::string(block_traits<Block>::name) +
                                            ": a row of " + std::to_string(n) + " weights needs " +
                                            std::to_string(blocks_for<Block>(n)) + " blocks, found " +
                                            std::to_string(blocks));
  }
}

// ggml's make_qkx2_quants: weighted least-squares search for (scale, min) of an asymmetric
// n-weight sub-block with codes 0..nmax. Writes codes to L, returns the scale and -min in
// *the_min.
inline float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, std::uint8_t* L,
                              float* the_min, std::uint8_t* Laux, float rmin, float rdelta,
                              int nstep) noexcept {
  QLITE_DETAIL_NO_FP_CONTRACT
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    const float wx = w * x[i];
    sum_x += wx;
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  const float fnmax = static_cast<float>(nmax);
  float iscale = fnmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const float t = iscale * (x[i] - min);
    const int l = nearest_int(t);
    L[i] = static_cast<std::uint8_t>(std::max(0, std::min(nmax, l)));
    const float sl = scale * static_cast<float>(L[i]);
    const float slm = sl + min;
    float diff = slm - x[i];
    diff = diff * diff;
    const float wd = weights[i] * diff;
    best_error += wd;
  }
  for (int is = 0; is <= nstep; ++is) {
    const float step = rdelta * static_cast<float>(is);
    const float num = rmin + step;
    iscale = (num + fnmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const float t = iscale * (x[i] - min);
      int l = nearest_int(t);
      l = std::max(0, std::min(nmax, l));
      Laux[i] = static_cast<std::uint8_t>(l);
      const float w = weights[i];
      const float fl = static_cast<float>(l);
      const float wl = w * fl;
      sum_l += wl;
      const float wll = wl * fl;
      sum_l2 += wll;
      const float wlx = wl * x[i];
      sum_xl += wlx;
    }
    const float p1 = sum_w * sum_l2;
    const float p2 = sum_l * sum_l;
    const float D = p1 - p2;
    if (D > 0) {
      const float a1 = sum_w * sum_xl;
      const float a2 = sum_x * sum_l;
      float this_scale = (a1 - a2) / D;
      const float b1 = sum_l2 * sum_x;
      const float b2 = sum_l * sum_xl;
      float this_min = (b1 - b2) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        const float sl = this_scale * static_cast<float>(Laux[i]);
        const float slm = sl + this_min;
        float diff = slm - x[i];
        diff = diff * diff;
        const float wd = weights[i] * diff;
        cur_error += wd;
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// ggml's make_qx_quants with rmse_type = 1 and no importance weights (w = x²): symmetric
// codes L = l + nmax with l in [−nmax, nmax−1]; returns the scale.
inline float make_qx_quants_rmse1(int n, int nmax, const float* x, std::int8_t* L) noexcept {
  QLITE_DETAIL_NO_FP_CONTRACT
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < 1e-15f) {  // ggml's GROUP_MAX_EPS: all zero
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  const float fnmax = static_cast<float>(nmax);
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const float t = iscale * x[i];
    int l = nearest_int(t);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = static_cast<std::int8_t>(l + nmax);
    const float w = x[i] * x[i];
    const float fl = static_cast<float>(l);
    const float wx = w * x[i];
    const float wxl = wx * fl;
    sumlx += wxl;
    const float wl = w * fl;
    const float wll = wl * fl;
    suml2 += wll;
  }
  float scale = suml2 != 0.f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    const float step = 0.1f * static_cast<float>(is);
    const float num = fnmax + step;
    iscale = -num / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const float t = iscale * x[i];
      int l = nearest_int(t);
      l = std::max(-nmax, std::min(nmax - 1, l));
      const float w = x[i] * x[i];
      const float fl = static_cast<float>(l);
      const float wx = w * x[i];
      const float wxl = wx * fl;
      sumlx += wxl;
      const float wl = w * fl;
      const float wll = wl * fl;
      suml2 += wll;
    }
    const float lhs = sumlx * sumlx;
    const float rhs = best * suml2;
    if (suml2 > 0 && lhs > rhs) {
      for (int i = 0; i < n; ++i) {
        const float t = iscale * x[i];
        const int l = nearest_int(t);
        L[i] = static_cast<std::int8_t>(nmax + std::max(-nmax, std::min(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

/// The 6-bit scale and min of sub-block j of a Q4_K block (ggml's get_scale_min_k4).
constexpr void q4_k_scale_min(int j, const std::uint8_t* q, std::uint8_t& sc, std::uint8_t& mn) noexcept {
  if (j < 4) {
    sc = static_cast<std::uint8_t>(q[j] & 63);
    mn = static_cast<std::uint8_t>(q[j + 4] & 63);
  } else {
    sc = static_cast<std::uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    mn = static_cast<std::uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

}  // namespace detail

namespace ref {

/// Quantizes one row of x.size() weights into blocks_for<block_q8_0>(x.size()) blocks
/// (ggml quantize_row_q8_0_ref). Throws qlite::error(invalid_argument) on a size mismatch.
inline void quantize_row(std::span<const float> x, std::span<block_q8_0> y) {
  QLITE_DETAIL_NO_FP_CONTRACT
  detail::check_row<block_q8_0>(x.size(), y.size(), "quantize_row");
  float buf[qk_32];
  for (std::size_t b = 0; b < y.size(); ++b) {
    const float* xb = detail::block_input(x, b, qk_32, buf);
    float amax = 0.0f;
    for (std::size_t j = 0; j < qk_32; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float d = amax / 127.f;
    const float id = d != 0.f ? 1.0f / d : 0.0f;
    y[b].scale = ref::fp32_to_fp16_bits(d);
    for (std::size_t j = 0; j < qk_32; ++j) {
      const float x0 = xb[j] * id;
      y[b].quants[j] = detail::round_to_int8(x0);
    }
  }
}

/// Quantizes one row into Q4_0 blocks (ggml quantize_row_q4_0_ref).
inline void quantize_row(std::span<const float> x, std::span<block_q4_0> y) {
  QLITE_DETAIL_NO_FP_CONTRACT
  detail::check_row<block_q4_0>(x.size(), y.size(), "quantize_row");
  float buf[qk_32];
  for (std::size_t b = 0; b < y.size(); ++b) {
    const float* xb = detail::block_input(x, b, qk_32, buf);
    float amax = 0.0f;  // largest magnitude, and the signed value that has it (first wins)
    float max = 0.0f;
    for (std::size_t j = 0; j < qk_32; ++j) {
      if (amax < std::fabs(xb[j])) {
        amax = std::fabs(xb[j]);
        max = xb[j];
      }
    }
    const float d = max / -8.f;
    const float id = d != 0.f ? 1.0f / d : 0.0f;
    y[b].scale = ref::fp32_to_fp16_bits(d);
    for (std::size_t j = 0; j < qk_32 / 2; ++j) {
      const float x0 = xb[j] * id;
      const float x1 = xb[j + qk_32 / 2] * id;
      const float s0 = x0 + 8.5f;
      const float s1 = x1 + 8.5f;
      const int q0 = std::min(15, detail::trunc_clamped(s0, -128, 127));
      const int q1 = std::min(15, detail::trunc_clamped(s1, -128, 127));
      // (uint8_t) of ggml's int8 result keeps the low byte; for finite input q ∈ [0, 15].
      y[b].quants[j] = static_cast<std::uint8_t>((q0 & 0xFF) | ((q1 & 0xFF) << 4));
    }
  }
}

/// Quantizes one row into Q4_1 blocks (ggml quantize_row_q4_1_ref).
inline void quantize_row(std::span<const float> x, std::span<block_q4_1> y) {
  QLITE_DETAIL_NO_FP_CONTRACT
  detail::check_row<block_q4_1>(x.size(), y.size(), "quantize_row");
  float buf[qk_32];
  for (std::size_t b = 0; b < y.size(); ++b) {
    const float* xb = detail::block_input(x, b, qk_32, buf);
    float min = 3.402823466e+38f;
    float max = -3.402823466e+38f;
    for (std::size_t j = 0; j < qk_32; ++j) {
      if (xb[j] < min) min = xb[j];
      if (xb[j] > max) max = xb[j];
    }
    const float d = (max - min) / 15.f;
    const float id = d != 0.f ? 1.0f / d : 0.0f;
    y[b].scale = ref::fp32_to_fp16_bits(d);
    y[b].min = ref::fp32_to_fp16_bits(min);
    for (std::size_t j = 0; j < qk_32 / 2; ++j) {
      const float x0 = (xb[j] - min) * id;
      const float x1 = (xb[j + qk_32 / 2] - min) * id;
      const float s0 = x0 + 0.5f;
      const float s1 = x1 + 0.5f;
      const int q0 = std::min(15, detail::trunc_clamped(s0, -128, 127));
      const int q1 = std::min(15, detail::trunc_clamped(s1, -128, 127));
      y[b].quants[j] = static_cast<std::uint8_t>((q0 & 0xFF) | ((q1 & 0xFF) << 4));
    }
  }
}

/// Quantizes one row into Q4_K super-blocks (ggml quantize_row_q4_K_ref, no importance weights).
inline void quantize_row(std::span<const float> x, std::span<block_q4_k> y) {
  QLITE_DETAIL_NO_FP_CONTRACT
  detail::check_row<block_q4_k>(x.size(), y.size(), "quantize_row");
  float buf[qk_k];
  std::uint8_t L[qk_k];
  std::uint8_t Laux[32];
  float weights[32];
  float mins[qk_k / 32];
  float scales[qk_k / 32];
  for (std::size_t b = 0; b < y.size(); ++b) {
    const float* xb = detail::block_input(x, b, qk_k, buf);
    block_q4_k& out = y[b];
    float max_scale = 0;  // as the min is subtracted, scales are positive
    float max_min = 0;
    for (int j = 0; j < 8; ++j) {
      const float* xs = xb + 32 * j;
      float sum_x2 = 0;
      for (int l = 0; l < 32; ++l) {
        const float sq = xs[l] * xs[l];
        sum_x2 += sq;
      }
      const float av_x = std::sqrt(sum_x2 / 32.f);
      for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
      scales[j] = detail::make_qkx2_quants(32, 15, xs, weights, L + 32 * j, &mins[j], Laux, -1.f, 0.1f, 20);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    std::memset(out.sub_scales, 0, sizeof out.sub_scales);
    for (int j = 0; j < 8; ++j) {
      // ggml stores nearest_int into a uint8_t (modular) before clamping to 63.
      auto ls = static_cast<std::uint8_t>(detail::nearest_int(inv_scale * scales[j]));
      auto lm = static_cast<std::uint8_t>(detail::nearest_int(inv_min * mins[j]));
      ls = std::min<std::uint8_t>(63, ls);
      lm = std::min<std::uint8_t>(63, lm);
      if (j < 4) {
        out.sub_scales[j] = ls;
        out.sub_scales[j + 4] = lm;
      } else {
        out.sub_scales[j + 4] = static_cast<std::uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
        out.sub_scales[j - 4] = static_cast<std::uint8_t>(out.sub_scales[j - 4] | ((ls >> 4) << 6));
        out.sub_scales[j] = static_cast<std::uint8_t>(out.sub_scales[j] | ((lm >> 4) << 6));
      }
    }
    out.scale = ref::fp32_to_fp16_bits(max_scale / 63.f);
    out.min_scale = ref::fp32_to_fp16_bits(max_min / 63.f);
    const float d_all = ref::fp16_bits_to_fp32(out.scale);
    const float m_all = ref::fp16_bits_to_fp32(out.min_scale);
    for (int j = 0; j < 8; ++j) {
      std::uint8_t sc = 0, m = 0;
      detail::q4_k_scale_min(j, out.sub_scales, sc, m);
      const float d = d_all * static_cast<float>(sc);
      if (d == 0.f) continue;  // keeps the codes of the scale search, as ggml does
      const float dm = m_all * static_cast<float>(m);
      for (int i = 0; i < 32; ++i) {
        const float t = (xb[32 * j + i] + dm) / d;
        const int l = detail::nearest_int(t);
        L[32 * j + i] = static_cast<std::uint8_t>(std::max(0, std::min(15, l)));
      }
    }
    for (int g = 0; g < 4; ++g) {
      for (int l = 0; l < 32; ++l) {
        out.quants[32 * g + l] = static_cast<std::uint8_t>(L[64 * g + l] | (L[64 * g + l + 32] << 4));
      }
    }
  }
}

/// Quantizes one row into Q6_K super-blocks (ggml quantize_row_q6_K_ref).
inline void quantize_row(std::span<const float> x, std::span<block_q6_k> y) {
  QLITE_DETAIL_NO_FP_CONTRACT
  detail::check_row<block_q6_k>(x.size(), y.size(), "quantize_row");
  float buf[qk_k];
  std::int8_t L[qk_k];
  float scales[qk_k / 16];
  for (std::size_t b = 0; b < y.size(); ++b) {
    const float* xb = detail::block_input(x, b, qk_k, buf);
    block_q6_k& out = y[b];
    float max_scale = 0;
    float max_abs_scale = 0;
    for (int ib = 0; ib < 16; ++ib) {
      const float scale = detail::make_qx_quants_rmse1(16, 32, xb + 16 * ib, L + 16 * ib);
      scales[ib] = scale;
      const float abs_scale = std::fabs(scale);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scale;
      }
    }
    if (max_abs_scale < 1e-15f) {  // all zero
      std::memset(&out, 0, sizeof out);
      continue;
    }
    const float iscale = -128.f / max_scale;
    out.scale = ref::fp32_to_fp16_bits(1 / iscale);
    for (int ib = 0; ib < 16; ++ib) {
      const int s = std::min(127, detail::nearest_int(iscale * scales[ib]));
      out.sub_scales[ib] = static_cast<std::int8_t>(std::max(-128, s));
    }
    const float d_all = ref::fp16_bits_to_fp32(out.scale);
    for (int j = 0; j < 16; ++j) {
      const float d = d_all * static_cast<float>(out.sub_scales[j]);
      if (d == 0.f) continue;
      for (int i = 0; i < 16; ++i) {
        const float t = xb[16 * j + i] / d;
        int l = detail::nearest_int(t);
        l = std::max(-32, std::min(31, l));
        L[16 * j + i] = static_cast<std::int8_t>(l + 32);
      }
    }
    for (int h = 0; h < 2; ++h) {
      const std::int8_t* Lh = L + 128 * h;
      std::uint8_t* ql = out.low_bits + 64 * h;
      std::uint8_t* qh = out.high_bits + 32 * h;
      for (int l = 0; l < 32; ++l) {
        const auto c0 = static_cast<std::uint8_t>(Lh[l]);
        const auto c1 = static_cast<std::uint8_t>(Lh[l + 32]);
        const auto c2 = static_cast<std::uint8_t>(Lh[l + 64]);
        const auto c3 = static_cast<std::uint8_t>(Lh[l + 96]);
        ql[l] = static_cast<std::uint8_t>((c0 & 0xF) | ((c2 & 0xF) << 4));
        ql[l + 32] = static_cast<std::uint8_t>((c1 & 0xF) | ((c3 & 0xF) << 4));
        qh[l] = static_cast<std::uint8_t>((c0 >> 4) | ((c1 >> 4) << 2) | ((c2 >> 4) << 4) | ((c3 >> 4) << 6));
      }
    }
  }
}

namespace detail_dq {
template <class Block>
void check(std::size_t blocks, std::size_t n) {
  constexpr std::size_t bs = block_traits<Block>::block_size;
  if (blocks_for<Block>(n) != blocks) {
    throw error(errc::invalid_argument,
                "dequantize_row " + std::string(block_traits<Block>::name) + ": " + std::to_string(blocks) +
                    " blocks hold " + std::to_string(blocks * bs) +
                    " weights, which does not fit an output row of " + std::to_string(n));
  }
}
// Writes the block's `size` values through a scratch buffer when it is the row's short tail.
template <class F>
void emit(std::span<float> y, std::size_t b, std::size_t size, float* scratch, F&& fill) {
  const std::size_t begin = b * size;
  if (begin + size <= y.size()) {
    fill(y.data() + begin);
  } else {
    fill(scratch);
    std::copy_n(scratch, y.size() - begin, y.data() + begin);
  }
}
}  // namespace detail_dq

/// Dequantizes Q8_0 blocks into a row of y.size() weights (ggml dequantize_row_q8_0).
inline void dequantize_row(std::span<const block_q8_0> x, std::span<float> y) {
  QLITE_DETAIL_NO_FP_CONTRACT
  detail_dq::check<block_q8_0>(x.size(), y.size());
  float scratch[qk_32];
  for (std::size_t b = 0; b < x.size(); ++b) {
    const float d = ref::fp16_bits_to_fp32(x[b].scale);
    detail_dq::emit(y, b, qk_32, scratch, [&](float* o) {
      for (std::size_t j = 0; j < qk_32; ++j) o[j] = static_cast<float>(x[b].quants[j]) * d;
    });
  }
}

/// Dequantizes Q4_0 blocks (ggml dequantize_row_q4_0).
inline void dequantize_row(std::span<const block_q4_0> x, std::span<float> y) {
  QLITE_DETAIL_NO_FP_CONTRACT
  detail_dq::check<block_q4_0>(x.size(), y.size());
  float scratch[qk_32];
  for (std::size_t b = 0; b < x.size(); ++b) {
    const float d = ref::fp16_bits_to_fp32(x[b].scale);
    detail_dq::emit(y, b, qk_32, scratch, [&](float* o) {
      for (std::size_t j = 0; j < qk_32 / 2; ++j) {
        o[j] = static_cast<float>((x[b].quants[j] & 0x0F) - 8) * d;
        o[j + qk_32 / 2] = static_cast<float>((x[b].quants[j] >> 4) - 8) * d;
      }
    });
  }
}

/// Dequantizes Q4_1 blocks (ggml dequantize_row_q4_1).
inline void dequantize_row(std::span<const block_q4_1> x, std::span<float> y) {
  QLITE_DETAIL_NO_FP_CONTRACT
  detail_dq::check<block_q4_1>(x.size(), y.size());
  float scratch[qk_32];
  for (std::size_t b = 0; b < x.size(); ++b) {
    const float d = ref::fp16_bits_to_fp32(x[b].scale);
    const float m = ref::fp16_bits_to_fp32(x[b].min);
    detail_dq::emit(y, b, qk_32, scratch, [&](float* o) {
      for (std::size_t j = 0; j < qk_32 / 2; ++j) {
        const float p0 = static_cast<float>(x[b].quants[j] & 0x0F) * d;
        const float p1 = static_cast<float>(x[b].quants[j] >> 4) * d;
        o[j] = p0 + m;
        o[j + qk_32 / 2] = p1 + m;
      }
    });
  }
}

/// Dequantizes Q4_K super-blocks (ggml dequantize_row_q4_K).
inline void dequantize_row(std::span<const block_q4_k> x, std::span<float> y) {
  QLITE_DETAIL_NO_FP_CONTRACT
  detail_dq::check<block_q4_k>(x.size(), y.size());
  float scratch[qk_k];
  for (std::size_t b = 0; b < x.size(); ++b) {
    const block_q4_k& blk = x[b];
    const float d = ref::fp16_bits_to_fp32(blk.scale);
    const float mn = ref::fp16_bits_to_fp32(blk.min_scale);
    detail_dq::emit(y, b, qk_k, scratch, [&](float* o) {
      for (int g = 0; g < 4; ++g) {
        std::uint8_t sc = 0, m = 0;
        detail::q4_k_scale_min(2 * g, blk.sub_scales, sc, m);
        const float d1 = d * static_cast<float>(sc);
        const float m1 = mn * static_cast<float>(m);
        detail::q4_k_scale_min(2 * g + 1, blk.sub_scales, sc, m);
        const float d2 = d * static_cast<float>(sc);
        const float m2 = mn * static_cast<float>(m);
        const std::uint8_t* q = blk.quants + 32 * g;
        for (int l = 0; l < 32; ++l) {
          const float p = d1 * static_cast<float>(q[l] & 0xF);
          o[64 * g + l] = p - m1;
        }
        for (int l = 0; l < 32; ++l) {
          const float p = d2 * static_cast<float>(q[l] >> 4);
          o[64 * g + 32 + l] = p - m2;
        }
      }
    });
  }
}

/// Dequantizes Q6_K super-blocks (ggml dequantize_row_q6_K).
inline void dequantize_row(std::span<const block_q6_k> x, std::span<float> y) {
  QLITE_DETAIL_NO_FP_CONTRACT
  detail_dq::check<block_q6_k>(x.size(), y.size());
  float scratch[qk_k];
  for (std::size_t b = 0; b < x.size(); ++b) {
    const block_q6_k& blk = x[b];
    const float d = ref::fp16_bits_to_fp32(blk.scale);
    detail_dq::emit(y, b, qk_k, scratch, [&](float* o) {
      for (int h = 0; h < 2; ++h) {
        const std::uint8_t* ql = blk.low_bits + 64 * h;
        const std::uint8_t* qh = blk.high_bits + 32 * h;
        const std::int8_t* sc = blk.sub_scales + 8 * h;
        float* oh = o + 128 * h;
        for (int l = 0; l < 32; ++l) {
          const int is = l / 16;
          const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
          const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
          const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
          const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
          oh[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
          oh[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
          oh[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
          oh[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
        }
      }
    });
  }
}

/// Calls `f(static_cast<Block*>(nullptr))` with the block type whose ggml name is `name`
/// ("q8_0", "q4_0", "q4_1", "q4_K", "q6_K"); returns false, calling nothing, for any other.
template <class F>
bool visit_block_type(std::string_view name, F&& f) {
  const auto visit = [&]<class Block>(Block* tag) {
    if (name != block_traits<Block>::name) return false;
    f(tag);
    return true;
  };
  return visit(static_cast<block_q8_0*>(nullptr)) || visit(static_cast<block_q4_0*>(nullptr)) ||
         visit(static_cast<block_q4_1*>(nullptr)) || visit(static_cast<block_q4_k*>(nullptr)) ||
         visit(static_cast<block_q6_k*>(nullptr));
}

/// A row-major matrix of w.size() / cols rows → its blocks, rows back to back (the layout of
/// GGUF and of qlite's safetensors), by quantize_row. `cols` must be a multiple of the block
/// size and `out` exactly the blocks' bytes: otherwise qlite::error(invalid_argument).
template <ggml_block Block>
void quantize_rows(std::span<const float> w, std::size_t cols, std::span<std::byte> out) {
  constexpr std::size_t bs = block_traits<Block>::block_size;
  if (cols == 0 || cols % bs != 0 || w.size() % cols != 0 || out.size() != w.size() / bs * sizeof(Block))
    throw error(errc::invalid_argument, "quantize_rows " + std::string(block_traits<Block>::name) + ": " +
                                            std::to_string(w.size()) + " weights in rows of " +
                                            std::to_string(cols) + " do not fill " +
                                            std::to_string(out.size()) + " bytes of blocks");
  std::vector<Block> row(cols / bs);
  const std::size_t row_bytes = row.size() * sizeof(Block);
  for (std::size_t r = 0; r < w.size() / cols; ++r) {
    quantize_row(w.subspan(r * cols, cols), std::span<Block>(row));
    std::memcpy(out.data() + r * row_bytes, row.data(), row_bytes);
  }
}

/// The inverse of quantize_rows: blocks of rows of `cols` weights → out (out.size() / cols rows).
template <ggml_block Block>
void dequantize_rows(std::span<const std::byte> blocks, std::size_t cols, std::span<float> out) {
  constexpr std::size_t bs = block_traits<Block>::block_size;
  if (cols == 0 || cols % bs != 0 || out.size() % cols != 0 ||
      blocks.size() != out.size() / bs * sizeof(Block))
    throw error(errc::invalid_argument, "dequantize_rows " + std::string(block_traits<Block>::name) + ": " +
                                            std::to_string(blocks.size()) + " bytes of blocks do not fill " +
                                            std::to_string(out.size()) + " weights in rows of " +
                                            std::to_string(cols));
  std::vector<Block> row(cols / bs);
  const std::size_t row_bytes = row.size() * sizeof(Block);
  for (std::size_t r = 0; r < out.size() / cols; ++r) {
    std::memcpy(row.data(), blocks.data() + r * row_bytes, row_bytes);  // blocks may be unaligned
    dequantize_row(std::span<const Block>(row), out.subspan(r * cols, cols));
  }
}

}  // namespace ref
}  // namespace qlite

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
