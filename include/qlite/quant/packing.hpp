// qlite — packing b-bit codes into bytes, and back.
//
// The layout (one row; quantized_tensor.hpp and docs/formats.md draw it):
//   8 bits  byte j = u[j]
//   4 bits  byte j = u[2j] | u[2j+1] << 4                      (low nibble first)
//   2 bits  byte j = u[4j] | u[4j+1] << 2 | u[4j+2] << 4 | u[4j+3] << 6
//   3, 5, 6, 7 bits  little-endian bit stream: code j at bits [j·b, j·b + b), bit 0 the LSB
//           of byte 0.
// `pack` writes packed_bytes(n, bits) bytes (unused high bits zero) from n codes in
// [0, 2^bits); `unpack` is its inverse. Both are templates on the arch tag only so that each
// per-arch TU compiles its own copy (plain loops the compiler vectorizes for that arch).
//
//   std::int32_t u[5] = {1, 2, 3, 4, 5};
//   std::uint8_t out[qlite::packed_bytes(5, 4)];
//   qlite::pack<qlite::scalar_arch>(u, 5, 4, out);    // {0x21, 0x43, 0x05}
#pragma once

#include <cstddef>
#include <cstdint>

#include "qlite/quant/quantized_tensor.hpp"

namespace qlite {

template <class Arch>
void pack(const std::int32_t* u, std::size_t n, int bits, std::uint8_t* out) noexcept {
  switch (bits) {
    case 8:
      for (std::size_t j = 0; j < n; ++j) out[j] = static_cast<std::uint8_t>(u[j]);
      return;
    case 4: {
      const std::size_t pairs = n / 2;
      for (std::size_t j = 0; j < pairs; ++j)
        out[j] = static_cast<std::uint8_t>(u[2 * j] | (u[2 * j + 1] << 4));
      if (n % 2) out[pairs] = static_cast<std::uint8_t>(u[n - 1]);
      return;
    }
    case 2: {
      const std::size_t quads = n / 4;
      for (std::size_t j = 0; j < quads; ++j)
        out[j] = static_cast<std::uint8_t>(u[4 * j] | (u[4 * j + 1] << 2) | (u[4 * j + 2] << 4) |
                                           (u[4 * j + 3] << 6));
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
