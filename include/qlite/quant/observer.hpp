// qlite — calibration observers: quantization parameters for activations.
//
// Weights are known ahead of time; activations are not. An observer watches the activations
// of a few calibration batches (`observe`) and then proposes parameters
// (`calculate_params`), which a quantizer applies with `quantize(x, params)`. The vocabulary
// is torch.ao's:
//
//   minmax_observer                   running min and max of everything observed
//   moving_average_minmax_observer    min/max of each batch, smoothed:
//                                     m ← m + c · (batch_m − m), c = averaging_constant (0.01)
//   percentile_observer               the p-th and (100 − p)-th percentiles of each batch
//                                     (exact, by selection), averaged over batches; ignores
//                                     rare outliers (p = 99.99 by default)
//   mse_observer                      running min/max plus a deterministic sample of the
//                                     values; calculate_params() tries clipping ratios
//                                     1, 1 − 1/n, …, 1/n (n = `candidates`) and keeps the one
//                                     whose fake-quantization MSE on the sample is lowest
//
// Granularity: per_tensor (one parameter set) or per_token (one per row of x; every batch
// must then have the same number of rows). The scheme and bits are those of the quantizer
// that will use the parameters; ranges always include 0 (quant_params.hpp).
// Errors: NaN/±Inf in a batch, a per-token batch with a different row count, or
// calculate_params() before any observe() → qlite::error.
//
//   qlite::percentile_observer<qlite::asymmetric, qlite::per_tensor, 8> obs(99.9);
//   for (auto& batch : calibration) obs.observe(batch);
//   auto params = obs.calculate_params();                        // one quant_params
//   qlite::quantizer<qlite::asymmetric, qlite::per_tensor, 8> q;
//   auto xq = q.quantize(x, params);
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "qlite/core/error.hpp"
#include "qlite/core/matrix_view.hpp"
#include "qlite/quant/quant_params.hpp"
#include "qlite/quant/reference.hpp"
#include "qlite/quant/scheme.hpp"

namespace qlite {

namespace detail {

/// What every observer shares: per-slot (1 or one per token) state and the checks.
template <class Scheme, class Granularity, int Bits>
class observer_base {
  static_assert(quant_scheme<Scheme>, "qlite observers: Scheme must be a qlite scheme tag");
  static_assert(std::is_same_v<Granularity, per_tensor> || std::is_same_v<Granularity, per_token>,
                "qlite observers: Granularity must be qlite::per_tensor or qlite::per_token");
  static_assert(quant_bits<Bits>, "qlite observers: Bits must be between 2 and 8");

 public:
  static constexpr bool per_row = std::is_same_v<Granularity, per_token>;

  /// Forgets everything observed.
  void reset() noexcept {
    lo_.clear();
    hi_.clear();
    batches_ = 0;
  }
  /// Batches observed since construction or reset().
  [[nodiscard]] std::size_t batches() const noexcept { return batches_; }

 protected:
  /// Checks x and returns the number of slots it feeds.
  std::size_t begin_batch(matrix_view<const float> x, const char* who) {
    for (std::size_t r = 0; r < x.rows(); ++r)
      for (std::size_t c = 0; c < x.cols(); ++c)
        if (!std::isfinite(x(r, c)))
          throw error(errc::not_finite, std::string(who) + ": batch " + std::to_string(batches_) + " has a " +
                                            (x(r, c) != x(r, c) ? "NaN" : "infinite") + " value at row " +
                                            std::to_string(r) + ", column " + std::to_string(c));
    if (x.empty()) throw error(errc::invalid_argument, std::string(who) + ": empty batch");
    const std::size_t slots = per_row ? x.rows() : 1;
    if (!lo_.empty() && lo_.size() != slots)
      throw error(errc::invalid_argument, std::string(who) + ": per-token batch with " +
                                              std::to_string(slots) + " rows after batches of " +
                                              std::to_string(lo_.size()));
    return slots;
  }
  /// Elements of slot s in x.
  static void slot_values(matrix_view<const float> x, std::size_t s, std::vector<float>& out) {
    out.clear();
    for (std::size_t r = per_row ? s : 0; r < (per_row ? s + 1 : x.rows()); ++r)
      out.insert(out.end(), x.row(r).begin(), x.row(r).end());
  }
  static void slot_min_max(matrix_view<const float> x, std::size_t s, float& lo, float& hi) noexcept {
    lo = std::numeric_limits<float>::infinity();
    hi = -lo;
    for (std::size_t r = per_row ? s : 0; r < (per_row ? s + 1 : x.rows()); ++r)
      for (float v : x.row(r)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
  }
  std::vector<quant_params> params_from_ranges(const char* who, float clip = 1.0f) const {
    if (lo_.empty())
      throw error(errc::invalid_argument, std::string(who) + ": calculate_params() before observe()");
    std::vector<quant_params> p(lo_.size());
    for (std::size_t s = 0; s < p.size(); ++s)
      p[s] = params_from_range(Scheme::id, Bits, lo_[s], hi_[s], clip);
    return p;
  }

  std::vector<float> lo_, hi_;
  std::size_t batches_ = 0;
};

}  // namespace detail

/// Running min/max (torch.ao MinMaxObserver).
template <class Scheme, class Granularity, int Bits>
class minmax_observer : public detail::observer_base<Scheme, Granularity, Bits> {
  using base = detail::observer_base<Scheme, Granularity, Bits>;

