// qlite — compile-time vocabulary of quantization: scheme, granularity, bit width.
//
// A quantizer is selected at compile time by three parameters, each checked by a concept
// whose failure reads as a sentence:
//
//   Scheme        symmetric         full signed grid q ∈ [−2^(b−1), 2^(b−1) − 1], zero point 0.
//                                   Uses every code: the scale maps the group's extreme value
//                                   (the one of largest magnitude) onto −2^(b−1), so the scale
//                                   carries that value's sign (ggml's Q4_0 trick).
//                 symmetric_narrow  restricted grid q ∈ [−(2^(b−1) − 1), 2^(b−1) − 1], scale =
//                                   amax / (2^(b−1) − 1): one code unused, the grid symmetric
//                                   about 0 (torch's narrow-range int8, ggml's Q8_0).
//                 asymmetric        q ∈ [0, 2^b − 1], real = scale · (q − zero_point), the range
//                                   [min(x, 0), max(x, 0)] mapped onto the grid (affine).
//   Granularity   per_tensor        one scale for the matrix
//                 per_channel       one per output row (per_token: the same, for activations)
//                 per_group<G>      one per G consecutive elements of a row; a row whose length
//                                   G does not divide ends in a shorter tail group
//   Bits          2 … 8
//
//   using q4 = qlite::quantizer<qlite::symmetric, qlite::per_group<32>, 4>;   // compiles
//   using bad = qlite::quantizer<qlite::symmetric, qlite::per_group<0>, 9>;   // does not:
//   // "qlite::quantizer: Bits must be between 2 and 8"
#pragma once

#include <concepts>
#include <cstddef>
#include <type_traits>

#include "qlite/quant/quantized_tensor.hpp"

namespace qlite {

struct symmetric {
  static constexpr scheme_id id = scheme_id::symmetric;
  static constexpr const char* name() noexcept { return "sym"; }
};
struct symmetric_narrow {
  static constexpr scheme_id id = scheme_id::symmetric_narrow;
  static constexpr const char* name() noexcept { return "sym-narrow"; }
};
struct asymmetric {
  static constexpr scheme_id id = scheme_id::asymmetric;
  static constexpr const char* name() noexcept { return "asym"; }
};

struct per_tensor {
  static constexpr granularity_id id = granularity_id::per_tensor;
  static constexpr std::size_t group_size = 0;
};
struct per_channel {
  static constexpr granularity_id id = granularity_id::per_channel;
  static constexpr std::size_t group_size = 0;
};
/// Activations: one set of parameters per token (row of x) — per_channel's layout.
using per_token = per_channel;
template <std::size_t G>
struct per_group {
  static constexpr granularity_id id = granularity_id::per_group;
  static constexpr std::size_t group_size = G;
};

template <class T>
inline constexpr bool is_per_group_v = false;
template <std::size_t G>
inline constexpr bool is_per_group_v<per_group<G>> = true;

/// One of qlite's schemes.
template <class S>
concept quant_scheme =
    std::same_as<S, symmetric> || std::same_as<S, symmetric_narrow> || std::same_as<S, asymmetric>;

/// One of qlite's granularities, with a group size ≥ 1 for per_group.
template <class G>
concept quant_granularity = std::same_as<G, per_tensor> || std::same_as<G, per_channel> ||
    (is_per_group_v<G>&& G::group_size >= 1);

/// A bit width qlite can pack.
template <int Bits>
concept quant_bits = Bits >= 2 && Bits <= 8;

/// The integer grid of a scheme at a bit width, in stored (unsigned) codes u, and the
/// storage offset of symmetric schemes: q = u − offset.
struct code_grid {
  int lo;      ///< smallest stored code
  int hi;      ///< largest stored code
  int offset;  ///< 2^(bits−1) for symmetric schemes, 0 for asymmetric
};
constexpr code_grid grid_of(scheme_id s, int bits) noexcept {
  const int half = 1 << (bits - 1);
  switch (s) {
    case scheme_id::symmetric:
      return {0, 2 * half - 1, half};
    case scheme_id::symmetric_narrow:
      return {1, 2 * half - 1, half};
    case scheme_id::asymmetric:
      return {0, 2 * half - 1, 0};
  }
  return {0, 0, 0};
}

}  // namespace qlite
