// qlite — the per-call conversions of x for qlite::gemm, per arch (definitions; declared in
// arch/gemm_kernels_decl.hpp, included by arch/gemm_kernels.hpp).
//
//   gemm_quantize_activations   W8A8/W4A8: dynamic per-row int8 codes, row scales and the
//                               codes' sums per weight group (ref::detail::quantize_activations)
//   gemm_round_bf16             bf16_activations: x → bf16 bits (ref::detail::round_activations_bf16)
//   gemm_split_digits           weight_only integer formats: x → four planes of base-255 digits
//                               (ref::detail::split_activations, compiled for this arch)
//
// All are bit-identical to the reference for every input. The int8 quantization is one xsimd
// implementation for every SIMD register family (SSE2 … AVX-512, NEON64), 16 floats per step;
// only the narrowing store of the 16 codes is per ISA. bf16 rounding is qlite::convert's
// kernel (vcvtne2ps2bf16 where the CPU has AVX512-BF16, integer RNE otherwise) per row.
// Tails go through a stack buffer: nothing past x[r][k − 1] is read.
#pragma once

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "qlite/arch/convert_kernels.hpp"
#include "qlite/config.hpp"
#include "qlite/core/dispatch.hpp"
#include "qlite/gemm/reference.hpp"

#if defined(QLITE_X86_64)
#include <immintrin.h>
#endif

// GCC 12's AVX-512 intrinsics seed results with a self-initialised "undefined" register (PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace qlite::kernel::act_detail {

using xsimd::kernel::requires_arch;

/// The register family of arch A (qlite::convert's), or void where A runs the reference code.
template <class A, class B = qlite::detail::cvt::simd_t<simd_arch_t<A>>>
using family_t =
    std::conditional_t<std::is_same_v<B, xsimd::sse2> || std::is_same_v<B, xsimd::sse4_1> ||
                           std::is_same_v<B, xsimd::avx2> || std::is_same_v<B, xsimd::avx512bw> ||
                           std::is_same_v<B, xsimd::neon64>,
                       B, void>;

inline constexpr std::size_t step = 16;  // floats per step: one 16-byte store of codes

// 16 int32 codes in [−127, 127] (16 / lanes batches) → 16 bytes. The saturating packs are exact.
#if defined(QLITE_X86_64)
template <class Arch, class B>
QLITE_FORCE_INLINE void store_codes(std::int8_t* p, const xsimd::batch<std::int32_t, B>* q,
                                    requires_arch<xsimd::sse2>) noexcept {
  const __m128i lo = _mm_packs_epi32(q[0], q[1]), hi = _mm_packs_epi32(q[2], q[3]);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm_packs_epi16(lo, hi));
}
template <class Arch, class B>
QLITE_FORCE_INLINE void store_codes(std::int8_t* p, const xsimd::batch<std::int32_t, B>* q,
                                    requires_arch<xsimd::avx2>) noexcept {
  // packs works per 128-bit lane: [q0 0..3, q1 0..3 | q0 4..7, q1 4..7] → reorder the quarters.
  const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(q[0], q[1]), 0xd8);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                   _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1)));
}
template <class Arch, class B>
QLITE_FORCE_INLINE void store_codes(std::int8_t* p, const xsimd::batch<std::int32_t, B>* q,
                                    requires_arch<xsimd::avx512bw>) noexcept {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(q[0]));
}
#endif
#if defined(QLITE_AARCH64)
template <class Arch, class B>
QLITE_FORCE_INLINE void store_codes(std::int8_t* p, const xsimd::batch<std::int32_t, B>* q,
                                    requires_arch<xsimd::neon64>) noexcept {
  const int16x8_t lo = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]));
  const int16x8_t hi = vcombine_s16(vmovn_s32(q[2]), vmovn_s32(q[3]));
  vst1q_s8(p, vcombine_s8(vmovn_s16(lo), vmovn_s16(hi)));
}
#endif

/// Group sums are added across lanes by xsimd::haddp of family sum_family_t<B>; AVX-512's are
/// first folded to 256 bits (xsimd 8.1's AVX-512 haddp returns its lanes permuted).
template <class B>
struct sum_family {
  using type = B;
};
template <>
struct sum_family<xsimd::avx512bw> {
  using type = xsimd::avx2;
};
template <class B>
using sum_family_t = typename sum_family<B>::type;

