// qlite — bulk conversion between float and the 16-bit float formats fp16 and bf16.
//
// Contract
//   convert(src, dst) writes dst[i] = the conversion of src[i] for every i, with exactly the
//   rounding of the scalar types (qlite/core/fp16.hpp, qlite/core/bf16.hpp):
//     float → fp16 / bf16   round-to-nearest, ties-to-even; overflow to ±Inf; subnormals
//                           rounded exactly (no flush to zero); NaN stays NaN (quieted,
//                           sign and top payload bits kept)
//     fp16 / bf16 → float   exact (fp16 NaNs quieted, bf16 bits extended as they are)
//   The result is bit-identical on every instruction set (scalar, SSE2, SSE4.2, AVX2 + F16C,
//   AVX-512 with or without AVX512-BF16, NEON) and independent of the FPU's rounding mode
//   and FTZ/DAZ flags. Preconditions: src.size() == dst.size() (else qlite::error, errc
//   invalid_argument, naming both sizes); the spans do not overlap.
//
// Math: see the headers of the types; the vector paths are
//   fp16  F16C vcvtps2ph/vcvtph2ps (immediate RNE) on AVX2 and AVX-512; elsewhere integer
//         RNE in 32-bit lanes (subnormal results by a "jamming" shift, no variable shifts).
//   bf16  (x + 0x7fff + lsb) >> 16 in 32-bit lanes; on CPUs with AVX512-BF16 the AVX-512
//         path uses vcvtne2ps2bf16, except on 32-value blocks holding a denormal float,
//         which that instruction reads as zero (those blocks take the integer path).
//
// Cost: one pass, 6 bytes moved per value. Measured with benchmarks/bench_convert (AMD EPYC,
// 1M values, read + written bytes per CPU second): AVX2/AVX-512 72-79 GB/s, i.e. memcpy speed
// (81 GB/s), except AVX2 float → bf16 at 41 GB/s; SSE4.2 8-77 GB/s; scalar 5-76 GB/s.
// Single-threaded: call it per chunk from parallel_for for huge arrays.
// Dispatch follows qlite/core/dispatch.hpp (QLITE_ARCH=scalar forces qlite::ref).
//
//   std::vector<float> w = load_weights();
//   std::vector<qlite::bf16> packed(w.size());
//   qlite::convert(w, packed);                    // float → bf16, RNE
//   std::vector<float> back(w.size());
//   qlite::convert(packed, back);                 // bf16 → float, exact
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

#include "qlite/config.hpp"
#include "qlite/core/bf16.hpp"
#include "qlite/core/cpu_features.hpp"
#include "qlite/core/dispatch.hpp"
#include "qlite/core/error.hpp"
#include "qlite/core/fp16.hpp"

namespace qlite {

namespace kernel {
// Per-arch kernels (qlite/arch/convert_kernels.hpp). The 16-bit side is the storage of
// fp16/bf16 objects, accessed by vector loads/stores or memcpy only.
template <class Arch>
void f32_to_fp16(Arch, const float* src, std::uint16_t* dst, std::size_t n) noexcept;
template <class Arch>
void fp16_to_f32(Arch, const std::uint16_t* src, float* dst, std::size_t n) noexcept;
template <class Arch>
void f32_to_bf16(Arch, const float* src, std::uint16_t* dst, std::size_t n,
                 bool cpu_has_avx512_bf16) noexcept;
template <class Arch>
void bf16_to_f32(Arch, const std::uint16_t* src, float* dst, std::size_t n) noexcept;
}  // namespace kernel

namespace detail {
inline void check_convert_sizes(std::size_t src, std::size_t dst, const char* from, const char* to) {
  if (src != dst)
    throw error(errc::invalid_argument, std::string("qlite::convert(") + from + " -> " + to +
                                            "): destination has " + std::to_string(dst) +
                                            " elements, expected " + std::to_string(src) +
                                            " (the source size)");
}
}  // namespace detail

namespace ref {

/// The scalar definitions of the bulk conversions: one call of the scalar oracle per value.
inline void convert(std::span<const float> src, std::span<fp16> dst) {
  detail::check_convert_sizes(src.size(), dst.size(), "float", "fp16");
  for (std::size_t i = 0; i < src.size(); ++i) dst[i] = fp16::from_bits(fp32_to_fp16_bits(src[i]));
}
inline void convert(std::span<const fp16> src, std::span<float> dst) {
  detail::check_convert_sizes(src.size(), dst.size(), "fp16", "float");
  for (std::size_t i = 0; i < src.size(); ++i) dst[i] = fp16_bits_to_fp32(src[i].bits());
}
inline void convert(std::span<const float> src, std::span<bf16> dst) {
  detail::check_convert_sizes(src.size(), dst.size(), "float", "bf16");
  for (std::size_t i = 0; i < src.size(); ++i) dst[i] = bf16::from_bits(fp32_to_bf16_bits(src[i]));
}
inline void convert(std::span<const bf16> src, std::span<float> dst) {
  detail::check_convert_sizes(src.size(), dst.size(), "bf16", "float");
  for (std::size_t i = 0; i < src.size(); ++i) dst[i] = bf16_bits_to_fp32(src[i].bits());
}

}  // namespace ref

/// float → fp16, round-to-nearest-even, on the active arch.
inline void convert(std::span<const float> src, std::span<fp16> dst) {
  detail::check_convert_sizes(src.size(), dst.size(), "float", "fp16");
  dispatch([&](auto arch) {
    if constexpr (std::is_same_v<decltype(arch), scalar_arch>)
      ref::convert(src, dst);
    else
      kernel::f32_to_fp16(arch, src.data(), reinterpret_cast<std::uint16_t*>(dst.data()), src.size());
  });
}

/// fp16 → float, exact, on the active arch.
inline void convert(std::span<const fp16> src, std::span<float> dst) {
  detail::check_convert_sizes(src.size(), dst.size(), "fp16", "float");
  dispatch([&](auto arch) {
    if constexpr (std::is_same_v<decltype(arch), scalar_arch>)
      ref::convert(src, dst);
    else
      kernel::fp16_to_f32(arch, reinterpret_cast<const std::uint16_t*>(src.data()), dst.data(), src.size());
  });
}

/// float → bf16, round-to-nearest-even, on the active arch (AVX512-BF16 where present).
inline void convert(std::span<const float> src, std::span<bf16> dst) {
  detail::check_convert_sizes(src.size(), dst.size(), "float", "bf16");
  dispatch([&](auto arch) {
    if constexpr (std::is_same_v<decltype(arch), scalar_arch>)
      ref::convert(src, dst);
    else
      kernel::f32_to_bf16(arch, src.data(), reinterpret_cast<std::uint16_t*>(dst.data()), src.size(),
                          cpu().avx512_bf16);
  });
}

/// bf16 → float, exact, on the active arch.
inline void convert(std::span<const bf16> src, std::span<float> dst) {
  detail::check_convert_sizes(src.size(), dst.size(), "bf16", "float");
  dispatch([&](auto arch) {
    if constexpr (std::is_same_v<decltype(arch), scalar_arch>)
      ref::convert(src, dst);
    else
      kernel::bf16_to_f32(arch, reinterpret_cast<const std::uint16_t*>(src.data()), dst.data(), src.size());
  });
}

}  // namespace qlite

// Static dispatch compiles the kernels here, for this TU's flags. Runtime dispatch links to
// the instantiations of the per-arch TUs (qlite/arch/instantiate.hpp) instead.
#if !defined(QLITE_RUNTIME_DISPATCH)
#include "qlite/arch/convert_kernels.hpp"
#endif
