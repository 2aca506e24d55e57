// qlite — quantizer<Scheme, Granularity, Bits>: float matrices to b-bit codes and back.
//
// Contract
//   quantize(W)           W: N × K finite floats → quantized_tensor (packed codes + one scale,
//                         and for asymmetric schemes one zero point, per group). Parameters are
//                         derived from each group's range (quant_params.hpp), optionally
//                         narrowed by `clip_ratio`.
//   quantize(W, params)   the same with parameters supplied by the caller, one per group
//                         (e.g. from a calibration observer for activations).
//   compute_params(W)     the parameters quantize(W) would use.
//   dequantize(t, out)    out = scale · (q − zero_point) for every element (free function, below).
//   fake_quantize(W, out, mask)  quantize → dequantize in one pass (the QAT forward); out
//                         equals dequantize(quantize(W)) bit for bit. mask (optional, N × K)
//                         receives 1 where the element lies inside the clipping range, 0 where
//                         it was clipped: the straight-through estimator's gradient mask.
// Math: see quant_params.hpp (grids, rounding = half-to-even, degenerate groups).
// Guarantees: |W − dequantize(quantize(W))| ≤ |scale|/2 for every element inside the
// clipping range; codes within the grid; fake_quantize idempotent; codes bit-identical on
// every arch (scalar, SSE4.2, AVX2, AVX-512, NEON).
// Errors (qlite::error): NaN/±Inf input (errc::not_finite, naming row, column and flat
// index), a parameter count that does not match the groups, clip_ratio outside (0, 1],
// shapes that differ between input and output (errc::invalid_argument).
// Cost: one pass over memory (each chunk of a row is range-reduced, then encoded from L1),
// vectorized for the active arch including the parameter math;
// rows are split over `threads` (results independent of the thread count).
//
//   std::vector<float> w = ...;                                   // 4096 × 4096, row-major
//   qlite::matrix_view<const float> W(w.data(), 4096, 4096);
//   qlite::quantizer<qlite::symmetric, qlite::per_group<32>, 4> q;
//   qlite::quantized_tensor t = q.quantize(W);                   // 5 bits/weight (fp32 scales)
//   std::vector<float> back(w.size());
//   qlite::dequantize(t, qlite::matrix_view<float>(back.data(), 4096, 4096));
//   double db = qlite::sqnr_db(W, qlite::matrix_view<const float>(back.data(), 4096, 4096));
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "qlite/core/dispatch.hpp"
#include "qlite/core/error.hpp"
#include "qlite/core/matrix_view.hpp"
#include "qlite/core/parallel_for.hpp"
#include "qlite/quant/packing.hpp"
#include "qlite/quant/quant_params.hpp"
#include "qlite/quant/quantized_tensor.hpp"
#include "qlite/quant/reference.hpp"
#include "qlite/quant/scheme.hpp"

#include "qlite/arch/quant_kernels_decl.hpp"
#if defined(QLITE_RUNTIME_DISPATCH)
QLITE_DECLARE_RUNTIME_KERNELS(QLITE_QUANT_KERNELS)
#else
#include "qlite/arch/quant_kernels.hpp"
#endif

