// qlite — the per-call conversions of x for qlite::gemm, per arch (definitions; declared in
// arch/gemm_kernels_decl.hpp, included by arch/gemm_kernels.hpp).
//
//   gemm_quantize_activations   W8A8/W4A8: dynamic per-row int8 codes, row scales and the
//                               codes' sums per weight group (ref::detail::quantize_activations)
//   gemm_round_bf16             bf16_activations: x → bf16 bits (ref::detail::round_activations_bf16)
//   gemm_split_digits           weight_only integer formats: x → four planes of base-255 digits
//                               and their group sums (ref::detail::split_activations)
//
// All are bit-identical to the reference for every input. The int8 quantization and the digit
// split are each one xsimd implementation for every SIMD register family (SSE2 … AVX-512,
// NEON64), 16 floats per step; only the narrowing store of 16 codes (or of each plane's 16
// digits) is per ISA. Arches without a family run the reference. bf16 rounding is
// qlite::convert's kernel (vcvtne2ps2bf16 where the CPU has AVX512-BF16, integer RNE
// otherwise) per row. Tails go through a stack buffer: nothing past x[r][k − 1] is read.
//
// The digit split (proof of exactness above split_step) at K = 4096, group 32, one thread,
// medians of 5, old (the reference compiled per arch) / new, two runs of each binary alternated
// (`bench_gemm --benchmark_filter='act/digits/M:(1|512)/K:4096' --benchmark_repetitions=5
// --benchmark_report_aggregates_only=true --benchmark_enable_random_interleaving=true`):
// M = 1: AVX-512 5.31–5.37 / 1.94–1.95 µs, AVX2 7.04–7.19 / 3.36–3.50, SSE4.2 10.4–10.6 /
// 6.30–6.33; M = 512: AVX-512 2.90–3.00 / 1.24–1.28 ms, AVX2 3.84–3.97 / 1.91–1.95, SSE4.2
// 5.68–5.77 / 3.46–3.60. By count (not profiled) a 16-float step is ≈ 45 vector uops on
// AVX-512 (29 arithmetic, 8 for the four vpmovdb, 4 adds for the sums, the rest per group),
// which its two 512-bit ports take in ≈ 22 cycles: about the 1.4 cycles per float measured.
#pragma once

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
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

