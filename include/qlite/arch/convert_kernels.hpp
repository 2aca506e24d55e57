// qlite — kernels of qlite::convert (float ↔ fp16 / bf16), one overload per instruction set.
// Users never include this: qlite/core/convert.hpp does (static dispatch), or the per-arch
// TUs of qlite_enable_runtime_dispatch() do through qlite/arch/instantiate.hpp.
//
//   avx512bw (+vnni)   fp16: vcvtps2ph / vcvtph2ps on zmm. bf16: vcvtne2ps2bf16 when the
//                      caller says the CPU has AVX512-BF16, else integer RNE; masked tails.
//   avx2               fp16: F16C on ymm. bf16: integer RNE on ymm.
//   sse2, sse4_x, neon integer RNE on xsimd batches.
//   anything else      the scalar algorithm of qlite::ref, instantiated for the arch.
// Every path is bit-identical to qlite::ref for every input (tests/core/test_fp16.cpp,
// test_bf16.cpp). The 16-bit side is raw storage: touched by vector loads/stores or memcpy.
// Everything here is a template on the arch (ODR safety across per-arch TUs); nothing calls
// a non-template inline function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "qlite/config.hpp"
#include "qlite/core/bf16.hpp"
#include "qlite/core/dispatch.hpp"
#include "qlite/core/fp16.hpp"

#if defined(QLITE_X86_64)
#include <immintrin.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define QLITE_CONVERT_TARGET(isa) __attribute__((target(isa)))
#if defined(QLITE_X86_64) && (defined(__clang__) || __GNUC__ >= 10)
#define QLITE_CONVERT_HAVE_AVX512BF16 1
#endif
#else
#define QLITE_CONVERT_TARGET(isa)
#endif

// GCC 12's AVX-512 intrinsics seed results with a self-initialised "undefined" register,
// which -Wall reports as uninitialised where they are inlined (GCC PR 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace qlite::detail::cvt {

using xsimd::kernel::requires_arch;

/// The register family a conversion kernel for `A` works in.
template <class A>
using simd_t = std::conditional_t<
    std::is_base_of_v<xsimd::avx512bw, A>, xsimd::avx512bw,
    std::conditional_t<
        std::is_base_of_v<xsimd::avx2, A>, xsimd::avx2,
        std::conditional_t<
            std::is_base_of_v<xsimd::sse4_1, A>, xsimd::sse4_1,
            std::conditional_t<std::is_base_of_v<xsimd::sse2, A>, xsimd::sse2,
                               std::conditional_t<std::is_base_of_v<xsimd::neon64, A>, xsimd::neon64,
                                                  std::conditional_t<std::is_base_of_v<xsimd::neon, A>,
                                                                     xsimd::neon, xsimd::generic>>>>>>;

// ---------------------------------------------------------------------------------------
// Lane algorithms on 32-bit integer lanes (float bits in, 16-bit results zero-extended out).

template <class Arch, class B>
QLITE_FORCE_INLINE xsimd::batch<std::int32_t, B> f32_to_fp16_lanes(xsimd::batch<std::int32_t, B> x) noexcept {
  using bi = xsimd::batch<std::int32_t, B>;
  const bi a = x & bi(0x7fffffff);  // |x|; all comparisons below are on non-negative lanes
  const bi sign = (x >> 16) & bi(0x8000);
  const bi normal = (a - bi(0x38000000) + bi(0x0fff) + ((a >> 13) & bi(1))) >> 13;
  const bi zero(0), one(1);
  const auto sub = a < bi(0x38800000);  // subnormal result or zero
  bi r = xsimd::select(sub, zero, normal);
  if (xsimd::any(sub & (a >= bi(0x33000000)))) {  // a nonzero subnormal result: rare in weights
    // Round m >> s (s = 126 - e in 14..24) to nearest-even without a variable shift: shift
    // by k = s - 14 in binary steps, OR-ing the lost bits into bit 0 ("jamming"; bit 0 lies
    // below the rounding point), then round off the last 14 bits. k is clamped to 15: the
    // value is then below 2^-25 and rounds to 0 either way.
    bi m = (a & bi(0x7fffff)) | bi(0x800000);
    const bi k = xsimd::min(bi(112) - (a >> 23), bi(15));
    for (int b = 8; b >= 1; b /= 2) {
      const bi sticky = xsimd::select((m & bi((1 << b) - 1)) != zero, one, zero);
      m = xsimd::select((k & bi(b)) != zero, (m >> b) | sticky, m);
    }
    r = xsimd::select(sub, (m + bi(0x1fff) + ((m >> 14) & one)) >> 14, normal);
  }
  r = xsimd::select(a >= bi(0x477ff000), bi(0x7c00), r);
  r = xsimd::select(a > bi(0x7f800000), bi(0x7e00) | ((a >> 13) & bi(0x3ff)), r);
  return r | sign;
}

