// qlite — GEMM/GEMV kernels for AArch64 NEON (definitions; included by arch/gemm_kernels.hpp).
//
// The packed layout (docs/gemm.md) in 128-bit registers: a 16-lane panel is 4 vectors, v = 4j + h
// holds lanes 4h … 4h+3 of panel p + j; a 64-byte chunk is 4 × 16 bytes (4 lanes × 4 codes each).
//
//   W8A8 / W4A8   sdot (neon64_dotprod): vdotq_laneq_s32 against 16 bytes of x (4 int8 chunks or
//                 2 int4 chunks per load); Armv8.0 (neon64): smull/smlal to int16, sadalp to
//                 pairs of int32, one addp per group. int8 codes become s8 with u ^ 0x80 = w
//                 (no correction); int4 nibbles are s8 as they are, the zero code is removed
//                 with the activation group sums: the int32 accumulators start at −z·Σx.
//   weight-only   integer weights: the same int8 tiles against x's four digit planes (one row
//                 of x = 4 tile rows, folded per group as the reference); float weights:
//                 vfmaq (one rounding, as std::fma).
//
// Each lane walks k in order with the reference's operations: results equal ref::gemm bit for bit.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "qlite/config.hpp"
#include "qlite/gemm/reference.hpp"

#if defined(QLITE_AARCH64)
#include <arm_neon.h>

// The sdot tiles are compiled for DotProd even when the TU is not (chosen at run time).
#if defined(__ARM_FEATURE_DOTPROD)
#define QLITE_DETAIL_DOTPROD_TARGET
#elif defined(__clang__)
#define QLITE_DETAIL_DOTPROD_TARGET __attribute__((target("dotprod")))
#else
#define QLITE_DETAIL_DOTPROD_TARGET __attribute__((target("arch=armv8.2-a+dotprod")))
#endif

// QLITE_DETAIL_UNROLL (rolled under AddressSanitizer), cb, tile_kind and load4 come from
// arch/gemm_kernels.hpp.

namespace qlite::kernel::neon_detail {

using gemm_detail::cb;
using gemm_detail::gemm_args;
using gemm_detail::load4;
using gemm_detail::panel_rows;
using gemm_detail::tile_kind;
using gemm_detail::weight_kind;

/// Scales of group g, lanes 4h … 4h+3 of panel p.
template <class Arch>
QLITE_FORCE_INLINE float32x4_t load_scales(const gemm_args& a, std::size_t p, std::size_t g,
                                           std::size_t h) noexcept {
  const std::size_t idx = (p * a.groups + g) * panel_rows + 4 * h;
  if (a.scale_fp16)
    return vcvt_f32_f16(
        vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const std::uint16_t*>(a.scales) + idx)));
  return vld1q_f32(reinterpret_cast<const float*>(a.scales) + idx);
}

/// The zero codes of group g of panel p as int32 (z[h]: lanes 4h … 4h+3).
template <class Arch>
QLITE_FORCE_INLINE void load_zeros(const gemm_args& a, std::size_t p, std::size_t g, int32x4_t* z) noexcept {
  const uint8x16_t b = vld1q_u8(a.zeros + (p * a.groups + g) * panel_rows);
  const uint16x8_t lo = vmovl_u8(vget_low_u8(b)), hi = vmovl_high_u8(b);
  z[0] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(lo)));
  z[1] = vreinterpretq_s32_u32(vmovl_high_u16(lo));
  z[2] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(hi)));
  z[3] = vreinterpretq_s32_u32(vmovl_high_u16(hi));
}

/// Start of a group's int32 dot products: −z·Σx for int4 (int8 codes are flipped to w instead).
// clang-format off
template <class Arch, bool I4, std::size_t MR, std::size_t NP>
QLITE_FORCE_INLINE void start_group(const gemm_args& a, std::size_t p, std::size_t g, std::size_t m0,
                                    int32x4_t (&ia)[MR][NP * 4]) noexcept {
QLITE_DETAIL_UNROLL
  for (std::size_t j = 0; j < NP; ++j) {
    int32x4_t z[4];
    if (I4 && a.asym) {
      load_zeros<Arch>(a, p + j, g, z);
    } else {
      for (auto& v : z) v = vdupq_n_s32(I4 ? 8 : 0);
    }
QLITE_DETAIL_UNROLL
    for (std::size_t r = 0; r < MR; ++r) {
      const std::int32_t gs = I4 ? a.x_gsum[(m0 + r) * a.groups + g] : 0;
QLITE_DETAIL_UNROLL
      for (std::size_t h = 0; h < 4; ++h) ia[r][j * 4 + h] = vmulq_n_s32(z[h], -gs);
    }
  }
}