template <class Arch, class B>
QLITE_FORCE_INLINE xsimd::batch<std::int32_t, B> fold_sums(xsimd::batch<std::int32_t, B> s,
                                                           requires_arch<xsimd::generic>) noexcept {
  return s;
}
#if defined(QLITE_X86_64)
template <class Arch, class B>
QLITE_FORCE_INLINE auto fold_sums(xsimd::batch<std::int32_t, B> s, requires_arch<xsimd::avx512bw>) noexcept {
  return xsimd::batch<std::int32_t, xsimd::avx2>(
      _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1)));
}
#endif

/// The largest |x[c]| (c < k) as float bits: non-negative floats order like their bits as
/// integers, and a NaN's bits exceed ∞'s (0x7f800000).
template <class Arch, class B>
QLITE_FORCE_INLINE std::uint32_t row_amax_bits(const float* x, std::size_t k) noexcept {
  using bf = xsimd::batch<float, B>;
  using bi = xsimd::batch<std::int32_t, B>;
  constexpr std::size_t w = bi::size, chunk = 64, na = chunk / w;  // na independent maxima
  bi acc[na];
  for (bi& a : acc) a = bi(0);
  const auto add = [&](const float* p) {
    for (std::size_t j = 0; j < na; ++j)
      acc[j] = xsimd::max(acc[j], xsimd::bitwise_cast<bi>(bf::load_unaligned(p + j * w)) & bi(0x7fffffff));
  };
  std::size_t c = 0;
  for (; c + chunk <= k; c += chunk) add(x + c);
  if (c < k) {
    alignas(64) float t[chunk] = {};
    std::memcpy(t, x + c, (k - c) * sizeof(float));
    add(t);
  }
  for (std::size_t j = 1; j < na; ++j) acc[0] = xsimd::max(acc[0], acc[j]);
  alignas(64) std::int32_t lanes[w];
  acc[0].store_aligned(lanes);
  return static_cast<std::uint32_t>(*std::max_element(lanes, lanes + w));
}

/// Codes of 16 floats at p into out[0..16); returns their sums per lane. Finite: x and inv are
/// finite, so |x · inv| ≤ 127·(1 + 2^-23)² < 127.5 and no NaN or clamp can occur.
template <class Arch, class B, bool Finite>
QLITE_FORCE_INLINE xsimd::batch<std::int32_t, B> quantize_step(const float* p, xsimd::batch<float, B> inv,
                                                               std::int8_t* out) noexcept {
  using bf = xsimd::batch<float, B>;
  using bi = xsimd::batch<std::int32_t, B>;
  constexpr std::size_t w = bf::size, nb = step / w;
  bi q[nb];
  for (std::size_t j = 0; j < nb; ++j) {
    bf v = bf::load_unaligned(p + j * w) * inv;
    if constexpr (!Finite) {
      v = xsimd::select(v == v, v, bf(0.0f));  // NaN products have code 0 (see reference.hpp)
      // Clamping before rounding equals rounding then clamping (the bounds are integers).
      v = xsimd::min(xsimd::max(v, bf(-127.0f)), bf(127.0f));
    }
    // Half to even, like std::nearbyint: cvtps2dq in the default MXCSR mode, fcvtns.
    q[j] = xsimd::nearbyint_as_int(v);
  }
  store_codes<Arch>(out, q, B{});
  bi sum = q[0];
  for (std::size_t j = 1; j < nb; ++j) sum += q[j];
  return sum;
}

/// Codes of x[0..k) into q[0..k), the group sums into gsum.
template <class Arch, class B, bool Finite>
QLITE_FORCE_INLINE void quantize_row(const float* x, std::size_t k, std::size_t group, std::size_t groups,
                                     xsimd::batch<float, B> inv, std::int8_t* q,
                                     std::int32_t* gsum) noexcept {
  using bi = xsimd::batch<std::int32_t, B>;
  using sf = xsimd::batch<float, sum_family_t<B>>;
  using si = xsimd::batch<std::int32_t, sum_family_t<B>>;
  constexpr std::size_t w = sf::size;
  // The lane sums of w groups at a time are added across lanes by one haddp, in float: exact,
  // every partial sum is an integer of magnitude ≤ 127 · group ≤ 2^24 (gemm refuses groups over
  // 65536).
  sf pending[w];
  std::size_t n = 0;
  const auto flush = [&](std::size_t g_end) {
    for (std::size_t j = n; j < w; ++j) pending[j] = sf(0.0f);
    const si sums = xsimd::to_int(xsimd::haddp(pending));
    if (n == w) {
      sums.store_unaligned(gsum + g_end - w);
    } else {
      alignas(64) std::int32_t t[w];
      sums.store_aligned(t);
      std::memcpy(gsum + g_end - n, t, n * sizeof(std::int32_t));
    }
    n = 0;
  };
  for (std::size_t g = 0; g < groups; ++g) {
    const std::size_t end = std::min(k, (g + 1) * group);
    bi sum(0);
    std::size_t c = g * group;
    for (; c + step <= end; c += step) sum += quantize_step<Arch, B, Finite>(x + c, inv, q + c);
    if (c < end) {  // the row's (or a group's) last, partial step; zeros quantize to 0
      alignas(64) float t[step] = {};
      alignas(16) std::int8_t codes[step];
      std::memcpy(t, x + c, (end - c) * sizeof(float));
      sum += quantize_step<Arch, B, Finite>(t, inv, codes);
      std::memcpy(q + c, codes, end - c);
    }
    pending[n++] = xsimd::to_float(fold_sums<Arch>(sum, B{}));
    if (n == w) flush(g + 1);
  }
  if (n) flush(groups);
}

