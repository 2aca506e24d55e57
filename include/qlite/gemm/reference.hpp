// qlite — ref::gemm, the definition of qlite::gemm's results.
//
// Contract: ref::gemm(x, packed, y, params) computes y[m][n] = act(output_scale · dot(m, n)
// + bias[n]) for x M × K (fp32, any row stride), packed N × K, y M × N, with exactly these
// fp32 operations (fma = one rounding, as std::fma; loops in increasing k / group order):
//
//   weight_only, integer formats      q(n,k) = u − z (exact integer), s(n,g) the group scale;
//       x in 30-bit fixed point, once per call per row m: amax = max_k |x[m][k]|,
//       e = max(ilogb(amax) − 29, −149), sx = 2^e, X[k] = nearbyint(x[m][k] · 2^−e) (exact
//       scaling, round half to even, |X| < 2^30: every x within 2^6 of amax is exact, the others
//       within amax·2^-30), split into balanced base-255 digits X = Σ_{i<4} 255^i·d_i[k],
//       d_i ∈ [−127, 127] (planes of int8 codes: four int8 dot products per weight, exact).
//       A row with a NaN or ±inf has sx = NaN (every output of the row is NaN). Then acc = 0;
//       for each group g: D_i = Σ_{k in g} q(n,k) · d_i[k]   (exact in int32)
//                         f = fma(float(D_3), 255³, fma(float(D_2), 255², fma(float(D_1), 255, float(D_0))))
//                         acc = fma(f, s(n,g), acc);  and finally acc = acc · sx
//       (f is D = Σ q·X rounded ≈ once; the error against the exact dot product of the
//       dequantized weights is ≤ amax·2^-30·Σ|w| plus fp32 summation error, below the fp32 FMA
//       chain's on LLM activations: docs/gemm.md)
//   weight_only, fp32/fp16/bf16       acc = 0; for k: acc = fma(w(n,k), x[m][k], acc)
//   int8_activations (W8A8, W4A8)     per row m, once per call:
//       amax = max_k |x[m][k]|; if amax < FLT_MIN the row's codes and scale are 0, else
//       sx = amax / 127, inv = 127 / amax, qx[k] = clamp(nearbyint(x[m][k] · inv), −127, 127)
//       (round half to even). A NaN product has code 0: 0 · inv when inv overflows to ∞
//       (amax < 127/FLT_MAX), and for non-finite x (outside this contract) NaN · inv or ∞ · 0
//       (amax = ∞); the max skips NaN. Then acc = 0; for each group g:
//       d = Σ_{k in g} q(n,k) · qx[k]   (exact in int32; groups of more than 65536 int8 weights
//       are refused with errc::unsupported)
//       acc = fma(float(d), s(n,g), acc);  and finally acc = acc · sx
//   bf16_activations (bf16 weights)   xb = bf16(x) (nearest even); for each pair (2c, 2c+1):
//       acc = fma(xb[2c+1], w(n,2c+1), acc); acc = fma(xb[2c], w(n,2c), acc)   (vdpbf16ps'
//       order; its products are exact in fp32)
//   epilogue                          t = acc · output_scale; t = t + bias[n]; y = act(t)
//                                     silu(t) = t / (1 + exp(−t)), gelu(t) = 0.5·t·(1 + erf(t/√2))
//
// Every kernel reproduces these results bit for bit (each SIMD lane is one output and walks
// k in order; the activation uses the same std::exp/std::erf), except vdpbf16ps (hardware
// pairs and flushes bf16 subnormals: within 2·K·2^-24·Σ|x·w| of this definition).
// x must be finite (not checked: a kernel never throws; weight_only on integer formats turns a
// row with NaN/±inf into NaN outputs). Cost: scalar, O(M·N·K); for tests.
//
//   qlite::ref::gemm(x, packed, y_expected, params);    // what qlite::gemm must produce
#pragma once

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "qlite/config.hpp"
#include "qlite/core/aligned_buffer.hpp"
#include "qlite/core/bf16.hpp"
#include "qlite/core/error.hpp"
#include "qlite/core/fp16.hpp"
#include "qlite/core/matrix_view.hpp"
#include "qlite/gemm/gemm_params.hpp"
#include "qlite/gemm/packed_weights.hpp"