/// acc = fma(float(d), s, acc) for the group's lanes. D (weight_only on integer weights): the
/// MR = 4 rows are the digit planes of one row of x, folded into fa[0] with combine_digits.
template <class Arch, std::size_t MR, std::size_t NP, bool D>
QLITE_FORCE_INLINE void fold_group(const gemm_args& a, std::size_t p, std::size_t g,
                                   const int32x4_t (&d)[MR][NP * 4],
                                   float32x4_t (&fa)[MR][NP * 4]) noexcept {
QLITE_DETAIL_UNROLL
  for (std::size_t v = 0; v < NP * 4; ++v) {
    const float32x4_t sc = load_scales<Arch>(a, p + v / 4, g, v % 4);
    if constexpr (D) {
      static_assert(MR == 4);
      const float32x4_t f = ref::detail::combine_digits(
          vcvtq_f32_s32(d[0][v]), vcvtq_f32_s32(d[1][v]), vcvtq_f32_s32(d[2][v]), vcvtq_f32_s32(d[3][v]),
          [](float32x4_t u, float32x4_t s, float32x4_t t) { return vfmaq_f32(t, u, s); },
          vdupq_n_f32(255.0f), vdupq_n_f32(65025.0f), vdupq_n_f32(16581375.0f));
      fa[0][v] = vfmaq_f32(fa[0][v], f, sc);
    } else {
QLITE_DETAIL_UNROLL
      for (std::size_t r = 0; r < MR; ++r) fa[r][v] = vfmaq_f32(fa[r][v], vcvtq_f32_s32(d[r][v]), sc);
    }
  }
}

/// One chunk c with sdot: int8 codes against lane L of xv (x[4c … 4c+3]); int4 low nibbles
/// against lane L, high nibbles against lane L + 1 (x[8c … 8c+3], x[8c+4 … 8c+7]).
template <class Arch, bool I4, std::size_t MR, std::size_t NP, int L>
QLITE_FORCE_INLINE QLITE_DETAIL_DOTPROD_TARGET void sdot_chunk(const gemm_args& a, const std::uint8_t* w,
                                                               std::size_t c,
                                                               const int8x16_t (&xv)[MR],
                                                               int32x4_t (&ia)[MR][NP * 4]) noexcept {
QLITE_DETAIL_UNROLL
  for (std::size_t v = 0; v < NP * 4; ++v) {
    const uint8x16_t b = vld1q_u8(w + (v / 4) * a.panel_bytes + c * cb + (v % 4) * 16);
    if constexpr (I4) {
      const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(0x0F)));
      const int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(b, 4));
QLITE_DETAIL_UNROLL
      for (std::size_t r = 0; r < MR; ++r)
        ia[r][v] = vdotq_laneq_s32(vdotq_laneq_s32(ia[r][v], lo, xv[r], L), hi, xv[r], L + 1);
    } else {
      const int8x16_t wv = vreinterpretq_s8_u8(veorq_u8(b, vdupq_n_u8(0x80)));
QLITE_DETAIL_UNROLL
      for (std::size_t r = 0; r < MR; ++r) ia[r][v] = vdotq_laneq_s32(ia[r][v], wv, xv[r], L);
    }
  }
}