template <class Arch, class B>
QLITE_FORCE_INLINE xsimd::batch<std::int32_t, B> fp16_to_f32_lanes(xsimd::batch<std::int32_t, B> h) noexcept {
  using bi = xsimd::batch<std::int32_t, B>;
  using bf = xsimd::batch<float, B>;
  const bi em = h & bi(0x7fff);
  const bi sign = (h & bi(0x8000)) << 16;
  const bi normal = (em << 13) + bi(0x38000000);
  const bi special = (em << 13) | bi(0x7f800000) |  // Inf / NaN, NaN quieted
                     xsimd::select(em > bi(0x7c00), bi(0x400000), bi(0));
  // m · 2^-24: int → float and the power-of-two scale are both exact, in any FPU mode.
  const bi subnormal = xsimd::bitwise_cast<bi>(xsimd::to_float(em) * bf(0x1p-24f));
  bi r = xsimd::select(em < bi(0x0400), subnormal, normal);
  r = xsimd::select(em >= bi(0x7c00), special, r);
  return r | sign;
}

template <class Arch, class B>
QLITE_FORCE_INLINE xsimd::batch<std::int32_t, B> f32_to_bf16_lanes(xsimd::batch<std::int32_t, B> x) noexcept {
  using bi = xsimd::batch<std::int32_t, B>;
  // On the signed bits directly: for non-NaN x the add cannot carry past bit 31 (|x| ≤ Inf),
  // NaN lanes (which may wrap) are replaced; `>> 16` is arithmetic, hence the final mask.
  const bi top = x >> 16;
  const bi rounded = (x + bi(0x7fff) + (top & bi(1))) >> 16;
  const bi magnitude = x & bi(0x7fffffff);
  return xsimd::select(magnitude > bi(0x7f800000), top | bi(0x40), rounded) & bi(0xffff);
}

template <class Arch, class B>
QLITE_FORCE_INLINE xsimd::batch<std::int32_t, B> bf16_to_f32_lanes(xsimd::batch<std::int32_t, B> b) noexcept {
  return b << 16;
}

// ---------------------------------------------------------------------------------------
// 16-bit memory ↔ two batches of zero-extended 32-bit lanes.

#if defined(QLITE_X86_64)
template <class Arch, class B>
QLITE_FORCE_INLINE void load_u16(const std::uint16_t* p, xsimd::batch<std::int32_t, B>& lo,
                                 xsimd::batch<std::int32_t, B>& hi, requires_arch<xsimd::sse2>) noexcept {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  lo = _mm_unpacklo_epi16(v, _mm_setzero_si128());
  hi = _mm_unpackhi_epi16(v, _mm_setzero_si128());
}
template <class Arch, class B>
QLITE_FORCE_INLINE void store_u16(std::uint16_t* p, xsimd::batch<std::int32_t, B> lo,
                                  xsimd::batch<std::int32_t, B> hi, requires_arch<xsimd::sse2>) noexcept {
  // SSE2 packs with signed saturation only: sign-extend the 16-bit results first.
  const __m128i l = _mm_srai_epi32(_mm_slli_epi32(lo, 16), 16);
  const __m128i h = _mm_srai_epi32(_mm_slli_epi32(hi, 16), 16);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm_packs_epi32(l, h));
}
template <class Arch, class B>
QLITE_FORCE_INLINE void store_u16(std::uint16_t* p, xsimd::batch<std::int32_t, B> lo,
                                  xsimd::batch<std::int32_t, B> hi, requires_arch<xsimd::sse4_1>) noexcept {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm_packus_epi32(lo, hi));
}
template <class Arch, class B>
QLITE_FORCE_INLINE void load_u16(const std::uint16_t* p, xsimd::batch<std::int32_t, B>& lo,
                                 xsimd::batch<std::int32_t, B>& hi, requires_arch<xsimd::avx2>) noexcept {
  lo = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  hi = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 8)));
}
template <class Arch, class B>
QLITE_FORCE_INLINE void store_u16(std::uint16_t* p, xsimd::batch<std::int32_t, B> lo,
                                  xsimd::batch<std::int32_t, B> hi, requires_arch<xsimd::avx2>) noexcept {
  // packus works per 128-bit lane: [lo0 hi0 lo1 hi1] → reorder the 64-bit quarters.
  const __m256i packed = _mm256_packus_epi32(lo, hi);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_permute4x64_epi64(packed, 0xd8));
}
template <class Arch, class B>
QLITE_FORCE_INLINE void load_u16(const std::uint16_t* p, xsimd::batch<std::int32_t, B>& lo,
                                 xsimd::batch<std::int32_t, B>& hi, requires_arch<xsimd::avx512bw>) noexcept {
  lo = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  hi = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 16)));
}
template <class Arch, class B>
QLITE_FORCE_INLINE void store_u16(std::uint16_t* p, xsimd::batch<std::int32_t, B> lo,
                                  xsimd::batch<std::int32_t, B> hi, requires_arch<xsimd::avx512bw>) noexcept {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(lo));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 16), _mm512_cvtepi32_epi16(hi));
}
#endif

