// qlite — packing b-bit codes into bytes, and back.
//
// The layout (one row; quantized_tensor.hpp and docs/formats.md draw it):
//   8 bits  byte j = u[j]
//   4 bits  byte j = u[2j] | u[2j+1] << 4                      (low nibble first)
//   2 bits  byte j = u[4j] | u[4j+1] << 2 | u[4j+2] << 4 | u[4j+3] << 6
//   3, 5, 6, 7 bits  little-endian bit stream: code j at bits [j·b, j·b + b), bit 0 the LSB
//           of byte 0.
// `pack` writes packed_bytes(n, bits) bytes (unused high bits zero) from n codes in
// [0, 2^bits); `unpack` is its inverse. Both are templates on the arch tag so that each
// per-arch TU compiles its own copy: plain loops the compiler vectorizes for that arch, and
// for 8 and 4 bits on AVX-512 a narrowing kernel (vpmovdb).
//
//   std::int32_t u[5] = {1, 2, 3, 4, 5};
//   std::uint8_t out[qlite::packed_bytes(5, 4)];
//   qlite::pack<qlite::scalar_arch>(u, 5, 4, out);    // {0x21, 0x43, 0x05}
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qlite/core/dispatch.hpp"
#if defined(QLITE_X86_64)
#include <immintrin.h>  // the AVX-512 kernel below is compiled only for AVX-512 arch tags
#endif
#include "qlite/quant/quantized_tensor.hpp"

namespace qlite {

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(): a false -Wmaybe-uninitialized
// in every function that inlines them (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
namespace detail {
// AVX-512BW: narrow 16 codes per instruction (vpmovdb), nibbles joined in 16-bit lanes.
// Returns how many codes it packed (a multiple of 32); the caller packs the rest.
template <class Arch>
std::size_t pack_wide(const std::int32_t* u, std::size_t n, int bits, std::uint8_t* out) noexcept {
#if defined(QLITE_X86_64)
  if constexpr (std::is_base_of_v<xsimd::avx512bw, simd_arch_t<Arch>>) {
    std::size_t j = 0;
    if (bits == 8) {
      for (; j + 16 <= n; j += 16)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + j),
                         _mm512_cvtepi32_epi8(_mm512_loadu_si512(static_cast<const void*>(u + j))));
      return j;
    }
    if (bits == 4) {
      const __m256i low = _mm256_set1_epi16(0x000F), high = _mm256_set1_epi16(0x00F0);
      for (; j + 32 <= n; j += 32) {
        const __m128i a = _mm512_cvtepi32_epi8(_mm512_loadu_si512(static_cast<const void*>(u + j)));
        const __m128i b = _mm512_cvtepi32_epi8(_mm512_loadu_si512(static_cast<const void*>(u + j + 16)));
        const __m256i x = _mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1);  // 32 codes, 1 per byte
        // 16-bit lane k holds codes 2k (low byte) and 2k+1 (high byte): join them as nibbles.
        const __m256i y =
            _mm256_or_si256(_mm256_and_si256(x, low), _mm256_and_si256(_mm256_srli_epi16(x, 4), high));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + j / 2), _mm256_cvtepi16_epi8(y));
      }
      return j;
    }
  }
