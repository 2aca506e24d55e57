// qlite — what the running CPU can execute.
//
// `qlite::cpu()` reads the CPU once (CPUID and XGETBV on x86-64, so an instruction set also
// needs the OS to save its registers; the auxiliary vector on AArch64 Linux) and returns the
// flags below. xsimd 8.1 cannot see VNNI, AVX-VNNI or AVX512-BF16, hence this header.
//
//   if (qlite::cpu().avx512_vnni) { /* vpdpbusd is available */ }
#pragma once

#include "qlite/config.hpp"

#if defined(QLITE_X86_64)
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#elif defined(QLITE_AARCH64) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace qlite {

/// Instruction-set extensions usable on this CPU (and enabled by the OS).
struct cpu_features {
  bool sse4_2 = false;
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512dq = false;
  bool avx512cd = false;
  bool avx512vl = false;
  bool avx512_vnni = false;  ///< vpdpbusd on zmm (CPUID.7.0:ECX bit 11)
  bool avx_vnni = false;     ///< VEX-encoded vpdpbusd on ymm (CPUID.7.1:EAX bit 4)
  bool avx512_bf16 = false;  ///< vdpbf16ps, vcvtne2ps2bf16 (CPUID.7.1:EAX bit 5)
  bool neon = false;         ///< Advanced SIMD (always on AArch64)
  bool dotprod = false;      ///< sdot/udot (Armv8.2 DotProd)
};

namespace detail {

#if defined(QLITE_X86_64)
struct cpuid_regs {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
};
inline cpuid_regs cpuid(unsigned leaf, unsigned subleaf) noexcept {
  cpuid_regs r;
#if defined(_MSC_VER)
  int v[4];
  __cpuidex(v, static_cast<int>(leaf), static_cast<int>(subleaf));
  r = {static_cast<unsigned>(v[0]), static_cast<unsigned>(v[1]), static_cast<unsigned>(v[2]),
       static_cast<unsigned>(v[3])};
#else
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
#endif
  return r;
}
inline unsigned long long xgetbv0() noexcept {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
#endif
}
#endif

inline cpu_features detect_cpu_features() noexcept {
  cpu_features f;
#if defined(QLITE_X86_64)
  auto bit = [](unsigned v, int b) { return ((v >> b) & 1U) != 0; };
  const unsigned max_leaf = cpuid(0, 0).eax;
  const cpuid_regs l1 = cpuid(1, 0);
  f.sse4_2 = bit(l1.ecx, 20);
  const bool osxsave = bit(l1.ecx, 27);
  const unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
  const bool os_avx = (xcr0 & 0x6) == 0x6;       // XMM and YMM state
  const bool os_avx512 = (xcr0 & 0xE6) == 0xE6;  // plus opmask and ZMM state
  f.fma = os_avx && bit(l1.ecx, 12);
  f.f16c = os_avx && bit(l1.ecx, 29);
  if (max_leaf >= 7) {
    const cpuid_regs l7 = cpuid(7, 0);
    f.avx2 = os_avx && bit(l7.ebx, 5);
    f.avx512f = os_avx512 && bit(l7.ebx, 16);
    f.avx512dq = f.avx512f && bit(l7.ebx, 17);
    f.avx512cd = f.avx512f && bit(l7.ebx, 28);
    f.avx512bw = f.avx512f && bit(l7.ebx, 30);
    f.avx512vl = f.avx512f && bit(l7.ebx, 31);
    f.avx512_vnni = f.avx512f && bit(l7.ecx, 11);
    if (l7.eax >= 1) {
      const cpuid_regs l71 = cpuid(7, 1);
      f.avx_vnni = os_avx && bit(l71.eax, 4);
      f.avx512_bf16 = f.avx512f && bit(l71.eax, 5);
    }
  }
#elif defined(QLITE_AARCH64)
  f.neon = true;
#if defined(__linux__)
  f.dotprod = (getauxval(AT_HWCAP) & (1UL << 20)) != 0;  // HWCAP_ASIMDDP
#elif defined(__ARM_FEATURE_DOTPROD)
  f.dotprod = true;
#endif
#endif
  return f;
}

}  // namespace detail

/// The features of the CPU this process runs on (read once, thread-safe).
inline const cpu_features& cpu() noexcept {
  static const cpu_features f = detail::detect_cpu_features();
  return f;
}

}  // namespace qlite