template <class Arch, class B>
void quantize_rows(const float* x, std::size_t ldx, std::size_t m, std::size_t k, std::size_t k_padded,
                   std::size_t group, std::int8_t* q, float* scale, std::int32_t* gsum) noexcept {
  const std::size_t groups = k_padded / group;
  for (std::size_t r = 0; r < m; ++r) {
    const float* xr = x + r * ldx;
    std::int8_t* qr = q + r * k_padded;
    std::int32_t* gr = gsum + r * groups;
    const std::uint32_t bits = row_amax_bits<Arch, B>(xr, k);
    float amax = std::bit_cast<float>(bits);
    if (bits > 0x7f800000U) {  // NaN in x (outside gemm's contract): the max skips it
      amax = 0.0f;
      for (std::size_t c = 0; c < k; ++c) amax = std::max(amax, std::fabs(xr[c]));
    }
    if (!(amax >= FLT_MIN)) {
      scale[r] = 0.0f;
      std::memset(qr, 0, k_padded);
      std::fill(gr, gr + groups, 0);
      continue;
    }
    scale[r] = amax / 127.0f;
    const float inv = 127.0f / amax;
    if (bits < 0x7f800000U && inv <= FLT_MAX)
      quantize_row<Arch, B, true>(xr, k, group, groups, xsimd::batch<float, B>(inv), qr, gr);
    else
      quantize_row<Arch, B, false>(xr, k, group, groups, xsimd::batch<float, B>(inv), qr, gr);
    std::memset(qr + k, 0, k_padded - k);
  }
}

}  // namespace qlite::kernel::act_detail

namespace qlite::kernel {

/// Dynamic int8 quantization of the activations, bit-identical to the reference.
template <class Arch>
void gemm_quantize_activations(const float* x, std::size_t ldx, std::size_t m, std::size_t k,
                               std::size_t k_padded, std::size_t group, std::int8_t* q, float* scale,
                               std::int32_t* gsum) noexcept {
  using B = act_detail::family_t<Arch>;
  if constexpr (std::is_void_v<B>)
    ref::detail::quantize_activations<Arch>(x, ldx, m, k, k_padded, group, q, scale, gsum);
  else
    act_detail::quantize_rows<Arch, B>(x, ldx, m, k, k_padded, group, q, scale, gsum);
}

/// Four int8 digit planes of x per row (weight_only, integer formats), as the reference.
template <class Arch>
void gemm_split_digits(const float* x, std::size_t ldx, std::size_t m, std::size_t k, std::size_t k_padded,
                       std::size_t group, std::int8_t* q, float* scale, std::int32_t* gsum) noexcept {
  ref::detail::split_activations<Arch>(x, ldx, m, k, k_padded, group, q, scale, gsum);
}

/// x → bf16 bits (nearest even), padded with zeros to k_padded.
template <class Arch>
void gemm_round_bf16(const float* x, std::size_t ldx, std::size_t m, std::size_t k, std::size_t k_padded,
                     std::uint16_t* xb, bool cpu_has_avx512_bf16) noexcept {
  for (std::size_t r = 0; r < m; ++r) {
    std::uint16_t* row = xb + r * k_padded;
    qlite::kernel::f32_to_bf16(Arch{}, x + r * ldx, row, k, cpu_has_avx512_bf16);
    std::memset(row + k, 0, (k_padded - k) * sizeof(std::uint16_t));
  }
}

}  // namespace qlite::kernel

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