namespace qlite {

namespace detail {

/// Everything a kernel sees: raw pointers and sizes only (per-arch code, ODR safety).
struct gemm_args {
  weight_kind kind = weight_kind::f32;
  bool scale_fp16 = false;
  bool asym = false;
  std::size_t n = 0, k_padded = 0, group = 0, groups = 0, panels = 0, panel_bytes = 0;
  const std::uint8_t* data = nullptr;
  const std::uint8_t* scales = nullptr;
  const std::uint8_t* zeros = nullptr;
  std::size_t m = 0;
  const float* x = nullptr;  ///< weight_only: M rows of ≥ k_padded readable floats (pad = 0)
  std::size_t ldx = 0;
  const std::int8_t* xq = nullptr;       ///< int8_activations: M × k_padded codes (pad = 0);
                                         ///< weight_only integer: 4M rows (4 digit planes per row)
  const float* x_scale = nullptr;        ///< M row scales
  const std::int32_t* x_gsum = nullptr;  ///< (4)M × groups sums of the codes per weight group
  const std::uint16_t* xb = nullptr;     ///< bf16_activations: M × k_padded bf16 bits (pad = 0)
  float* y = nullptr;
  std::size_t ldy = 0;
  const float* bias = nullptr;
  float output_scale = 1.0f;
  activation act = activation::none;
  gemm_mode mode = gemm_mode::weight_only;
  bool use_dpbf16 = false;   ///< the CPU has AVX512-BF16 (decided outside the kernels)
  bool use_avxvnni = false;  ///< avx2 kernels: the int8 tiles use AVX-VNNI (path avxvnni)
  bool use_dotprod = false;  ///< neon64 kernels: the int8 tiles use sdot (path neon64_dotprod)
  /// The running thread's scratch memory (64-byte aligned, kept between calls; nullptr when it
  /// cannot be allocated), for kernels that carry partial sums between K blocks. A pointer, so
  /// that the allocation code is compiled in the caller's TU and never with a kernel's ISA flags.
  void* (*thread_scratch)(std::size_t bytes) noexcept = nullptr;
};

/// The zero code of an integer layout's group (asymmetric: stored per lane).
template <class Tag>
inline int ref_zero(const gemm_args& a, std::size_t p, std::size_t g, std::size_t l) noexcept {
  if (a.asym) return a.zeros[(p * a.groups + g) * panel_rows + l];
  return a.kind == weight_kind::int8 ? 128 : 8;
}

template <class Tag>
inline float ref_scale(const gemm_args& a, std::size_t p, std::size_t g, std::size_t l) noexcept {
  const std::size_t idx = (p * a.groups + g) * panel_rows + l;
  if (a.scale_fp16) {
    std::uint16_t h;
    std::memcpy(&h, a.scales + idx * 2, 2);
    return std::bit_cast<float>(fp16_bits_to_fp32_bits<Tag>(h));
  }
  float s;
  std::memcpy(&s, a.scales + idx * 4, 4);
  return s;
}

/// Weight (n = 16p + l, k) of a float layout, or code u of an integer layout (as float/int).
template <class Tag>
inline unsigned ref_code(const gemm_args& a, std::size_t p, std::size_t l, std::size_t k) noexcept {
  const std::uint8_t* panel = a.data + p * a.panel_bytes;
  if (a.kind == weight_kind::int8) return panel[(k / 4) * chunk_bytes + l * 4 + k % 4];
  const std::size_t j = k % 8;
  const std::uint8_t b = panel[(k / 8) * chunk_bytes + l * 4 + j % 4];
  return j < 4 ? (b & 0x0FU) : (b >> 4);
}

template <class Tag>
inline float ref_weight(const gemm_args& a, std::size_t p, std::size_t l, std::size_t k) noexcept {
  const std::uint8_t* panel = a.data + p * a.panel_bytes;
  switch (a.kind) {
    case weight_kind::f32: {
      float v;
      std::memcpy(&v, panel + (k * panel_rows + l) * 4, 4);
      return v;
    }
    case weight_kind::f16: {
      std::uint16_t h;
      std::memcpy(&h, panel + (k * panel_rows + l) * 2, 2);
      return std::bit_cast<float>(fp16_bits_to_fp32_bits<Tag>(h));
    }
    case weight_kind::bf16: {
      std::uint16_t h;
      std::memcpy(&h, panel + ((k / 2) * panel_rows + l) * 4 + (k % 2) * 2, 2);
      return std::bit_cast<float>(bf16_bits_to_fp32_bits<Tag>(h));
    }
    default:
      return 0.0f;
  }
}

template <class Tag>
inline float ref_activation(activation act, float t) noexcept {
  switch (act) {
    case activation::none:
      return t;
    case activation::silu:
      return t / (1.0f + std::exp(-t));
    case activation::gelu:
      return 0.5f * t * (1.0f + std::erf(t * 0.70710678118654752f));
  }
  return t;
}

}  // namespace detail

namespace ref::detail {

using qlite::detail::gemm_args;

/// sums[g] = Σ of the int8 codes of group g (groups × group codes).
inline void code_group_sums(const std::int8_t* codes, std::size_t group, std::size_t groups,
                            std::int32_t* sums) noexcept {
  for (std::size_t g = 0; g < groups; ++g) {
    std::int32_t s = 0;
    for (std::size_t c = g * group; c < (g + 1) * group; ++c) s += codes[c];
    sums[g] = s;
  }
}

/// Quantizes M rows of x (row stride ldx, K valid) to int8 as the file comment defines.
/// `Tag` only names the instantiation (per-arch TUs call it with their arch).
template <class Tag>
void quantize_activations(const float* x, std::size_t ldx, std::size_t m, std::size_t k, std::size_t k_padded,
                          std::size_t group, std::int8_t* q, float* scale, std::int32_t* gsum) noexcept {
  const std::size_t groups = k_padded / group;
  for (std::size_t r = 0; r < m; ++r) {
    const float* xr = x + r * ldx;
    std::int8_t* qr = q + r * k_padded;
    float amax = 0.0f;
    for (std::size_t c = 0; c < k; ++c) amax = std::max(amax, std::fabs(xr[c]));
    std::memset(qr, 0, k_padded);
    if (amax >= FLT_MIN) {
      scale[r] = amax / 127.0f;
      const float inv = 127.0f / amax;
      for (std::size_t c = 0; c < k; ++c) {
        const float v = std::nearbyint(xr[c] * inv);
        qr[c] = v == v ? static_cast<std::int8_t>(std::clamp(v, -127.0f, 127.0f)) : 0;  // NaN: 0
      }
    } else {
      scale[r] = 0.0f;
    }
    code_group_sums(qr, group, groups, gsum + r * groups);
  }
}

/// weight_only with integer weights: M rows of x to 30-bit fixed point split into four planes
/// of balanced base-255 digits (the file comment): q row 4r + i holds d_i of row r, gsum the
/// per-group sums of each plane, scale[r] = sx. kernel::gemm_split_digits is its SIMD copy,
/// bit-identical (arch/gemm_act_kernels.hpp).
inline constexpr std::uint32_t digit_offset = 127U * (1U + 255U + 255U * 255U + 255U * 255U * 255U);

template <class Tag>
void split_activations(const float* x, std::size_t ldx, std::size_t m, std::size_t k, std::size_t k_padded,
                       std::size_t group, std::int8_t* q, float* scale, std::int32_t* gsum) noexcept {
  const std::size_t groups = k_padded / group;
  for (std::size_t r = 0; r < m; ++r) {
    const float* xr = x + r * ldx;
    float amax = 0.0f;
    bool finite = true;
    for (std::size_t c = 0; c < k; ++c) {
      amax = std::max(amax, std::fabs(xr[c]));
      finite &= std::isfinite(xr[c]);
    }
    std::int8_t* planes = q + 4 * r * k_padded;
    std::memset(planes, 0, 4 * k_padded);
    const int e = amax > 0.0f ? std::max(std::ilogb(amax) - 29, -149) : -149;
    scale[r] = finite ? std::ldexp(1.0f, e) : std::numeric_limits<float>::quiet_NaN();
    const double inv = std::ldexp(1.0, -e);
    // |X| < 2^30, so X + digit_offset lies in [0, 255^4): four base-255 digits, each − 127.
    const auto digit = [](std::uint32_t u) {
      return static_cast<std::int8_t>(static_cast<std::int32_t>(u % 255U) - 127);
    };
    if (finite)
      for (std::size_t c = 0; c < k; ++c) {
        const std::uint32_t u0 =
            static_cast<std::uint32_t>(static_cast<std::int32_t>(std::nearbyint(xr[c] * inv))) + digit_offset;
        const std::uint32_t u1 = u0 / 255U, u2 = u1 / 255U, u3 = u2 / 255U;
        planes[c] = digit(u0);
        planes[k_padded + c] = digit(u1);
        planes[2 * k_padded + c] = digit(u2);
        planes[3 * k_padded + c] = digit(u3);
      }
    for (std::size_t i = 0; i < 4; ++i)
      code_group_sums(planes + i * k_padded, group, groups, gsum + (4 * r + i) * groups);
  }
}

/// f of the file comment: the four digit planes' group sums D_0 … D_3 as one float.
template <class F, class Fma>
QLITE_FORCE_INLINE F combine_digits(F d0, F d1, F d2, F d3, Fma fma, F b1, F b2, F b3) noexcept {
  return fma(d3, b3, fma(d2, b2, fma(d1, b1, d0)));
}

/// M rows of x to bf16 bits, nearest even, padded with zeros to k_padded.
template <class Tag>
void round_activations_bf16(const float* x, std::size_t ldx, std::size_t m, std::size_t k,
                            std::size_t k_padded, std::uint16_t* xb) noexcept {
  for (std::size_t r = 0; r < m; ++r)
    for (std::size_t c = 0; c < k_padded; ++c)
      xb[r * k_padded + c] =
          c < k ? qlite::detail::fp32_bits_to_bf16_bits<Tag>(std::bit_cast<std::uint32_t>(x[r * ldx + c]))
                : 0;
}

/// Output rows of panels [p0, p1) for every m, exactly as the file comment defines.
template <class Tag>
void gemm_panels(const gemm_args& a, std::size_t p0, std::size_t p1) noexcept {
  using qlite::detail::panel_rows;
  using qlite::detail::weight_kind;
  const bool integer = a.kind == weight_kind::int8 || a.kind == weight_kind::int4;
  for (std::size_t p = p0; p < p1; ++p)
    for (std::size_t l = 0; l < panel_rows; ++l) {
      const std::size_t n = p * panel_rows + l;
      if (n >= a.n) break;
      for (std::size_t m = 0; m < a.m; ++m) {
        float acc = 0.0f;
        if (integer) {
          // One int8 plane of codes against the weights: d per group, folded as the mode says.
          const auto group_dot = [&](std::size_t row, std::size_t g) {
            const int z = qlite::detail::ref_zero<Tag>(a, p, g, l);
            const std::int8_t* xq = a.xq + row * a.k_padded;
            std::int64_t d = 0;
            for (std::size_t k = g * a.group; k < (g + 1) * a.group; ++k)
              d += static_cast<std::int64_t>(static_cast<int>(qlite::detail::ref_code<Tag>(a, p, l, k)) - z) *
                   xq[k];
            return static_cast<float>(static_cast<std::int32_t>(d));
          };
          const bool digits = a.mode == gemm_mode::weight_only;
          for (std::size_t g = 0; g < a.groups; ++g) {
            const float f = digits ? combine_digits(
                                         group_dot(4 * m, g), group_dot(4 * m + 1, g),
                                         group_dot(4 * m + 2, g), group_dot(4 * m + 3, g),
                                         [](float u, float v, float w) { return std::fma(u, v, w); }, 255.0f,
                                         65025.0f, 16581375.0f)
                                   : group_dot(m, g);
            acc = std::fma(f, qlite::detail::ref_scale<Tag>(a, p, g, l), acc);
          }
          acc = acc * a.x_scale[m];
        } else if (a.mode == gemm_mode::bf16_activations) {
          const std::uint16_t* xb = a.xb + m * a.k_padded;
          for (std::size_t k = 0; k < a.k_padded; k += 2) {
            const float x0 = std::bit_cast<float>(qlite::detail::bf16_bits_to_fp32_bits<Tag>(xb[k]));
            const float x1 = std::bit_cast<float>(qlite::detail::bf16_bits_to_fp32_bits<Tag>(xb[k + 1]));
            acc = std::fma(x1, qlite::detail::ref_weight<Tag>(a, p, l, k + 1), acc);
            acc = std::fma(x0, qlite::detail::ref_weight<Tag>(a, p, l, k), acc);
          }
        } else {
          const float* x = a.x + m * a.ldx;
          for (std::size_t k = 0; k < a.k_padded; ++k)
            acc = std::fma(qlite::detail::ref_weight<Tag>(a, p, l, k), x[k], acc);
        }
        float t = acc * a.output_scale;
        if (a.bias) t = t + a.bias[n];
        a.y[m * a.ldy + n] = qlite::detail::ref_activation<Tag>(a.act, t);
      }
    }
}

}  // namespace ref::detail

namespace detail {

/// Validated call state: the argument block plus the activation buffers (in call_scratch).
struct gemm_call {
  gemm_args args;
  std::int8_t* xq = nullptr;
  float* x_scale = nullptr;
  std::int32_t* x_gsum = nullptr;
  std::uint16_t* xb = nullptr;
};

/// The calling thread's scratch memory for the staged activations, grown on demand and kept:
/// fresh pages on every call (a new 2 MB buffer at M = 512, K = 4096) cost ≈ 25 % of a W8A8
/// prefill in page faults and zeroing. One gemm call at a time per thread uses it.
inline std::uint8_t* call_scratch(std::size_t bytes) {
  thread_local aligned_buffer<std::uint8_t> buf;
  if (buf.size() < bytes) buf = aligned_buffer<std::uint8_t>(bytes, uninitialized);
  return buf.data();
}

/// gemm_args::thread_scratch: this thread's buffer (pool workers and the caller alike), apart
/// from call_scratch (which holds x's codes while the kernels run).
inline void* kernel_scratch(std::size_t bytes) noexcept {
  thread_local aligned_buffer<std::uint8_t> buf;
  if (buf.size() < bytes) {
    try {
      buf = aligned_buffer<std::uint8_t>(bytes, uninitialized);
    } catch (...) {
      return nullptr;
    }
  }
  return buf.data();
}

/// Checks shapes and mode, fills args; activation buffers are allocated but not yet filled.
inline gemm_call make_gemm_call(matrix_view<const float> x, const packed_storage& w, matrix_view<float> y,
                                const gemm_params& p, const char* format_name) {
  const std::string where = std::string("qlite::gemm<") + format_name + ">: ";
  if (x.cols() != w.cols)
    throw error(errc::invalid_argument, where + "x has " + std::to_string(x.cols()) +
                                            " columns, expected K = " + std::to_string(w.cols));
  if (y.rows() != x.rows() || y.cols() != w.rows)
    throw error(errc::invalid_argument, where + "y is " + shape_text(y.rows(), y.cols()) +
                                            ", expected M × N = " + shape_text(x.rows(), w.rows));
  if (!p.bias.empty() && p.bias.size() != w.rows)
    throw error(errc::invalid_argument, where + "bias has " + std::to_string(p.bias.size()) +
                                            " values, expected N = " + std::to_string(w.rows));
  const bool integer = w.kind == weight_kind::int8 || w.kind == weight_kind::int4;
  if (p.mode == gemm_mode::int8_activations && !integer)
    throw error(errc::unsupported,
                where + "int8_activations needs an integer weight format (int8, int4, Q8_0, Q4_0)");
  if (p.mode == gemm_mode::bf16_activations && w.kind != weight_kind::bf16)
    throw error(errc::unsupported, where + "bf16_activations needs bf16 weights");
  if (w.data.size() == 0)
    throw error(errc::invalid_argument, where + "packed weights are empty (moved from?)");
  // Σ u·x of one group must fit int32: 255 · 127 · K < 2^31 (int8 codes); int4 has 16× room.
  // weight_only runs integer formats as four int8 planes of x (the reference's digits).
  const bool int8_planes = integer && p.mode != gemm_mode::bf16_activations;
  if (int8_planes && w.group > (w.kind == weight_kind::int8 ? 65536U : 1048576U))
    throw error(errc::unsupported, where + "a weight group of " + std::to_string(w.group) +
                                       " k would overflow the int32 accumulators of the int8 dot products "
                                       "(max 65536 for int8 weights)");
  gemm_call c;
  gemm_args& a = c.args;
  a.kind = w.kind;
  a.scale_fp16 = w.scale_fp16;
  a.asym = w.asym;
  a.n = w.rows;
  a.k_padded = w.k_padded;
  a.group = w.group;
  a.groups = w.groups;
  a.panels = w.panels;
  a.panel_bytes = w.panel_bytes;
  a.thread_scratch = &kernel_scratch;
  a.data = w.data.data();
  a.scales = w.scales.data();
  a.zeros = w.zeros.data();
  a.m = x.rows();
  a.y = y.data();
  a.ldy = y.stride();
  a.bias = p.bias.empty() ? nullptr : p.bias.data();
  a.output_scale = p.output_scale;
  a.act = p.act;
  a.mode = p.mode;
  const std::size_t m = x.rows(), kp = w.k_padded;
  // Buffers are written completely before they are read: rows of x padded to kp (the pad
  // zeroed here or by the quantization), plus a zero 64-byte tail a vector load may touch.
  const auto at = [](std::size_t bytes) { return (bytes + 63) / 64 * 64; };
  if (int8_planes) {  // int8_activations: one plane of codes per row; weight_only: four
    const std::size_t planes = p.mode == gemm_mode::weight_only ? 4 : 1;
    const std::size_t q_bytes = at(planes * m * kp + 64), s_bytes = at(m * sizeof(float));
    std::uint8_t* base = call_scratch(q_bytes + s_bytes + planes * m * w.groups * sizeof(std::int32_t));
    c.xq = reinterpret_cast<std::int8_t*>(base);
    std::memset(c.xq + planes * m * kp, 0, 64);
    c.x_scale = reinterpret_cast<float*>(base + q_bytes);
    c.x_gsum = reinterpret_cast<std::int32_t*>(base + q_bytes + s_bytes);
    a.xq = c.xq;
    a.x_scale = c.x_scale;
    a.x_gsum = c.x_gsum;
  } else if (p.mode == gemm_mode::weight_only) {
    if (kp == w.cols) {
      a.x = x.data();
      a.ldx = x.stride();
    } else {  // pad each row with zeros to whole chunks
      float* xs = reinterpret_cast<float*>(call_scratch(m * kp * sizeof(float)));
      for (std::size_t r = 0; r < m; ++r) {
        std::memcpy(xs + r * kp, &x(r, 0), w.cols * sizeof(float));
        std::memset(xs + r * kp + w.cols, 0, (kp - w.cols) * sizeof(float));
      }
      a.x = xs;
      a.ldx = kp;
    }
  } else {
    c.xb = reinterpret_cast<std::uint16_t*>(call_scratch(m * kp * 2 + 64));
    std::memset(c.xb + m * kp, 0, 64);
    a.xb = c.xb;
  }
  return c;
}

}  // namespace detail

namespace ref {

/// The reference result of qlite::gemm (same arguments and errors; see the file comment).
template <class Format>
void gemm(matrix_view<const float> x, const packed_weights<Format>& w, matrix_view<float> y,
          const gemm_params& params = {}) {
  qlite::detail::gemm_call c = qlite::detail::make_gemm_call(x, w.storage(), y, params, Format::name());
  const auto& s = w.storage();
  if (params.mode == gemm_mode::int8_activations)
    detail::quantize_activations<void>(x.data(), x.stride(), x.rows(), s.cols, s.k_padded, s.group, c.xq,
                                       c.x_scale, c.x_gsum);
  else if (c.xq)
    detail::split_activations<void>(x.data(), x.stride(), x.rows(), s.cols, s.k_padded, s.group, c.xq,
                                    c.x_scale, c.x_gsum);
  else if (params.mode == gemm_mode::bf16_activations)
    detail::round_activations_bf16<void>(x.data(), x.stride(), x.rows(), s.cols, s.k_padded, c.xb);
  detail::gemm_panels<void>(c.args, 0, s.panels);
}

}  // namespace ref

}  // namespace qlite