/// W8A8 / W4A8 with sdot: out[r·NV + v] = Σ_groups fma(float(d), s, ·), NV = 4·NP (D: see
/// fold_group; out[v] only).
template <class Arch, bool I4, std::size_t MR, std::size_t NP, bool D>
[[gnu::noinline]] QLITE_DETAIL_DOTPROD_TARGET void act8_sdot(const gemm_args& a, std::size_t p,
                                                             std::size_t m0,
                                                             float32x4_t* out) noexcept {
  constexpr std::size_t NV = NP * 4, ck = I4 ? 8 : 4, per_load = 16 / ck;  // chunks per x load
  const std::size_t cpg = a.group / ck;
  const std::uint8_t* w = a.data + p * a.panel_bytes;
  const std::int8_t* x = a.xq + m0 * a.k_padded;
  float32x4_t fa[MR][NV];
QLITE_DETAIL_UNROLL
  for (std::size_t r = 0; r < MR; ++r)
QLITE_DETAIL_UNROLL
    for (std::size_t v = 0; v < NV; ++v) fa[r][v] = vdupq_n_f32(0.0f);
  for (std::size_t g = 0; g < a.groups; ++g) {
    int32x4_t ia[MR][NV];
    start_group<Arch, I4, MR, NP>(a, p, g, m0, ia);
    const std::size_t c0 = g * cpg, c1 = c0 + cpg;
    std::size_t c = c0;
    int8x16_t xv[MR];
    for (; c + per_load <= c1; c += per_load) {
QLITE_DETAIL_UNROLL
      for (std::size_t r = 0; r < MR; ++r) xv[r] = vld1q_s8(x + r * a.k_padded + c * ck);
      if constexpr (I4) {
        sdot_chunk<Arch, I4, MR, NP, 0>(a, w, c, xv, ia);
        sdot_chunk<Arch, I4, MR, NP, 2>(a, w, c + 1, xv, ia);
      } else {
        sdot_chunk<Arch, I4, MR, NP, 0>(a, w, c, xv, ia);
        sdot_chunk<Arch, I4, MR, NP, 1>(a, w, c + 1, xv, ia);
        sdot_chunk<Arch, I4, MR, NP, 2>(a, w, c + 2, xv, ia);
        sdot_chunk<Arch, I4, MR, NP, 3>(a, w, c + 3, xv, ia);
      }
    }
    for (; c < c1; ++c) {  // int8 per-channel: K/4 need not be a multiple of 4 (x is padded)
QLITE_DETAIL_UNROLL
      for (std::size_t r = 0; r < MR; ++r) xv[r] = vld1q_s8(x + r * a.k_padded + c * ck);
      sdot_chunk<Arch, I4, MR, NP, 0>(a, w, c, xv, ia);
    }
    fold_group<Arch, MR, NP, D>(a, p, g, ia, fa);
  }
QLITE_DETAIL_UNROLL
  for (std::size_t r = 0; r < MR; ++r)
QLITE_DETAIL_UNROLL
    for (std::size_t v = 0; v < NV; ++v) out[r * NV + v] = fa[r][v];
}

