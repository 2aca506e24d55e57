// qlite — choosing the instruction set a kernel runs on.
//
// Every kernel whose code depends on the instruction set is a template on an *arch tag*
// (xsimd's `xsimd::avx2`, `xsimd::avx512bw`, `xsimd::neon64`, … plus qlite's own
// `qlite::avx512vnni` and `qlite::scalar_arch`, the reference C++ of `qlite::ref`).
// `qlite::dispatch(f)` calls `f(tag)` with the tag of the *active* arch:
//
//   * static dispatch (the default for a plain `#include <qlite/qlite.hpp>`): the kernels are
//     compiled once, for the including TU's flags; the active arch is that one
//     (`xsimd::default_arch`, e.g. sse2 without flags, avx512bw with -march=native).
//   * runtime dispatch (`QLITE_RUNTIME_DISPATCH`, set by the CMake helper
//     `qlite_enable_runtime_dispatch(target)`): per-arch TUs provide every instruction set of
//     the platform and the active arch is the best one the CPU has.
//
// In both, the environment variable QLITE_ARCH=scalar|sse2|sse4_2|avx2|avxvnni|avx512bw|
// avx512vnni|neon64|neon64_dotprod forces a path (read once, at first use); `set_active_arch`
// does the same from code (tests run every path that way). Asking for a path this build lacks,
// or this CPU cannot run, throws `qlite::error` (errc::arch_unavailable) naming it: never SIGILL.
// `avxvnni` (AVX2 + AVX-VNNI's VEX vpdpbusd) and `neon64_dotprod` (NEON + sdot) are paths of
// their own on the avx2 / neon64 kernels: their int8 tiles pick those instructions at run time
// (gemm_args), so `avx2` and `neon64` name the paths without the extension.
//
//   for (qlite::arch_id a : qlite::available_archs()) {
//     qlite::set_active_arch(a);
//     run_and_compare();        // every path against qlite::ref
//   }
#pragma once

#include <array>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "qlite/config.hpp"
#include "qlite/core/cpu_features.hpp"
#include "qlite/core/error.hpp"

