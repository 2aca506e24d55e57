// qlite — vectorized quantization kernels (xsimd), one instantiation per arch tag.
// They compute exactly the float operations of quant/reference.hpp, so codes and values are
// bit-identical to it; group tails run through a padded register, never a scalar loop.
#pragma once

#include <algorithm>
#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "qlite/core/dispatch.hpp"
#include "qlite/arch/quant_kernels_decl.hpp"

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(): a false -Wmaybe-uninitialized
// in every function that inlines them (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
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

// A hint to load the cache line of p (8 KiB ahead of the range pass keeps DRAM streaming).
inline void prefetch(const float* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p);
#else
  (void)p;
#endif
}

// Transposed reduction of W per-group partial vectors into one vector whose lane g is the
// min (max) of group g: a tree of in-register shuffles instead of W horizontal reductions.
// v[i] must hold the partials of group feed<S>(i).
template <class S>
constexpr bool has_group_tree() noexcept {
#if defined(QLITE_X86_64)
  return std::is_base_of_v<xsimd::sse2, S> || std::is_base_of_v<xsimd::avx512f, S>;  // avx512f is no sse2
#elif defined(QLITE_AARCH64)
  return std::is_base_of_v<xsimd::neon64, S>;
#else
  return false;
#endif
}
template <class S>
constexpr std::size_t feed(std::size_t i) noexcept {
#if defined(QLITE_X86_64)
  if constexpr (std::is_base_of_v<xsimd::avx512f, S>)
    return (i % 4) * 4 + i / 4;  // the tree leaves group 4j+k in lane 4k+j
  else if constexpr (std::is_base_of_v<xsimd::avx, S>)
    return (i % 2) * 4 + i / 2;
#endif
  return i;
}
template <class B, bool Max>
QLITE_FORCE_INLINE B reduce_groups(const B* v) noexcept {
  using S = typename B::arch_type;
  auto op = [](B a, B b) { return Max ? xsimd::max(a, b) : xsimd::min(a, b); };
#if defined(QLITE_X86_64)
  if constexpr (std::is_base_of_v<xsimd::avx512f, S>) {
    B c[8], e[4], f[2];
    for (int i = 0; i < 8; ++i)  // halves of 256 bits
      c[i] = op(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44),
                _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));
    for (int i = 0; i < 4; ++i)  // quarters of 128 bits
      e[i] = op(_mm512_shuffle_f32x4(c[2 * i], c[2 * i + 1], 0x88),
                _mm512_shuffle_f32x4(c[2 * i], c[2 * i + 1], 0xDD));
    for (int i = 0; i < 2; ++i)
      f[i] = op(_mm512_shuffle_ps(e[2 * i], e[2 * i + 1], 0x44),
                _mm512_shuffle_ps(e[2 * i], e[2 * i + 1], 0xEE));
    return op(_mm512_shuffle_ps(f[0], f[1], 0x88), _mm512_shuffle_ps(f[0], f[1], 0xDD));
  } else if constexpr (std::is_base_of_v<xsimd::avx, S>) {
    B c[4], e[2];
    for (int i = 0; i < 4; ++i)
      c[i] = op(_mm256_permute2f128_ps(v[2 * i], v[2 * i + 1], 0x20),
                _mm256_permute2f128_ps(v[2 * i], v[2 * i + 1], 0x31));
    for (int i = 0; i < 2; ++i)
      e[i] = op(_mm256_shuffle_ps(c[2 * i], c[2 * i + 1], 0x44),
                _mm256_shuffle_ps(c[2 * i], c[2 * i + 1], 0xEE));
    return op(_mm256_shuffle_ps(e[0], e[1], 0x88), _mm256_shuffle_ps(e[0], e[1], 0xDD));
  } else if constexpr (std::is_base_of_v<xsimd::sse2, S>) {
    const B c0 = op(_mm_shuffle_ps(v[0], v[1], 0x44), _mm_shuffle_ps(v[0], v[1], 0xEE));
    const B c1 = op(_mm_shuffle_ps(v[2], v[3], 0x44), _mm_shuffle_ps(v[2], v[3], 0xEE));
    return op(_mm_shuffle_ps(c0, c1, 0x88), _mm_shuffle_ps(c0, c1, 0xDD));
  }
