// qlite — quantization parameters of one group, and how they are derived from a range.
//
// The affine map (DESIGN.md): real = scale · (q − zero_point). qlite stores unsigned codes
// u = q + offset (offset = 2^(b−1) for symmetric schemes, 0 for asymmetric ones), so in
// storage terms real = scale · (u − offset − zero_point).
//
// Quantizing x:   u = clamp(round(x · (1/scale)) + offset + zero_point, grid.lo, grid.hi)
//   * round is round-half-to-even (IEEE default; std::nearbyint, cvtps2dq), applied to the
//     float product x · inv_scale with inv_scale = 1/scale computed once per group in float.
//     Every arch evaluates exactly these float operations, so codes are bit-identical.
//   * the clamp is the clipping: values beyond the grid saturate.
//
// Deriving the parameters from a group's range [lo, hi] (after the optional clipping ratio
// c ∈ (0, 1] scales both ends):
//   symmetric         m = the value of largest magnitude (on a tie the negative one);
//                     scale = m / −2^(b−1), so m lands on the extra negative code. The scale
//                     is negative when m > 0; all 2^b codes are used.
//   symmetric_narrow  scale = max(|lo|, |hi|) / (2^(b−1) − 1)
//   asymmetric        lo' = min(lo, 0), hi' = max(hi, 0) (0.0 stays exact);
//                     scale = (hi' − lo') / (2^b − 1); zero_point = round(−lo' / scale)
//                     clamped to the grid.
// Degenerate groups: an all-zero group (and any group whose scale would be subnormal or zero)
// gets scale 0 and zero_point 0: every element dequantizes to 0. A constant non-zero group is
// exact (its value is the range's end). NaN/±Inf are rejected before this point with an
// error naming the index (see quantizer.hpp).
#pragma once

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>

#include "qlite/quant/scheme.hpp"

namespace qlite {

/// Parameters of one group: real = scale · (q − zero_point).
struct quant_params {
  float scale = 0.0f;
  int zero_point = 0;  ///< 0 for symmetric schemes; a stored code for asymmetric ones
  friend bool operator==(const quant_params&, const quant_params&) = default;
};

/// What the encoding kernels need per group, derived once from quant_params.
struct group_coder {
  float scale;      ///< real = scale · (u − zero_code)
  float inv_scale;  ///< 1 / scale (0 when scale is 0)
  int zero_code;    ///< offset + zero_point: the stored code of 0.0
};

/// The parameters for a group whose values lie in [lo, hi] (finite, lo ≤ hi).
inline quant_params params_from_range(scheme_id scheme, int bits, float lo, float hi,
                                      float clip_ratio = 1.0f) noexcept {
  const int half = 1 << (bits - 1);
  // In double: hi − lo cannot overflow and the ratios are exact enough to round once.
  const double l = static_cast<double>(lo) * clip_ratio, h = static_cast<double>(hi) * clip_ratio;
  quant_params p;
  switch (scheme) {
    case scheme_id::symmetric: {
      const double m = (h >= -l) ? ((h > -l) ? h : l) : l;  // tie: the negative extreme
      p.scale = static_cast<float>(m / -half);
      break;
    }
    case scheme_id::symmetric_narrow:
      p.scale = static_cast<float>(std::max(-l, h) / (half - 1));
      break;
    case scheme_id::asymmetric: {
      const double l0 = std::min(l, 0.0), h0 = std::max(h, 0.0);
      p.scale = static_cast<float>((h0 - l0) / (2 * half - 1));
      if (std::fabs(p.scale) >= FLT_MIN) {
        const double z = std::nearbyint(-l0 / static_cast<double>(p.scale));
        p.zero_point = static_cast<int>(std::clamp(z, 0.0, static_cast<double>(2 * half - 1)));
      }
      break;
    }
  }
  if (!(std::fabs(p.scale) >= FLT_MIN)) p = {};  // zero or subnormal: the degenerate group
  return p;
}

/// The per-group coder of parameters `p` under `scheme`.
inline group_coder coder_of(scheme_id scheme, int bits, quant_params p) noexcept {
  const int offset = grid_of(scheme, bits).offset;
  const float inv = p.scale != 0.0f ? 1.0f / p.scale : 0.0f;
  return {p.scale, std::isfinite(inv) ? inv : 0.0f, offset + p.zero_point};
}

}  // namespace qlite
