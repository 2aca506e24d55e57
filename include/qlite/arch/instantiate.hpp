// qlite — explicit instantiation of every arch-templated kernel for one arch.
// Included only by the per-arch TUs that qlite_enable_runtime_dispatch() generates, which
// define QLITE_INSTANTIATE_ARCH to the arch tag and are compiled with that arch's flags.
// Each area adds one include + one instantiation macro line here.
#pragma once

#if !defined(QLITE_INSTANTIATE_ARCH)
#error "qlite/arch/instantiate.hpp is for the per-arch TUs of qlite_enable_runtime_dispatch()"
#endif

#include "qlite/core/dispatch.hpp"

static_assert(std::is_base_of_v<xsimd::default_arch, qlite::simd_arch_t<QLITE_INSTANTIATE_ARCH>> ||
                  std::is_base_of_v<qlite::simd_arch_t<QLITE_INSTANTIATE_ARCH>, xsimd::default_arch>,
              "qlite: this per-arch TU is compiled without the flags of its arch");

#include "qlite/arch/convert_kernels.hpp"
QLITE_CONVERT_KERNELS(template, QLITE_INSTANTIATE_ARCH)
#include "qlite/arch/quant_kernels.hpp"
QLITE_QUANT_KERNELS(template, QLITE_INSTANTIATE_ARCH)
QLITE_PACKING_KERNELS(template, QLITE_INSTANTIATE_ARCH)
#include "qlite/arch/gemm_kernels.hpp"
QLITE_GEMM_KERNELS(template, QLITE_INSTANTIATE_ARCH)