 public:
  void observe(matrix_view<const float> x) {
    const std::size_t slots = this->begin_batch(x, "minmax_observer");
    if (this->lo_.empty()) {
      this->lo_.assign(slots, std::numeric_limits<float>::infinity());
      this->hi_.assign(slots, -std::numeric_limits<float>::infinity());
    }
    for (std::size_t s = 0; s < slots; ++s) {
      float l, h;
      base::slot_min_max(x, s, l, h);
      this->lo_[s] = std::min(this->lo_[s], l);
      this->hi_[s] = std::max(this->hi_[s], h);
    }
    ++this->batches_;
  }
  [[nodiscard]] std::vector<quant_params> calculate_params() const {
    return this->params_from_ranges("minmax_observer");
  }
};

/// Exponentially smoothed per-batch min/max (torch.ao MovingAverageMinMaxObserver).
template <class Scheme, class Granularity, int Bits>
class moving_average_minmax_observer : public detail::observer_base<Scheme, Granularity, Bits> {
  using base = detail::observer_base<Scheme, Granularity, Bits>;

 public:
  explicit moving_average_minmax_observer(float averaging_constant = 0.01f) : c_(averaging_constant) {
    if (!(c_ > 0.0f && c_ <= 1.0f))
      throw error(errc::invalid_argument,
                  "moving_average_minmax_observer: averaging_constant must lie in (0, 1]");
  }
  void observe(matrix_view<const float> x) {
    const std::size_t slots = this->begin_batch(x, "moving_average_minmax_observer");
    const bool first = this->lo_.empty();
    if (first) {
      this->lo_.resize(slots);
      this->hi_.resize(slots);
    }
    for (std::size_t s = 0; s < slots; ++s) {
      float l, h;
      base::slot_min_max(x, s, l, h);
      this->lo_[s] = first ? l : this->lo_[s] + c_ * (l - this->lo_[s]);
      this->hi_[s] = first ? h : this->hi_[s] + c_ * (h - this->hi_[s]);
    }
    ++this->batches_;
  }
  [[nodiscard]] std::vector<quant_params> calculate_params() const {
    return this->params_from_ranges("moving_average_minmax_observer");
  }

 private:
  float c_;
};

/// Per-batch percentiles, averaged over batches.
template <class Scheme, class Granularity, int Bits>
class percentile_observer : public detail::observer_base<Scheme, Granularity, Bits> {
  using base = detail::observer_base<Scheme, Granularity, Bits>;

