// qlite — the parameters of one qlite::gemm call.
//
// A call computes, for every output element (m, n):
//
//   y[m][n] = act( output_scale · dot(m, n) + bias[n] )
//
// where dot(m, n) = Σ_k x[m][k] · W[n][k] evaluated as `mode` says (gemm/reference.hpp
// spells out every float operation):
//
//   weight_only        x in fp32. Float formats: each weight widened to fp32, fp32 FMA along k.
//                      Integer formats: x held as 30-bit fixed point per row (sx = 2^e, every
//                      element within amax·2^-30, exact within a factor 64 of amax; a row with
//                      NaN/±inf gives NaN) in four int8 digit planes, so each group's dot
//                      product with the codes is exact integer arithmetic; per group one float
//                      fold · scale. As accurate as an fp32 FMA chain per weight (measured
//                      0.86–1.01× its rms error) at int8 dot-product speed. Every format.
//   int8_activations   W8A8 / W4A8: each row of x is quantized once per call to symmetric int8
//                      (scale = amax/127, round half to even, codes in [−127, 127]); the
//                      integer dot product of each weight group is exact in int32; the
//                      epilogue multiplies by the weight scale (per group) and the row scale.
//                      Integer formats only (int8, int4, Q8_0, Q4_0).
//   bf16_activations   bf16 weights only: x rounded to bf16 (half to even) once per call,
//                      products exact in fp32, fp32 accumulation (vdpbf16ps where the CPU
//                      has AVX512-BF16).
//
// act is none, SiLU (t / (1 + e^−t)) or GELU (0.5 t (1 + erf(t/√2)), the exact form).
//
//   qlite::gemm_params p;
//   p.mode = qlite::gemm_mode::int8_activations;   // W4A8 on a Q4_0 matrix
//   p.act = qlite::activation::silu;
//   p.bias = bias;                                 // N floats, or empty
//   qlite::gemm(x, packed, y, p);
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace qlite {

/// The activation fused into the epilogue.
enum class activation : std::uint8_t { none, silu, gelu };

/// How the dot products are evaluated (see the file comment).
enum class gemm_mode : std::uint8_t { weight_only, int8_activations, bf16_activations };

constexpr std::string_view to_string(activation a) noexcept {
  switch (a) {
    case activation::none:
      return "none";
    case activation::silu:
      return "silu";
    case activation::gelu:
      return "gelu";
  }
  return "unknown";
}

constexpr std::string_view to_string(gemm_mode m) noexcept {
  switch (m) {
    case gemm_mode::weight_only:
      return "weight_only";
    case gemm_mode::int8_activations:
      return "int8_activations";
    case gemm_mode::bf16_activations:
      return "bf16_activations";
  }
  return "unknown";
}

/// Everything a gemm call needs besides x, the packed weights and y.
struct gemm_params {
  gemm_mode mode = gemm_mode::weight_only;
  std::span<const float> bias = {};  ///< empty, or N values added after the output scale
  float output_scale = 1.0f;         ///< multiplies dot(m, n) before the bias
  activation act = activation::none;
  unsigned threads = 0;  ///< 0: qlite::default_threads()
};

}  // namespace qlite
