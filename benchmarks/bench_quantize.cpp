// bench_quantize — quantize / dequantize throughput at an LLM weight shape (4096 × 4096),
// per scheme and per arch, single thread, beside this machine's single-thread copy bandwidth.
//
//   build/release/benchmarks/bench_quantize --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Counters: bytes_per_second = fp32 bytes of the matrix per second (input of quantize,
// output of dequantize); of_copy = that rate as a fraction of the measured memcpy rate
// (copy/… row; read + write of the same fp32 bytes).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <qlite/qlite.hpp>

namespace {

constexpr std::size_t N = 4096, K = 4096;

const std::vector<float>& weights() {
  static const std::vector<float> w = [] {
    std::vector<float> v(N * K);
    std::mt19937 rng(42);
    std::normal_distribution<float> d(0.0f, 0.02f);
    for (auto& x : v) x = d(rng);
    for (std::size_t r = 0; r < N; ++r) v[r * K + 17] *= 30.0f;  // an outlier channel
    return v;
  }();
  return w;
}

// Median single-thread memcpy rate of the benchmark's fp32 bytes, in bytes/s.
double copy_bandwidth() {
  static const double bw = [] {
    std::vector<float> src(N * K, 1.0f), dst(N * K);
    std::vector<double> rates;
    for (int i = 0; i < 9; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      std::memcpy(dst.data(), src.data(), src.size() * sizeof(float));
      benchmark::ClobberMemory();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      rates.push_back(static_cast<double>(src.size() * sizeof(float)) / s);
    }
    std::sort(rates.begin(), rates.end());
    return rates[rates.size() / 2];
  }();
  return bw;
}

void set_counters(benchmark::State& state) {
  const double bytes = static_cast<double>(N * K * sizeof(float));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(bytes));
  state.counters["of_copy"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * bytes / copy_bandwidth(), benchmark::Counter::kIsRate);
}

void bm_copy(benchmark::State& state) {
  std::vector<float> src(weights()), dst(N * K);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size() * sizeof(float));
    benchmark::ClobberMemory();
  }
  set_counters(state);
}

template <class Q>
void bm_quantize(benchmark::State& state, qlite::arch_id arch) {
  qlite::set_active_arch(arch);
  const Q q(qlite::quantize_options{1.0f, 1});
  qlite::matrix_view<const float> W(weights().data(), N, K);
  for (auto _ : state) {
    qlite::quantized_tensor t = q.quantize(W);
    benchmark::DoNotOptimize(t.codes.data());
  }
  set_counters(state);
}

template <class Q>
void bm_dequantize(benchmark::State& state, qlite::arch_id arch) {
  qlite::set_active_arch(arch);
  const Q q(qlite::quantize_options{1.0f, 1});
  const qlite::quantized_tensor t = q.quantize(qlite::matrix_view<const float>(weights().data(), N, K));
  std::vector<float> out(N * K);
  for (auto _ : state) {
    qlite::dequantize(t, qlite::matrix_view<float>(out.data(), N, K), 1);
    benchmark::ClobberMemory();
  }
  set_counters(state);
}

template <class Q>
void register_scheme(const std::string& name) {
  for (qlite::arch_id a : qlite::available_archs()) {
    const std::string suffix = "/" + name + "/N:4096/K:4096/arch:" + std::string(qlite::to_string(a));
    benchmark::RegisterBenchmark(("quantize" + suffix).c_str(), bm_quantize<Q>, a)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("dequantize" + suffix).c_str(), bm_dequantize<Q>, a)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace qlite;
  benchmark::RegisterBenchmark("copy/memcpy/N:4096/K:4096", bm_copy)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  register_scheme<quantizer<symmetric, per_channel, 8>>("int8_sym_per_channel");
  register_scheme<quantizer<symmetric_narrow, per_tensor, 8>>("int8_sym_narrow_per_tensor");
  register_scheme<quantizer<symmetric, per_group<32>, 4>>("int4_sym_g32");
  register_scheme<quantizer<asymmetric, per_group<32>, 4>>("int4_asym_g32");
  register_scheme<quantizer<symmetric, per_group<128>, 4>>("int4_sym_g128");
  register_scheme<quantizer<asymmetric, per_group<32>, 3>>("int3_asym_g32");
  register_scheme<quantizer<asymmetric, per_group<32>, 2>>("int2_asym_g32");
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("copy_bandwidth_GBps", std::to_string(copy_bandwidth() / 1e9));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
