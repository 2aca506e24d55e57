// qlite — declarations of the GEMM kernels (definitions: arch/gemm_kernels.hpp) and the
// list of their explicit instantiations for one arch, QLITE_GEMM_KERNELS(PREFIX, ARCH).
#pragma once

#include <cstddef>
#include <cstdint>

#include "qlite/gemm/reference.hpp"

namespace qlite::kernel {
/// Output channels of panels [p0, p1) for all rows of x (reference.hpp defines the math).
template <class Arch>
void gemm_panels(const qlite::detail::gemm_args& a, std::size_t p0, std::size_t p1) noexcept;
/// Dynamic per-row int8 quantization of x, bit-identical to ref::detail::quantize_activations.
template <class Arch>
void gemm_quantize_activations(const float* x, std::size_t ldx, std::size_t m, std::size_t k,
                               std::size_t k_padded, std::size_t group, std::int8_t* q, float* scale,
                               std::int32_t* gsum) noexcept;
/// weight_only integer formats: x → four int8 digit planes per row, ref::detail::split_activations.
template <class Arch>
void gemm_split_digits(const float* x, std::size_t ldx, std::size_t m, std::size_t k, std::size_t k_padded,
                       std::size_t group, std::int8_t* q, float* scale, std::int32_t* gsum) noexcept;
/// x → bf16 bits (nearest even), padded with zeros to k_padded; vcvtne2ps2bf16 if the CPU has
/// AVX512-BF16 (the caller reads qlite::cpu()).
template <class Arch>
void gemm_round_bf16(const float* x, std::size_t ldx, std::size_t m, std::size_t k, std::size_t k_padded,
                     std::uint16_t* xb, bool cpu_has_avx512_bf16) noexcept;
}  // namespace qlite::kernel

// The explicit instantiations of this file for one arch (see arch/instantiate.hpp).
#define QLITE_GEMM_KERNELS(PREFIX, ARCH)                                                                    \
  PREFIX void qlite::kernel::gemm_panels<ARCH>(const qlite::detail::gemm_args&, std::size_t,                \
                                               std::size_t) noexcept;                                       \
  PREFIX void qlite::kernel::gemm_quantize_activations<ARCH>(const float*, std::size_t, std::size_t,        \
                                                             std::size_t, std::size_t, std::size_t,         \
                                                             std::int8_t*, float*, std::int32_t*) noexcept; \
  PREFIX void qlite::kernel::gemm_split_digits<ARCH>(const float*, std::size_t, std::size_t, std::size_t,   \
                                                     std::size_t, std::size_t, std::int8_t*, float*,        \
                                                     std::int32_t*) noexcept;                               \
  PREFIX void qlite::kernel::gemm_round_bf16<ARCH>(const float*, std::size_t, std::size_t, std::size_t,     \
                                                   std::size_t, std::uint16_t*, bool) noexcept;