namespace qlite {

/// Options of a quantizer.
struct quantize_options {
  float clip_ratio = 1.0f;               ///< shrink each group's range by this factor, in (0, 1]
  unsigned threads = default_threads();  ///< rows are split over this many threads
};

namespace detail {

/// Row operations of the arch `A`: the reference for scalar_arch, the kernels otherwise.
template <class A>
struct quant_row_ops {
  static std::size_t ranges(const float* x, std::size_t n, std::size_t g, float* lo, float* hi) noexcept {
    if constexpr (std::is_same_v<A, scalar_arch>)
      return ref::row_ranges(x, n, g, lo, hi);
    else
      return kernel::row_ranges<A>(x, n, g, lo, hi);
  }
  static void quantize(const float* x, std::size_t n, std::size_t g, const group_coder* c, int lo, int hi,
                       std::int32_t* u) noexcept {
    if constexpr (std::is_same_v<A, scalar_arch>)
      ref::quantize_row(x, n, g, c, lo, hi, u);
    else
      kernel::quantize_row<A>(x, n, g, c, lo, hi, u);
  }
  /// One row of a per-row/per-group layout with parameters derived from its ranges: writes
  /// the row's scales (and zero points when not null) and codes; returns the index of the
  /// first NaN/±Inf, or n.
  static std::size_t quantize_derived(const float* x, std::size_t n, std::size_t g, scheme_id scheme,
                                      int bits, float clip_ratio, float* scales, std::uint8_t* zero_points,
                                      std::int32_t* u) noexcept {
    if constexpr (std::is_same_v<A, scalar_arch>) {
      const std::size_t groups = (n + g - 1) / g;
      const code_grid grid = grid_of(scheme, bits);
      std::vector<float> lo(groups), hi(groups);
      std::vector<group_coder> coders(groups);
      if (const std::size_t bad = ref::row_ranges(x, n, g, lo.data(), hi.data()); bad != n) return bad;
      for (std::size_t k = 0; k < groups; ++k) {
        const quant_params p = params_from_range(scheme, bits, lo[k], hi[k], clip_ratio);
        scales[k] = p.scale;
        if (zero_points) zero_points[k] = static_cast<std::uint8_t>(p.zero_point);
        coders[k] = coder_of(scheme, bits, p);
      }
      ref::quantize_row(x, n, g, coders.data(), grid.lo, grid.hi, u);
      return n;
    } else {
      return kernel::quantize_row_derived<A>(x, n, g, scheme, bits, clip_ratio, scales, zero_points, u);
    }
  }
  static void dequantize(const std::int32_t* u, std::size_t n, std::size_t g, const group_coder* c,
                         float* y) noexcept {
    if constexpr (std::is_same_v<A, scalar_arch>)
      ref::dequantize_row(u, n, g, c, y);
    else
      kernel::dequantize_row<A>(u, n, g, c, y);
  }
  static void fake_quantize(const float* x, std::size_t n, std::size_t g, const group_coder* c, int lo,
                            int hi, float* y, std::uint8_t* m) noexcept {
    if constexpr (std::is_same_v<A, scalar_arch>)
      ref::fake_quantize_row(x, n, g, c, lo, hi, y, m);
    else
      kernel::fake_quantize_row<A>(x, n, g, c, lo, hi, y, m);
  }
};

inline std::string index_text(std::size_t r, std::size_t c, std::size_t cols) {
  return "row " + std::to_string(r) + ", column " + std::to_string(c) + " (flat index " +
         std::to_string(r * cols + c) + ")";
}

inline std::size_t group_count(granularity_id g, std::size_t group_size, std::size_t rows,
                               std::size_t cols) noexcept {
  switch (g) {
    case granularity_id::per_tensor:
      return 1;
    case granularity_id::per_channel:
      return rows;
    case granularity_id::per_group:
      return rows * ((cols + group_size - 1) / group_size);
  }
  return 0;
}

inline void check_same_shape(const char* what, std::size_t r0, std::size_t c0, std::size_t r1,
                             std::size_t c1) {
  if (r0 != r1 || c0 != c1)
    throw error(errc::invalid_argument, std::string(what) + ": shape " + std::to_string(r1) + "×" +
                                            std::to_string(c1) + " does not match the input's " +
                                            std::to_string(r0) + "×" + std::to_string(c0));
}

/// What a quantizer<Scheme, Granularity, Bits> is, at run time: the templates are thin
/// wrappers over these functions so that each arch's kernels are instantiated once.
struct quant_layout {
  scheme_id scheme;
  granularity_id granularity;
  std::size_t group_size;  ///< per_group only
  int bits;
  [[nodiscard]] code_grid grid() const noexcept { return grid_of(scheme, bits); }
  /// Elements per group along a row of `cols`.
  [[nodiscard]] std::size_t row_group(std::size_t cols) const noexcept {
    return granularity == granularity_id::per_group ? group_size : std::max<std::size_t>(cols, 1);
  }
  [[nodiscard]] std::size_t groups_per_row(std::size_t cols) const noexcept {
    return granularity == granularity_id::per_group ? (cols + group_size - 1) / group_size : 1;
  }
  [[nodiscard]] std::size_t coder_row(std::size_t r, std::size_t cols) const noexcept {
    return granularity == granularity_id::per_tensor ? 0 : r * groups_per_row(cols);
  }
};

inline void throw_if_bad(matrix_view<const float> w, const std::vector<std::size_t>& bad) {
  for (std::size_t r = 0; r < w.rows(); ++r)
    if (bad[r] != w.cols())
      throw error(errc::not_finite, "quantize: element at " + index_text(r, bad[r], w.cols()) + " is " +
                                        (w(r, bad[r]) != w(r, bad[r]) ? "NaN" : "infinite") +
                                        "; quantization needs finite values");
}

inline void check_params(const quant_layout& L, std::span<const quant_params> params, std::size_t rows,
                         std::size_t cols) {
  const std::size_t want = group_count(L.granularity, L.group_size, rows, cols);
  if (params.size() != want)
    throw error(errc::invalid_argument, "quantize: " + std::to_string(params.size()) +
                                            " parameter sets given, the " + std::to_string(rows) + "×" +
                                            std::to_string(cols) + " input has " + std::to_string(want) +
                                            " groups");
  const code_grid grid = L.grid();
  for (std::size_t i = 0; i < params.size(); ++i) {
    const quant_params& p = params[i];
    const bool asym = L.scheme == scheme_id::asymmetric;
    const bool zp_ok = asym ? (p.zero_point >= grid.lo && p.zero_point <= grid.hi) : p.zero_point == 0;
    if (!std::isfinite(p.scale) || !zp_ok)
      throw error(errc::invalid_argument,
                  "quantize: parameters of group " + std::to_string(i) + " are invalid (scale " +
                      std::to_string(p.scale) + ", zero_point " + std::to_string(p.zero_point) +
                      "; expected a finite scale and a zero point " +
                      (asym ? "in [0, " + std::to_string(grid.hi) + "]" : std::string("of 0")) + ")");
  }
}

inline std::vector<group_coder> make_coders(const quant_layout& L, std::span<const quant_params> params) {
  std::vector<group_coder> c;
  c.reserve(params.size());
  for (const quant_params& p : params) c.push_back(coder_of(L.scheme, L.bits, p));
  return c;
}

inline std::vector<quant_params> compute_params(const quant_layout& L, matrix_view<const float> w,
                                                float clip_ratio, unsigned threads) {
  const std::size_t G = L.row_group(w.cols()), gpr = L.groups_per_row(w.cols());
  std::vector<float> lo(w.rows() * gpr), hi(w.rows() * gpr);
  std::vector<std::size_t> bad(w.rows(), w.cols());
  dispatch([&](auto tag) {
    using ops = quant_row_ops<decltype(tag)>;
    parallel_for(
        w.rows(),
        [&](std::size_t r0, std::size_t r1) {
          for (std::size_t r = r0; r < r1; ++r)
            bad[r] = ops::ranges(w.row(r).data(), w.cols(), G, lo.data() + r * gpr, hi.data() + r * gpr);
        },
        threads);
  });
  throw_if_bad(w, bad);
  if (w.empty())
    return std::vector<quant_params>(group_count(L.granularity, L.group_size, w.rows(), w.cols()));
  std::vector<quant_params> params;
  if (L.granularity == granularity_id::per_tensor) {
    const float l = *std::min_element(lo.begin(), lo.end()), h = *std::max_element(hi.begin(), hi.end());
    params.push_back(params_from_range(L.scheme, L.bits, l, h, clip_ratio));
  } else {
    params.reserve(lo.size());
    for (std::size_t i = 0; i < lo.size(); ++i)
      params.push_back(params_from_range(L.scheme, L.bits, lo[i], hi[i], clip_ratio));
  }
  return params;
}

/// Quantizes w. With `params` empty (derived parameters, per-row or per-group layouts) each
/// row's range, parameters and codes are computed while the row is in cache: one pass over
/// memory. Per-tensor layouts and supplied parameters take the parameters as given.
inline quantized_tensor quantize(const quant_layout& L, matrix_view<const float> w,
                                 std::span<const quant_params> params, float clip_ratio, unsigned threads) {
  std::vector<quant_params> derived;
  const bool fused = params.empty() && L.granularity != granularity_id::per_tensor;
  if (params.empty() && !fused) {
    derived = compute_params(L, w, clip_ratio, threads);
    params = derived;
  }
  const std::size_t groups = group_count(L.granularity, L.group_size, w.rows(), w.cols());
  if (!fused) check_params(L, params, w.rows(), w.cols());
  quantized_tensor t;
  t.rows = w.rows();
  t.cols = w.cols();
  t.bits = L.bits;
  t.scheme = L.scheme;
  t.granularity = L.granularity;
  t.group_size = L.granularity == granularity_id::per_group     ? L.group_size
                 : L.granularity == granularity_id::per_channel ? w.cols()
                                                                : 0;
  t.codes = aligned_buffer<std::uint8_t>(t.rows * t.row_bytes(), uninitialized);  // pack writes every byte
  t.scales.resize(groups);
  if (L.scheme == scheme_id::asymmetric) t.zero_points.resize(groups);
  std::vector<group_coder> coders(fused ? 0 : groups);
  for (std::size_t i = 0; !fused && i < groups; ++i) {
    t.scales[i] = params[i].scale;
    if (L.scheme == scheme_id::asymmetric) t.zero_points[i] = static_cast<std::uint8_t>(params[i].zero_point);
    coders[i] = coder_of(L.scheme, L.bits, params[i]);
  }
  const std::size_t G = L.row_group(w.cols()), gpr = L.groups_per_row(w.cols()), row_bytes = t.row_bytes();
  const code_grid grid = L.grid();
  std::vector<std::size_t> bad(w.rows(), w.cols());
  dispatch([&](auto tag) {
    using A = decltype(tag);
    using ops = quant_row_ops<A>;
    parallel_for(
        w.rows(),
        [&](std::size_t r0, std::size_t r1) {
          aligned_buffer<std::int32_t> u(w.cols(), uninitialized);
          std::vector<float> lo(fused ? 0 : gpr), hi(fused ? 0 : gpr);
          for (std::size_t r = r0; r < r1; ++r) {
            const float* x = w.row(r).data();
            if (fused) {  // range, parameters and codes in one pass over the row
              bad[r] = ops::quantize_derived(
                  x, w.cols(), G, L.scheme, L.bits, clip_ratio, t.scales.data() + r * gpr,
                  t.zero_points.empty() ? nullptr : t.zero_points.data() + r * gpr, u.data());
              if (bad[r] != w.cols()) continue;
              pack<A>(u.data(), w.cols(), L.bits, t.codes.data() + r * row_bytes);
              continue;
            }
            // The range pass is also the finiteness check (supplied parameters need it too).
            bad[r] = ops::ranges(x, w.cols(), G, lo.data(), hi.data());
            if (bad[r] != w.cols()) continue;
            const group_coder* c = coders.data() + L.coder_row(r, w.cols());
            ops::quantize(x, w.cols(), G, c, grid.lo, grid.hi, u.data());
            pack<A>(u.data(), w.cols(), L.bits, t.codes.data() + r * row_bytes);
          }
        },
        threads);
  });
  throw_if_bad(w, bad);
  return t;
}

inline void fake_quantize(const quant_layout& L, matrix_view<const float> w,
                          std::span<const quant_params> params, matrix_view<float> out,
                          matrix_view<std::uint8_t> mask, unsigned threads) {
  check_params(L, params, w.rows(), w.cols());
  check_same_shape("fake_quantize: output", w.rows(), w.cols(), out.rows(), out.cols());
  if (mask.data()) check_same_shape("fake_quantize: mask", w.rows(), w.cols(), mask.rows(), mask.cols());
  const std::vector<group_coder> coders = make_coders(L, params);
  const std::size_t G = L.row_group(w.cols()), gpr = L.groups_per_row(w.cols());
  const code_grid grid = L.grid();
  std::vector<std::size_t> bad(w.rows(), w.cols());
  dispatch([&](auto tag) {
    using ops = quant_row_ops<decltype(tag)>;
    parallel_for(
        w.rows(),
        [&](std::size_t r0, std::size_t r1) {
          std::vector<float> lo(gpr), hi(gpr);
          for (std::size_t r = r0; r < r1; ++r) {
            bad[r] = ops::ranges(w.row(r).data(), w.cols(), G, lo.data(), hi.data());
            if (bad[r] != w.cols()) continue;
            ops::fake_quantize(w.row(r).data(), w.cols(), G, coders.data() + L.coder_row(r, w.cols()),
                               grid.lo, grid.hi, out.row(r).data(),
                               mask.data() ? mask.row(r).data() : nullptr);
          }
        },
        threads);
  });
  throw_if_bad(w, bad);
}

}  // namespace detail

template <class Scheme, class Granularity, int Bits>
class quantizer {
  static_assert(
      quant_scheme<Scheme>,
      "qlite::quantizer: Scheme must be qlite::symmetric, qlite::symmetric_narrow or qlite::asymmetric");
  static_assert(
      quant_granularity<Granularity>,
      "qlite::quantizer: Granularity must be qlite::per_tensor, qlite::per_channel or qlite::per_group<G> "
      "with G >= 1");
  static_assert(quant_bits<Bits>, "qlite::quantizer: Bits must be between 2 and 8");

