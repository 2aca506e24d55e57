// qlite — GEMM/GEMV kernels per arch (definitions; users include qlite/gemm/gemm.hpp).
//
// One register tile = MR rows of x × NP panels (16 output channels each, one lane per
// channel). Each lane walks k in order, so results equal ref::gemm bit for bit. x86 kernels
// use intrinsics through a small per-ISA op table (v512<Arch>, v256<Arch>, v256vnni<Arch>);
// NEON kernels are in gemm_kernels_neon.hpp; sse4_2 runs the same tiles with v128<Arch>, whose
// fma is exact without an FMA unit (see v128::fma).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "qlite/core/dispatch.hpp"
#include "qlite/arch/gemm_act_kernels.hpp"
#include "qlite/arch/gemm_kernels_decl.hpp"
#include "qlite/gemm/reference.hpp"

#if defined(QLITE_X86_64)
#include <immintrin.h>
#endif

// The int8 tiles' loops (act8_tile here, the NEON tiles in gemm_kernels_neon.hpp) are fully
// unrolled (GCC otherwise keeps copies of the accumulators). Under AddressSanitizer the unrolled,
// instrumented kernels take tens of CPU-minutes to compile, so sanitizer builds keep the loops rolled: the
// same operations in the same order. (clang defines no __SANITIZE_ADDRESS__: unrolled, its -O1 ASan build of
// the AVX2 kernels took 6 CPU-minutes, measured, and the SSE4.2 one failed with -Wpass-failed.)
#if defined(__SANITIZE_ADDRESS__)
#define QLITE_DETAIL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QLITE_DETAIL_ASAN 1
#endif
#endif
#if defined(QLITE_DETAIL_ASAN)
#define QLITE_DETAIL_UNROLL _Pragma("GCC unroll 1")
#else
#define QLITE_DETAIL_UNROLL _Pragma("GCC unroll 16")
#endif

// What the x86 and NEON kernels share.
namespace qlite::kernel::gemm_detail {

using qlite::detail::gemm_args;
using qlite::detail::panel_rows;
using qlite::detail::weight_kind;

inline constexpr std::size_t cb = 64;  // chunk bytes

// act8_*: int8 dot products against int8 codes of x (W8A8 / W4A8, and weight_only on integer
// weights with x as four digit planes); wo_*: float weights, fp32 FMA; act_bf16: bf16 pairs.
enum class tile_kind { act8_int8, act8_int4, wo_f32, wo_f16, wo_bf16, act_bf16 };

inline std::int32_t load4(const void* p) noexcept {
  std::int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace qlite::kernel::gemm_detail

#include "qlite/arch/gemm_kernels_neon.hpp"

// GCC 12 reports the _mm512_undefined_* placeholders inside its own AVX-512 intrinsics as
// maybe-uninitialized once they are inlined into these kernels (a false positive, GCC PR
// 105593); silenced for the kernels of this file only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace qlite::kernel {

namespace gemm_detail {

#if defined(QLITE_X86_64)

template <class A>
inline constexpr bool is_vnni_v = std::is_base_of_v<qlite::avx512vnni, A>;

/// 512-bit ops (AVX-512BW; vpdpbusd when A has VNNI).
template <class A>
struct v512 {
  using vi = __m512i;
  using vf = __m512;
  static constexpr std::size_t lanes = 16;
  static constexpr bool vnni = is_vnni_v<A>;
  static vi load(const void* p) noexcept { return _mm512_loadu_si512(p); }
  static void store(void* p, vi v) noexcept { _mm512_storeu_si512(p, v); }
  static vi zero() noexcept { return _mm512_setzero_si512(); }
  static vf fzero() noexcept { return _mm512_setzero_ps(); }
  static vi set1(std::int32_t v) noexcept { return _mm512_set1_epi32(v); }
  static vf fset1(float v) noexcept { return _mm512_set1_ps(v); }
  static vi band(vi a, vi b) noexcept { return _mm512_and_si512(a, b); }
  static vi srli16_4(vi a) noexcept { return _mm512_srli_epi16(a, 4); }
  template <int S>
  static vi slli32(vi a) noexcept {
    return _mm512_slli_epi32(a, S);
  }
  static vi sub(vi a, vi b) noexcept { return _mm512_sub_epi32(a, b); }
  static vi mullo(vi a, vi b) noexcept { return _mm512_mullo_epi32(a, b); }
  static vf cvt(vi a) noexcept { return _mm512_cvtepi32_ps(a); }
  static vf fma(vf a, vf b, vf c) noexcept { return _mm512_fmadd_ps(a, b, c); }
  static vf mul(vf a, vf b) noexcept { return _mm512_mul_ps(a, b); }
  static vf add(vf a, vf b) noexcept { return _mm512_add_ps(a, b); }
  static vf loadf(const float* p) noexcept { return _mm512_loadu_ps(p); }
  static void storef(float* p, vf v) noexcept { _mm512_storeu_ps(p, v); }
  static vf load_f16(const void* p) noexcept {
    return _mm512_cvtph_ps(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
  }
  static vi load_u8(const std::uint8_t* p) noexcept {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static vf as_f(vi a) noexcept { return _mm512_castsi512_ps(a); }
  // acc += Σ of the 4 products u8(u0) · s8(s0) and the 4 of u1 · s1 per lane (u ≤ 15: maddubs
  // cannot saturate; without VNNI the two int16 pair sums are added before vpmaddwd, |·| ≤
  // 2 · 2 · 15 · 128 < 2^15: one vpmaddwd and one add per 8 products instead of two each).
  static vi dot_u4x2(vi acc, vi u0, vi s0, vi u1, vi s1) noexcept {
    if constexpr (vnni)
      return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(acc, u0, s0), u1, s1);
    else
      return _mm512_add_epi32(
          acc, _mm512_madd_epi16(_mm512_add_epi16(_mm512_maddubs_epi16(u0, s0), _mm512_maddubs_epi16(u1, s1)),
                                 _mm512_set1_epi16(1)));
  }
  // int8 codes: with VNNI acc += Σ u·x (u = w + 128, corrected later by −128·Σx); without,
  // acc += Σ w·x exactly via |w| · (x with w's sign) (|w| ≤ 128, |x| ≤ 127: no saturation).
  static vi dot_u8(vi acc, vi u, vi x) noexcept {
    if constexpr (vnni) {
      return _mm512_dpbusd_epi32(acc, u, x);
    } else {
      const vi w = _mm512_xor_si512(u, _mm512_set1_epi8(static_cast<char>(0x80)));
      const vi sx = _mm512_mask_sub_epi8(x, _mm512_movepi8_mask(w), _mm512_setzero_si512(), x);
      return _mm512_add_epi32(
          acc, _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_abs_epi8(w), sx), _mm512_set1_epi16(1)));
    }
  }
};

/// 256-bit ops (AVX2 + FMA + F16C): two vectors per 16-lane panel.
template <class A>
struct v256 {
  using vi = __m256i;
  using vf = __m256;
  static constexpr std::size_t lanes = 8;
  static constexpr bool vnni = false;
  static vi load(const void* p) noexcept { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static vi zero() noexcept { return _mm256_setzero_si256(); }
  static vf fzero() noexcept { return _mm256_setzero_ps(); }
  static vi set1(std::int32_t v) noexcept { return _mm256_set1_epi32(v); }
  static vf fset1(float v) noexcept { return _mm256_set1_ps(v); }
  static vi band(vi a, vi b) noexcept { return _mm256_and_si256(a, b); }
  static vi srli16_4(vi a) noexcept { return _mm256_srli_epi16(a, 4); }
  template <int S>
  static vi slli32(vi a) noexcept {
    return _mm256_slli_epi32(a, S);
  }
  static vi sub(vi a, vi b) noexcept { return _mm256_sub_epi32(a, b); }
  static vi mullo(vi a, vi b) noexcept { return _mm256_mullo_epi32(a, b); }
  static vf cvt(vi a) noexcept { return _mm256_cvtepi32_ps(a); }
  static vf fma(vf a, vf b, vf c) noexcept { return _mm256_fmadd_ps(a, b, c); }
  static vf mul(vf a, vf b) noexcept { return _mm256_mul_ps(a, b); }
  static vf add(vf a, vf b) noexcept { return _mm256_add_ps(a, b); }
  static vf loadf(const float* p) noexcept { return _mm256_loadu_ps(p); }
  static void storef(float* p, vf v) noexcept { _mm256_storeu_ps(p, v); }
  static vf load_f16(const void* p) noexcept {
    return _mm256_cvtph_ps(_mm_loadu_si128(static_cast<const __m128i*>(p)));
  }
  static vi load_u8(const std::uint8_t* p) noexcept {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  }
  static vf as_f(vi a) noexcept { return _mm256_castsi256_ps(a); }
  static vi dot_u4x2(vi acc, vi u0, vi s0, vi u1, vi s1) noexcept {  // see v512
    return _mm256_add_epi32(
        acc, _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(u0, s0), _mm256_maddubs_epi16(u1, s1)),
                               _mm256_set1_epi16(1)));
  }
  static vi dot_u8(vi acc, vi u, vi x) noexcept {  // Σ w·x exactly, w = u − 128 (see v512)
    const vi w = _mm256_xor_si256(u, _mm256_set1_epi8(static_cast<char>(0x80)));
    return _mm256_add_epi32(
        acc, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w)),
                               _mm256_set1_epi16(1)));
  }
};

