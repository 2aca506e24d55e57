// qlite — the reference (scalar) quantization of one row: the definition every kernel
// matches bit for bit. Plain C++ with no instruction-set dependence; `qlite::scalar_arch`
// (QLITE_ARCH=scalar) runs exactly this.
//
// A row of n elements is split into groups of `group` elements (the last one shorter when
// `group` does not divide n); group g uses coders[g] (quant_params.hpp):
//   u = clamp(nearbyint(clamp(x · inv_scale, ulo − zero_code, uhi − zero_code)) + zero_code)
//   y = scale · (u − zero_code)
// Clamping before rounding equals clamping after it (the bounds are integers) and keeps
// the float → int conversion in range.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "qlite/quant/quant_params.hpp"

namespace qlite::ref {

/// Min and max of each group of a row. Returns the index of the first NaN/±Inf, or n.
inline std::size_t row_ranges(const float* x, std::size_t n, std::size_t group, float* lo,
                              float* hi) noexcept {
  for (std::size_t g0 = 0, g = 0; g0 < n; g0 += group, ++g) {
    const std::size_t g1 = g0 + group < n ? g0 + group : n;
    float l = x[g0], h = x[g0];
    for (std::size_t i = g0; i < g1; ++i) {
      if (!std::isfinite(x[i])) return i;
      l = x[i] < l ? x[i] : l;
      h = x[i] > h ? x[i] : h;
    }
    lo[g] = l;
    hi[g] = h;
  }
  return n;
}

inline std::int32_t encode_one(float x, const group_coder& c, int ulo, int uhi) noexcept {
  float v = x * c.inv_scale;
  const float lo = static_cast<float>(ulo - c.zero_code), hi = static_cast<float>(uhi - c.zero_code);
  v = v < lo ? lo : (v > hi ? hi : v);
  return static_cast<std::int32_t>(std::nearbyint(v)) + c.zero_code;
}

/// Codes u of one row.
inline void quantize_row(const float* x, std::size_t n, std::size_t group, const group_coder* coders, int ulo,
                         int uhi, std::int32_t* u) noexcept {
  for (std::size_t i = 0; i < n; ++i) u[i] = encode_one(x[i], coders[i / group], ulo, uhi);
}

/// Values y = scale · (u − zero_code) of one row.
inline void dequantize_row(const std::int32_t* u, std::size_t n, std::size_t group, const group_coder* coders,
                           float* y) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const group_coder& c = coders[i / group];
    y[i] = c.scale * static_cast<float>(u[i] - c.zero_code);
  }
}

/// quantize → dequantize in one pass; mask[i] = 1 where x[i] was not clipped (the
/// straight-through estimator's gradient mask), when mask is not null.
inline void fake_quantize_row(const float* x, std::size_t n, std::size_t group, const group_coder* coders,
                              int ulo, int uhi, float* y, std::uint8_t* mask) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const group_coder& c = coders[i / group];
    const std::int32_t u = encode_one(x[i], c, ulo, uhi);
    y[i] = c.scale * static_cast<float>(u - c.zero_code);
    if (mask) {
      const float r = std::nearbyint(x[i] * c.inv_scale);
      mask[i] =
          (r >= static_cast<float>(ulo - c.zero_code) && r <= static_cast<float>(uhi - c.zero_code)) ? 1 : 0;
    }
  }
}

}  // namespace qlite::ref