#if defined(QLITE_AARCH64) || defined(__ARM_NEON)
template <class Arch, class B>
QLITE_FORCE_INLINE void load_u16(const std::uint16_t* p, xsimd::batch<std::int32_t, B>& lo,
                                 xsimd::batch<std::int32_t, B>& hi, requires_arch<xsimd::neon>) noexcept {
  const uint16x8_t v = vld1q_u16(p);
  lo = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(v)));
  hi = vreinterpretq_s32_u32(vmovl_u16(vget_high_u16(v)));
}
template <class Arch, class B>
QLITE_FORCE_INLINE void store_u16(std::uint16_t* p, xsimd::batch<std::int32_t, B> lo,
                                  xsimd::batch<std::int32_t, B> hi, requires_arch<xsimd::neon>) noexcept {
  vst1q_u16(p, vcombine_u16(vmovn_u32(vreinterpretq_u32_s32(lo)), vmovn_u32(vreinterpretq_u32_s32(hi))));
}
#endif

// ---------------------------------------------------------------------------------------
// Loops over 2 batches per step; a short tail is padded through a stack buffer.

template <class Arch, class B, class Lanes>
QLITE_FORCE_INLINE void narrow_loop(const float* src, std::uint16_t* dst, std::size_t n,
                                    Lanes lanes) noexcept {
  using bi = xsimd::batch<std::int32_t, B>;
  using bf = xsimd::batch<float, B>;
  constexpr std::size_t w = bi::size;
  const auto step = [&](const float* s, std::uint16_t* d) {
    const bi lo = xsimd::bitwise_cast<bi>(bf::load_unaligned(s));
    const bi hi = xsimd::bitwise_cast<bi>(bf::load_unaligned(s + w));
    store_u16<Arch>(d, lanes(lo), lanes(hi), B{});
  };
  std::size_t i = 0;
  for (; i + 2 * w <= n; i += 2 * w) step(src + i, dst + i);
  if (i < n) {
    alignas(64) float in[2 * w] = {};
    alignas(64) std::uint16_t out[2 * w];
    std::memcpy(in, src + i, (n - i) * sizeof(float));
    step(in, out);
    std::memcpy(dst + i, out, (n - i) * sizeof(std::uint16_t));
  }
}

template <class Arch, class B, class Lanes>
QLITE_FORCE_INLINE void widen_loop(const std::uint16_t* src, float* dst, std::size_t n,
                                   Lanes lanes) noexcept {
  using bi = xsimd::batch<std::int32_t, B>;
  using bf = xsimd::batch<float, B>;
  constexpr std::size_t w = bi::size;
  const auto step = [&](const std::uint16_t* s, float* d) {
    bi lo, hi;
    load_u16<Arch>(s, lo, hi, B{});
    xsimd::bitwise_cast<bf>(lanes(lo)).store_unaligned(d);
    xsimd::bitwise_cast<bf>(lanes(hi)).store_unaligned(d + w);
  };
  std::size_t i = 0;
  for (; i + 2 * w <= n; i += 2 * w) step(src + i, dst + i);
  if (i < n) {
    alignas(64) std::uint16_t in[2 * w] = {};
    alignas(64) float out[2 * w];
    std::memcpy(in, src + i, (n - i) * sizeof(std::uint16_t));
    step(in, out);
    std::memcpy(dst + i, out, (n - i) * sizeof(float));
  }
}

