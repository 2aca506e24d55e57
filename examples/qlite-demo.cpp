// qlite-demo — what quantization costs and buys, on built-in data.
//
// With no arguments it quantizes a built-in "LLM-like" weight matrix with every quantizer
// qlite offers and prints one row per format: bits per weight, size, SQNR against fp32,
// the time to quantize, and for the formats qlite::gemm runs, the time of a GEMV (M = 1) and
// a GEMM (M = 64) with those weights and the speed-up over fp32. The data is synthetic and deterministic
// (seed 2026):
//   a 2048 × 2048 matrix (a 4M-parameter projection), Gaussian body N(0, 0.02),
//   16 input channels (columns) scaled ×20 — the outlier features of real LLM layers —
//   and 1 % exact zeros. Outlier channels punish coarse granularities, as in real models.
//
//   qlite-demo [--threads N]
//
// With a model path it runs the size / speed / accuracy comparison of qlite-compare instead
// (same options, docs/models.md):
//
//   qlite-demo MODEL (--text FILE [--tokenizer FILE] | --tokens FILE) [--format POLICY]...
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <fmt/core.h>

#include <qlite/qlite.hpp>

#include "compare_cli.hpp"

namespace {

constexpr std::size_t rows = 2048, cols = 2048;

std::vector<float> builtin_weights() {
  std::mt19937 rng(2026);
  std::normal_distribution<float> body(0.0f, 0.02f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> w(rows * cols);
  for (float& x : w) x = u(rng) < 0.01f ? 0.0f : body(rng);
  for (std::size_t k = 0; k < 16; ++k) {
    const std::size_t c = (k * 131 + 7) % cols;
    for (std::size_t r = 0; r < rows; ++r) w[r * cols + c] *= 20.0f;
  }
  return w;
}

struct row {
  std::string name;
  double bits_per_weight;
  std::size_t bytes;
  double sqnr_db;
  double ms;
  std::string gemm_format = {};  ///< the qlite::linear_format running this row's weights, if any
  double gemv_us = 0, gemm_ms = 0, gemm_a8_ms = 0;
};

template <class F>
double time_ms(F&& f) {
  double best = 1e300;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best,
                    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

/// Times y = x·Wᵀ on the built-in layer in `format` (weights packed once): a GEMV (M = 1,
/// the decode step, best of 50) and a GEMM with M = 64 (a prefill chunk, best of 5), both
/// weight-only; for integer formats also the M = 64 GEMM with int8 activations (W8A8/W4A8).
void measure_gemm(row& r, const std::vector<float>& w, unsigned threads) {
  if (r.gemm_format.empty()) return;
  const qlite::matrix_view<const float> W(w.data(), rows, cols);
  std::vector<float> x(64 * cols), y(64 * rows);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i));
  auto run = [&](const qlite::linear& l, std::size_t m, int reps) {
    double best = 1e300;
    for (int i = 0; i < reps; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      l(qlite::matrix_view<const float>(x.data(), m, cols), qlite::matrix_view<float>(y.data(), m, rows),
        qlite::activation::none, threads);
      best = std::min(
          best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
  };
  const qlite::linear l(W, qlite::linear_format::parse(r.gemm_format));
  r.gemv_us = 1000.0 * run(l, 1, 50);
  r.gemm_ms = run(l, 64, 5);
  if (r.gemm_format.starts_with("int") || r.gemm_format.starts_with("q")) {
    const qlite::linear a8(W, qlite::linear_format::parse(r.gemm_format + "@a8"));
    r.gemm_a8_ms = run(a8, 64, 5);
  }
}

template <class Q>
row measure(const std::string& name, const std::vector<float>& w, unsigned threads) {
  const Q q(qlite::quantize_options{1.0f, threads});
  const qlite::matrix_view<const float> W(w.data(), rows, cols);
  qlite::quantized_tensor t;
  const double ms = time_ms([&] { t = q.quantize(W); });
  std::vector<float> back(w.size());
  qlite::dequantize(t, qlite::matrix_view<float>(back.data(), rows, cols), threads);
  return {name, t.bits_per_weight(), t.storage_bytes(),
          qlite::sqnr_db(W, qlite::matrix_view<const float>(back.data(), rows, cols)), ms};
}

template <class Half>
row measure_half(const std::string& name, const std::vector<float>& w) {
  std::vector<Half> h(w.size());
  std::vector<float> back(w.size());
  const double ms = time_ms([&] { qlite::convert(std::span<const float>(w), std::span<Half>(h)); });
  qlite::convert(std::span<const Half>(h), std::span<float>(back));
  const qlite::matrix_view<const float> W(w.data(), rows, cols), B(back.data(), rows, cols);
  return {name, 16.0, h.size() * sizeof(Half), qlite::sqnr_db(W, B), ms};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && argv[1][0] != '-') return qlite_examples::run_compare_cli(argc, argv, 1, "qlite-demo");
  unsigned threads = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else {
      fmt::print(stderr,
                 "usage: qlite-demo [--threads N]\n       qlite-demo MODEL (--text FILE [--tokenizer FILE] | "
                 "--tokens FILE) [...]\n");
      return 2;
    }
  }
  try {
    using namespace qlite;
    const std::vector<float> w = builtin_weights();
    fmt::print(
        "qlite {}.{}.{} — built-in {}×{} LLM-like weights (16 outlier channels), arch {}, {} thread(s)\n\n",
        QLITE_VERSION_MAJOR, QLITE_VERSION_MINOR, QLITE_VERSION_PATCH, rows, cols, to_string(active_arch()),
        threads);
    std::vector<row> table;
    table.push_back({"fp32", 32.0, w.size() * sizeof(float), INFINITY, 0.0, "f32"});
    table.push_back(measure_half<bf16>("bf16", w));
    table.back().gemm_format = "bf16";
    table.push_back(measure_half<fp16>("fp16", w));
    table.back().gemm_format = "f16";
    table.push_back(measure<quantizer<symmetric, per_channel, 8>>("int8 sym per-channel", w, threads));
    table.push_back(
        measure<quantizer<symmetric_narrow, per_channel, 8>>("int8 sym-narrow per-ch.", w, threads));
    table.back().gemm_format = "int8";
    table.push_back(measure<quantizer<symmetric_narrow, per_tensor, 8>>("int8 sym per-tensor", w, threads));
    table.push_back(measure<quantizer<symmetric, per_group<32>, 8>>("int8 sym g32", w, threads));
    table.push_back(measure<quantizer<symmetric, per_channel, 4>>("int4 sym per-channel", w, threads));
    table.push_back(measure<quantizer<symmetric, per_group<128>, 4>>("int4 sym g128", w, threads));
    table.back().gemm_format = "int4_g128";
    table.push_back(measure<quantizer<symmetric, per_group<32>, 4>>("int4 sym g32", w, threads));
    table.back().gemm_format = "int4_g32";
    table.push_back(
        measure<quantizer<symmetric_narrow, per_group<32>, 4>>("int4 sym-narrow g32", w, threads));
    table.push_back(measure<quantizer<asymmetric, per_group<32>, 4>>("int4 asym g32", w, threads));
    table.back().gemm_format = "int4a_g32";
    table.push_back(measure<quantizer<asymmetric, per_group<32>, 3>>("int3 asym g32", w, threads));
    table.push_back(measure<quantizer<asymmetric, per_group<32>, 2>>("int2 asym g32", w, threads));

    for (row& r : table) measure_gemm(r, w, threads);
    const row& f32 = table.front();
    auto speed = [](double t, double base, const char* unit) {
      return t == 0.0 ? std::string("-") : fmt::format("{:.1f}{} ({:.1f}×)", t, unit, base / t);
    };
    fmt::print("{:<24} {:>7} {:>9} {:>8} {:>11}  {:>17} {:>17} {:>17}\n", "format", "bits/w", "size",
               "SQNR dB", "quantize ms", "GEMV M=1", "GEMM M=64", "GEMM M=64 int8 act");
    fmt::print("{:-<24} {:->7} {:->9} {:->8} {:->11}  {:->17} {:->17} {:->17}\n", "", "", "", "", "", "", "",
               "");
    for (const row& r : table) {
      const std::string db = std::isinf(r.sqnr_db) ? "exact" : fmt::format("{:.2f}", r.sqnr_db);
      const std::string ms = r.ms == 0.0 ? "-" : fmt::format("{:.2f}", r.ms);
      fmt::print("{:<24} {:>7.3f} {:>6.2f} MB {:>8} {:>11}  {:>17} {:>17} {:>17}\n", r.name,
                 r.bits_per_weight, static_cast<double>(r.bytes) / 1e6, db, ms,
                 speed(r.gemv_us, f32.gemv_us, " µs"), speed(r.gemm_ms, f32.gemm_ms, " ms"),
                 speed(r.gemm_a8_ms, f32.gemm_ms, " ms"));
    }
    fmt::print(
        "\nSQNR = 10·log10(Σw² / Σ(w − ŵ)²) against the fp32 weights; size includes scales and zero "
        "points.\nGEMV/GEMM: y = x·Wᵀ with the weights packed for qlite::gemm (model/linear.hpp format), "
        "best of "
        "50/5 runs\n(warm: the 16 MB fp32 layer fits a large L3), (×) = speed-up over fp32; \"int8 act\" "
        "quantizes x per row inside the call (W8A8 / W4A8, VNNI "
        "where present).\n");
  } catch (const qlite::error& e) {
    fmt::print(stderr, "{}\n", e.what());
    return 1;
  }
  return 0;
}