 public:
  using scheme_type = Scheme;
  using granularity_type = Granularity;
  static constexpr int bits = Bits;
  static constexpr scheme_id scheme = Scheme::id;
  static constexpr granularity_id granularity = Granularity::id;
  static constexpr code_grid grid = grid_of(Scheme::id, Bits);
  static constexpr detail::quant_layout layout{Scheme::id, Granularity::id, Granularity::group_size, Bits};

  explicit quantizer(quantize_options options = {}) : options_(options) {
    if (!(options_.clip_ratio > 0.0f && options_.clip_ratio <= 1.0f))
      throw error(errc::invalid_argument,
                  "quantizer: clip_ratio must lie in (0, 1], got " + std::to_string(options_.clip_ratio));
  }

  [[nodiscard]] const quantize_options& options() const noexcept { return options_; }

  /// Number of parameter sets (groups) for an N × K matrix.
  [[nodiscard]] static std::size_t group_count(std::size_t rows, std::size_t cols) noexcept {
    return detail::group_count(granularity, Granularity::group_size, rows, cols);
  }

  /// The parameters quantize(w) uses: one per group, row-major over (row, group).
  [[nodiscard]] std::vector<quant_params> compute_params(matrix_view<const float> w) const {
    return detail::compute_params(layout, w, options_.clip_ratio, options_.threads);
  }

