// qlite — vectorized quantization kernels (xsimd), one instantiation per arch tag.
// They compute exactly the float operations of quant/reference.hpp, so codes and values are
// bit-identical to it; group tails run through a padded register, never a scalar loop.
#pragma once

#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "qlite/core/dispatch.hpp"
#include "qlite/arch/quant_kernels_decl.hpp"

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(): a false -Wmaybe-uninitialized
// in every function that inlines them (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
namespace qlite::kernel {

namespace quant_detail {
// Loads up to one batch from p (count < size elements), padding with `fill`.
template <class B>
B load_partial(const float* p, std::size_t count, float fill) noexcept {
  alignas(64) float tmp[B::size];
  for (std::size_t i = 0; i < B::size; ++i) tmp[i] = i < count ? p[i] : fill;
  return B::load_aligned(tmp);
}
// Calls f(g, first, length) for each group of `group` elements of a row of n (the last
// group shorter when group does not divide n).
template <class F>
void for_each_group(std::size_t n, std::size_t group, F&& f) noexcept {
  for (std::size_t g0 = 0, g = 0; g0 < n; g0 += group, ++g) f(g, g0, g0 + group < n ? group : n - g0);
}

// Horizontal min and max (xsimd 8.1 has no reduce_min/reduce_max): halve the register
// with shuffles where the arch has them, else through memory.
template <class B>
void reduce_min_max(const B& l, const B& h, float* lo, float* hi) noexcept {
  using S = typename B::arch_type;
#if defined(QLITE_X86_64)
  if constexpr (std::is_base_of_v<xsimd::avx512f, S>) {
    *lo = _mm512_reduce_min_ps(l);
    *hi = _mm512_reduce_max_ps(h);
    return;
  } else if constexpr (std::is_base_of_v<xsimd::avx, S>) {
    __m128 a = _mm_min_ps(_mm256_castps256_ps128(l), _mm256_extractf128_ps(l, 1));
    __m128 b = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    a = _mm_min_ps(a, _mm_movehl_ps(a, a));
    b = _mm_max_ps(b, _mm_movehl_ps(b, b));
    *lo = _mm_cvtss_f32(_mm_min_ss(a, _mm_shuffle_ps(a, a, 1)));
    *hi = _mm_cvtss_f32(_mm_max_ss(b, _mm_shuffle_ps(b, b, 1)));
    return;
  } else if constexpr (std::is_base_of_v<xsimd::sse2, S>) {
    __m128 a = _mm_min_ps(l, _mm_movehl_ps(l, l));
    __m128 b = _mm_max_ps(h, _mm_movehl_ps(h, h));
    *lo = _mm_cvtss_f32(_mm_min_ss(a, _mm_shuffle_ps(a, a, 1)));
    *hi = _mm_cvtss_f32(_mm_max_ss(b, _mm_shuffle_ps(b, b, 1)));
    return;
  }
#elif defined(QLITE_AARCH64)
  if constexpr (std::is_base_of_v<xsimd::neon64, S>) {
    *lo = vminvq_f32(l);
    *hi = vmaxvq_f32(h);
    return;
  }
#endif
  alignas(64) float a[B::size], b[B::size];
  l.store_aligned(a);
  h.store_aligned(b);
  float mn = a[0], mx = b[0];
  for (std::size_t i = 1; i < B::size; ++i) {
    mn = a[i] < mn ? a[i] : mn;
    mx = b[i] > mx ? b[i] : mx;
  }
  *lo = mn;
  *hi = mx;
}
}  // namespace quant_detail

template <class Arch>
std::size_t row_ranges(const float* x, std::size_t n, std::size_t group, float* lo, float* hi) noexcept {
  using B = xsimd::batch<float, simd_arch_t<Arch>>;
  constexpr std::size_t W = B::size;
  const B big(FLT_MAX);  // |v| ≤ FLT_MAX fails exactly for NaN and ±Inf
  auto finite_all = xsimd::batch_bool<float, simd_arch_t<Arch>>(true);
  quant_detail::for_each_group(n, group, [&](std::size_t g, std::size_t g0, std::size_t len) {
    const float* p = x + g0;
    B l(p[0]), h(p[0]);
    std::size_t i = 0;
    for (; i + W <= len; i += W) {
      const B v = B::load_unaligned(p + i);
      l = xsimd::min(l, v);
      h = xsimd::max(h, v);
      finite_all = finite_all & (xsimd::abs(v) <= big);
    }
    if (i < len) {
      const B v = quant_detail::load_partial<B>(p + i, len - i, p[0]);
      l = xsimd::min(l, v);
      h = xsimd::max(h, v);
      finite_all = finite_all & (xsimd::abs(v) <= big);
    }
    quant_detail::reduce_min_max(l, h, lo + g, hi + g);
  });
  if (xsimd::all(finite_all)) return n;
  // Rare path: name the first non-finite element.
  for (std::size_t i = 0; i < n; ++i)
    if (x[i] != x[i] || x[i] - x[i] != 0.0f) return i;
  return n;
}

template <class Arch>
void quantize_row(const float* x, std::size_t n, std::size_t group, const group_coder* coders, int ulo,
                  int uhi, std::int32_t* u) noexcept {
  using S = simd_arch_t<Arch>;
  using B = xsimd::batch<float, S>;
  using I = xsimd::batch<std::int32_t, S>;
  constexpr std::size_t W = B::size;
  quant_detail::for_each_group(n, group, [&](std::size_t g, std::size_t g0, std::size_t len) {
    const group_coder c = coders[g];
    const B inv(c.inv_scale), lo(static_cast<float>(ulo - c.zero_code)),
        hi(static_cast<float>(uhi - c.zero_code));
    const I zc(c.zero_code);
    auto encode = [&](B v) { return xsimd::nearbyint_as_int(xsimd::min(xsimd::max(v * inv, lo), hi)) + zc; };
    std::size_t i = 0;
    for (; i + W <= len; i += W) encode(B::load_unaligned(x + g0 + i)).store_unaligned(u + g0 + i);
    if (i < len) {
      alignas(64) std::int32_t tmp[W];
      encode(quant_detail::load_partial<B>(x + g0 + i, len - i, 0.0f)).store_aligned(tmp);
      for (std::size_t k = 0; k < len - i; ++k) u[g0 + i + k] = tmp[k];
    }
  });
}

template <class Arch>
void dequantize_row(const std::int32_t* u, std::size_t n, std::size_t group, const group_coder* coders,
                    float* y) noexcept {
  using S = simd_arch_t<Arch>;
  using B = xsimd::batch<float, S>;
  using I = xsimd::batch<std::int32_t, S>;
  constexpr std::size_t W = B::size;
  quant_detail::for_each_group(n, group, [&](std::size_t g, std::size_t g0, std::size_t len) {
    const B scale(coders[g].scale);
    const I zc(coders[g].zero_code);
    std::size_t i = 0;
    for (; i + W <= len; i += W)
      (xsimd::to_float(I::load_unaligned(u + g0 + i) - zc) * scale).store_unaligned(y + g0 + i);
    if (i < len) {
      alignas(64) std::int32_t in[W] = {};
      alignas(64) float out[W];
      for (std::size_t k = 0; k < len - i; ++k) in[k] = u[g0 + i + k];
      (xsimd::to_float(I::load_aligned(in) - zc) * scale).store_aligned(out);
      for (std::size_t k = 0; k < len - i; ++k) y[g0 + i + k] = out[k];
    }
  });
}

template <class Arch>
void fake_quantize_row(const float* x, std::size_t n, std::size_t group, const group_coder* coders, int ulo,
                       int uhi, float* y, std::uint8_t* mask) noexcept {
  using S = simd_arch_t<Arch>;
  using B = xsimd::batch<float, S>;
  constexpr std::size_t W = B::size;
  quant_detail::for_each_group(n, group, [&](std::size_t g, std::size_t g0, std::size_t len) {
    const group_coder c = coders[g];
    const B inv(c.inv_scale), scale(c.scale);
    const B lo(static_cast<float>(ulo - c.zero_code)), hi(static_cast<float>(uhi - c.zero_code));
    // y = scale · round(clamp(x · inv)): the dequantized code without leaving float
    // (round and clamp commute for integer bounds; |q| < 2^24 is exact in float).
    auto step = [&](B v, float* yo, std::uint8_t* mo, std::size_t count) {
      const B t = v * inv;
      // + 0: the reference converts through int, which has no −0.
      const B q = xsimd::nearbyint(xsimd::min(xsimd::max(t, lo), hi)) + B(0.0f);
      alignas(64) float out[W];
      (q * scale).store_aligned(out);
      for (std::size_t k = 0; k < count; ++k) yo[k] = out[k];
      if (mo) {
        const B r = xsimd::nearbyint(t);
        alignas(64) float inside[W];
        xsimd::select((r >= lo) & (r <= hi), B(1.0f), B(0.0f)).store_aligned(inside);
        for (std::size_t k = 0; k < count; ++k) mo[k] = static_cast<std::uint8_t>(inside[k]);
      }
    };
    std::size_t i = 0;
    for (; i + W <= len; i += W)
      step(B::load_unaligned(x + g0 + i), y + g0 + i, mask ? mask + g0 + i : nullptr, W);
    if (i < len)
      step(quant_detail::load_partial<B>(x + g0 + i, len - i, 0.0f), y + g0 + i,
           mask ? mask + g0 + i : nullptr, len - i);
  });
}

}  // namespace qlite::kernel
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