// ---------------------------------------------------------------------------------------
// Scalar fallback: qlite::ref's algorithm, instantiated for this arch.

template <class Arch>
void f32_to_fp16(const float* src, std::uint16_t* dst, std::size_t n,
                 requires_arch<xsimd::generic>) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t x;
    std::memcpy(&x, src + i, sizeof x);
    const std::uint16_t h = fp32_bits_to_fp16_bits<Arch>(x);
    std::memcpy(dst + i, &h, sizeof h);
  }
}
template <class Arch>
void fp16_to_f32(const std::uint16_t* src, float* dst, std::size_t n,
                 requires_arch<xsimd::generic>) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t h;
    std::memcpy(&h, src + i, sizeof h);
    const std::uint32_t x = fp16_bits_to_fp32_bits<Arch>(h);
    std::memcpy(dst + i, &x, sizeof x);
  }
}
template <class Arch>
void f32_to_bf16(const float* src, std::uint16_t* dst, std::size_t n, bool,
                 requires_arch<xsimd::generic>) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t x;
    std::memcpy(&x, src + i, sizeof x);
    const std::uint16_t b = fp32_bits_to_bf16_bits<Arch>(x);
    std::memcpy(dst + i, &b, sizeof b);
  }
}
template <class Arch>
void bf16_to_f32(const std::uint16_t* src, float* dst, std::size_t n,
                 requires_arch<xsimd::generic>) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t b;
    std::memcpy(&b, src + i, sizeof b);
    const std::uint32_t x = bf16_bits_to_fp32_bits<Arch>(b);
    std::memcpy(dst + i, &x, sizeof x);
  }
}

// ---------------------------------------------------------------------------------------
// Integer SIMD: SSE2, SSE4.1+, NEON (and the bf16 side of AVX2 / AVX-512 without BF16).

template <class Arch, class B>
void f32_to_fp16_int(const float* src, std::uint16_t* dst, std::size_t n) noexcept {
  narrow_loop<Arch, B>(src, dst, n,
                       [](xsimd::batch<std::int32_t, B> x) { return f32_to_fp16_lanes<Arch>(x); });
}
template <class Arch, class B>
void fp16_to_f32_int(const std::uint16_t* src, float* dst, std::size_t n) noexcept {
  widen_loop<Arch, B>(src, dst, n,
                      [](xsimd::batch<std::int32_t, B> h) { return fp16_to_f32_lanes<Arch>(h); });
}
template <class Arch, class B>
void f32_to_bf16_int(const float* src, std::uint16_t* dst, std::size_t n) noexcept {
  narrow_loop<Arch, B>(src, dst, n,
                       [](xsimd::batch<std::int32_t, B> x) { return f32_to_bf16_lanes<Arch>(x); });
}
template <class Arch, class B>
void bf16_to_f32_int(const std::uint16_t* src, float* dst, std::size_t n) noexcept {
  widen_loop<Arch, B>(src, dst, n,
                      [](xsimd::batch<std::int32_t, B> b) { return bf16_to_f32_lanes<Arch>(b); });
}

#if defined(QLITE_X86_64)
template <class Arch>
void f32_to_fp16(const float* src, std::uint16_t* dst, std::size_t n, requires_arch<xsimd::sse2>) noexcept {
  f32_to_fp16_int<Arch, simd_t<simd_arch_t<Arch>>>(src, dst, n);
}
template <class Arch>
void fp16_to_f32(const std::uint16_t* src, float* dst, std::size_t n, requires_arch<xsimd::sse2>) noexcept {
  fp16_to_f32_int<Arch, simd_t<simd_arch_t<Arch>>>(src, dst, n);
}
template <class Arch>
void f32_to_bf16(const float* src, std::uint16_t* dst, std::size_t n, bool,
                 requires_arch<xsimd::sse2>) noexcept {
  f32_to_bf16_int<Arch, simd_t<simd_arch_t<Arch>>>(src, dst, n);
}
template <class Arch>
void bf16_to_f32(const std::uint16_t* src, float* dst, std::size_t n, requires_arch<xsimd::sse2>) noexcept {
  bf16_to_f32_int<Arch, simd_t<simd_arch_t<Arch>>>(src, dst, n);
}
#endif