#endif
  (void)u;
  (void)n;
  (void)bits;
  (void)out;
  return 0;
}
}  // namespace detail
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace detail {
// The portable loops, also the tail after pack_wide: a template on Arch like pack itself, so
// that an arch TU never emits a copy of another arch's instantiation compiled with its own
// flags (pack<scalar_arch> built with AVX-512 flags could be the copy the linker keeps).
template <class Arch>
void pack_codes(const std::int32_t* u, std::size_t n, int bits, std::uint8_t* out) noexcept {
  switch (bits) {
    case 8:
      for (std::size_t j = 0; j < n; ++j) out[j] = static_cast<std::uint8_t>(u[j]);
      return;
    case 4: {
      // Two int32 codes read as one little-endian uint64 v = lo | hi << 32 (both < 16):
      // (v | v >> 28) & 0xFF == lo | hi << 4. A 64 → 8 bit narrowing the compiler vectorizes.
      const std::size_t pairs = n / 2;
      for (std::size_t j = 0; j < pairs; ++j) {
        std::uint64_t v;
        std::memcpy(&v, u + 2 * j, sizeof v);
        out[j] = static_cast<std::uint8_t>(v | (v >> 28));
      }
      if (n % 2) out[pairs] = static_cast<std::uint8_t>(u[n - 1]);
      return;
    }
    case 2: {
      const std::size_t quads = n / 4;
      for (std::size_t j = 0; j < quads; ++j) {
        std::uint64_t a, b;  // a = u0 | u1 << 32, b = u2 | u3 << 32, all < 4
        std::memcpy(&a, u + 4 * j, sizeof a);
        std::memcpy(&b, u + 4 * j + 2, sizeof b);
        out[j] = static_cast<std::uint8_t>(a | (a >> 30) | (b << 4) | (b >> 26));
      }
      if (n % 4) {
        unsigned b = 0;
        for (std::size_t k = 0; k < n % 4; ++k) b |= static_cast<unsigned>(u[4 * quads + k]) << (2 * k);
        out[quads] = static_cast<std::uint8_t>(b);
      }
      return;
    }
    default: {
      // Bit stream: accumulate codes in a 64-bit register, flush whole bytes.
      std::uint64_t acc = 0;
      int filled = 0;
      std::size_t o = 0;
      for (std::size_t j = 0; j < n; ++j) {
        acc |= static_cast<std::uint64_t>(static_cast<std::uint32_t>(u[j])) << filled;
        filled += bits;
        while (filled >= 8) {
          out[o++] = static_cast<std::uint8_t>(acc);
          acc >>= 8;
          filled -= 8;
        }
      }
      if (filled > 0) out[o] = static_cast<std::uint8_t>(acc);
      return;
    }
  }
}
}  // namespace detail

template <class Arch>
void pack(const std::int32_t* u, std::size_t n, int bits, std::uint8_t* out) noexcept {
  const std::size_t done = detail::pack_wide<Arch>(u, n, bits, out);
  detail::pack_codes<Arch>(u + done, n - done, bits, out + done * static_cast<std::size_t>(bits) / 8);
}

template <class Arch>
void unpack(const std::uint8_t* in, std::size_t n, int bits, std::int32_t* u) noexcept {
  switch (bits) {
    case 8:
      for (std::size_t j = 0; j < n; ++j) u[j] = in[j];
      return;
    case 4: {
      const std::size_t pairs = n / 2;
      for (std::size_t j = 0; j < pairs; ++j) {
        u[2 * j] = in[j] & 15;
        u[2 * j + 1] = in[j] >> 4;
      }
      if (n % 2) u[n - 1] = in[pairs] & 15;
      return;
    }
    case 2: {
      const std::size_t quads = n / 4;
      for (std::size_t j = 0; j < quads; ++j) {
        const int b = in[j];
        u[4 * j] = b & 3;
        u[4 * j + 1] = (b >> 2) & 3;
        u[4 * j + 2] = (b >> 4) & 3;
        u[4 * j + 3] = b >> 6;
      }
      for (std::size_t k = 0; k < n % 4; ++k) u[4 * quads + k] = (in[quads] >> (2 * k)) & 3;
      return;
    }
    default: {
      const std::uint32_t mask = (1U << bits) - 1U;
      std::uint64_t acc = 0;
      int filled = 0;
      std::size_t i = 0;
      const std::size_t nbytes = packed_bytes(n, bits);
      for (std::size_t j = 0; j < n; ++j) {
        while (filled < bits) {  // every byte read lies inside the packed row
          acc |= static_cast<std::uint64_t>(i < nbytes ? in[i] : 0) << filled;
          ++i;
          filled += 8;
        }
        u[j] = static_cast<std::int32_t>(acc & mask);
        acc >>= bits;
        filled -= bits;
      }
      return;
    }
  }
}

}  // namespace qlite

// Explicit instantiations for one arch (arch/instantiate.hpp); with runtime dispatch the
// per-arch TUs provide them, so a baseline TU never compiles another arch's kernel.
#define QLITE_PACKING_KERNELS(PREFIX, ARCH)                                                     \
  PREFIX void qlite::pack<ARCH>(const std::int32_t*, std::size_t, int, std::uint8_t*) noexcept; \
  PREFIX void qlite::unpack<ARCH>(const std::uint8_t*, std::size_t, int, std::int32_t*) noexcept;
QLITE_DECLARE_RUNTIME_KERNELS(QLITE_PACKING_KERNELS)