namespace qlite {

/// The reference path: portable C++ in `qlite::ref`, the definition every kernel matches.
struct scalar_arch {
  static constexpr char const* name() noexcept { return "scalar"; }
};

#if defined(QLITE_X86_64)
/// AVX-512 with VNNI (vpdpbusd). xsimd 8.1 has no such arch; its float kernels are
/// avx512bw's (inheritance), its int8 dot-product kernels use VNNI intrinsics.
struct avx512vnni : xsimd::avx512bw {
  static constexpr char const* name() noexcept { return "avx512vnni"; }
};
#endif

/// Whether this compiler can build functions for AVX-VNNI (`target("avxvnni")`: GCC 11, clang 12).
#if defined(QLITE_X86_64) && \
    (defined(__clang__) ? __clang_major__ >= 12 : (defined(__GNUC__) && __GNUC__ >= 11))
#define QLITE_HAVE_AVXVNNI_TARGET 1
#endif

/// The xsimd arch whose `batch` types a kernel for `Arch` uses.
template <class Arch>
struct simd_arch {
  using type = Arch;
};
#if defined(QLITE_X86_64)
template <>
struct simd_arch<avx512vnni> {
  using type = xsimd::avx512bw;
};
#endif
template <class Arch>
using simd_arch_t = typename simd_arch<Arch>::type;

/// The paths qlite knows, from slowest to fastest within a platform.
enum class arch_id : unsigned char {
  scalar,
  sse2,
  sse4_2,
  avx2,
  avxvnni,
  avx512bw,
  avx512vnni,
  neon64,
  neon64_dotprod
};

inline constexpr std::array<arch_id, 9> all_arch_ids = {
    arch_id::scalar,   arch_id::sse2,       arch_id::sse4_2, arch_id::avx2,          arch_id::avxvnni,
    arch_id::avx512bw, arch_id::avx512vnni, arch_id::neon64, arch_id::neon64_dotprod};

constexpr std::string_view to_string(arch_id a) noexcept {
  switch (a) {
    case arch_id::scalar:
      return "scalar";
    case arch_id::sse2:
      return "sse2";
    case arch_id::sse4_2:
      return "sse4_2";
    case arch_id::avx2:
      return "avx2";
    case arch_id::avxvnni:
      return "avxvnni";
    case arch_id::avx512bw:
      return "avx512bw";
    case arch_id::avx512vnni:
      return "avx512vnni";
    case arch_id::neon64:
      return "neon64";
    case arch_id::neon64_dotprod:
      return "neon64_dotprod";
  }
  return "unknown";
}

/// Whether this CPU can execute the path (scalar: always).
inline bool cpu_supports(arch_id a) noexcept {
  const cpu_features& f = cpu();
  switch (a) {
    case arch_id::scalar:
      return true;
#if defined(QLITE_X86_64)
    case arch_id::sse2:
      return true;
#else
    case arch_id::sse2:
      return false;
#endif
    case arch_id::sse4_2:
      return f.sse4_2;
    case arch_id::avx2:
      return f.avx2 && f.fma && f.f16c;
    case arch_id::avxvnni:
      return cpu_supports(arch_id::avx2) && f.avx_vnni;
    case arch_id::avx512bw:
      return f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl && f.avx512cd;
    case arch_id::avx512vnni:
      return cpu_supports(arch_id::avx512bw) && f.avx512_vnni;
    case arch_id::neon64:
      return f.neon;
    case arch_id::neon64_dotprod:
      return f.neon && f.dotprod;
  }
  return false;
}

namespace detail {

/// The arch id of the flags this TU was compiled with (static dispatch).
constexpr arch_id static_arch_id() noexcept {
#if defined(QLITE_X86_64)
  using A = xsimd::default_arch;
  if constexpr (std::is_base_of_v<xsimd::avx512bw, A>) {
#if defined(__AVX512VNNI__)
    return arch_id::avx512vnni;
#else
    return arch_id::avx512bw;
#endif
  } else if constexpr (std::is_base_of_v<xsimd::avx2, A> && std::is_base_of_v<xsimd::fma3<xsimd::avx2>, A>) {
#if defined(__AVXVNNI__)
    return arch_id::avxvnni;
#else
    return arch_id::avx2;
#endif
  } else if constexpr (std::is_base_of_v<xsimd::sse4_2, A>) {
    return arch_id::sse4_2;
  } else {
    return arch_id::sse2;
  }
#elif defined(QLITE_AARCH64) && defined(__ARM_FEATURE_DOTPROD)
  return arch_id::neon64_dotprod;
#elif defined(QLITE_AARCH64)
  return arch_id::neon64;
#else
  return arch_id::scalar;
#endif
}

/// Whether kernels for `a` are compiled into this program.
constexpr bool arch_compiled(arch_id a) noexcept {
  if (a == arch_id::scalar) return true;
#if defined(QLITE_RUNTIME_DISPATCH)
  switch (a) {
#if defined(QLITE_HAVE_ARCH_SSE4_2)
    case arch_id::sse4_2:
      return true;
#endif
#if defined(QLITE_HAVE_ARCH_AVX2)
    case arch_id::avx2:
      return true;
#if defined(QLITE_HAVE_AVXVNNI_TARGET)
    case arch_id::avxvnni:  // the avx2 kernels' target("avxvnni") tiles
      return true;
#endif
#endif
#if defined(QLITE_HAVE_ARCH_AVX512BW)
    case arch_id::avx512bw:
      return true;
#endif
#if defined(QLITE_HAVE_ARCH_AVX512VNNI)
    case arch_id::avx512vnni:
      return true;
#endif
#if defined(QLITE_HAVE_ARCH_NEON64)
    case arch_id::neon64:
    case arch_id::neon64_dotprod:  // the neon64 kernels' sdot tiles
      return true;
#endif
    default:
      return false;
  }
#else
  return a == static_arch_id();
#endif
}

inline arch_id parse_arch(std::string_view name) {
  for (arch_id a : all_arch_ids)
    if (to_string(a) == name) return a;
  throw error(errc::invalid_argument,
              "QLITE_ARCH=" + std::string(name) +
                  " is not an arch name; expected one of scalar, sse2, sse4_2, avx2, avxvnni, "
                  "avx512bw, avx512vnni, neon64, neon64_dotprod");
}

inline void require_arch(arch_id a) {
  if (!arch_compiled(a))
    throw error(errc::arch_unavailable,
                "arch " + std::string(to_string(a)) +
                    " is not compiled into this program (static dispatch provides scalar and " +
                    std::string(to_string(static_arch_id())) +
                    "; link the per-arch kernels with qlite_enable_runtime_dispatch())");
  if (!cpu_supports(a))
    throw error(errc::arch_unavailable,
                "arch " + std::string(to_string(a)) + " is not supported by this CPU");
}

inline arch_id best_arch() noexcept {
  arch_id best = arch_id::scalar;
  for (arch_id a : all_arch_ids)
    if (arch_compiled(a) && cpu_supports(a)) best = a;  // ids grow with speed per platform
  return best;
}

inline arch_id& active_arch_storage() {
  static arch_id a = [] {
    if (const char* env = std::getenv("QLITE_ARCH"); env && *env) {
      const arch_id forced = parse_arch(env);
      require_arch(forced);
      return forced;
    }
    return best_arch();
  }();
  return a;
}

}  // namespace detail

/// The paths this program can run on this CPU, scalar first.
inline std::vector<arch_id> available_archs() {
  std::vector<arch_id> v;
  for (arch_id a : all_arch_ids)
    if (detail::arch_compiled(a) && cpu_supports(a)) v.push_back(a);
  return v;
}

/// The path qlite's kernels use (QLITE_ARCH, else the best available). Throws qlite::error
/// if QLITE_ARCH names an unknown or unavailable path.
inline arch_id active_arch() { return detail::active_arch_storage(); }

/// Forces the path for the whole process (not thread-safe against running kernels).
inline void set_active_arch(arch_id a) {
  detail::require_arch(a);
  detail::active_arch_storage() = a;
}

/// Calls `f(tag)` with the arch tag of `a` (default: the active arch) and returns its result.
template <class F>
decltype(auto) dispatch(F&& f, arch_id a = active_arch()) {
  switch (a) {
#if defined(QLITE_RUNTIME_DISPATCH)
#if defined(QLITE_HAVE_ARCH_SSE4_2)
    case arch_id::sse4_2:
      return f(xsimd::sse4_2{});
#endif
#if defined(QLITE_HAVE_ARCH_AVX2)
    case arch_id::avx2:
    case arch_id::avxvnni:
      return f(xsimd::fma3<xsimd::avx2>{});
#endif
#if defined(QLITE_HAVE_ARCH_AVX512BW)
    case arch_id::avx512bw:
      return f(xsimd::avx512bw{});
#endif
#if defined(QLITE_HAVE_ARCH_AVX512VNNI)
    case arch_id::avx512vnni:
      return f(avx512vnni{});
#endif
#if defined(QLITE_HAVE_ARCH_NEON64)
    case arch_id::neon64:
    case arch_id::neon64_dotprod:
      return f(xsimd::neon64{});
#endif
#else
    case detail::static_arch_id():
#if defined(QLITE_X86_64) && defined(__AVX512VNNI__) && defined(__AVX512BW__)
      return f(avx512vnni{});
#elif defined(QLITE_X86_64) || defined(QLITE_AARCH64)
      return f(xsimd::default_arch{});
#else
      return f(scalar_arch{});
#endif
#endif
    default:
      return f(scalar_arch{});
  }
}

}  // namespace qlite