/// W8A8 / W4A8 on Armv8.0: smull (int8; int4: smull + smlal of both nibbles) to int16, addp of
/// neighbours (lanes' partial sums: |·| ≤ 2 · 128 · 127 < 2^15), sadalp into the int32 lanes.
template <class Arch, bool I4, std::size_t MR, std::size_t NP, bool D>
[[gnu::noinline]] void act8_smull(const gemm_args& a, std::size_t p, std::size_t m0,
                                  float32x4_t* out) noexcept {
  constexpr std::size_t NV = NP * 4, ck = I4 ? 8 : 4;
  const std::size_t cpg = a.group / ck;
  const std::uint8_t* w = a.data + p * a.panel_bytes;
  const std::int8_t* x = a.xq + m0 * a.k_padded;
  float32x4_t fa[MR][NV];
QLITE_DETAIL_UNROLL
  for (std::size_t r = 0; r < MR; ++r)
QLITE_DETAIL_UNROLL
    for (std::size_t v = 0; v < NV; ++v) fa[r][v] = vdupq_n_f32(0.0f);
  for (std::size_t g = 0; g < a.groups; ++g) {
    int32x4_t ia[MR][NV];
    start_group<Arch, I4, MR, NP>(a, p, g, m0, ia);
    for (std::size_t c = g * cpg; c < (g + 1) * cpg; ++c) {
      int8x16_t x0[MR], x1[MR];  // x[ck·c …] repeated in each lane (int4: x1 for the high nibbles)
QLITE_DETAIL_UNROLL
      for (std::size_t r = 0; r < MR; ++r) {
        const std::int8_t* xr = x + r * a.k_padded + c * ck;
        x0[r] = vreinterpretq_s8_s32(vdupq_n_s32(load4(xr)));
        x1[r] = I4 ? vreinterpretq_s8_s32(vdupq_n_s32(load4(xr + 4))) : x0[r];
      }
QLITE_DETAIL_UNROLL
      for (std::size_t v = 0; v < NV; ++v) {
        const uint8x16_t b = vld1q_u8(w + (v / 4) * a.panel_bytes + c * cb + (v % 4) * 16);
        const int8x16_t w0 =
            vreinterpretq_s8_u8(I4 ? vandq_u8(b, vdupq_n_u8(0x0F)) : veorq_u8(b, vdupq_n_u8(0x80)));
        const int8x16_t w1 = vreinterpretq_s8_u8(vshrq_n_u8(b, 4));
QLITE_DETAIL_UNROLL
        for (std::size_t r = 0; r < MR; ++r) {
          int16x8_t lo = vmull_s8(vget_low_s8(w0), vget_low_s8(x0[r])), hi = vmull_high_s8(w0, x0[r]);
          if constexpr (I4) {
            lo = vmlal_s8(lo, vget_low_s8(w1), vget_low_s8(x1[r]));
            hi = vmlal_high_s8(hi, w1, x1[r]);
          }
          ia[r][v] = vpadalq_s16(ia[r][v], vpaddq_s16(lo, hi));
        }
      }
    }
    fold_group<Arch, MR, NP, D>(a, p, g, ia, fa);
  }
QLITE_DETAIL_UNROLL
  for (std::size_t r = 0; r < MR; ++r)
QLITE_DETAIL_UNROLL
    for (std::size_t v = 0; v < NV; ++v) out[r * NV + v] = fa[r][v];
}

