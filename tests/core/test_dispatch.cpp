#include "../test_util.hpp"

#include <algorithm>

#include <qlite/core/cpu_features.hpp>
#include <qlite/core/dispatch.hpp>

TEST_SUITE("core") {
  TEST_CASE("available archs start with scalar and are all runnable") {
    const auto archs = qlite::available_archs();
    REQUIRE(!archs.empty());
    CHECK(archs.front() == qlite::arch_id::scalar);
    for (auto a : archs) CHECK(qlite::cpu_supports(a));
    CHECK(qlite::detail::best_arch() == archs.back());
  }

  TEST_CASE("dispatch passes the tag of the requested arch") {
    for (auto a : qlite::available_archs()) {
      const std::string name =
          qlite::dispatch([](auto tag) { return std::string(decltype(tag)::name()); }, a);
      if (a == qlite::arch_id::scalar) CHECK(name == "scalar");
      if (a == qlite::arch_id::avx512vnni) CHECK(name == "avx512vnni");
      if (a == qlite::arch_id::avx512bw) CHECK(name == "avx512bw");
      if (a == qlite::arch_id::avx2 || a == qlite::arch_id::avxvnni) CHECK(name == "fma3+avx2");
      if (a == qlite::arch_id::neon64 || a == qlite::arch_id::neon64_dotprod) CHECK(name == "arm64+neon");
    }
  }

  TEST_CASE("the int8 dot-product paths are available where the CPU has them (avxvnni, neon64_dotprod)") {
    const auto archs = qlite::available_archs();
    const auto has = [&](qlite::arch_id a) {
      return std::find(archs.begin(), archs.end(), a) != archs.end();
    };
#if defined(QLITE_X86_64)
    if (has(qlite::arch_id::avx2)) CHECK(has(qlite::arch_id::avxvnni) == qlite::cpu().avx_vnni);
#elif defined(QLITE_AARCH64)
    CHECK(has(qlite::arch_id::neon64));
    CHECK(has(qlite::arch_id::neon64_dotprod) == qlite::cpu().dotprod);
#endif
  }

  TEST_CASE("unknown or unavailable arch is a clear error") {
    CHECK_THROWS_WITH_AS(qlite::detail::parse_arch("avx1024"),
                         doctest::Contains("QLITE_ARCH=avx1024 is not an arch name"), qlite::error);
#if defined(QLITE_X86_64)
    CHECK_THROWS_AS(qlite::set_active_arch(qlite::arch_id::neon64), qlite::error);
#else
    CHECK_THROWS_AS(qlite::set_active_arch(qlite::arch_id::avx2), qlite::error);
#endif
  }

  TEST_CASE("cpu features are consistent") {
    const auto& f = qlite::cpu();
    if (f.avx512bw) CHECK(f.avx512f);
    if (f.avx512_vnni) CHECK(f.avx512f);
#if defined(QLITE_X86_64)
    CHECK(f.sse4_2);  // every x86-64 CPU qlite targets; the CI machine certainly
    MESSAGE("avx2=" << f.avx2 << " avx512bw=" << f.avx512bw << " vnni=" << f.avx512_vnni
                    << " avx_vnni=" << f.avx_vnni << " bf16=" << f.avx512_bf16);
#endif
  }
}