 public:
  explicit percentile_observer(double percentile = 99.99) : p_(percentile) {
    if (!(p_ > 50.0 && p_ <= 100.0))
      throw error(errc::invalid_argument, "percentile_observer: percentile must lie in (50, 100]");
  }
  void observe(matrix_view<const float> x) {
    const std::size_t slots = this->begin_batch(x, "percentile_observer");
    if (this->lo_.empty()) {
      this->lo_.assign(slots, 0.0f);
      this->hi_.assign(slots, 0.0f);
    }
    std::vector<float> v;
    const double n_prev = static_cast<double>(this->batches_);
    for (std::size_t s = 0; s < slots; ++s) {
      base::slot_values(x, s, v);
      const float l = select(v, 100.0 - p_), h = select(v, p_);
      this->lo_[s] = static_cast<float>((this->lo_[s] * n_prev + l) / (n_prev + 1));
      this->hi_[s] = static_cast<float>((this->hi_[s] * n_prev + h) / (n_prev + 1));
    }
    ++this->batches_;
  }
  [[nodiscard]] std::vector<quant_params> calculate_params() const {
    return this->params_from_ranges("percentile_observer");
  }

 private:
  // The value of rank round(q/100 · (n − 1)) in sorted order (nearest-rank percentile).
  static float select(std::vector<float>& v, double q) {
    const auto k = static_cast<std::size_t>(std::llround(q / 100.0 * static_cast<double>(v.size() - 1)));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
  }
  double p_;
};

/// Min/max plus a clipping-ratio search that minimizes the quantization MSE.
template <class Scheme, class Granularity, int Bits>
class mse_observer : public detail::observer_base<Scheme, Granularity, Bits> {
  using base = detail::observer_base<Scheme, Granularity, Bits>;

 public:
  /// `candidates` clipping ratios are tried; at most `sample_size` values per slot are kept
  /// (every k-th value once the sample is full: deterministic).
  explicit mse_observer(int candidates = 100, std::size_t sample_size = 1 << 16)
      : candidates_(candidates), sample_size_(sample_size) {
    if (candidates_ < 1 || sample_size_ < 1)
      throw error(errc::invalid_argument, "mse_observer: candidates and sample_size must be positive");
  }
  void observe(matrix_view<const float> x) {
    const std::size_t slots = this->begin_batch(x, "mse_observer");
    if (this->lo_.empty()) {
      this->lo_.assign(slots, std::numeric_limits<float>::infinity());
      this->hi_.assign(slots, -std::numeric_limits<float>::infinity());
      samples_.assign(slots, {});
    }
    std::vector<float> v;
    for (std::size_t s = 0; s < slots; ++s) {
      base::slot_values(x, s, v);
      for (float f : v) {
        this->lo_[s] = std::min(this->lo_[s], f);
        this->hi_[s] = std::max(this->hi_[s], f);
      }
      std::vector<float>& keep = samples_[s];
      keep.insert(keep.end(), v.begin(), v.end());
      if (keep.size() > sample_size_) {  // thin out evenly, keeping the order
        const double step = static_cast<double>(keep.size()) / static_cast<double>(sample_size_);
        std::vector<float> thin(sample_size_);
        for (std::size_t i = 0; i < sample_size_; ++i)
          thin[i] = keep[static_cast<std::size_t>(static_cast<double>(i) * step)];
        keep.swap(thin);
      }
    }
    ++this->batches_;
  }
  void reset() noexcept {
    base::reset();
    samples_.clear();
  }
  [[nodiscard]] std::vector<quant_params> calculate_params() const {
    std::vector<quant_params> out = this->params_from_ranges("mse_observer");
    const code_grid grid = grid_of(Scheme::id, Bits);
    for (std::size_t s = 0; s < out.size(); ++s) {
      double best = std::numeric_limits<double>::infinity();
      for (int k = 0; k < candidates_; ++k) {
        const float clip = static_cast<float>(candidates_ - k) / static_cast<float>(candidates_);
        const quant_params p = params_from_range(Scheme::id, Bits, this->lo_[s], this->hi_[s], clip);
        const group_coder c = coder_of(Scheme::id, Bits, p);
        double err = 0;
        for (float f : samples_[s]) {
          const double d =
              f - c.scale * static_cast<float>(ref::encode_one(f, c, grid.lo, grid.hi) - c.zero_code);
          err += d * d;
        }
        if (err < best) {
          best = err;
          out[s] = p;
        }
      }
    }
    return out;
  }

 private:
  int candidates_;
  std::size_t sample_size_;
  std::vector<std::vector<float>> samples_;
};

}  // namespace qlite
