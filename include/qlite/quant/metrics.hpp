// qlite — how far a quantized tensor is from the original.
//
// For a reference x and an approximation y of the same shape (sums in double):
//   mse      = Σ (x − y)² / n
//   rmse     = √mse
//   max_abs  = max |x − y|
//   sqnr_db  = 10 · log10(Σ x² / Σ (x − y)²)   signal-to-quantization-noise ratio; +∞ when
//              y == x, −∞ when x is all zero and y is not
//   cosine   = Σ x·y / (‖x‖ · ‖y‖)             1 when either is all zero and both are equal
// An empty pair gives mse 0, sqnr +∞, cosine 1. Shapes that differ are an error.
//
//   double db = qlite::sqnr_db(W, W_hat);   // e.g. 44.4 dB for int8 per-channel
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "qlite/core/error.hpp"
#include "qlite/core/matrix_view.hpp"

namespace qlite {

/// All the metrics of one comparison.
struct error_stats {
  double mse = 0.0;
  double rmse = 0.0;
  double max_abs = 0.0;
  double sqnr_db = std::numeric_limits<double>::infinity();
  double cosine = 1.0;
};

/// The metrics of y against the reference x.
inline error_stats compare(matrix_view<const float> x, matrix_view<const float> y) {
  if (x.rows() != y.rows() || x.cols() != y.cols())
    throw error(errc::invalid_argument, "compare: shapes " + std::to_string(x.rows()) + "×" +
                                            std::to_string(x.cols()) + " and " + std::to_string(y.rows()) +
                                            "×" + std::to_string(y.cols()) + " differ");
  double err = 0, sig = 0, yy = 0, xy = 0, mx = 0;
  for (std::size_t r = 0; r < x.rows(); ++r) {
    const float* a = x.row(r).data();
    const float* b = y.row(r).data();
    for (std::size_t c = 0; c < x.cols(); ++c) {
      const double d = static_cast<double>(a[c]) - static_cast<double>(b[c]);
      err += d * d;
      sig += static_cast<double>(a[c]) * a[c];
      yy += static_cast<double>(b[c]) * b[c];
      xy += static_cast<double>(a[c]) * b[c];
      mx = std::max(mx, std::fabs(d));
    }
  }
  error_stats s;
  const double n = static_cast<double>(x.size());
  if (n == 0) return s;
  s.mse = err / n;
  s.rmse = std::sqrt(s.mse);
  s.max_abs = mx;
  s.sqnr_db = err == 0   ? std::numeric_limits<double>::infinity()
              : sig == 0 ? -std::numeric_limits<double>::infinity()
                         : 10.0 * std::log10(sig / err);
  s.cosine = (sig == 0 || yy == 0) ? (err == 0 ? 1.0 : 0.0) : xy / (std::sqrt(sig) * std::sqrt(yy));
  return s;
}

inline double mse(matrix_view<const float> x, matrix_view<const float> y) { return compare(x, y).mse; }
inline double rmse(matrix_view<const float> x, matrix_view<const float> y) { return compare(x, y).rmse; }
inline double max_abs(matrix_view<const float> x, matrix_view<const float> y) {
  return compare(x, y).max_abs;
}
inline double sqnr_db(matrix_view<const float> x, matrix_view<const float> y) {
  return compare(x, y).sqnr_db;
}
inline double cosine(matrix_view<const float> x, matrix_view<const float> y) { return compare(x, y).cosine; }

}  // namespace qlite