/// out[j] = the lane sum of pending[j], j < n ≤ w (w = one register of sum_family_t): w at a
/// time by one haddp in float, exact while every lane sum is an integer of magnitude ≤ 2^24
/// (codes ≤ 127 in magnitude, groups ≤ 65536: via_float); otherwise lane by lane in int32.
template <class SI>
QLITE_FORCE_INLINE void store_group_sums(const SI* pending, std::size_t n, bool via_float,
                                         std::int32_t* out) noexcept {
  using SF = xsimd::batch<float, typename SI::arch_type>;
  constexpr std::size_t w = SF::size;
  if (!via_float) {
    for (std::size_t j = 0; j < n; ++j) out[j] = xsimd::hadd(pending[j]);
    return;
  }
  SF f[w];
  for (std::size_t j = 0; j < w; ++j) f[j] = j < n ? xsimd::to_float(pending[j]) : SF(0.0f);
  const SI sums = xsimd::to_int(xsimd::haddp(f));
  if (n == w) {
    sums.store_unaligned(out);
  } else {
    alignas(64) std::int32_t t[w];
    sums.store_aligned(t);
    std::memcpy(out, t, n * sizeof(std::int32_t));
  }
}

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
  using si = xsimd::batch<std::int32_t, sum_family_t<B>>;
  constexpr std::size_t w = si::size;
  // The lane sums of w groups at a time are added across lanes at once (gemm refuses W8A8 /
  // W4A8 groups over 65536, so in float).
  si pending[w];
  std::size_t n = 0;
  const auto flush = [&](std::size_t g_end) {
    store_group_sums(pending, n, true, gsum + g_end - n);
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
    pending[n++] = fold_sums<Arch>(sum, B{});
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

// ---------------------------------------------------------------------------------------
// The digit split (ref::detail::split_activations), per row: amax as above; a row with ±inf
// or NaN has scale NaN and zero planes. Else e as the reference, and per element:
//
// 1. v = (x · 2^a) · 2^b, a = min(−e, 127), b = −e − a ∈ [0, 22] (e ∈ [−149, 98], so both
//    factors are normal floats), equals x · 2^−e = the reference's double product whenever
//    |x · 2^−e| ≥ 2^−126. Multiplying by 2^j rounds only on overflow or below 2^−126 (a
//    subnormal x is n · 2^−149, n < 2^23, and n · 2^(j−149) is a float for j ≥ 0). No overflow:
//    |x| ≤ amax < 2^(ilogb(amax)+1), so |x · 2^−e| < 2^30 and the intermediate is smaller.
//    When −e ≥ 0 both steps scale up: exact. When −e < 0, b = 0 and one step scales down: a
//    result below 2^−126 may round, but the exact value and its rounding are both < 1/2 in
//    magnitude and give X = 0 either way. So X = nearbyint_as_int(v) (cvtps2dq in the default
//    MXCSR mode, fcvtns: half to even, as std::nearbyint in the default mode) is the
//    reference's X, |X| < 2^30 (and X is a float: |v| ≥ 2^23 is already an integer).
// 2. The reference's digits are the balanced base-255 digits of X: u0 = X + offset with
//    offset = Σ_{i<4} 127 · 255^i, so u0 = Σ 255^i (d_i + 127) with d_i + 127 ∈ [0, 254] its
//    base-255 digits, and X = Σ 255^i d_i. Such a representation with every |d_i| ≤ 127 is
//    unique, so any exact way to one is bit-identical. We split X = 65025 A + B (65025 = 255²)
//    with A = round(X / 65025), |B| ≤ 32512, then B = 255 d1 + d0, A = 255 d3 + d2 with
//    d1 = round(B / 255), d3 = round(A / 255). round() has no ties: 255 and 65025 are odd.
// 3. A: t = X / 65025, |t| ≤ 16513, |t − A| ≤ 1/2 − 1/130050. s = fl(fl(v · c) − 1/4),
//    c = fl(1/65025): |v − X| ≤ 1/2 adds ≤ 7.7e-6, c's relative error 2^−24 adds ≤
//    2^30 · 2^−24 / 65025 < 9.9e-4, the product and the subtraction (|s| < 2^15) ≤ 2^−10 each:
//    |s − (t − 1/4)| < 3e-3, so s ∈ (A − 0.76, A + 0.26) and nearbyint(s) (any tie rule) is A
//    or A − 1. Then B' = X − 65025 nearbyint(s) (int32 shifts and adds; X − 65536 a =
//    B' − 511 a stays far below 2^31) is B, or B + 65025 > 32512 when it was A − 1: one
//    compare corrects both.
// 4. d1: B is exact in float (|B| < 2^24), |B / 255| < 128; c' = fl(1/255): the computed
//    fl(B · c') is within 128 · 2^−24 + 2^−18 < 1.2e-5 of B / 255, which is ≥ 1/510 from any
//    half-integer, so nearbyint rounds it to round(B / 255). Likewise d3 (|A / 255| < 65).
//    d0 = B − 255 d1 and d2 = A − 255 d3 are in [−127, 127] by definition of round().
// Also checked exhaustively once (a harness outside the suite): every float v = x · 2^29 with
// |x| < 2 (2^31 values, e = −29) on the SSE4.2, AVX2, AVX-VNNI and AVX-512 paths, bitwise.
//
// Group sums: each plane's lane sums per group, added across lanes w groups at a time by
// haddp in float (exact: |sums| ≤ 127 · group < 2^24 for groups up to 65536); larger groups
// (int4 weight-only allows 2^20) by xsimd::hadd in int32.

inline constexpr float inv_255 = 1.0f / 255.0f, inv_65025 = 1.0f / 65025.0f;

/// Digits of 16 floats at p (see above): plane i into out[i · stride + 0..16), each plane's
/// digits added to sums[i] per lane.
template <class Arch, class B>
QLITE_FORCE_INLINE void split_step(const float* p, xsimd::batch<float, B> f1, xsimd::batch<float, B> f2,
                                   std::int8_t* out, std::size_t stride,
                                   xsimd::batch<std::int32_t, B>* sums) noexcept {
  using bf = xsimd::batch<float, B>;
  using bi = xsimd::batch<std::int32_t, B>;
  constexpr std::size_t w = bf::size, nb = step / w;
  bi d[4][nb];
  for (std::size_t j = 0; j < nb; ++j) {
    const bf v = (bf::load_unaligned(p + j * w) * f1) * f2;  // x · 2^−e, exact (1.)
    const bi xi = xsimd::nearbyint_as_int(v);
    bi a = xsimd::nearbyint_as_int(v * bf(inv_65025) - bf(0.25f));  // A or A − 1 (3.)
    bi b = xi - (a << 16) + ((a << 9) - a);                         // X − 65025 a
    const auto low = b > bi(32512);                                 // a = A − 1
    b = xsimd::select(low, b - bi(65025), b);
    a = xsimd::select(low, a + bi(1), a);
    const bi d1 = xsimd::nearbyint_as_int(xsimd::to_float(b) * bf(inv_255));  // (4.)
    const bi d3 = xsimd::nearbyint_as_int(xsimd::to_float(a) * bf(inv_255));
    d[0][j] = b - (d1 << 8) + d1;
    d[1][j] = d1;
    d[2][j] = a - (d3 << 8) + d3;
    d[3][j] = d3;
  }
  for (std::size_t i = 0; i < 4; ++i) {
    store_codes<Arch>(out + i * stride, d[i], B{});
    for (std::size_t j = 0; j < nb; ++j) sums[i] += d[i][j];
  }
}

/// The four digit planes of x[0..k) (plane i at q + i · stride) and their group sums (plane i's
/// at gsum + i · groups).
template <class Arch, class B>
QLITE_FORCE_INLINE void split_row(const float* x, std::size_t k, std::size_t group, std::size_t groups,
                                  std::size_t stride, xsimd::batch<float, B> f1, xsimd::batch<float, B> f2,
                                  std::int8_t* q, std::int32_t* gsum) noexcept {
  using bi = xsimd::batch<std::int32_t, B>;
  using si = xsimd::batch<std::int32_t, sum_family_t<B>>;
  constexpr std::size_t w = si::size;
  const bool via_float = group <= 65536;  // int4 weight-only allows groups up to 2^20
  si pending[4][w];
  std::size_t n = 0;
  const auto flush = [&](std::size_t g_end) {
    for (std::size_t i = 0; i < 4; ++i)
      store_group_sums(pending[i], n, via_float, gsum + i * groups + g_end - n);
    n = 0;
  };
  for (std::size_t g = 0; g < groups; ++g) {
    const std::size_t end = std::min(k, (g + 1) * group);
    bi sums[4] = {bi(0), bi(0), bi(0), bi(0)};
    std::size_t c = g * group;
    for (; c + step <= end; c += step) split_step<Arch, B>(x + c, f1, f2, q + c, stride, sums);
    if (c < end) {  // the row's (or a group's) last, partial step; zeros have digits 0
      alignas(64) float t[step] = {};
      alignas(16) std::int8_t digits[4 * step];
      std::memcpy(t, x + c, (end - c) * sizeof(float));
      split_step<Arch, B>(t, f1, f2, digits, step, sums);
      for (std::size_t i = 0; i < 4; ++i) std::memcpy(q + i * stride + c, digits + i * step, end - c);
    }
    for (std::size_t i = 0; i < 4; ++i) pending[i][n] = fold_sums<Arch>(sums[i], B{});
    if (++n == w) flush(g + 1);
  }
  if (n) flush(groups);
}

template <class Arch, class B>
void split_rows(const float* x, std::size_t ldx, std::size_t m, std::size_t k, std::size_t k_padded,
                std::size_t group, std::int8_t* q, float* scale, std::int32_t* gsum) noexcept {
  using bf = xsimd::batch<float, B>;
  const std::size_t groups = k_padded / group;
  for (std::size_t r = 0; r < m; ++r) {
    const float* xr = x + r * ldx;
    std::int8_t* planes = q + 4 * r * k_padded;
    std::int32_t* gr = gsum + 4 * r * groups;
    const std::uint32_t bits = row_amax_bits<Arch, B>(xr, k);
    if (bits >= 0x7f800000U) {  // ±inf or NaN in the row
      scale[r] = std::numeric_limits<float>::quiet_NaN();
      std::memset(planes, 0, 4 * k_padded);
      std::fill(gr, gr + 4 * groups, 0);
      continue;
    }
    const float amax = std::bit_cast<float>(bits);
    const int e = amax > 0.0f ? std::max(std::ilogb(amax) - 29, -149) : -149;
    scale[r] = std::ldexp(1.0f, e);
    const int a = std::min(-e, 127);
    split_row<Arch, B>(xr, k, group, groups, k_padded, bf(std::ldexp(1.0f, a)), bf(std::ldexp(1.0f, -e - a)),
                       planes, gr);
    for (std::size_t i = 0; i < 4; ++i) std::memset(planes + i * k_padded + k, 0, k_padded - k);
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
  using B = act_detail::family_t<Arch>;
  if constexpr (std::is_void_v<B>)
    ref::detail::split_activations<Arch>(x, ldx, m, k, k_padded, group, q, scale, gsum);
  else
    act_detail::split_rows<Arch, B>(x, ldx, m, k, k_padded, group, q, scale, gsum);
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