/// fp32 / fp16 / bf16 weights: acc = fma(w, x, acc) in k order (bf16_activations: per pair
/// k+1 then k, with x rounded to bf16, as vdpbf16ps orders them).
template <class Arch, tile_kind K, std::size_t MR, std::size_t NP>
[[gnu::noinline]] void float_tile(const gemm_args& a, std::size_t p, std::size_t m0,
                                  float32x4_t* out) noexcept {
  constexpr std::size_t NV = NP * 4;
  float32x4_t acc[MR][NV];
QLITE_DETAIL_UNROLL
  for (std::size_t r = 0; r < MR; ++r)
QLITE_DETAIL_UNROLL
    for (std::size_t v = 0; v < NV; ++v) acc[r][v] = vdupq_n_f32(0.0f);
  if constexpr (K == tile_kind::wo_f32 || K == tile_kind::wo_f16) {
    for (std::size_t k = 0; k < a.k_padded; ++k) {
      float32x4_t wv[NV];
QLITE_DETAIL_UNROLL
      for (std::size_t j = 0; j < NP; ++j) {
        const std::uint8_t* src = a.data + (p + j) * a.panel_bytes;
        if constexpr (K == tile_kind::wo_f16) {
          const uint16x8x2_t hb = vld1q_u16_x2(reinterpret_cast<const std::uint16_t*>(src) + k * panel_rows);
          const float16x8_t h0 = vreinterpretq_f16_u16(hb.val[0]), h1 = vreinterpretq_f16_u16(hb.val[1]);
          wv[4 * j] = vcvt_f32_f16(vget_low_f16(h0));
          wv[4 * j + 1] = vcvt_high_f32_f16(h0);
          wv[4 * j + 2] = vcvt_f32_f16(vget_low_f16(h1));
          wv[4 * j + 3] = vcvt_high_f32_f16(h1);
        } else {
          const float32x4x4_t fb = vld1q_f32_x4(reinterpret_cast<const float*>(src) + k * panel_rows);
QLITE_DETAIL_UNROLL
          for (std::size_t h = 0; h < 4; ++h) wv[4 * j + h] = fb.val[h];
        }
      }
QLITE_DETAIL_UNROLL
      for (std::size_t r = 0; r < MR; ++r) {
        const float xk = a.x[(m0 + r) * a.ldx + k];
QLITE_DETAIL_UNROLL
        for (std::size_t v = 0; v < NV; ++v) acc[r][v] = vfmaq_n_f32(acc[r][v], wv[v], xk);
      }
    }
  } else {  // bf16 pairs: lane l of chunk c = bf16(w[2c]) | bf16(w[2c+1]) << 16
    for (std::size_t c = 0; c < a.k_padded / 2; ++c) {
      float32x4_t lo[NV], hi[NV];
QLITE_DETAIL_UNROLL
      for (std::size_t j = 0; j < NP; ++j) {
        const std::uint8_t* src = a.data + (p + j) * a.panel_bytes + c * cb;
        const uint32x4x4_t wb = vld1q_u32_x4(reinterpret_cast<const std::uint32_t*>(src));
QLITE_DETAIL_UNROLL
        for (std::size_t h = 0; h < 4; ++h) {
          lo[4 * j + h] = vreinterpretq_f32_u32(vshlq_n_u32(wb.val[h], 16));
          hi[4 * j + h] = vreinterpretq_f32_u32(vandq_u32(wb.val[h], vdupq_n_u32(0xFFFF0000U)));
        }
      }
QLITE_DETAIL_UNROLL
      for (std::size_t r = 0; r < MR; ++r) {
        const std::size_t m = m0 + r;
        if constexpr (K == tile_kind::wo_bf16) {
          const float x0 = a.x[m * a.ldx + 2 * c], x1 = a.x[m * a.ldx + 2 * c + 1];
QLITE_DETAIL_UNROLL
          for (std::size_t v = 0; v < NV; ++v)
            acc[r][v] = vfmaq_n_f32(vfmaq_n_f32(acc[r][v], lo[v], x0), hi[v], x1);
        } else {
          const auto pair = static_cast<std::uint32_t>(load4(a.xb + m * a.k_padded + 2 * c));
          const float x0 = std::bit_cast<float>(pair << 16), x1 = std::bit_cast<float>(pair & 0xFFFF0000U);
QLITE_DETAIL_UNROLL
          for (std::size_t v = 0; v < NV; ++v)
            acc[r][v] = vfmaq_n_f32(vfmaq_n_f32(acc[r][v], hi[v], x1), lo[v], x0);
        }
      }
    }
  }
QLITE_DETAIL_UNROLL
  for (std::size_t r = 0; r < MR; ++r)
QLITE_DETAIL_UNROLL
    for (std::size_t v = 0; v < NV; ++v) out[r * NV + v] = acc[r][v];
}
// clang-format on

/// y[m][n0 … n0+3] = act(v (· row scale) · output_scale + bias), the reference's operations.
template <class Arch>
QLITE_FORCE_INLINE void store4(const gemm_args& a, std::size_t m, std::size_t n0, float32x4_t v,
                               float row_scale, bool int_mode) noexcept {
  if (n0 >= a.n) return;
  const std::size_t count = std::min<std::size_t>(4, a.n - n0);
  if (int_mode) v = vmulq_f32(v, vdupq_n_f32(row_scale));
  v = vmulq_f32(v, vdupq_n_f32(a.output_scale));
  alignas(16) float t[4] = {};
  if (a.bias) {
    for (std::size_t i = 0; i < count; ++i) t[i] = a.bias[n0 + i];
    v = vaddq_f32(v, vld1q_f32(t));
  }
  vst1q_f32(t, v);
  float* out = a.y + m * a.ldy + n0;
  for (std::size_t i = 0; i < count; ++i) out[i] = qlite::detail::ref_activation<Arch>(a.act, t[i]);
}

