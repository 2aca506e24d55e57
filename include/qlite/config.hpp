// qlite — configuration and portability macros.
//
// User switches (define before including qlite):
//   QLITE_RUNTIME_DISPATCH  set by the CMake helper qlite_enable_runtime_dispatch(); the
//                           kernels of every instruction set come from per-arch TUs and the
//                           best one the CPU has is chosen at run time (QLITE_ARCH overrides).
//   QLITE_NO_ASSERT         compile out QLITE_ASSERT (internal invariants; never user input).
#pragma once

#include <cstdio>
#include <cstdlib>

#if defined(_MSC_VER)
#define QLITE_RESTRICT __restrict
#define QLITE_FORCE_INLINE __forceinline
#else
#define QLITE_RESTRICT __restrict__
#define QLITE_FORCE_INLINE inline __attribute__((always_inline))
#endif

#if defined(__x86_64__) || defined(_M_X64)
#define QLITE_X86_64 1
#elif defined(__aarch64__) || defined(_M_ARM64)
#define QLITE_AARCH64 1
#endif

// Internal invariants only: user input is validated with qlite::error at the borders.
#if defined(QLITE_NO_ASSERT)
#define QLITE_ASSERT(cond) ((void)0)
#else
#define QLITE_ASSERT(cond)                                                                                   \
  ((cond)                                                                                                    \
       ? (void)0                                                                                             \
       : (std::fprintf(stderr, "qlite: internal assertion failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__), \
          std::abort()))
#endif