#if defined(QLITE_HAVE_AVXVNNI_TARGET)
#define QLITE_DETAIL_AVXVNNI_TARGET __attribute__((target("avxvnni")))

/// v256 with AVX-VNNI's VEX vpdpbusd (path avxvnni; only inside the target("avxvnni") tiles).
template <class A>
struct v256vnni : v256<A> {
  using vi = __m256i;
  static constexpr bool vnni = true;
  // Tile rows: 2 × 2 panels. 3 × 2 spills (≈ 2 stack accesses per vpdpbusd for Q4_0); 2 × 2,
  // 4 × 1, 6 × 1 measured alike (≈ 55 ms for W8A8 and W4A8 at 512 × 4096²); 3 × 1 −15 %.
  static constexpr std::size_t rows = 2;
  QLITE_DETAIL_AVXVNNI_TARGET static vi dot_u4x2(vi acc, vi u0, vi s0, vi u1, vi s1) noexcept {
    return _mm256_dpbusd_avx_epi32(_mm256_dpbusd_avx_epi32(acc, u0, s0), u1, s1);
  }
  QLITE_DETAIL_AVXVNNI_TARGET static vi dot_u8(vi acc, vi u, vi x) noexcept {
    return _mm256_dpbusd_avx_epi32(acc, u, x);
  }
};
#endif

