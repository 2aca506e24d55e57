// Helpers shared by qlite's tests.
#pragma once

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <qlite/core/dispatch.hpp>

namespace qlite::test {

/// Path of a file under ../shared/data. If it is missing (a user's fresh clone), the test
/// says so and exits with 77, which CTest reports as "Skipped" — never a silent pass.
inline std::string shared_data(const std::string& relative) {
  const std::filesystem::path p = std::filesystem::path(QLITE_SHARED_DATA) / relative;
  if (!std::filesystem::exists(p)) {
    std::fprintf(stderr,
                 "SKIPPED: %s is missing (the shared data sits in ../shared/data beside the checkout)\n",
                 p.string().c_str());
    std::fflush(stderr);
    std::exit(77);
  }
  return p.string();
}

/// Runs `fn(arch)` once per path this program can run on this CPU (scalar first), each as a
/// doctest subcase named after the arch, with that path active. Restores the active arch.
template <class F>
void for_each_arch(F&& fn) {
  const arch_id saved = active_arch();
  for (arch_id a : available_archs()) {
    SUBCASE(std::string(to_string(a)).c_str()) {
      set_active_arch(a);
      fn(a);
    }
  }
  set_active_arch(saved);
}

}  // namespace qlite::test