#if defined(QLITE_AARCH64) || defined(__ARM_NEON)
template <class Arch>
void f32_to_fp16(const float* src, std::uint16_t* dst, std::size_t n, requires_arch<xsimd::neon>) noexcept {
  f32_to_fp16_int<Arch, simd_t<simd_arch_t<Arch>>>(src, dst, n);
}
template <class Arch>
void fp16_to_f32(const std::uint16_t* src, float* dst, std::size_t n, requires_arch<xsimd::neon>) noexcept {
  fp16_to_f32_int<Arch, simd_t<simd_arch_t<Arch>>>(src, dst, n);
}
template <class Arch>
void f32_to_bf16(const float* src, std::uint16_t* dst, std::size_t n, bool,
                 requires_arch<xsimd::neon>) noexcept {
  f32_to_bf16_int<Arch, simd_t<simd_arch_t<Arch>>>(src, dst, n);
}
template <class Arch>
void bf16_to_f32(const std::uint16_t* src, float* dst, std::size_t n, requires_arch<xsimd::neon>) noexcept {
  bf16_to_f32_int<Arch, simd_t<simd_arch_t<Arch>>>(src, dst, n);
}
#endif

// ---------------------------------------------------------------------------------------
// AVX2: F16C for fp16 (target attribute: -mavx2 alone does not imply -mf16c).

#if defined(QLITE_X86_64)
inline constexpr int f16c_rne = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;  // imm, not MXCSR

template <class Arch>
QLITE_CONVERT_TARGET("f16c")
void f32_to_fp16(const float* src, std::uint16_t* dst, std::size_t n, requires_arch<xsimd::avx2>) noexcept {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i a = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), f16c_rne);
    const __m128i b = _mm256_cvtps_ph(_mm256_loadu_ps(src + i + 8), f16c_rne);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), a);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 8), b);
  }
  for (; i < n; i += 8) {
    alignas(32) float in[8] = {};
    alignas(16) std::uint16_t out[8];
    const std::size_t r = n - i < 8 ? n - i : 8;
    std::memcpy(in, src + i, r * sizeof(float));
    _mm_store_si128(reinterpret_cast<__m128i*>(out), _mm256_cvtps_ph(_mm256_load_ps(in), f16c_rne));
    std::memcpy(dst + i, out, r * sizeof(std::uint16_t));
  }
}

template <class Arch>
QLITE_CONVERT_TARGET("f16c")
void fp16_to_f32(const std::uint16_t* src, float* dst, std::size_t n, requires_arch<xsimd::avx2>) noexcept {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 a = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    const __m256 b = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 8)));
    _mm256_storeu_ps(dst + i, a);
    _mm256_storeu_ps(dst + i + 8, b);
  }
  for (; i < n; i += 8) {
    alignas(16) std::uint16_t in[8] = {};
    alignas(32) float out[8];
    const std::size_t r = n - i < 8 ? n - i : 8;
    std::memcpy(in, src + i, r * sizeof(std::uint16_t));
    _mm256_store_ps(out, _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(in))));
    std::memcpy(dst + i, out, r * sizeof(float));
  }
}

template <class Arch>
void f32_to_bf16(const float* src, std::uint16_t* dst, std::size_t n, bool,
                 requires_arch<xsimd::avx2>) noexcept {
  f32_to_bf16_int<Arch, xsimd::avx2>(src, dst, n);
}
template <class Arch>
void bf16_to_f32(const std::uint16_t* src, float* dst, std::size_t n, requires_arch<xsimd::avx2>) noexcept {
  bf16_to_f32_int<Arch, xsimd::avx2>(src, dst, n);
}

// ---------------------------------------------------------------------------------------
// AVX-512 (F, BW, VL): 16 floats per zmm, tails through masked loads/stores.

template <class Arch>
QLITE_FORCE_INLINE __mmask16 tail_mask16(std::size_t r) noexcept {  // r in 1..16
  return static_cast<__mmask16>((1u << r) - 1u);
}

template <class Arch>
void f32_to_fp16(const float* src, std::uint16_t* dst, std::size_t n,
                 requires_arch<xsimd::avx512bw>) noexcept {
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i a = _mm512_cvtps_ph(_mm512_loadu_ps(src + i), f16c_rne);
    const __m256i b = _mm512_cvtps_ph(_mm512_loadu_ps(src + i + 16), f16c_rne);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), a);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 16), b);
  }
  for (; i < n; i += 16) {
    const __mmask16 k = tail_mask16<Arch>(n - i < 16 ? n - i : 16);
    const __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(k, src + i), f16c_rne);
    _mm256_mask_storeu_epi16(dst + i, k, h);
  }
}