/// Expands `MACRO(extern template, TAG)` for every arch whose kernels come from a per-arch TU
/// (runtime dispatch): headers use it to declare those explicit instantiations.
#if defined(QLITE_RUNTIME_DISPATCH)
#if defined(QLITE_HAVE_ARCH_SSE4_2)
#define QLITE_DETAIL_EXTERN_SSE4_2(M) M(extern template, xsimd::sse4_2)
#else
#define QLITE_DETAIL_EXTERN_SSE4_2(M)
#endif
#if defined(QLITE_HAVE_ARCH_AVX2)
#define QLITE_DETAIL_EXTERN_AVX2(M) M(extern template, xsimd::fma3<xsimd::avx2>)
#else
#define QLITE_DETAIL_EXTERN_AVX2(M)
#endif
#if defined(QLITE_HAVE_ARCH_AVX512BW)
#define QLITE_DETAIL_EXTERN_AVX512BW(M) M(extern template, xsimd::avx512bw)
#else
#define QLITE_DETAIL_EXTERN_AVX512BW(M)
#endif
#if defined(QLITE_HAVE_ARCH_AVX512VNNI)
#define QLITE_DETAIL_EXTERN_AVX512VNNI(M) M(extern template, qlite::avx512vnni)
#else
#define QLITE_DETAIL_EXTERN_AVX512VNNI(M)
#endif
#if defined(QLITE_HAVE_ARCH_NEON64)
#define QLITE_DETAIL_EXTERN_NEON64(M) M(extern template, xsimd::neon64)
#else
#define QLITE_DETAIL_EXTERN_NEON64(M)
#endif
// clang-format off
#define QLITE_DECLARE_RUNTIME_KERNELS(M) \
  QLITE_DETAIL_EXTERN_SSE4_2(M) QLITE_DETAIL_EXTERN_AVX2(M) QLITE_DETAIL_EXTERN_AVX512BW(M) \
  QLITE_DETAIL_EXTERN_AVX512VNNI(M) QLITE_DETAIL_EXTERN_NEON64(M)
// clang-format on
#else
#define QLITE_DECLARE_RUNTIME_KERNELS(M)
#endif
