// A user's program against an *installed* qlite. tests/package/run_consumer.cmake builds it
// three ways: through find_package(qlite CONFIG) as-is (static dispatch at the default
// flags), through find_package with qlite_enable_runtime_dispatch() (every instruction set of
// the platform), and through pkg-config by hand. It prints one line and exits non-zero,
// naming the check, when something is off.
#include <qlite/qlite.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++failures;
  }
}

// Same codes, scales and zero points, byte for byte.
bool same_tensor(const qlite::quantized_tensor& a, const qlite::quantized_tensor& b) {
  return a.rows == b.rows && a.cols == b.cols && a.codes.size() == b.codes.size() &&
         std::memcmp(a.codes.data(), b.codes.data(), a.codes.size()) == 0 && a.scales == b.scales &&
         a.zero_points == b.zero_points;
}

}  // namespace

int main() {
  // 40 × 200: rows of growing magnitude (so per-row scales differ), 200 = 6 groups of 32
  // plus a tail group of 8. Filled in parallel: parallel_for hands out disjoint row ranges.
  constexpr std::size_t rows = 40, cols = 200;
  std::vector<float> w(rows * cols);
  const qlite::matrix_view<float> W(w.data(), rows, cols);
  qlite::parallel_for(
      rows,
      [&](std::size_t begin, std::size_t end) {
        for (std::size_t r = begin; r < end; ++r)
          for (std::size_t c = 0; c < cols; ++c)
            W(r, c) =
                static_cast<float>(r + 1) * std::sin(0.37f * static_cast<float>(c) + static_cast<float>(r));
      },
      3);
  check(W(39, 199) == 40.0f * std::sin(0.37f * 199.0f + 39.0f), "parallel_for covers the last row");

  // The dispatch hands each path its tag: scalar_arch for the reference path.
  const bool scalar_tag = qlite::dispatch(
      [](auto tag) { return std::is_same_v<decltype(tag), qlite::scalar_arch>; }, qlite::arch_id::scalar);
  check(scalar_tag, "dispatch(f, scalar) calls f(scalar_arch)");
  const std::vector<qlite::arch_id> archs = qlite::available_archs();
  check(!archs.empty() && archs.front() == qlite::arch_id::scalar, "available_archs() starts with scalar");
#if defined(QLITE_RUNTIME_DISPATCH) && defined(QLITE_X86_64)
  // The installed per-arch TUs were compiled into this program: SSE4.2 is there on any
  // x86-64 CPU of the last 15 years.
  if (qlite::cpu_supports(qlite::arch_id::sse4_2))
    check(std::find(archs.begin(), archs.end(), qlite::arch_id::sse4_2) != archs.end(),
          "runtime dispatch provides sse4_2");
#endif

  // A quantizer round trip on every path; the codes must be identical on all of them.
  const qlite::matrix_view<const float> Wc = W;
  std::vector<float> back(w.size());
  const qlite::matrix_view<float> B(back.data(), rows, cols);
  qlite::quantizer<qlite::symmetric, qlite::per_group<32>, 4> q4;
  qlite::quantizer<qlite::asymmetric, qlite::per_channel, 8> q8;
  qlite::set_active_arch(qlite::arch_id::scalar);
  const qlite::quantized_tensor ref4 = q4.quantize(Wc), ref8 = q8.quantize(Wc);
  std::string names;
  double sqnr4 = 0, sqnr8 = 0;
  for (qlite::arch_id a : archs) {
    const std::string name(qlite::to_string(a));
    names += (names.empty() ? "" : ",") + name;
    qlite::set_active_arch(a);
    const qlite::quantized_tensor t4 = q4.quantize(Wc), t8 = q8.quantize(Wc);
    check(same_tensor(t4, ref4), "int4 sym g32 codes on " + name + " equal the scalar path's");
    check(same_tensor(t8, ref8), "int8 asym per-row codes on " + name + " equal the scalar path's");
    qlite::dequantize(t4, B);
    sqnr4 = qlite::sqnr_db(Wc, B);
    qlite::dequantize(t8, B);
    sqnr8 = qlite::sqnr_db(Wc, B);
    // A uniform b-bit grid over a sinusoid gives about 6 dB per bit; a wrong scale or a
    // shuffled nibble gives far less.
    check(sqnr4 > 18.0, "int4 round trip on " + name + ": SQNR " + std::to_string(sqnr4) + " dB > 18");
    check(sqnr8 > 40.0, "int8 round trip on " + name + ": SQNR " + std::to_string(sqnr8) + " dB > 40");
  }

  std::printf("qlite %d.%d.%d consumer (%s dispatch): paths %s; int4 g32 %.1f dB, int8 per-row %.1f dB: %s\n",
              QLITE_VERSION_MAJOR, QLITE_VERSION_MINOR, QLITE_VERSION_PATCH,
#if defined(QLITE_RUNTIME_DISPATCH)
              "runtime",
#else
              "static",
#endif
              names.c_str(), sqnr4, sqnr8, failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}