  /// Quantizes w with parameters derived from its data.
  [[nodiscard]] quantized_tensor quantize(matrix_view<const float> w) const {
    return detail::quantize(layout, w, {}, options_.clip_ratio, options_.threads);
  }

  /// Quantizes w with the given parameters (group_count(rows, cols) of them). Values outside
  /// a group's grid saturate; non-finite values are an error.
  [[nodiscard]] quantized_tensor quantize(matrix_view<const float> w,
                                          std::span<const quant_params> params) const {
    if (params.empty() && group_count(w.rows(), w.cols()) != 0)
      detail::check_params(layout, params, w.rows(), w.cols());  // empty means "derive" internally
    return detail::quantize(layout, w, params, options_.clip_ratio, options_.threads);
  }

  /// out = dequantize(quantize(w)) in one pass; mask (optional) = 1 inside the clipping range.
  void fake_quantize(matrix_view<const float> w, matrix_view<float> out,
                     matrix_view<std::uint8_t> mask = {}) const {
    detail::fake_quantize(layout, w, compute_params(w), out, mask, options_.threads);
  }

  /// fake_quantize with supplied parameters.
  void fake_quantize(matrix_view<const float> w, std::span<const quant_params> params, matrix_view<float> out,
                     matrix_view<std::uint8_t> mask = {}) const {
    detail::fake_quantize(layout, w, params, out, mask, options_.threads);
  }

