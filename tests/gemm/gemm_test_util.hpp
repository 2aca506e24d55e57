// Generators and comparisons shared by the gemm tests.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <qlite/core/fp16.hpp>
#include <qlite/gemm/gemm.hpp>
#include <qlite/quant/block_formats.hpp>
#include <qlite/quant/quantized_tensor.hpp>

namespace qlite::test {

inline std::vector<float> random_floats(std::size_t n, std::uint32_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& f : v) f = d(rng);
  return v;
}

/// A quantized_tensor with random codes and scales (every code of the grid occurs).
inline quantized_tensor random_tensor(std::size_t n, std::size_t k, int bits, scheme_id scheme,
                                      std::size_t group, std::uint32_t seed) {
  std::mt19937 rng(seed);
  quantized_tensor t;
  t.rows = n;
  t.cols = k;
  t.bits = bits;
  t.scheme = scheme;
  t.granularity = group == 0 ? granularity_id::per_channel : granularity_id::per_group;
  t.group_size = group == 0 ? k : group;
  t.codes = aligned_buffer<std::uint8_t>(n * t.row_bytes());
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : t.codes) b = static_cast<std::uint8_t>(byte(rng));
  if (bits == 4 && k % 2)  // unused high nibble of each row stays zero
    for (std::size_t r = 0; r < n; ++r) t.codes[r * t.row_bytes() + t.row_bytes() - 1] &= 0x0F;
  const std::size_t ng = n * t.groups_per_row();
  std::uniform_real_distribution<float> sc(0.001f, 0.05f);
  for (std::size_t i = 0; i < ng; ++i) t.scales.push_back((i % 5 == 3 ? -1.0f : 1.0f) * sc(rng));
  if (scheme == scheme_id::asymmetric)
    for (std::size_t i = 0; i < ng; ++i) t.zero_points.push_back(static_cast<std::uint8_t>(byte(rng) % 16));
  return t;
}

inline std::uint16_t random_fp16_scale(std::mt19937& rng) {
  std::uniform_real_distribution<float> sc(0.001f, 0.05f);
  const float s = sc(rng) * ((rng() % 4 == 0) ? -1.0f : 1.0f);
  return ref::fp32_to_fp16_bits(s);
}

inline std::vector<block_q8_0> random_q8_0(std::size_t n, std::size_t k, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<block_q8_0> b(n * k / 32);
  for (auto& blk : b) {
    blk.scale = random_fp16_scale(rng);
    for (auto& q : blk.quants) q = static_cast<std::int8_t>(static_cast<int>(rng() % 256) - 128);
  }
  return b;
}

inline std::vector<block_q4_0> random_q4_0(std::size_t n, std::size_t k, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<block_q4_0> b(n * k / 32);
  for (auto& blk : b) {
    blk.scale = random_fp16_scale(rng);
    for (auto& q : blk.quants) q = static_cast<std::uint8_t>(rng() % 256);
  }
  return b;
}

/// Activations with the awkward rows a layer meets: a zero row, a row with one outlier, ties.
inline std::vector<float> random_activations(std::size_t m, std::size_t k, std::size_t ld,
                                             std::uint32_t seed) {
  std::vector<float> x = random_floats(m * ld, seed, -2.0f, 2.0f);
  if (m > 2)
    for (std::size_t c = 0; c < k; ++c) x[2 * ld + c] = 0.0f;
  if (m > 4) x[4 * ld + k / 2] = 300.0f;
  if (m > 6)  // amax 127: x · (127 / amax) are exact ties, rounded half to even by the quantization
    for (std::size_t c = 0; c < k; ++c) x[6 * ld + c] = c == 0 ? 127.0f : static_cast<float>(c % 6) - 2.5f;
  return x;
}

/// Index of the first element where a and b differ bitwise (NaN == NaN), or -1.
inline long first_difference(const std::vector<float>& a, const std::vector<float>& b) {
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0 && !(a[i] == b[i])) return static_cast<long>(i);
  return -1;
}

}  // namespace qlite::test