template <class Arch>
void fp16_to_f32(const std::uint16_t* src, float* dst, std::size_t n,
                 requires_arch<xsimd::avx512bw>) noexcept {
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 a = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
    const __m512 b = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 16)));
    _mm512_storeu_ps(dst + i, a);
    _mm512_storeu_ps(dst + i + 16, b);
  }
  for (; i < n; i += 16) {
    const __mmask16 k = tail_mask16<Arch>(n - i < 16 ? n - i : 16);
    _mm512_mask_storeu_ps(dst + i, k, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, src + i)));
  }
}

template <class Arch>
void bf16_to_f32(const std::uint16_t* src, float* dst, std::size_t n,
                 requires_arch<xsimd::avx512bw>) noexcept {
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512i a = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
    const __m512i b =
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 16)));
    _mm512_storeu_si512(dst + i, _mm512_slli_epi32(a, 16));
    _mm512_storeu_si512(dst + i + 16, _mm512_slli_epi32(b, 16));
  }
  for (; i < n; i += 16) {
    const __mmask16 k = tail_mask16<Arch>(n - i < 16 ? n - i : 16);
    const __m512i a = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, src + i));
    _mm512_mask_storeu_epi32(dst + i, k, _mm512_slli_epi32(a, 16));
  }
}

/// Integer RNE on zmm: the reference's rounding, 32 values per step.
template <class Arch>
QLITE_FORCE_INLINE __m512i f32_to_bf16_x32(__m512 lo, __m512 hi) noexcept {
  using bi = xsimd::batch<std::int32_t, simd_t<simd_arch_t<Arch>>>;
  const bi l = f32_to_bf16_lanes<Arch>(bi(_mm512_castps_si512(lo)));
  const bi h = f32_to_bf16_lanes<Arch>(bi(_mm512_castps_si512(hi)));
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi32_epi16(l)), _mm512_cvtepi32_epi16(h), 1);
}

template <class Arch>
QLITE_FORCE_INLINE __mmask32 tail_mask32(std::size_t r) noexcept {  // r in 1..32
  return static_cast<__mmask32>((std::uint64_t{1} << r) - 1u);
}

template <class Arch>
void f32_to_bf16_avx512_int(const float* src, std::uint16_t* dst, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512i r = f32_to_bf16_x32<Arch>(_mm512_loadu_ps(src + i), _mm512_loadu_ps(src + i + 16));
    _mm512_storeu_si512(dst + i, r);
  }
  if (i < n) {
    const std::size_t r = n - i;
    const __mmask16 klo = tail_mask16<Arch>(r < 16 ? r : 16);
    const __mmask16 khi = r > 16 ? tail_mask16<Arch>(r - 16) : __mmask16{0};
    const __m512i v =
        f32_to_bf16_x32<Arch>(_mm512_maskz_loadu_ps(klo, src + i), _mm512_maskz_loadu_ps(khi, src + i + 16));
    _mm512_mask_storeu_epi16(dst + i, tail_mask32<Arch>(r), v);
  }
}

#if defined(QLITE_CONVERT_HAVE_AVX512BF16)
// vcvtne2ps2bf16 rounds like the reference (RNE by an integer add, NaN → truncated | quiet
// bit) except that it reads denormal inputs as ±0; a 32-value block holding a denormal is
// redone with the integer path.
template <class Arch>
QLITE_CONVERT_TARGET("avx512bf16,avx512f,avx512bw,avx512vl")
QLITE_FORCE_INLINE __m512i f32_to_bf16_x32_hw(__m512 lo, __m512 hi) noexcept {
  const __m512i exp = _mm512_set1_epi32(0x7f800000), man = _mm512_set1_epi32(0x7fffff);
  const __m512i l = _mm512_castps_si512(lo), h = _mm512_castps_si512(hi);
  const __mmask16 dl = _mm512_mask_testn_epi32_mask(_mm512_test_epi32_mask(l, man), l, exp);
  const __mmask16 dh = _mm512_mask_testn_epi32_mask(_mm512_test_epi32_mask(h, man), h, exp);
  if ((dl | dh) != 0) return f32_to_bf16_x32<Arch>(lo, hi);
  return reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));  // low half from `lo`
}

