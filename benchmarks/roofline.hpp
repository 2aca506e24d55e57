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

// The compute probes: `iters` rounds of 12 independent instructions on 12 accumulators, the
// whole loop one asm statement on fixed registers (zmm0–zmm11, the operands in zmm12/zmm13).
// Written in C++ (an array of accumulators with a per-element barrier, the first version),
// GCC 12 kept the array on the stack and every instruction waited on a store-to-load round
// trip: the probe read ≈ 0.45 of the peak.
// Operands a, b into zmm12 / zmm13, accumulators zmm0–zmm11 zeroed.
#define QLITE_ROOFLINE_SETUP                                                                  \
  "vmovdqa64 %[a], %%zmm12\n\tvmovdqa64 %[b], %%zmm13\n\t"                                    \
  "vpxord %%zmm0, %%zmm0, %%zmm0\n\tvmovdqa64 %%zmm0, %%zmm1\n\tvmovdqa64 %%zmm0, %%zmm2\n\t" \
  "vmovdqa64 %%zmm0, %%zmm3\n\tvmovdqa64 %%zmm0, %%zmm4\n\tvmovdqa64 %%zmm0, %%zmm5\n\t"      \
  "vmovdqa64 %%zmm0, %%zmm6\n\tvmovdqa64 %%zmm0, %%zmm7\n\tvmovdqa64 %%zmm0, %%zmm8\n\t"      \
  "vmovdqa64 %%zmm0, %%zmm9\n\tvmovdqa64 %%zmm0, %%zmm10\n\tvmovdqa64 %%zmm0, %%zmm11\n\t"
#define QLITE_ROOFLINE_LOOP(INSN)                                                                          \
  __asm__ volatile(QLITE_ROOFLINE_SETUP                                                                    \
                   "test %[n], %[n]\n\tjz 2f\n\t"                                                          \
                   "1:\n\t" INSN " %%zmm13, %%zmm12, %%zmm0\n\t" INSN " %%zmm13, %%zmm12, %%zmm1\n\t" INSN \
                   " %%zmm13, %%zmm12, %%zmm2\n\t" INSN " %%zmm13, %%zmm12, %%zmm3\n\t" INSN               \
                   " %%zmm13, %%zmm12, %%zmm4\n\t" INSN " %%zmm13, %%zmm12, %%zmm5\n\t" INSN               \
                   " %%zmm13, %%zmm12, %%zmm6\n\t" INSN " %%zmm13, %%zmm12, %%zmm7\n\t" INSN               \
                   " %%zmm13, %%zmm12, %%zmm8\n\t" INSN " %%zmm13, %%zmm12, %%zmm9\n\t" INSN               \
                   " %%zmm13, %%zmm12, %%zmm10\n\t" INSN                                                   \
                   " %%zmm13, %%zmm12, %%zmm11\n\t"                                                        \
                   "dec %[n]\n\tjnz 1b\n\t"                                                                \
                   "2:\n\tvmovdqu64 %%zmm0, %[out]"                                                        \
                   : [n] "+r"(iters), [out] "=m"(out)                                                      \
                   : [a] "m"(a), [b] "m"(b)                                                                \
                   : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",       \
                     "xmm10", "xmm11", "xmm12", "xmm13", "cc")

// `iters` × 12 independent vpdpbusd (64 MACs = 128 int8 ops each).
inline int vnni_loop(std::size_t iters) {
  alignas(64) const std::uint8_t a[64] = {3, 3, 3, 3};
  alignas(64) const std::int8_t b[64] = {-2, -2, -2, -2};
  alignas(64) int out[16];
  QLITE_ROOFLINE_LOOP("vpdpbusd");
  return out[0];
}

// `iters` × 12 independent 512-bit FMAs (32 flops each).
inline float fma_loop(std::size_t iters) {
  alignas(64) const float a[16] = {0.5f, 0.5f}, b[16] = {0.25f, 0.25f};
  alignas(64) float out[16];
  QLITE_ROOFLINE_LOOP("vfmadd231ps");
  return out[0];
}

// `iters` × 12 independent vdpbf16ps (32 MACs = 64 flops each).
inline float bf16_loop(std::size_t iters) {
  alignas(64) const std::uint16_t a[32] = {0x3f80, 0x3f80}, b[32] = {0x3f80, 0x3f80};
  alignas(64) float out[16];
  QLITE_ROOFLINE_LOOP("vdpbf16ps");
  return out[0];
}

// The ceiling of the per-group int8 formats (Q4_0, Q8_0, int4 with groups of 32): per group of
// 32 k an output vector takes 8 vpdpbusd (int4: two nibble halves of 4 chunks) and one FMA that
// folds the group's int32 sum into the float accumulator. `iters` × (96 vpdpbusd on 12
// accumulators + 12 FMAs on 2 more: an iteration takes > 48 cycles, so their chains of 6 never
// wait; zmm16+ would need an AVX-512 target for this TU). On Zen 5 the FMA shares its two pipes
// with vpdpbusd (vcvtdq2ps, vaddps and the nibble shifts and masks do not), so this reads ≈ 8/9
// of vnni_loop.
inline int vnni_group_loop(std::size_t iters) {
  alignas(64) const std::uint8_t a[64] = {3, 3, 3, 3};
  alignas(64) const std::int8_t b[64] = {-2, -2, -2, -2};
  alignas(64) int out[16];
  __asm__ volatile(QLITE_ROOFLINE_SETUP
                   "vmovdqa64 %%zmm0, %%zmm14\n\tvmovdqa64 %%zmm0, %%zmm15\n\t"
                   "test %[n], %[n]\n\tjz 2f\n\t"
                   "1:\n\t"
                   ".rept 8\n\t"
                   "vpdpbusd %%zmm13, %%zmm12, %%zmm0\n\tvpdpbusd %%zmm13, %%zmm12, %%zmm1\n\t"
                   "vpdpbusd %%zmm13, %%zmm12, %%zmm2\n\tvpdpbusd %%zmm13, %%zmm12, %%zmm3\n\t"
                   "vpdpbusd %%zmm13, %%zmm12, %%zmm4\n\tvpdpbusd %%zmm13, %%zmm12, %%zmm5\n\t"
                   "vpdpbusd %%zmm13, %%zmm12, %%zmm6\n\tvpdpbusd %%zmm13, %%zmm12, %%zmm7\n\t"
                   "vpdpbusd %%zmm13, %%zmm12, %%zmm8\n\tvpdpbusd %%zmm13, %%zmm12, %%zmm9\n\t"
                   "vpdpbusd %%zmm13, %%zmm12, %%zmm10\n\tvpdpbusd %%zmm13, %%zmm12, %%zmm11\n\t"
                   ".endr\n\t"
                   ".rept 6\n\t"
                   "vfmadd231ps %%zmm13, %%zmm12, %%zmm14\n\tvfmadd231ps %%zmm13, %%zmm12, %%zmm15\n\t"
                   ".endr\n\t"
                   "dec %[n]\n\tjnz 1b\n\t"
                   "2:\n\tvmovdqu64 %%zmm0, %[out]"
                   : [n] "+r"(iters), [out] "=m"(out)
                   : [a] "m"(a), [b] "m"(b)
                   : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
                     "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");
  return out[0];
}

#undef QLITE_ROOFLINE_LOOP
#undef QLITE_ROOFLINE_SETUP
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
