// Bulk float ↔ fp16 / bf16 conversion throughput per arch, next to memcpy of the same bytes.
//
//   bench_convert --benchmark_filter='n:1048576'
//
// bytes_per_second counts bytes read + written (6 per value), so a conversion at memory speed
// shows the same figure as the copy baseline `copy/memcpy` (which moves 4 + 4 per value, and
// reports those 8). Inputs are LLM-weight-like: N(0, 0.02) with 0.1 % outliers of ±10 and a
// few values in fp16's subnormal range. `convert/f32_to_bf16_int` is the AVX-512 kernel with
// the AVX512-BF16 instruction turned off (the integer path).
#include <benchmark/benchmark.h>

#include <qlite/core/convert.hpp>
#include <qlite/core/cpu_features.hpp>
#include <qlite/core/dispatch.hpp>

#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace {

std::vector<float> weights(std::size_t n) {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(n);
  for (std::size_t i = 0; i < n; ++i) {
    w[i] = normal(rng);
    if (i % 1000 == 7) w[i] = (i % 2 != 0 ? 10.0f : -10.0f);
    if (i % 1000 == 500) w[i] *= 1e-4f;
  }
  return w;
}

template <class To>
void bench_narrow(benchmark::State& state, qlite::arch_id arch, std::size_t n) {
  qlite::set_active_arch(arch);
  const std::vector<float> src = weights(n);
  std::vector<To> dst(n);
  for (auto _ : state) {
    qlite::convert(src, dst);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n * 6));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n));
}

template <class From>
void bench_widen(benchmark::State& state, qlite::arch_id arch, std::size_t n) {
  qlite::set_active_arch(arch);
  const std::vector<float> w = weights(n);
  std::vector<From> src(n);
  qlite::ref::convert(w, std::span<From>(src));
  std::vector<float> dst(n);
  for (auto _ : state) {
    qlite::convert(std::span<const From>(src), dst);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n * 6));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n));
}

void bench_bf16_int(benchmark::State& state, qlite::arch_id arch, std::size_t n) {
  const std::vector<float> src = weights(n);
  std::vector<std::uint16_t> dst(n);
  for (auto _ : state) {
    qlite::dispatch(
        [&](auto tag) {
          if constexpr (!std::is_same_v<decltype(tag), qlite::scalar_arch>)
            qlite::kernel::f32_to_bf16(tag, src.data(), dst.data(), n, false);
        },
        arch);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n * 6));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n));
}

void bench_memcpy(benchmark::State& state, std::size_t n) {
  const std::vector<float> src = weights(n);
  std::vector<float> dst(n);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), n * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n * 8));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const qlite::cpu_features& cpu = qlite::cpu();
  benchmark::AddCustomContext("qlite.f16c", cpu.f16c ? "yes" : "no");
  benchmark::AddCustomContext("qlite.avx512_bf16", cpu.avx512_bf16 ? "yes" : "no");
  for (std::size_t n : {std::size_t{4096}, std::size_t{1} << 20}) {
    const std::string size = "/n:" + std::to_string(n);
    benchmark::RegisterBenchmark(("copy/memcpy" + size).c_str(), bench_memcpy, n);
    for (qlite::arch_id a : qlite::available_archs()) {
      const std::string tail = size + "/arch:" + std::string(qlite::to_string(a));
      benchmark::RegisterBenchmark(("convert/f32_to_fp16" + tail).c_str(), bench_narrow<qlite::fp16>, a, n);
      benchmark::RegisterBenchmark(("convert/fp16_to_f32" + tail).c_str(), bench_widen<qlite::fp16>, a, n);
      benchmark::RegisterBenchmark(("convert/f32_to_bf16" + tail).c_str(), bench_narrow<qlite::bf16>, a, n);
      benchmark::RegisterBenchmark(("convert/bf16_to_f32" + tail).c_str(), bench_widen<qlite::bf16>, a, n);
      if ((a == qlite::arch_id::avx512bw || a == qlite::arch_id::avx512vnni) && cpu.avx512_bf16)
        benchmark::RegisterBenchmark(("convert/f32_to_bf16_int" + tail).c_str(), bench_bf16_int, a, n);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