#elif defined(QLITE_AARCH64)
  if constexpr (std::is_base_of_v<xsimd::neon64, S>) {
    if constexpr (Max)
      return vpmaxq_f32(vpmaxq_f32(v[0], v[1]), vpmaxq_f32(v[2], v[3]));
    else
      return vpminq_f32(vpminq_f32(v[0], v[1]), vpminq_f32(v[2], v[3]));
  }
#endif
  (void)op;
  return v[0];  // unreachable: has_group_tree<S>() is false
}
}  // namespace quant_detail

template <class Arch>
std::size_t row_ranges(const float* x, std::size_t n, std::size_t group, float* lo, float* hi) noexcept {
  using S = simd_arch_t<Arch>;
  using B = xsimd::batch<float, S>;
  constexpr std::size_t W = B::size;
  const B big(FLT_MAX);  // |v| ≤ FLT_MAX fails exactly for NaN and ±Inf
  auto finite_all = xsimd::batch_bool<float, S>(true);
  std::size_t g = 0;
  if constexpr (quant_detail::has_group_tree<S>()) {
    // W whole groups at a time; v·0 + check stays 0 until a NaN or ±Inf makes it NaN.
    const std::size_t whole = group % W == 0 ? n / group : 0;
    B check0(0.0f), check1(0.0f);
    const B zero(0.0f);
    for (; g + W <= whole; g += W) {
      B l[W], h[W];
      for (std::size_t i = 0; i < W; ++i) {
        const float* p = x + (g + quant_detail::feed<S>(i)) * group;
        for (std::size_t k = 0; k < group; k += 64 / sizeof(float)) quant_detail::prefetch(p + k + 2048);
        B a = B::load_unaligned(p), b = a;
        check0 = xsimd::fma(a, zero, check0);
        for (std::size_t k = W; k < group; k += W) {
          const B v = B::load_unaligned(p + k);
          a = xsimd::min(a, v);
          b = xsimd::max(b, v);
          check1 = xsimd::fma(v, zero, check1);
        }
        l[i] = a;
        h[i] = b;
      }
      quant_detail::reduce_groups<B, false>(l).store_unaligned(lo + g);
      quant_detail::reduce_groups<B, true>(h).store_unaligned(hi + g);
    }
    finite_all = (check0 + check1) == zero;
  }
  quant_detail::for_each_group(n - g * group, group, [&](std::size_t k, std::size_t g0, std::size_t len) {
    const float* p = x + g * group + g0;
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
    quant_detail::reduce_min_max(l, h, lo + g + k, hi + g + k);
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

// The per-row (per_channel / per_group) quantization with parameters derived from the data:
// ranges, parameters and codes of a chunk of groups while it is in L1. The parameter math is
// params_from_range's, lane for lane in double (same IEEE operations, so the same floats),
// and the coder that of coder_of. Returns the index of the first NaN/±Inf, or n.
template <class Arch>
std::size_t quantize_row_derived(const float* x, std::size_t n, std::size_t group, scheme_id scheme, int bits,
                                 float clip_ratio, float* scales, std::uint8_t* zero_points,
                                 std::int32_t* u) noexcept {
  using S = simd_arch_t<Arch>;
  using B = xsimd::batch<float, S>;
  using D = xsimd::batch<double, S>;
  using I = xsimd::batch<std::int32_t, S>;
  constexpr std::size_t W = B::size, C = 64;  // groups per chunk (a multiple of W)
  static_assert(C % W == 0 && W % D::size == 0);
  const std::size_t groups = (n + group - 1) / group;
  const code_grid grid = grid_of(scheme, bits);
  const int half = 1 << (bits - 1);
  const D clip(static_cast<double>(clip_ratio)), dzero(0.0);
  alignas(64) float lo[C], hi[C], sc[C], zf[C], inv[C], qlo[C], qhi[C];
  alignas(64) std::int32_t zc[C];
  for (std::size_t c0 = 0; c0 < groups; c0 += C) {
    const std::size_t cnt = std::min(C, groups - c0), e0 = c0 * group, e1 = std::min(n, (c0 + cnt) * group);
    if (const std::size_t bad = row_ranges<Arch>(x + e0, e1 - e0, group, lo, hi); bad != e1 - e0)
      return e0 + bad;
    const std::size_t padded = (cnt + W - 1) / W * W;
    for (std::size_t g = cnt; g < padded; ++g) lo[g] = hi[g] = 0.0f;
    // Parameters, in double like params_from_range.
    for (std::size_t g = 0; g < padded; g += D::size) {
      const D l = D::load_unaligned(lo + g) * clip, h = D::load_unaligned(hi + g) * clip;
      switch (scheme) {
        case scheme_id::symmetric:
          (xsimd::select(h >= -l, xsimd::select(h > -l, h, l), l) / D(-half)).store_unaligned(sc + g);
          break;
        case scheme_id::symmetric_narrow:
          (xsimd::select(-l < h, h, -l) / D(half - 1)).store_unaligned(sc + g);
          break;
        case scheme_id::asymmetric: {
          const D l0 = xsimd::select(dzero < l, dzero, l), h0 = xsimd::select(h < dzero, dzero, h);
          ((h0 - l0) / D(2 * half - 1)).store_unaligned(sc + g);  // rounds to float
          const D z = xsimd::nearbyint(-l0 / D::load_unaligned(sc + g));
          xsimd::min(xsimd::max(z, dzero), D(2 * half - 1)).store_unaligned(zf + g);
          break;
        }
      }
    }
    // Degenerate groups, the coders and the clamp bounds of each group.
    const bool asym = scheme == scheme_id::asymmetric;
    for (std::size_t g = 0; g < padded; g += W) {
      B s = B::load_aligned(sc + g);
      const auto ok = xsimd::abs(s) >= B(FLT_MIN);
      s = xsimd::select(ok, s, B(0.0f));
      const B z = asym ? xsimd::select(ok, B::load_aligned(zf + g), B(0.0f)) : B(0.0f);
      s.store_aligned(sc + g);
      xsimd::select(ok, B(1.0f) / s, B(0.0f)).store_aligned(inv + g);
      (B(static_cast<float>(grid.lo - grid.offset)) - z).store_aligned(qlo + g);
      (B(static_cast<float>(grid.hi - grid.offset)) - z).store_aligned(qhi + g);
      (xsimd::to_int(z) + I(grid.offset)).store_aligned(zc + g);
    }
    std::memcpy(scales + c0, sc, cnt * sizeof(float));
    if (zero_points)
      for (std::size_t g = 0; g < cnt; ++g)
        zero_points[c0 + g] = static_cast<std::uint8_t>(zc[g] - grid.offset);
    // Codes.
    auto encode = [&](std::size_t g, B v) {
      return xsimd::nearbyint_as_int(xsimd::min(xsimd::max(v * B(inv[g]), B(qlo[g])), B(qhi[g]))) + I(zc[g]);
    };
    std::size_t g = 0;
    const float* xs = x + e0;
    std::int32_t* us = u + e0;
    if (group % W == 0)
      for (; g < (e1 - e0) / group; ++g)
        for (std::size_t k = g * group; k < (g + 1) * group; k += W)
          encode(g, B::load_unaligned(xs + k)).store_unaligned(us + k);
    quant_detail::for_each_group(
        e1 - e0 - g * group, group, [&](std::size_t k, std::size_t g0, std::size_t len) {
          const std::size_t j = g + k, first = g * group + g0;
          std::size_t i = 0;
          for (; i + W <= len; i += W)
            encode(j, B::load_unaligned(xs + first + i)).store_unaligned(us + first + i);
          if (i < len) {
            alignas(64) std::int32_t tmp[W];
            encode(j, quant_detail::load_partial<B>(xs + first + i, len - i, 0.0f)).store_aligned(tmp);
            for (std::size_t t = 0; t < len - i; ++t) us[first + i + t] = tmp[t];
          }
        });
  }
  return n;
}

template <class Arch>
void dequantize_row(const std::int32_t* u, std::size_t n, std::size_t group, const group_coder* coders,
                    float* y) noexcept {
  using S = simd_arch_t<Arch>;
  using B = xsimd::batch<float, S>;
  using I = xsimd::batch<std::int32_t, S>;
  constexpr std::size_t W = B::size;
  std::size_t whole = 0;
  if (group % W == 0)  // whole groups: no tail handling
    for (; whole < n / group; ++whole)
      for (std::size_t k = whole * group; k < (whole + 1) * group; k += W)
        (xsimd::to_float(I::load_unaligned(u + k) - I(coders[whole].zero_code)) * B(coders[whole].scale))
            .store_unaligned(y + k);
  u += whole * group;
  y += whole * group;
  coders += whole;
  quant_detail::for_each_group(n - whole * group, group, [&](std::size_t g, std::size_t g0, std::size_t len) {
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
