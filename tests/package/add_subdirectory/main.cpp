// A user's program with qlite vendored as a subdirectory (tests/package/run_consumer.cmake
// points QLITE_SOURCE_DIR at the checkout). Built twice: as-is (static dispatch) and with
// qlite_enable_runtime_dispatch(). Prints one line; exits non-zero naming the failed check.
#include <qlite/qlite.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++failures;
  }
}

}  // namespace

int main() {
  // 16 × 96 weights with one outlier column, filled in parallel.
  constexpr std::size_t rows = 16, cols = 96;
  std::vector<float> w(rows * cols);
  const qlite::matrix_view<float> W(w.data(), rows, cols);
  qlite::parallel_for(rows, [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r)
      for (std::size_t c = 0; c < cols; ++c)
        W(r, c) = (c == 5 ? 8.0f : 0.5f) * std::cos(0.21f * static_cast<float>(r * cols + c));
  });

  // The active path is the best this program has, unless QLITE_ARCH says otherwise.
  const qlite::arch_id active = qlite::active_arch();
  const std::string tag_name = qlite::dispatch([](auto tag) { return std::string(decltype(tag)::name()); });
  check(!tag_name.empty(), "dispatch() hands over an arch tag with a name");

  // Asking for a path this program lacks or this CPU cannot run is a qlite::error, not SIGILL.
  std::size_t refused = 0;
  for (qlite::arch_id a : qlite::all_arch_ids) {
    try {
      qlite::set_active_arch(a);
    } catch (const qlite::error&) {
      ++refused;
    }
  }
  check(refused + qlite::available_archs().size() == qlite::all_arch_ids.size(),
        "set_active_arch() refuses exactly the unavailable paths");
  qlite::set_active_arch(active);

  // fake_quantize is the QAT forward: with the same parameters, applying it twice changes
  // nothing (idempotent), and the straight-through mask is all ones without clipping.
  const qlite::matrix_view<const float> Wc = W;
  std::vector<float> once(w.size()), twice(w.size());
  std::vector<std::uint8_t> mask(w.size(), 0);
  qlite::quantizer<qlite::asymmetric, qlite::per_group<32>, 3> q3;
  const auto params = q3.compute_params(Wc);
  q3.fake_quantize(Wc, params, qlite::matrix_view<float>(once.data(), rows, cols),
                   qlite::matrix_view<std::uint8_t>(mask.data(), rows, cols));
  q3.fake_quantize(qlite::matrix_view<const float>(once.data(), rows, cols), params,
                   qlite::matrix_view<float>(twice.data(), rows, cols));
  check(once == twice, "fake_quantize is idempotent");
  std::size_t inside = 0;
  for (std::uint8_t m : mask) inside += m;
  check(inside == w.size(), "no element is clipped without a clip ratio");
  const double db = qlite::sqnr_db(Wc, qlite::matrix_view<const float>(once.data(), rows, cols));
  check(db > 10.0, "int3 asym g32 SQNR " + std::to_string(db) + " dB > 10");

  std::printf("qlite %d.%d.%d as a subdirectory: active path %s (%s), %zu paths, int3 g32 %.1f dB: %s\n",
              QLITE_VERSION_MAJOR, QLITE_VERSION_MINOR, QLITE_VERSION_PATCH,
              std::string(qlite::to_string(active)).c_str(), tag_name.c_str(),
              qlite::available_archs().size(), db, failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}