template <class Arch>
QLITE_CONVERT_TARGET("avx512bf16,avx512f,avx512bw,avx512vl")
void f32_to_bf16_avx512bf16(const float* src, std::uint16_t* dst, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512i r = f32_to_bf16_x32_hw<Arch>(_mm512_loadu_ps(src + i), _mm512_loadu_ps(src + i + 16));
    _mm512_storeu_si512(dst + i, r);
  }
  if (i < n) {
    const std::size_t r = n - i;
    const __mmask16 klo = tail_mask16<Arch>(r < 16 ? r : 16);
    const __mmask16 khi = r > 16 ? tail_mask16<Arch>(r - 16) : __mmask16{0};
    const __m512i v = f32_to_bf16_x32_hw<Arch>(_mm512_maskz_loadu_ps(klo, src + i),
                                               _mm512_maskz_loadu_ps(khi, src + i + 16));
    _mm512_mask_storeu_epi16(dst + i, tail_mask32<Arch>(r), v);
  }
}
#endif

template <class Arch>
void f32_to_bf16(const float* src, std::uint16_t* dst, std::size_t n, bool cpu_has_avx512_bf16,
                 requires_arch<xsimd::avx512bw>) noexcept {
#if defined(QLITE_CONVERT_HAVE_AVX512BF16)
  if (cpu_has_avx512_bf16) return f32_to_bf16_avx512bf16<Arch>(src, dst, n);
#else
  (void)cpu_has_avx512_bf16;
#endif
  f32_to_bf16_avx512_int<Arch>(src, dst, n);
}
#endif  // QLITE_X86_64

}  // namespace qlite::detail::cvt

namespace qlite::kernel {

/// float → fp16 bits, n values; bit-identical to ref::fp32_to_fp16_bits.
template <class Arch>
void f32_to_fp16(Arch, const float* src, std::uint16_t* dst, std::size_t n) noexcept {
  detail::cvt::f32_to_fp16<Arch>(src, dst, n, detail::cvt::simd_t<simd_arch_t<Arch>>{});
}

/// fp16 bits → float, n values; bit-identical to ref::fp16_bits_to_fp32.
template <class Arch>
void fp16_to_f32(Arch, const std::uint16_t* src, float* dst, std::size_t n) noexcept {
  detail::cvt::fp16_to_f32<Arch>(src, dst, n, detail::cvt::simd_t<simd_arch_t<Arch>>{});
}

/// float → bf16 bits, n values; bit-identical to ref::fp32_to_bf16_bits. The AVX-512 kernel
/// uses vcvtne2ps2bf16 when `cpu_has_avx512_bf16` (the caller reads qlite::cpu(): kernels
/// never call non-template inline functions); other archs ignore it.
template <class Arch>
void f32_to_bf16(Arch, const float* src, std::uint16_t* dst, std::size_t n,
                 bool cpu_has_avx512_bf16) noexcept {
  detail::cvt::f32_to_bf16<Arch>(src, dst, n, cpu_has_avx512_bf16, detail::cvt::simd_t<simd_arch_t<Arch>>{});
}

/// bf16 bits → float, n values; bit-identical to ref::bf16_bits_to_fp32.
template <class Arch>
void bf16_to_f32(Arch, const std::uint16_t* src, float* dst, std::size_t n) noexcept {
  detail::cvt::bf16_to_f32<Arch>(src, dst, n, detail::cvt::simd_t<simd_arch_t<Arch>>{});
}

}  // namespace qlite::kernel

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// Explicit instantiations (PREFIX `template`) or their declarations (`extern template`).
#define QLITE_CONVERT_KERNELS(PREFIX, ARCH)                                                               \
  PREFIX void qlite::kernel::f32_to_fp16<ARCH>(ARCH, const float*, std::uint16_t*, std::size_t) noexcept; \
  PREFIX void qlite::kernel::fp16_to_f32<ARCH>(ARCH, const std::uint16_t*, float*, std::size_t) noexcept; \
  PREFIX void qlite::kernel::f32_to_bf16<ARCH>(ARCH, const float*, std::uint16_t*, std::size_t,           \
                                               bool) noexcept;                                            \
  PREFIX void qlite::kernel::bf16_to_f32<ARCH>(ARCH, const std::uint16_t*, float*, std::size_t) noexcept;
