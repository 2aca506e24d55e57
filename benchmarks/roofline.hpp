// The roofline probe: this machine's read bandwidth and peak vpdpbusd / FMA / vdpbf16ps rates,
// measured in the same run as the kernels they bound. x86-64 only (each probe is compiled
// for its instruction set with a target attribute and runs only if the CPU has it).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include <qlite/core/aligned_buffer.hpp>
#include <qlite/core/cpu_features.hpp>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace roofline {

#if defined(__x86_64__)
// Sums a buffer with 256-bit loads (8 independent accumulators): DRAM read bandwidth.
__attribute__((target("avx2"))) inline std::uint64_t read_sum(const std::uint8_t* p, std::size_t bytes) {
  __m256i acc[8];
  for (auto& a : acc) a = _mm256_setzero_si256();
  for (std::size_t i = 0; i + 256 <= bytes; i += 256)
    for (int j = 0; j < 8; ++j)
      acc[j] = _mm256_add_epi64(
          acc[j],
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32 * static_cast<std::size_t>(j))));
  for (int j = 1; j < 8; ++j) acc[0] = _mm256_add_epi64(acc[0], acc[j]);
  alignas(32) std::uint64_t out[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(out), acc[0]);
  return out[0] + out[1] + out[2] + out[3];
}

// `iters` × 12 independent vpdpbusd (64 MACs = 128 int8 ops each).
__attribute__((target("avx512f,avx512bw,avx512vnni"))) inline int vnni_loop(std::size_t iters) {
  __m512i acc[12];
  for (int j = 0; j < 12; ++j) acc[j] = _mm512_set1_epi32(j);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  for (std::size_t i = 0; i < iters; ++i)
    for (auto& v : acc) {
      v = _mm512_dpbusd_epi32(v, a, b);
      __asm__ volatile("" : "+v"(v));
    }
  for (int j = 1; j < 12; ++j) acc[0] = _mm512_add_epi32(acc[0], acc[j]);
  alignas(64) int out[16];
  _mm512_store_si512(out, acc[0]);
  return out[0] + out[15];
}

// `iters` × 12 independent 512-bit FMAs (32 flops each).
__attribute__((target("avx512f"))) inline float fma_loop(std::size_t iters) {
  __m512 acc[12];
  for (int j = 0; j < 12; ++j) acc[j] = _mm512_set1_ps(static_cast<float>(j));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  for (std::size_t i = 0; i < iters; ++i)
    for (auto& v : acc) {
      v = _mm512_fmadd_ps(v, a, b);
      __asm__ volatile("" : "+v"(v));
    }
  for (int j = 1; j < 12; ++j) acc[0] = _mm512_add_ps(acc[0], acc[j]);
  alignas(64) float out[16];
  _mm512_store_ps(out, acc[0]);
  return out[0] + out[15];
}

// `iters` × 12 independent vdpbf16ps (32 MACs = 64 flops each).
__attribute__((target("avx512f,avx512bw,avx512bf16"))) inline float bf16_loop(std::size_t iters) {
  __m512 acc[12];
  for (int j = 0; j < 12; ++j) acc[j] = _mm512_set1_ps(static_cast<float>(j));
  const __m512i a = _mm512_set1_epi32(0x3f803f80);
  for (std::size_t i = 0; i < iters; ++i)
    for (auto& v : acc) {
      v = _mm512_dpbf16_ps(v, (__m512bh)a, (__m512bh)a);
      __asm__ volatile("" : "+v"(v));
    }
  for (int j = 1; j < 12; ++j) acc[0] = _mm512_add_ps(acc[0], acc[j]);
  alignas(64) float out[16];
  _mm512_store_ps(out, acc[0]);
  return out[0] + out[15];
}
#endif

/// Runs fn(i) on `threads` threads at once (i = 0 on the caller).
template <class F>
void on_threads(unsigned threads, F&& fn) {
  std::vector<std::thread> ts;
  for (unsigned i = 1; i < threads; ++i) ts.emplace_back([&fn, i] { fn(i); });
  fn(0U);
  for (auto& t : ts) t.join();
}

}  // namespace roofline