 private:
  quantize_options options_;
};

/// Checks that a quantized_tensor is self-consistent (sizes, bit width, zero points);
/// throws qlite::error naming the field otherwise. Used by every consumer of outside tensors.
inline void validate(const quantized_tensor& t) {
  auto fail = [](const std::string& what) {
    throw error(errc::invalid_argument, "quantized_tensor: " + what);
  };
  if (t.bits < 2 || t.bits > 8) fail("bits is " + std::to_string(t.bits) + ", expected 2..8");
  if (t.granularity == granularity_id::per_group && t.group_size == 0) fail("per_group with group_size 0");
  if (t.codes.size() != t.rows * t.row_bytes())
    fail("codes hold " + std::to_string(t.codes.size()) +
         " bytes, expected rows × row_bytes = " + std::to_string(t.rows * t.row_bytes()));
  const std::size_t groups = detail::group_count(t.granularity, t.group_size, t.rows, t.cols);
  if (t.scales.size() != groups)
    fail(std::to_string(t.scales.size()) + " scales, expected " + std::to_string(groups));
  if (t.scheme == scheme_id::asymmetric) {
    if (t.zero_points.size() != groups)
      fail(std::to_string(t.zero_points.size()) + " zero points, expected " + std::to_string(groups));
    for (std::size_t i = 0; i < groups; ++i)
      if (t.zero_points[i] >= (1U << t.bits))
        fail("zero point " + std::to_string(i) + " is " + std::to_string(t.zero_points[i]) + ", beyond " +
             std::to_string(t.bits) + " bits");
  } else if (!t.zero_points.empty()) {
    fail("a symmetric tensor carries zero points");
  }
}

/// out = scale · (q − zero_point) for every element of t (out: t.rows × t.cols).
inline void dequantize(const quantized_tensor& t, matrix_view<float> out,
                       unsigned threads = default_threads()) {
  validate(t);
  detail::check_same_shape("dequantize: output", t.rows, t.cols, out.rows(), out.cols());
  const int offset = t.code_offset();
  const std::size_t G =
      t.granularity == granularity_id::per_group ? t.group_size : std::max<std::size_t>(t.cols, 1);
  const std::size_t gpr = t.groups_per_row();
  const bool tensor_wide = t.granularity == granularity_id::per_tensor;
  dispatch([&](auto tag) {
    using A = decltype(tag);
    parallel_for(
        t.rows,
        [&](std::size_t r0, std::size_t r1) {
          aligned_buffer<std::int32_t> u(t.cols, uninitialized);
          std::vector<group_coder> coders(tensor_wide ? 1 : gpr);  // one row's, built per row
          for (std::size_t r = r0; r < r1; ++r) {
            for (std::size_t g = 0; g < coders.size(); ++g) {
              const std::size_t i = tensor_wide ? 0 : r * gpr + g;
              coders[g] = {t.scales[i], 0.0f, offset + (t.zero_points.empty() ? 0 : t.zero_points[i])};
            }
            unpack<A>(t.codes.data() + r * t.row_bytes(), t.cols, t.bits, u.data());
            detail::quant_row_ops<A>::dequantize(u.data(), t.cols, G, coders.data(), out.row(r).data());
          }
        },
        threads);
  });
}

}  // namespace qlite
