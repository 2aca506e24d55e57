// qlite — declarations of the quantization kernels (definitions: arch/quant_kernels.hpp),
// and the list of their explicit instantiations for one arch.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qlite/quant/packing.hpp"
#include "qlite/quant/quant_params.hpp"

namespace qlite::kernel {
template <class Arch>
std::size_t row_ranges(const float*, std::size_t, std::size_t, float*, float*) noexcept;
template <class Arch>
void quantize_row(const float*, std::size_t, std::size_t, const group_coder*, int, int,
                  std::int32_t*) noexcept;
template <class Arch>
std::size_t quantize_row_derived(const float*, std::size_t, std::size_t, scheme_id, int, float, float*,
                                 std::uint8_t*, std::int32_t*) noexcept;
template <class Arch>
void dequantize_row(const std::int32_t*, std::size_t, std::size_t, const group_coder*, float*) noexcept;
template <class Arch>
void fake_quantize_row(const float*, std::size_t, std::size_t, const group_coder*, int, int, float*,
                       std::uint8_t*) noexcept;
}  // namespace qlite::kernel

// The explicit instantiations of this file for one arch (see arch/instantiate.hpp).
#define QLITE_QUANT_KERNELS(PREFIX, ARCH)                                                                   \
  PREFIX std::size_t qlite::kernel::row_ranges<ARCH>(const float*, std::size_t, std::size_t, float*,        \
                                                     float*) noexcept;                                      \
  PREFIX void qlite::kernel::quantize_row<ARCH>(                                                            \
      const float*, std::size_t, std::size_t, const qlite::group_coder*, int, int, std::int32_t*) noexcept; \
  PREFIX std::size_t qlite::kernel::quantize_row_derived<ARCH>(const float*, std::size_t, std::size_t,      \
                                                               qlite::scheme_id, int, float, float*,        \
                                                               std::uint8_t*, std::int32_t*) noexcept;      \
  PREFIX void qlite::kernel::dequantize_row<ARCH>(const std::int32_t*, std::size_t, std::size_t,            \
                                                  const qlite::group_coder*, float*) noexcept;              \
  PREFIX void qlite::kernel::fake_quantize_row<ARCH>(const float*, std::size_t, std::size_t,                \
                                                     const qlite::group_coder*, int, int, float*,           \
                                                     std::uint8_t*) noexcept;
