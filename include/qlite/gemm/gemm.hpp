// qlite — qlite::gemm: y = act(output_scale · x · Wᵀ + bias) over prepacked weights.
//
// Contract
//   gemm(x, packed, y, params)
//     x       M × K fp32 (any row stride), finite
//     packed  packed_weights<Format> of an N × K weight matrix (qlite::prepack, once)
//     y       M × N fp32 (any row stride), written, never read
//     params  mode (weight_only | int8_activations | bf16_activations), bias (N or empty),
//             output_scale, fused activation (none | silu | gelu), threads (0 = default)
//   Results: exactly ref::gemm (gemm/reference.hpp defines every operation) for every arch and
//   thread count, fused SiLU/GELU included; only bf16_activations on AVX512-BF16 hardware
//   differs (vdpbf16ps flushes bf16 subnormals: ≤ 2·K·2^-24·Σ|x·w|).
//   Errors (qlite::error): shapes that do not match (invalid_argument, naming both), a mode
//   the format cannot run (unsupported). A missing instruction set is reported by the
//   dispatcher (QLITE_ARCH), never SIGILL.
//
// How (docs/gemm.md): one SIMD lane per output channel over 16-row panels; int8 activations
// are quantized once per call (per row, symmetric, amax/127) into a buffer (weight_only on
// integer weights: split into four int8 digit planes, the same tiles); VNNI vpdpbusd
// multiplies the unsigned weight codes by the signed activation codes, and the zero code is
// removed once per group with the group's activation sum (d = Σ u·x − z·Σx, exact). Threads
// split the panels (output channels) and, for M ≥ 32, the rows of x they quantize, so any
// thread count gives identical bits.
//
// Cost: weights are streamed once per call (M ≤ 2: memory bound, bytes() per call); register
// tiles of up to 6 rows × 32 channels (AVX-512) for M > 2. Per call: O(M·K) to stage/quantize x,
// plus the GEMM.
//
//   auto w = qlite::prepack<qlite::q4_0_format>(blocks, 4096, 4096);   // once
//   qlite::gemm_params p{.mode = qlite::gemm_mode::int8_activations};  // W4A8
//   qlite::gemm(qlite::matrix_view<const float>(x.data(), 1, 4096), w,
//               qlite::matrix_view<float>(y.data(), 1, 4096), p);
#pragma once

#include <cstddef>
#include <cstdint>

#include "qlite/core/cpu_features.hpp"
#include "qlite/core/dispatch.hpp"
#include "qlite/core/matrix_view.hpp"
#include "qlite/core/parallel_for.hpp"
#include "qlite/gemm/gemm_params.hpp"
#include "qlite/gemm/packed_weights.hpp"
#include "qlite/gemm/reference.hpp"

#include "qlite/arch/gemm_kernels_decl.hpp"
#if defined(QLITE_RUNTIME_DISPATCH)
QLITE_DECLARE_RUNTIME_KERNELS(QLITE_GEMM_KERNELS)
#else
#include "qlite/arch/gemm_kernels.hpp"
#endif

namespace qlite {

/// y = act(output_scale · x · Wᵀ + bias) with W = packed (see the file comment).
template <class Format>
void gemm(matrix_view<const float> x, const packed_weights<Format>& w, matrix_view<float> y,
          const gemm_params& params = {}) {
  detail::gemm_call c = detail::make_gemm_call(x, w.storage(), y, params, Format::name());
  const detail::packed_storage& s = w.storage();
  c.args.use_dpbf16 = cpu().avx512_bf16;
  const arch_id path = active_arch();
  c.args.use_avxvnni = path == arch_id::avxvnni;
  c.args.use_dotprod = path == arch_id::neon64_dotprod;
  const unsigned threads = params.threads ? params.threads : default_threads();
  dispatch([&](auto arch) {
    using A = decltype(arch);
    if constexpr (std::is_same_v<A, scalar_arch>) {
      if (params.mode == gemm_mode::int8_activations)
        ref::detail::quantize_activations<void>(x.data(), x.stride(), x.rows(), s.cols, s.k_padded, s.group,
                                                c.xq, c.x_scale, c.x_gsum);
      else if (c.xq)
        ref::detail::split_activations<void>(x.data(), x.stride(), x.rows(), s.cols, s.k_padded, s.group,
                                             c.xq, c.x_scale, c.x_gsum);
      else if (params.mode == gemm_mode::bf16_activations)
        ref::detail::round_activations_bf16<void>(x.data(), x.stride(), x.rows(), s.cols, s.k_padded, c.xb);
      parallel_for(
          s.panels, [&](std::size_t p0, std::size_t p1) { ref::detail::gemm_panels<void>(c.args, p0, p1); },
          threads);
    } else {
      if (c.xq) {
        // Rows are independent: split them too at prefill sizes (serial, they were ≈ 5 % of a
        // 2-thread W8A8 prefill); decode keeps one thread. weight_only: 4 digit planes per row.
        const bool planes = params.mode == gemm_mode::weight_only;
        const std::size_t pr = planes ? 4 : 1;
        const auto quantize = [&](std::size_t r0, std::size_t r1) {
          (planes ? kernel::gemm_split_digits<A>
                  : kernel::gemm_quantize_activations<A>)(x.data() + r0 * x.stride(), x.stride(), r1 - r0,
                                                          s.cols, s.k_padded, s.group,
                                                          c.xq + pr * r0 * s.k_padded, c.x_scale + r0,
                                                          c.x_gsum + pr * r0 * s.groups);
        };
        parallel_for(x.rows(), quantize, x.rows() >= 32 ? threads : 1U);
      } else if (params.mode == gemm_mode::bf16_activations) {
        kernel::gemm_round_bf16<A>(x.data(), x.stride(), x.rows(), s.cols, s.k_padded, c.xb,
                                   c.args.use_dpbf16);
      }
      parallel_for(
          s.panels, [&](std::size_t p0, std::size_t p1) { kernel::gemm_panels<A>(c.args, p0, p1); }, threads);
    }
  });
}

}  // namespace qlite