/// 128-bit ops (SSE4.2: SSSE3 maddubs, SSE4.1 mullo/cvtepu8). There is no FMA unit: fma is
/// emulated exactly (below) at ≈ 10 operations per lane: float weight formats run 9–32× faster
/// than the reference code's glibc software fmaf per weight (docs/gemm.md).
template <class A>
struct v128 {
  using vi = __m128i;
  using vf = __m128;
  static constexpr std::size_t lanes = 4;
  static constexpr bool vnni = false;
  static vi load(const void* p) noexcept { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
  static vi zero() noexcept { return _mm_setzero_si128(); }
  static vf fzero() noexcept { return _mm_setzero_ps(); }
  static vi set1(std::int32_t v) noexcept { return _mm_set1_epi32(v); }
  static vf fset1(float v) noexcept { return _mm_set1_ps(v); }
  static vi band(vi a, vi b) noexcept { return _mm_and_si128(a, b); }
  static vi srli16_4(vi a) noexcept { return _mm_srli_epi16(a, 4); }
  template <int S>
  static vi slli32(vi a) noexcept {
    return _mm_slli_epi32(a, S);
  }
  static vi sub(vi a, vi b) noexcept { return _mm_sub_epi32(a, b); }
  static vi mullo(vi a, vi b) noexcept { return _mm_mullo_epi32(a, b); }
  static vf cvt(vi a) noexcept { return _mm_cvtepi32_ps(a); }
  static vf as_f(vi a) noexcept { return _mm_castsi128_ps(a); }
  // No FMA unit. a·b is exact in double; their sum with c rounded to odd in double (round to
  // nearest, and if TwoSum's error is not 0 and the result even, one ulp towards the exact
  // sum), then to float, rounds once like std::fma (Boldo–Melquiond: 53 ≥ 2·24 + 2 bits). An
  // infinite or NaN sum is left as it is (its TwoSum error is NaN, not a rounding error).
  static vf fma(vf a, vf b, vf c) noexcept {
    const auto pair = [](__m128 x, __m128 y, __m128 z) {  // lanes 0 and 1
      const __m128d p = _mm_mul_pd(_mm_cvtps_pd(x), _mm_cvtps_pd(y)), zd = _mm_cvtps_pd(z);
      const __m128d s = _mm_add_pd(p, zd), bb = _mm_sub_pd(s, p);
      const __m128d e = _mm_add_pd(_mm_sub_pd(p, _mm_sub_pd(s, bb)), _mm_sub_pd(zd, bb));
      const __m128i si = _mm_castpd_si128(s), zero = _mm_setzero_si128(), one = _mm_set1_epi64x(1);
      // e ≠ 0 and not NaN: a finite sum that was rounded.
      const __m128d rounded = _mm_andnot_pd(_mm_cmpeq_pd(e, _mm_setzero_pd()), _mm_cmpord_pd(e, e));
      const __m128i inexact_even =
          _mm_and_si128(_mm_castpd_si128(rounded), _mm_cmpeq_epi64(_mm_and_si128(si, one), zero));
      // e and s of opposite signs: the exact sum is smaller in magnitude (−1), else larger (+1).
      const __m128i step = _mm_or_si128(_mm_cmpgt_epi64(zero, _mm_xor_si128(si, _mm_castpd_si128(e))), one);
      return _mm_cvtpd_ps(_mm_castsi128_pd(_mm_add_epi64(si, _mm_and_si128(inexact_even, step))));
    };
    return _mm_movelh_ps(pair(a, b, c), pair(_mm_movehl_ps(a, a), _mm_movehl_ps(b, b), _mm_movehl_ps(c, c)));
  }
  static vf mul(vf a, vf b) noexcept { return _mm_mul_ps(a, b); }
  static vf add(vf a, vf b) noexcept { return _mm_add_ps(a, b); }
  static vf loadf(const float* p) noexcept { return _mm_loadu_ps(p); }
  static void storef(float* p, vf v) noexcept { _mm_storeu_ps(p, v); }
  static vf load_f16(const void* p) noexcept {  // no F16C: the reference's conversion
    std::uint16_t h[4];
    std::memcpy(h, p, sizeof h);
    alignas(16) float f[4];
    for (std::size_t i = 0; i < 4; ++i)
      f[i] = std::bit_cast<float>(qlite::detail::fp16_bits_to_fp32_bits<A>(h[i]));
    return _mm_load_ps(f);
  }
  static vi load_u8(const std::uint8_t* p) noexcept { return _mm_cvtepu8_epi32(_mm_cvtsi32_si128(load4(p))); }
  static vi dot_u4x2(vi acc, vi u0, vi s0, vi u1, vi s1) noexcept {  // see v512
    return _mm_add_epi32(acc,
                         _mm_madd_epi16(_mm_add_epi16(_mm_maddubs_epi16(u0, s0), _mm_maddubs_epi16(u1, s1)),
                                        _mm_set1_epi16(1)));
  }
  static vi dot_u8(vi acc, vi u, vi x) noexcept {  // Σ w·x exactly, w = u − 128 (see v512)
    const vi w = _mm_xor_si128(u, _mm_set1_epi8(static_cast<char>(0x80)));
    return _mm_add_epi32(
        acc, _mm_madd_epi16(_mm_maddubs_epi16(_mm_abs_epi8(w), _mm_sign_epi8(x, w)), _mm_set1_epi16(1)));
  }
};

// The fused activation, per element with the reference's std::exp / std::erf (so results
// equal ref::gemm exactly). xsimd's vector exp/erf are not used: with GCC 12 they trip a
// false -Wmaybe-uninitialized inside its AVX-512 intrinsics that no pragma here can silence.
template <class Arch, class V>
QLITE_FORCE_INLINE typename V::vf apply_act(activation act, typename V::vf v) noexcept {
  if (act == activation::none) return v;
  alignas(64) float t[V::lanes];
  V::storef(t, v);
  for (float& f : t) f = qlite::detail::ref_activation<Arch>(act, f);
  return V::loadf(t);
}

/// Epilogue + store of one tile row: v = facc (· row scale) · output_scale + bias, act.
template <class Arch, class V>
QLITE_FORCE_INLINE void store_lanes(const gemm_args& a, std::size_t m, std::size_t n0, typename V::vf v,
                                    float row_scale, bool int_mode) noexcept {
  if (n0 >= a.n) return;
  const std::size_t count = std::min<std::size_t>(V::lanes, a.n - n0);
  if (int_mode) v = V::mul(v, V::fset1(row_scale));
  v = V::mul(v, V::fset1(a.output_scale));
  if (a.bias) {
    if (count == V::lanes) {
      v = V::add(v, V::loadf(a.bias + n0));
    } else {
      alignas(64) float b[V::lanes] = {};
      for (std::size_t i = 0; i < count; ++i) b[i] = a.bias[n0 + i];
      v = V::add(v, V::loadf(b));
    }
  }
  v = apply_act<Arch, V>(a.act, v);
  float* out = a.y + m * a.ldy + n0;
  if (count == V::lanes) {
    V::storef(out, v);
  } else {
    alignas(64) float t[V::lanes];
    V::storef(t, v);
    for (std::size_t i = 0; i < count; ++i) out[i] = t[i];
  }
}

/// Scales of group g for panel p, vector h (lanes h·L … h·L+L−1).
template <class V>
QLITE_FORCE_INLINE typename V::vf load_scales(const gemm_args& a, std::size_t p, std::size_t g,
                                              std::size_t h) noexcept {
  const std::size_t idx = (p * a.groups + g) * panel_rows + h * V::lanes;
  if (a.scale_fp16) return V::load_f16(a.scales + idx * 2);
  return V::loadf(reinterpret_cast<const float*>(a.scales) + idx);
}

/// One chunk (4 k) of int8 codes for MR rows × NV vectors: ia[r][v] += wv[v] · x[r·ldx … +3].
// clang-format off
template <class V, std::size_t MR, std::size_t NV>
QLITE_FORCE_INLINE void dot_rows_u8(typename V::vi (&ia)[MR][NV], const typename V::vi (&wv)[NV],
                                    const std::int8_t* x, std::size_t ldx) noexcept {
QLITE_DETAIL_UNROLL
  for (std::size_t r = 0; r < MR; ++r) {
    const typename V::vi x0 = V::set1(load4(x + r * ldx));
QLITE_DETAIL_UNROLL
    for (std::size_t v = 0; v < NV; ++v) ia[r][v] = V::dot_u8(ia[r][v], wv[v], x0);
  }
}
// clang-format on

/// W8A8 / W4A8 part of a tile: acc[r·NV + v] = fma(float(d), s, acc) per group in order, d the
/// exact int32 dot product of the group. CPG chunks per group, unrolled; CPG = 0 walks the
/// groups' chunks in a loop. Runs in a function of its own (act8_tile) with its int32
/// accumulators as plain loop variables: inlined into a bigger function, GCC 12 copies every
/// accumulator twice per chunk.
// clang-format cannot lay out QLITE_DETAIL_UNROLL (a pragma) on a line of its own.
// clang-format off
//
// Digits (weight_only with integer weights): every 4 of the MR rows are the four digit planes
// of one row of x, and each group folds their four sums into one float first (ref
// combine_digits): acc[i·NV + v] = fma(f, s, ·) for row i of x.
template <class V, bool I4, std::size_t MR, std::size_t NP, std::size_t CPG, bool Digits>
QLITE_FORCE_INLINE void act8_dot(const gemm_args& args, std::size_t p, std::size_t m0,
                                 typename V::vf* acc) noexcept {
  static_assert(!Digits || MR % 4 == 0);
  constexpr std::size_t FR = Digits ? MR / 4 : MR;  // float accumulator rows
  using vi = typename V::vi;
  const gemm_args a = args;  // a local copy: the stores to acc (may_alias vectors) cannot change it
  constexpr std::size_t PV = panel_rows / V::lanes, NV = NP * PV, vb = V::lanes * 4, ck = I4 ? 8 : 4;
  // d = Σ u·x − z·Σx, the zero code's part subtracted up front (the non-VNNI int8 dot
  // computes Σ w·x directly).
  constexpr bool correct = I4 || V::vnni;
  const std::size_t cpg = CPG ? CPG : a.group / ck;
  const std::uint8_t* w = a.data + p * a.panel_bytes;
  const std::int8_t* x = a.xq + m0 * a.k_padded;
  const vi nib = V::set1(0x0F0F0F0F);
  typename V::vf fa[FR][NV];
QLITE_DETAIL_UNROLL
  for (std::size_t r = 0; r < FR; ++r)
QLITE_DETAIL_UNROLL
    for (std::size_t v = 0; v < NV; ++v) fa[r][v] = acc[r * NV + v];
  for (std::size_t g = 0; g < a.groups; ++g) {
    vi ia[MR][NV];
QLITE_DETAIL_UNROLL
    for (std::size_t j = 0; j < NP; ++j)
QLITE_DETAIL_UNROLL
      for (std::size_t h = 0; h < PV; ++h) {
        const std::size_t v = j * PV + h;
        const bool asym = I4 && a.asym;
        const vi z =
            asym ? V::load_u8(a.zeros + ((p + j) * a.groups + g) * panel_rows + h * V::lanes) : V::zero();
QLITE_DETAIL_UNROLL
        for (std::size_t r = 0; r < MR; ++r) {
          const std::int32_t gs = correct ? a.x_gsum[(m0 + r) * a.groups + g] : 0;
          ia[r][v] = asym ? V::sub(V::zero(), V::mullo(z, V::set1(gs))) : V::set1(-(I4 ? 8 : 128) * gs);
        }
      }
QLITE_DETAIL_UNROLL
    for (std::size_t i = 0; i < (CPG ? CPG : cpg); ++i) {
      const std::size_t c = g * cpg + i;
      vi wv[NV];
QLITE_DETAIL_UNROLL
      for (std::size_t j = 0; j < NP; ++j)
QLITE_DETAIL_UNROLL
        for (std::size_t h = 0; h < PV; ++h)
          wv[j * PV + h] = V::load(w + j * a.panel_bytes + c * cb + h * vb);
      // Digits: 4 dot products per code make each panel stream slow enough that the hardware
      // prefetcher lags from DRAM; 16 chunks ahead (as the int4/int8 decode before it). The
      // AVX-512 6-row prefill tiles read their panels from L2: 8 chunks ahead into L1 took
      // W8A8 from 713 to 734 GOP/s at M = 512 (medians of 6 alternated runs, 2026-12-02).
      constexpr std::size_t ahead = Digits ? 16 : V::lanes == 16 && MR == 6 ? 8 : 0;
      if constexpr (ahead > 0)
QLITE_DETAIL_UNROLL
        for (std::size_t j = 0; j < NP; ++j)
          _mm_prefetch(reinterpret_cast<const char*>(w + j * a.panel_bytes + (c + ahead) * cb), _MM_HINT_T0);
      if constexpr (I4) {
        vi hi[NV];
QLITE_DETAIL_UNROLL
        for (std::size_t v = 0; v < NV; ++v) {
          hi[v] = V::band(V::srli16_4(wv[v]), nib);
          wv[v] = V::band(wv[v], nib);
        }
QLITE_DETAIL_UNROLL
        for (std::size_t r = 0; r < MR; ++r) {
          const std::int8_t* xc = x + r * a.k_padded + c * 8;
          const vi x0 = V::set1(load4(xc)), x1 = V::set1(load4(xc + 4));
QLITE_DETAIL_UNROLL
          for (std::size_t v = 0; v < NV; ++v)
            ia[r][v] = V::dot_u4x2(ia[r][v], wv[v], x0, hi[v], x1);
        }
      } else {
        dot_rows_u8<V>(ia, wv, x + c * 4, a.k_padded);
      }
    }
QLITE_DETAIL_UNROLL
    for (std::size_t j = 0; j < NP; ++j)
QLITE_DETAIL_UNROLL
      for (std::size_t h = 0; h < PV; ++h) {
        const std::size_t v = j * PV + h;
        const typename V::vf sc = load_scales<V>(a, p + j, g, h);
        if constexpr (Digits) {
QLITE_DETAIL_UNROLL
          for (std::size_t r = 0; r < FR; ++r) {
            const typename V::vf f = ref::detail::combine_digits(
                V::cvt(ia[4 * r][v]), V::cvt(ia[4 * r + 1][v]), V::cvt(ia[4 * r + 2][v]),
                V::cvt(ia[4 * r + 3][v]),
                [](typename V::vf u, typename V::vf s, typename V::vf t) { return V::fma(u, s, t); },
                V::fset1(255.0f), V::fset1(65025.0f), V::fset1(16581375.0f));
            fa[r][v] = V::fma(f, sc, fa[r][v]);
          }
        } else {
QLITE_DETAIL_UNROLL
          for (std::size_t r = 0; r < MR; ++r) fa[r][v] = V::fma(V::cvt(ia[r][v]), sc, fa[r][v]);
        }
      }
  }
QLITE_DETAIL_UNROLL
  for (std::size_t r = 0; r < FR; ++r)
QLITE_DETAIL_UNROLL
    for (std::size_t v = 0; v < NV; ++v) acc[r * NV + v] = fa[r][v];
}
// clang-format on

template <class V>
inline constexpr bool is_avxvnni_ops_v = false;
/// The AVX-VNNI ops that replace V in the int8 tiles of the avxvnni path (void: none).
template <class V>
struct avxvnni_ops {
  using type = void;
};

template <class V, bool I4, std::size_t MR, std::size_t NP, std::size_t CPG, bool D>
[[gnu::noinline]] void act8_plain(const gemm_args& a, std::size_t p, std::size_t m0,
                                  typename V::vf* acc) noexcept {
  act8_dot<V, I4, MR, NP, CPG, D>(a, p, m0, acc);
}

#if defined(QLITE_HAVE_AVXVNNI_TARGET)
template <class A>
inline constexpr bool is_avxvnni_ops_v<v256vnni<A>> = true;
template <class A>
struct avxvnni_ops<v256<A>> {
  using type = v256vnni<A>;
};

// flatten: V's dot products (target avxvnni) are inlined here, where that target is enabled.
template <class V, bool I4, std::size_t MR, std::size_t NP, std::size_t CPG, bool D>
[[gnu::noinline, gnu::flatten]] QLITE_DETAIL_AVXVNNI_TARGET void act8_avxvnni(const gemm_args& a,
                                                                              std::size_t p, std::size_t m0,
                                                                              typename V::vf* acc) noexcept {
  act8_dot<V, I4, MR, NP, CPG, D>(a, p, m0, acc);
}
#endif

/// act8_dot in a function of its own (compiled for AVX-VNNI with the v256vnni ops).
template <class V, bool I4, std::size_t MR, std::size_t NP, std::size_t CPG, bool D>
void act8_tile(const gemm_args& a, std::size_t p, std::size_t m0, typename V::vf* acc) noexcept {
  if constexpr (is_avxvnni_ops_v<V>)
    act8_avxvnni<V, I4, MR, NP, CPG, D>(a, p, m0, acc);
  else
    act8_plain<V, I4, MR, NP, CPG, D>(a, p, m0, acc);
}

/// AVX-512 VNNI W8A8 on per-channel int8 weights, prefill: rows m0 … m0+MR−1 × panels p … p+3
/// (6 × 4: 24 int32 accumulators, one x broadcast per 4 vpdpbusd) over chunks [c0, c1) of k.
/// The sums start at −128·Σx (first block) or at `carry`, and go back to `carry` unless this is
/// the last block, which folds them like act8_dot (one group: fma(float(d), s, 0)) and stores y.
/// Integer sums are exact in any order, so the result is act8_dot's bit for bit.
// clang-format off
template <class Arch, class V, std::size_t MR>
[[gnu::noinline]] void act8_block_tile(const gemm_args& args, std::size_t p, std::size_t m0, std::size_t c0,
                                       std::size_t c1, std::int32_t* carry, bool first, bool last) noexcept {
  using vi = typename V::vi;
  constexpr std::size_t NV = 4;
  const gemm_args a = args;
  const std::size_t kp = a.k_padded, pb = a.panel_bytes;
  vi ia[MR][NV];
QLITE_DETAIL_UNROLL
  for (std::size_t r = 0; r < MR; ++r)
QLITE_DETAIL_UNROLL
    for (std::size_t v = 0; v < NV; ++v)
      ia[r][v] = first ? V::set1(-128 * a.x_gsum[m0 + r]) : V::load(carry + (r * NV + v) * V::lanes);
  const std::uint8_t* w = a.data + p * pb + c0 * cb;
  const std::int8_t* x = a.xq + m0 * kp + c0 * 4;
  for (std::size_t c = c0; c < c1; ++c, w += cb, x += 4) {
    vi wv[NV];
QLITE_DETAIL_UNROLL
    for (std::size_t v = 0; v < NV; ++v) wv[v] = V::load(w + v * pb);
    dot_rows_u8<V>(ia, wv, x, kp);
  }
  if (!last) {
QLITE_DETAIL_UNROLL
    for (std::size_t r = 0; r < MR; ++r)
QLITE_DETAIL_UNROLL
      for (std::size_t v = 0; v < NV; ++v) V::store(carry + (r * NV + v) * V::lanes, ia[r][v]);
    return;
  }
  // Every loop over ia unrolled: an indexed access would keep ia in memory in the loop above.
QLITE_DETAIL_UNROLL
  for (std::size_t v = 0; v < NV; ++v) {
    const typename V::vf sc = load_scales<V>(a, p + v, 0, 0);
QLITE_DETAIL_UNROLL
    for (std::size_t r = 0; r < MR; ++r)
      store_lanes<Arch, V>(a, m0 + r, (p + v) * panel_rows, V::fma(V::cvt(ia[r][v]), sc, V::fzero()),
                           a.x_scale[m0 + r], true);
  }
}
// clang-format on

/// act8_block_tile<…, MR> for MR = mr (1 ≤ mr ≤ 6).
template <class Arch, class V, std::size_t MR = 1>
void act8_block_rows(const gemm_args& a, std::size_t p, std::size_t m0, std::size_t mr, std::size_t c0,
                     std::size_t c1, std::int32_t* carry, bool first, bool last) noexcept {
  if constexpr (MR < 6) {
    if (mr > MR) return act8_block_rows<Arch, V, MR + 1>(a, p, m0, mr, c0, c1, carry, first, last);
  }
  act8_block_tile<Arch, V, MR>(a, p, m0, c0, c1, carry, first, last);
}

/// Rows of the next register tile when `left` rows remain and tiles have up to `step` rows:
/// 6-row steps end in 4 + 3 or 4 + 4 rather than 6 + 1 or 6 + 2 (a 1- or 2-row tile has too few
/// accumulators to hide the vpdpbusd / FMA latency; M = 128 = 20 · 6 + 4 + 4).
QLITE_FORCE_INLINE std::size_t tile_row_step(std::size_t step, std::size_t left) noexcept {
  return step == 6 && (left == 7 || left == 8) ? 4 : std::min(step, left);
}

/// AVX-512 VNNI W8A8 prefill on per-channel int8 weights in oneDNN's loop order (its brgemm
/// matmul: blocks of 256 rows, 64 output channels, K blocks, 6-row tiles inside): for each
/// block of 256 rows, each 4 panels, each 2048 k, every 6-row tile. The tiles' int32 sums wait
/// between K blocks in a 64 KB carry (gemm_args::thread_scratch; without one, the 6 × 2 loop
/// runs instead). The 4 panels' 2048 k (128 KB) stay in L2 while 43 tiles pass over them, and a
/// tile reads its 12 KB of x once per 4 panels. Panels [p0, p1) in steps of 4; returns the
/// first panel left (fewer than 4) for the 6 × 2 loop.
template <class Arch, class V>
std::size_t act8_blocked(const gemm_args& a, std::size_t p0, std::size_t p1) noexcept {
  constexpr std::size_t mblock = 256, kblock = 2048 / 4;  // rows; chunks of 4 k
  const std::size_t quads = (p1 - p0) / 4, chunks = a.k_padded / 4;
  const std::size_t carry_bytes = std::min(a.m, mblock) * 4 * panel_rows * sizeof(std::int32_t);
  std::int32_t* carry = quads && chunks > kblock && a.thread_scratch
                            ? static_cast<std::int32_t*>(a.thread_scratch(carry_bytes))
                            : nullptr;
  if (quads == 0 || (chunks > kblock && carry == nullptr)) return p0;
  const std::size_t pe = p0 + 4 * quads;
  for (std::size_t mc = 0; mc < a.m; mc += mblock) {
    const std::size_t me = std::min(a.m, mc + mblock);
    for (std::size_t p = p0; p < pe; p += 4)
      for (std::size_t c0 = 0; c0 < chunks; c0 += kblock) {
        const std::size_t c1 = std::min(chunks, c0 + kblock);
        for (std::size_t m0 = mc, mr = 0; m0 < me; m0 += mr) {
          mr = tile_row_step(6, me - m0);
          std::int32_t* tile_carry = carry ? carry + (m0 - mc) * 4 * panel_rows : nullptr;
          act8_block_rows<Arch, V>(a, p, m0, mr, c0, c1, tile_carry, c0 == 0, c1 == chunks);
        }
      }
  }
  return pe;
}

#define QLITE_DETAIL_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

/// bf16_activations with vdpbf16ps (only called when the CPU has AVX512-BF16): acc[r·NP + j].
template <class Arch, std::size_t MR, std::size_t NP>
QLITE_DETAIL_BF16_TARGET void tile_dpbf16(const gemm_args& a, std::size_t p, std::size_t m0,
                                          __m512* out) noexcept {
  const std::uint8_t* wp[NP];
  for (std::size_t j = 0; j < NP; ++j) wp[j] = a.data + (p + j) * a.panel_bytes;
  __m512 acc[MR][NP];
  for (std::size_t r = 0; r < MR; ++r)
    for (std::size_t j = 0; j < NP; ++j) acc[r][j] = _mm512_setzero_ps();
  for (std::size_t c = 0; c < a.k_padded / 2; ++c) {
    __m512i w[NP];
    for (std::size_t j = 0; j < NP; ++j) w[j] = _mm512_loadu_si512(wp[j] + c * cb);
    for (std::size_t r = 0; r < MR; ++r) {
      const __m512i xv = _mm512_set1_epi32(load4(a.xb + (m0 + r) * a.k_padded + 2 * c));
      for (std::size_t j = 0; j < NP; ++j)
        acc[r][j] = _mm512_dpbf16_ps(acc[r][j], (__m512bh)w[j], (__m512bh)xv);
    }
  }
  for (std::size_t r = 0; r < MR; ++r)
    for (std::size_t j = 0; j < NP; ++j) out[r * NP + j] = acc[r][j];
}

/// The tile: rows m0 … m0+MR−1, panels p … p+NP−1.
template <class Arch, class V, tile_kind K, std::size_t MR, std::size_t NP>
void tile(const gemm_args& a, std::size_t p, std::size_t m0) noexcept {
  using vi = typename V::vi;
  using vf = typename V::vf;
  constexpr std::size_t PV = panel_rows / V::lanes;  // vectors per panel
  constexpr std::size_t NV = NP * PV;
  constexpr std::size_t vb = V::lanes * 4;  // bytes per vector
  const std::uint8_t* wp[NP];
  for (std::size_t j = 0; j < NP; ++j) wp[j] = a.data + (p + j) * a.panel_bytes;
  vf acc[MR][NV];
  for (std::size_t r = 0; r < MR; ++r)
    for (std::size_t v = 0; v < NV; ++v) acc[r][v] = V::fzero();

  if constexpr (K == tile_kind::act8_int8 || K == tile_kind::act8_int4) {
    constexpr bool i4 = K == tile_kind::act8_int4;
    // weight_only: MR = 4 or 8 digit planes of 1 or 2 rows of x (run_panels), folded per group.
    const auto dot = [&]<bool D>() {
      switch (a.groups == 1 ? 0 : a.group / (i4 ? 8 : 4)) {
        case 4:
          return act8_tile<V, i4, MR, NP, 4, D>(a, p, m0, acc[0]);
        case 8:
          return act8_tile<V, i4, MR, NP, 8, D>(a, p, m0, acc[0]);
        case 16:
          return act8_tile<V, i4, MR, NP, 16, D>(a, p, m0, acc[0]);
        default:
          return act8_tile<V, i4, MR, NP, 0, D>(a, p, m0, acc[0]);
      }
    };
    if constexpr (MR % 4 == 0) {
      if (a.mode == gemm_mode::weight_only) {
        dot.template operator()<true>();
        for (std::size_t r = 0; r < MR / 4; ++r)
          for (std::size_t j = 0; j < NP; ++j)
            for (std::size_t h = 0; h < PV; ++h)
              store_lanes<Arch, V>(a, m0 / 4 + r, (p + j) * panel_rows + h * V::lanes, acc[r][j * PV + h],
                                   a.x_scale[m0 / 4 + r], true);
        return;
      }
    }
    if constexpr (MR <= 6) dot.template operator()<false>();  // 8 rows: digits only
  } else if constexpr (K == tile_kind::wo_f32 || K == tile_kind::wo_f16) {
    constexpr bool h16 = K == tile_kind::wo_f16;
    constexpr std::size_t kb = h16 ? 32 : 64;  // bytes per k per panel
    const float* xr[MR];
    for (std::size_t r = 0; r < MR; ++r) xr[r] = a.x + (m0 + r) * a.ldx;
    for (std::size_t k = 0; k < a.k_padded; ++k) {
      vf w[NV];
      for (std::size_t j = 0; j < NP; ++j)
        for (std::size_t h = 0; h < PV; ++h) {
          const std::uint8_t* src = wp[j] + k * kb + h * (kb / PV);
          if constexpr (h16)
            w[j * PV + h] = V::load_f16(src);
          else
            w[j * PV + h] = V::loadf(reinterpret_cast<const float*>(src));
        }
      for (std::size_t r = 0; r < MR; ++r) {
        const vf xv = V::fset1(xr[r][k]);
        for (std::size_t v = 0; v < NV; ++v) acc[r][v] = V::fma(w[v], xv, acc[r][v]);
      }
    }
  } else {  // bf16 pairs: weight_only (x fp32, k then k+1) or bf16_activations (k+1 then k)
    bool done = false;
    if constexpr (K == tile_kind::act_bf16 && V::lanes == 16) {
      if (a.use_dpbf16) {
        alignas(64) vf hw[MR * NV];
        tile_dpbf16<Arch, MR, NP>(a, p, m0, hw);
        for (std::size_t r = 0; r < MR; ++r)
          for (std::size_t v = 0; v < NV; ++v) acc[r][v] = hw[r * NV + v];
        done = true;
      }
    }
    const vi himask = V::set1(static_cast<std::int32_t>(0xFFFF0000U));
    for (std::size_t c = 0; !done && c < a.k_padded / 2; ++c) {
      vf lo[NV], hi[NV];
      for (std::size_t j = 0; j < NP; ++j)
        for (std::size_t h = 0; h < PV; ++h) {
          const vi w = V::load(wp[j] + c * cb + h * vb);
          lo[j * PV + h] = V::as_f(V::template slli32<16>(w));
          hi[j * PV + h] = V::as_f(V::band(w, himask));
        }
      for (std::size_t r = 0; r < MR; ++r) {
        const std::size_t m = m0 + r;
        if constexpr (K == tile_kind::wo_bf16) {
          const vf x0 = V::fset1(a.x[m * a.ldx + 2 * c]), x1 = V::fset1(a.x[m * a.ldx + 2 * c + 1]);
          for (std::size_t v = 0; v < NV; ++v) acc[r][v] = V::fma(hi[v], x1, V::fma(lo[v], x0, acc[r][v]));
        } else {
          const std::uint32_t pair = static_cast<std::uint32_t>(load4(a.xb + m * a.k_padded + 2 * c));
          const vf x0 = V::fset1(std::bit_cast<float>(pair << 16)),
                   x1 = V::fset1(std::bit_cast<float>(pair & 0xFFFF0000U));
          for (std::size_t v = 0; v < NV; ++v) acc[r][v] = V::fma(lo[v], x0, V::fma(hi[v], x1, acc[r][v]));
        }
      }
    }
  }

  constexpr bool int_mode = K == tile_kind::act8_int8 || K == tile_kind::act8_int4;
  for (std::size_t r = 0; r < MR; ++r) {
    const std::size_t m = m0 + r;
    const float rs = int_mode ? a.x_scale[m] : 1.0f;
    for (std::size_t j = 0; j < NP; ++j)
      for (std::size_t h = 0; h < PV; ++h)
        store_lanes<Arch, V>(a, m, (p + j) * panel_rows + h * V::lanes, acc[r][j * PV + h], rs, int_mode);
  }
}

// vdpbf16ps tiles are 8 rows × 3 panels: 24 accumulators read 27 % fewer weight and x bytes
// per instruction than 6 × 2, measured +14 % from L2 (bf16 panels are twice int8's bytes per k).
template <class V, tile_kind K>
inline constexpr bool wide_tile_v = V::lanes == 16 && K == tile_kind::act_bf16;

template <class V, tile_kind K>
constexpr std::size_t max_tile_rows() noexcept {
  if constexpr (is_avxvnni_ops_v<V>)
    return V::rows;
  else
    return V::lanes == 16 ? (wide_tile_v<V, K> ? 8 : 6) : V::lanes == 8 ? 3 : 2;
}

/// tile<…, MR, NP> for MR = mr (1 ≤ mr ≤ the arch's row step).
template <class Arch, class V, tile_kind K, std::size_t NP, std::size_t MR = 1>
void tile_rows(const gemm_args& a, std::size_t p, std::size_t m0, std::size_t mr) noexcept {
  constexpr std::size_t max_rows = max_tile_rows<V, K>();
  if constexpr (MR < max_rows) {
    if (mr > MR) return tile_rows<Arch, V, K, NP, MR + 1>(a, p, m0, mr);
  }
  tile<Arch, V, K, MR, NP>(a, p, m0);
}

template <class Arch, class V, tile_kind K>
void run_panels(const gemm_args& a, std::size_t p0, std::size_t p1) noexcept {
  // Decode (M ≤ 2): 4 panels per tile for 4+ independent chains; otherwise 6 rows × 2 panels
  // (12 accumulators: enough to cover the vpdpbusd/FMA latency at 2 per cycle), 8 × 3 for
  // vdpbf16ps; AVX2 has 16 registers and two per panel: 3 rows × 2 panels (2 × 2 for the
  // AVX-VNNI int8 tiles). weight_only on integer weights: the digit planes of x, 4 plane rows
  // (one row of x) × 4 panels at decode on AVX-512, 8 × 2 (two rows) for prefill; 4 × 1 on
  // AVX2 and SSE4.2, whose int32 accumulators alone would fill the register file at 4 × 2.
  const bool decode = a.m <= 2;
  constexpr bool act8 = K == tile_kind::act8_int8 || K == tile_kind::act8_int4;
  const bool digits = act8 && a.mode == gemm_mode::weight_only;
  const bool wide = wide_tile_v<V, K> && a.use_dpbf16;
  const std::size_t rows = digits ? 4 * a.m : a.m;
  // Digits prefill on AVX-512: 8 plane rows (2 rows of x) × 2 panels.
  const std::size_t mstep = digits                       ? (V::lanes == 16 && !decode ? 8 : 4)
                            : wide_tile_v<V, K> && !wide ? 6
                                                         : max_tile_rows<V, K>();
  constexpr std::size_t act8_block_bytes = 256 * 1024;
  std::size_t p = p0;
  // Per-channel int8 W8A8 prefill on AVX-512 VNNI: oneDNN's order first; leftovers below.
  if constexpr (K == tile_kind::act8_int8 && V::lanes == 16 && V::vnni) {
    if (!digits && !decode && a.groups == 1) p = act8_blocked<Arch, V>(a, p0, p1);
  }
  while (p < p1) {
    const std::size_t left = p1 - p;
    // AVX2 decodes 2 panels at a time: 4 panels need 32 live ymm (16 exist) and spill badly.
    const std::size_t np =
        digits && V::lanes < 16
            ? 1
            : (decode && V::lanes == 16 && left >= 4
                   ? 4
                   : (wide && left >= 3 ? 3 : (left >= 2 && (V::lanes > 4 || a.m == 1) ? 2 : 1)));
    // AVX-512 W8A8 / W4A8 prefill: each row tile of x passes over nb pairs of panels in turn
    // (≈ 256 KB of codes, which stay in L2 for the whole M loop), so x streams from L3 once per
    // nb pairs instead of once per pair.
    const std::size_t nb = act8 && V::lanes == 16 && np == 2
                               ? std::clamp<std::size_t>(act8_block_bytes / (2 * a.panel_bytes), 1, left / 2)
                               : 1;
    for (std::size_t m0 = 0, mr = 0; m0 < rows; m0 += mr) {
      mr = tile_row_step(mstep, rows - m0);
      for (std::size_t pq = p; pq < p + nb * np; pq += np) {
        if constexpr (act8) {
          if (digits) {
            if (np == 4)
              tile<Arch, V, K, 4, 4>(a, pq, m0);
            else if (np == 2 && mr == 4)
              tile<Arch, V, K, 4, 2>(a, pq, m0);
            else if (np == 1 && mr == 4)
              tile<Arch, V, K, 4, 1>(a, pq, m0);
            else if constexpr (V::lanes == 16) {
              if (np == 2)
                tile<Arch, V, K, 8, 2>(a, pq, m0);
              else
                tile<Arch, V, K, 8, 1>(a, pq, m0);
            }
            continue;
          }
        }
        if (np == 4)
          tile_rows<Arch, V, K, 4>(a, pq, m0, mr);
        else if (np == 2)
          tile_rows<Arch, V, K, 2>(a, pq, m0, mr);
        else if (np == 1)
          tile_rows<Arch, V, K, 1>(a, pq, m0, mr);
        else if constexpr (wide_tile_v<V, K>)
          tile_rows<Arch, V, K, 3>(a, pq, m0, mr);
      }
    }
    p += nb * np;
  }
}

/// W8A8 / W4A8 and integer weight_only panels (on the avxvnni path with the v256vnni ops).
template <class Arch, class V, tile_kind K>
void run_act8_panels(const gemm_args& a, std::size_t p0, std::size_t p1) noexcept {
  using VV = typename avxvnni_ops<V>::type;
  if constexpr (!std::is_void_v<VV>) {
    if (a.use_avxvnni) return run_panels<Arch, VV, K>(a, p0, p1);
  }
  run_panels<Arch, V, K>(a, p0, p1);
}

template <class Arch, class V>
void simd_panels(const gemm_args& a, std::size_t p0, std::size_t p1) noexcept {
  switch (a.kind) {
    case weight_kind::int8:
      return run_act8_panels<Arch, V, tile_kind::act8_int8>(a, p0, p1);
    case weight_kind::int4:
      return run_act8_panels<Arch, V, tile_kind::act8_int4>(a, p0, p1);
    case weight_kind::f32:
      return run_panels<Arch, V, tile_kind::wo_f32>(a, p0, p1);
    case weight_kind::f16:
      return run_panels<Arch, V, tile_kind::wo_f16>(a, p0, p1);
    case weight_kind::bf16:
      return a.mode == gemm_mode::bf16_activations ? run_panels<Arch, V, tile_kind::act_bf16>(a, p0, p1)
                                                   : run_panels<Arch, V, tile_kind::wo_bf16>(a, p0, p1);
  }
}

#endif  // QLITE_X86_64

}  // namespace gemm_detail