/// The tile: rows m0 … m0+MR−1, panels p … p+NP−1.
template <class Arch, tile_kind K, std::size_t MR, std::size_t NP>
void tile(const gemm_args& a, std::size_t p, std::size_t m0) noexcept {
  constexpr std::size_t NV = NP * 4;
  constexpr bool int_mode = K == tile_kind::act8_int8 || K == tile_kind::act8_int4;
  float32x4_t acc[MR * NV];
  if constexpr (int_mode) {
    constexpr bool i4 = K == tile_kind::act8_int4;
    if constexpr (MR == 4) {
      if (a.mode == gemm_mode::weight_only) {  // the 4 digit planes of row m0 / 4
        if (a.use_dotprod)
          act8_sdot<Arch, i4, MR, NP, true>(a, p, m0, acc);
        else
          act8_smull<Arch, i4, MR, NP, true>(a, p, m0, acc);
        for (std::size_t v = 0; v < NV; ++v)
          store4<Arch>(a, m0 / 4, (p + v / 4) * panel_rows + (v % 4) * 4, acc[v], a.x_scale[m0 / 4], true);
        return;
      }
    }
    if (a.use_dotprod)
      act8_sdot<Arch, i4, MR, NP, false>(a, p, m0, acc);
    else
      act8_smull<Arch, i4, MR, NP, false>(a, p, m0, acc);
  } else {
    float_tile<Arch, K, MR, NP>(a, p, m0, acc);
  }
  for (std::size_t r = 0; r < MR; ++r) {
    const float rs = int_mode ? a.x_scale[m0 + r] : 1.0f;
    for (std::size_t v = 0; v < NV; ++v)
      store4<Arch>(a, m0 + r, (p + v / 4) * panel_rows + (v % 4) * 4, acc[r * NV + v], rs, int_mode);
  }
}

/// tile<…, MR, NP> for MR = mr (1 ≤ mr ≤ 4).
template <class Arch, tile_kind K, std::size_t NP, std::size_t MR = 1>
void tile_rows(const gemm_args& a, std::size_t p, std::size_t m0, std::size_t mr) noexcept {
  if constexpr (MR < 4 / NP) {
    if (mr > MR) return tile_rows<Arch, K, NP, MR + 1>(a, p, m0, mr);
  }
  tile<Arch, K, MR, NP>(a, p, m0);
}

/// Tiles of MR × NP ≤ 4 register quarters of 16 lanes: 4 rows × 1 panel (16 accumulators of
/// 32, plus the int32 ones of the int8 tiles), 2 × 2 for M = 2, 1 × 4 for M = 1 (weights read
/// once, 16 independent chains).
template <class Arch, tile_kind K>
void run_panels(const gemm_args& a, std::size_t p0, std::size_t p1) noexcept {
  // weight_only on integer weights: 4 digit planes of one row of x × 1 panel per tile.
  const bool digits =
      (K == tile_kind::act8_int8 || K == tile_kind::act8_int4) && a.mode == gemm_mode::weight_only;
  const std::size_t rows = digits ? 4 * a.m : a.m;
  const std::size_t np_max = digits ? 1 : a.m == 1 ? 4 : a.m == 2 ? 2 : 1;
  for (std::size_t p = p0; p < p1;) {
    const std::size_t np = std::min(np_max, p1 - p) == 4 ? 4 : std::min(np_max, p1 - p) >= 2 ? 2 : 1;
    const std::size_t mstep = 4 / np;
    for (std::size_t m0 = 0; m0 < rows; m0 += mstep) {
      const std::size_t mr = std::min(mstep, rows - m0);
      if (np == 4)
        tile_rows<Arch, K, 4>(a, p, m0, mr);
      else if (np == 2)
        tile_rows<Arch, K, 2>(a, p, m0, mr);
      else
        tile_rows<Arch, K, 1>(a, p, m0, mr);
    }
    p += np;
  }
}

template <class Arch>
void gemm_panels(const gemm_args& a, std::size_t p0, std::size_t p1) noexcept {
  switch (a.kind) {
    case weight_kind::int8:
      return run_panels<Arch, tile_kind::act8_int8>(a, p0, p1);
    case weight_kind::int4:
      return run_panels<Arch, tile_kind::act8_int4>(a, p0, p1);
    case weight_kind::f32:
      return run_panels<Arch, tile_kind::wo_f32>(a, p0, p1);
    case weight_kind::f16:
      return run_panels<Arch, tile_kind::wo_f16>(a, p0, p1);
    case weight_kind::bf16:
      return a.mode == gemm_mode::bf16_activations ? run_panels<Arch, tile_kind::act_bf16>(a, p0, p1)
                                                   : run_panels<Arch, tile_kind::wo_bf16>(a, p0, p1);
  }
}

}  // namespace qlite::kernel::neon_detail

#undef QLITE_DETAIL_UNROLL

#endif  // QLITE_AARCH64