/// Output channels of panels [p0, p1) for all rows of x (see reference.hpp for the math).
template <class Arch>
void gemm_panels(const qlite::detail::gemm_args& a, std::size_t p0, std::size_t p1) noexcept {
#if defined(QLITE_X86_64)
  if constexpr (std::is_base_of_v<xsimd::avx512bw, Arch>) {
    return gemm_detail::simd_panels<Arch, gemm_detail::v512<Arch>>(a, p0, p1);
  } else if constexpr (std::is_base_of_v<xsimd::fma3<xsimd::avx2>, Arch>) {
    return gemm_detail::simd_panels<Arch, gemm_detail::v256<Arch>>(a, p0, p1);
  } else if constexpr (std::is_base_of_v<xsimd::sse4_2, Arch>) {
    return gemm_detail::simd_panels<Arch, gemm_detail::v128<Arch>>(a, p0, p1);
  } else {
    return ref::detail::gemm_panels<Arch>(a, p0, p1);
  }
#elif defined(QLITE_AARCH64)
  if constexpr (std::is_base_of_v<xsimd::neon64, Arch>) {
    return neon_detail::gemm_panels<Arch>(a, p0, p1);
  } else {
    return ref::detail::gemm_panels<Arch>(a, p0, p1);
  }
#else
  return ref::detail::gemm_panels<Arch>(a, p0, p1);
#endif
}

}  // namespace qlite::kernel

#undef QLITE_DETAIL_UNROLL
#undef QLITE_DETAIL_ASAN
#undef QLITE_DETAIL_AVXVNNI_TARGET
#undef QLITE_DETAIL_BF16_TARGET
#undef QLITE_DETAIL_DOTPROD_TARGET

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
