// bench_gemm — qlite::gemm at LLM shapes beside this machine's limits and, when installed,
// oneDNN and OpenBLAS.
//
//   gemm/<format>/<mode>/M:m/N:n/K:k/threads:t/arch:a     qlite (arch: the active path;
//                                                         QLITE_ARCH=avx2 … forces one)
//   roofline/{read_bw,vnni,fma,bf16}/threads:t            the limits, measured in this run;
//   roofline/vnni_group/threads:t                         vpdpbusd with one FMA per 8 (the
//                                                         per-group formats' group fold)
//   onednn/{u8s8,bf16,f32}/M:m/N:n/K:k/threads:t          peers (optional)
//   openblas/sgemm/M:m/N:n/K:k/threads:t
//   act/{int8,digits,bf16}/M:m/K:k/arch:a                 the per-call conversion of x alone,
//                                                         every arch of the build
//
// mode: w8a8 / w4a8 (int8 activations), w8a32 / w4a32 / w16a32 / w32a32 (weight-only, fp32
// activations), w16a16 (bf16 activations). Counters are rates: flops (2·M·N·K per second),
// weight_bytes (packed bytes streamed per second), of_bw = weight_bytes / read bandwidth at the
// same thread count, of_peak = flops / the peak of the instruction the mode runs on (vpdpbusd
// for int8 activations, a quarter of it for weight-only integer formats — four digit planes —,
// FMA for weight-only float formats, vdpbf16ps for bf16). After the run, a table
// prints qlite's median time against each peer at the same shape.
//
//   bench_gemm --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//              --benchmark_filter='M:1/'    (one command line)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <qlite/gemm/gemm.hpp>
#include <qlite/quant/block_formats.hpp>

#include "roofline.hpp"

#if defined(QLITE_BENCH_HAVE_DNNL)
#include <omp.h>

#include <dnnl.hpp>
#endif
#if defined(QLITE_BENCH_HAVE_OPENBLAS)
#include <cblas.h>
#endif

namespace {

using clk = std::chrono::steady_clock;

// ---- limits measured at start-up (for the ratio counters) ------------------------------------

struct limits {
  double read_bw[3] = {};  // bytes/s at 1 and 2 threads
  double vnni[3] = {};     // int8 ops/s
  double fma[3] = {};      // fp32 flops/s
  double bf16[3] = {};     // flops/s
};
limits g_limits;

double seconds_since(clk::time_point t0) { return std::chrono::duration<double>(clk::now() - t0).count(); }

std::uint64_t g_sink = 0;

double measure_read_bw(const qlite::aligned_buffer<std::uint8_t>& buf, unsigned threads) {
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = clk::now();
    roofline::on_threads(threads, [&](unsigned i) {
      const std::size_t part = buf.size() / threads;
      g_sink += roofline::read_sum(buf.data() + i * part, part);
    });
    best = std::max(best, static_cast<double>(buf.size()) / seconds_since(t0));
  }
  return best;
}

template <class Loop>
double measure_peak(Loop loop, double ops_per_iter, unsigned threads) {
  const std::size_t iters = 2'000'000;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = clk::now();
    roofline::on_threads(threads, [&](unsigned) { g_sink += static_cast<std::uint64_t>(loop(iters)); });
    best = std::max(best, ops_per_iter * static_cast<double>(iters) * threads / seconds_since(t0));
  }
  return best;
}

void measure_limits() {
  qlite::aligned_buffer<std::uint8_t> buf(std::size_t{512} << 20);
  for (std::size_t i = 0; i < buf.size(); i += 4096) buf[i] = static_cast<std::uint8_t>(i >> 12);
  const qlite::cpu_features& f = qlite::cpu();
  for (unsigned t = 1; t <= 2; ++t) {
    if (f.avx2) g_limits.read_bw[t] = measure_read_bw(buf, t);
    if (f.avx512_vnni) g_limits.vnni[t] = measure_peak(roofline::vnni_loop, 12.0 * 128, t);
    if (f.avx512f) g_limits.fma[t] = measure_peak(roofline::fma_loop, 12.0 * 32, t);
    if (f.avx512_bf16) g_limits.bf16[t] = measure_peak(roofline::bf16_loop, 12.0 * 64, t);
  }
}

void register_roofline() {
  for (unsigned t = 1; t <= 2; ++t) {
    const std::string th = "/threads:" + std::to_string(t);
    benchmark::RegisterBenchmark(("roofline/read_bw" + th).c_str(),
                                 [t](benchmark::State& st) {
                                   static qlite::aligned_buffer<std::uint8_t> buf(std::size_t{512} << 20);
                                   for (std::size_t i = 0; i < buf.size(); i += 4096) buf[i] = 1;
                                   for (auto _ : st)
                                     roofline::on_threads(t, [&](unsigned i) {
                                       const std::size_t part = buf.size() / t;
                                       g_sink += roofline::read_sum(buf.data() + i * part, part);
                                     });
                                   st.counters["bytes"] =
                                       benchmark::Counter(static_cast<double>(buf.size()),
                                                          benchmark::Counter::kIsIterationInvariantRate);
                                 })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    // ≈ 13 ms per call, so that a thread starting late on the other vCPU costs little: with
    // 1.6 ms calls the 2-thread vpdpbusd probe read up to 12 % below the (longer) group probe.
    auto peak = [&](const char* name, auto loop, double ops, std::size_t iters, bool have) {
      if (!have) return;
      benchmark::RegisterBenchmark(
          ("roofline/" + std::string(name) + th).c_str(),
          [t, loop, ops, iters](benchmark::State& st) {
            for (auto _ : st)
              roofline::on_threads(t, [&](unsigned) { g_sink += static_cast<std::uint64_t>(loop(iters)); });
            st.counters["ops"] = benchmark::Counter(ops * static_cast<double>(iters) * t,
                                                    benchmark::Counter::kIsIterationInvariantRate);
          })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    };
    peak("vnni", roofline::vnni_loop, 12.0 * 128, 8'000'000, qlite::cpu().avx512_vnni);
    peak("vnni_group", roofline::vnni_group_loop, 96.0 * 128, 1'000'000, qlite::cpu().avx512_vnni);
    peak("fma", roofline::fma_loop, 12.0 * 32, 8'000'000, qlite::cpu().avx512f);
    peak("bf16", roofline::bf16_loop, 12.0 * 64, 8'000'000, qlite::cpu().avx512_bf16);
  }
}

// ---- qlite ------------------------------------------------------------------------------------

std::vector<float> random_floats(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = d(rng);
  return v;
}

qlite::quantized_tensor random_tensor(std::size_t n, std::size_t k, int bits, std::size_t group, bool asym) {
  std::mt19937 rng(7);
  qlite::quantized_tensor t;
  t.rows = n;
  t.cols = k;
  t.bits = bits;
  t.scheme = asym ? qlite::scheme_id::asymmetric : qlite::scheme_id::symmetric;
  t.granularity = group ? qlite::granularity_id::per_group : qlite::granularity_id::per_channel;
  t.group_size = group ? group : k;
  t.codes = qlite::aligned_buffer<std::uint8_t>(n * t.row_bytes());
  for (auto& b : t.codes) b = static_cast<std::uint8_t>(rng());
  t.scales.assign(n * t.groups_per_row(), 0.01f);
  if (asym) t.zero_points.assign(n * t.groups_per_row(), 7);
  return t;
}

template <class Block>
std::vector<Block> random_blocks(std::size_t n, std::size_t k) {
  std::mt19937 rng(8);
  std::vector<Block> b(n * k / 32);
  for (auto& blk : b) {
    auto* bytes = reinterpret_cast<std::uint8_t*>(&blk);
    for (std::size_t i = 0; i < sizeof(Block); ++i) bytes[i] = static_cast<std::uint8_t>(rng());
    blk.scale = qlite::ref::fp32_to_fp16_bits(0.01f);
  }
  return b;
}

template <class Format>
qlite::packed_weights<Format> make_weights(std::size_t n, std::size_t k) {
  using namespace qlite;
  if constexpr (std::is_same_v<Format, q4_0_format>)
    return prepack<Format>(std::span<const block_q4_0>(random_blocks<block_q4_0>(n, k)), n, k);
  else if constexpr (std::is_same_v<Format, q8_0_format>)
    return prepack<Format>(std::span<const block_q8_0>(random_blocks<block_q8_0>(n, k)), n, k);
  else if constexpr (std::is_same_v<Format, int8_per_channel_format>)
    return prepack<Format>(random_tensor(n, k, 8, 0, false));
  else if constexpr (detail::is_int4_format_v<Format>)
    return prepack<Format>(random_tensor(n, k, 4, Format::group_size, Format::asymmetric_zero));
  else
    return prepack<Format>(matrix_view<const float>(random_floats(n * k, 9).data(), n, k));
}

// One packed matrix alive at a time (the FFN fp32 matrix alone is 180 MB).
template <class Format>
const qlite::packed_weights<Format>& cached_weights(std::size_t n, std::size_t k) {
  static std::string key;
  static std::shared_ptr<void> holder;
  const std::string want = std::string(Format::name()) + "/" + std::to_string(n) + "x" + std::to_string(k);
  if (key != want) {
    holder.reset();
    holder = std::make_shared<qlite::packed_weights<Format>>(make_weights<Format>(n, k));
    key = want;
  }
  return *static_cast<const qlite::packed_weights<Format>*>(holder.get());
}

struct shape {
  std::size_t m, n, k;
};

std::string shape_name(const shape& s, unsigned t) {
  return "M:" + std::to_string(s.m) + "/N:" + std::to_string(s.n) + "/K:" + std::to_string(s.k) +
         "/threads:" + std::to_string(t);
}

template <class Format>
void register_gemm(const char* mode_name, qlite::gemm_mode mode, const std::vector<shape>& shapes) {
  const std::string arch(qlite::to_string(qlite::active_arch()));
  for (const shape s : shapes)
    for (unsigned t = 1; t <= 2; ++t) {
      const std::string name =
          std::string("gemm/") + Format::name() + "/" + mode_name + "/" + shape_name(s, t) + "/arch:" + arch;
      benchmark::RegisterBenchmark(
          name.c_str(),
          [s, t, mode](benchmark::State& st) {
            const auto& w = cached_weights<Format>(s.n, s.k);
            const std::vector<float> x = random_floats(s.m * s.k, 3);
            std::vector<float> y(s.m * s.n);
            qlite::gemm_params p;
            p.mode = mode;
            p.threads = t;
            for (auto _ : st) {
              qlite::gemm(qlite::matrix_view<const float>(x.data(), s.m, s.k), w,
                          qlite::matrix_view<float>(y.data(), s.m, s.n), p);
              benchmark::DoNotOptimize(y.data());
              benchmark::ClobberMemory();
            }
            const double flops = 2.0 * static_cast<double>(s.m * s.n * s.k);
            const double bytes = static_cast<double>(w.bytes());
            using C = benchmark::Counter;
            st.counters["flops"] = C(flops, C::kIsIterationInvariantRate);
            st.counters["weight_bytes"] = C(bytes, C::kIsIterationInvariantRate);
            if (g_limits.read_bw[t] > 0)
              st.counters["of_bw"] = C(bytes / g_limits.read_bw[t], C::kIsIterationInvariantRate);
            // Integer weight-only runs 4 vpdpbusd per weight (x's digit planes): a quarter of the peak.
            constexpr bool float_weights = std::is_same_v<Format, qlite::fp32_format> ||
                                           std::is_same_v<Format, qlite::fp16_format> ||
                                           std::is_same_v<Format, qlite::bf16_format>;
            const double peak = mode == qlite::gemm_mode::int8_activations   ? g_limits.vnni[t]
                                : mode == qlite::gemm_mode::bf16_activations ? g_limits.bf16[t]
                                : float_weights                              ? g_limits.fma[t]
                                                                             : g_limits.vnni[t] / 4;
            if (peak > 0) st.counters["of_peak"] = C(flops / peak, C::kIsIterationInvariantRate);
          })
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
}

// ---- the per-call conversions of x ------------------------------------------------------------

// act/{int8,digits,bf16}/M:m/K:k/arch:a: what gemm does to x once per call before the panels —
// W8A8/W4A8 quantize it (groups of 32, as Q8_0/Q4_0), weight-only integer formats split it into
// four digit planes, w16a16 rounds it to bf16 — alone, on one thread, for every arch of this
// build (scalar: the reference). x_bytes: bytes of x read per second.
void register_activation_conversions() {
  const std::size_t k = 4096, group = 32;
  for (const std::size_t m : {std::size_t{1}, std::size_t{512}})
    for (const qlite::arch_id a : qlite::available_archs())
      for (const std::string conv : {"int8", "digits", "bf16"}) {
        const std::string name = "act/" + conv + "/M:" + std::to_string(m) + "/K:" + std::to_string(k) +
                                 "/arch:" + std::string(qlite::to_string(a));
        benchmark::RegisterBenchmark(
            name.c_str(),
            [=](benchmark::State& st) {
              const std::vector<float> x = random_floats(m * k, 3);
              std::vector<std::int8_t> q(4 * m * k);
              std::vector<std::uint16_t> xb(m * k);
              std::vector<float> scale(m);
              std::vector<std::int32_t> gsum(4 * m * k / group);
              const bool hw_bf16 = qlite::cpu().avx512_bf16;
              for (auto _ : st) {
                qlite::dispatch(
                    [&](auto arch) {
                      using A = decltype(arch);
                      if constexpr (std::is_same_v<A, qlite::scalar_arch>) {
                        if (conv == "int8")
                          qlite::ref::detail::quantize_activations<void>(x.data(), k, m, k, k, group,
                                                                         q.data(), scale.data(), gsum.data());
                        else if (conv == "digits")
                          qlite::ref::detail::split_activations<void>(x.data(), k, m, k, k, group, q.data(),
                                                                      scale.data(), gsum.data());
                        else
                          qlite::ref::detail::round_activations_bf16<void>(x.data(), k, m, k, k, xb.data());
                      } else {
                        if (conv == "int8")
                          qlite::kernel::gemm_quantize_activations<A>(x.data(), k, m, k, k, group, q.data(),
                                                                      scale.data(), gsum.data());
                        else if (conv == "digits")
                          qlite::kernel::gemm_split_digits<A>(x.data(), k, m, k, k, group, q.data(),
                                                              scale.data(), gsum.data());
                        else
                          qlite::kernel::gemm_round_bf16<A>(x.data(), k, m, k, k, xb.data(), hw_bf16);
                      }
                    },
                    a);
                benchmark::DoNotOptimize(q.data());
                benchmark::DoNotOptimize(xb.data());
                benchmark::ClobberMemory();
              }
              using C = benchmark::Counter;
              st.counters["x_bytes"] =
                  C(static_cast<double>(m * k * sizeof(float)), C::kIsIterationInvariantRate);
            })
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
      }
}

// ---- peers ------------------------------------------------------------------------------------

#if defined(QLITE_BENCH_HAVE_DNNL)
void register_onednn(const std::vector<shape>& shapes) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  struct kind {
    const char* name;
    dt src, wei;
  };
  for (const kind kd :
       {kind{"u8s8", dt::u8, dt::s8}, kind{"bf16", dt::bf16, dt::bf16}, kind{"f32", dt::f32, dt::f32}})
    for (const shape s : shapes)
      for (unsigned t = 1; t <= 2; ++t) {
        const std::string name = std::string("onednn/") + kd.name + "/" + shape_name(s, t);
        benchmark::RegisterBenchmark(
            name.c_str(),
            [s, t, kd](benchmark::State& st) {
              omp_set_num_threads(static_cast<int>(t));
              dnnl::engine eng(dnnl::engine::kind::cpu, 0);
              dnnl::stream strm(eng);
              const auto M = static_cast<dnnl::memory::dim>(s.m), N = static_cast<dnnl::memory::dim>(s.n),
                         K = static_cast<dnnl::memory::dim>(s.k);
              dnnl::memory::desc a_md({M, K}, kd.src, tag::ab), b_any({K, N}, kd.wei, tag::any),
                  c_md({M, N}, dt::f32, tag::ab);
              dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_any, c_md), eng);
              // W is N × K row-major = K × N in "ba": reorder once into oneDNN's packed layout.
              dnnl::memory b_user({{K, N}, kd.wei, tag::ba}, eng), b(pd.weights_desc(), eng);
              std::memset(b_user.get_data_handle(), 1, b_user.get_desc().get_size());
              dnnl::reorder(b_user, b).execute(strm, b_user, b);
              dnnl::memory a(a_md, eng), c(c_md, eng);
              std::memset(a.get_data_handle(), 1, a_md.get_size());
              dnnl::matmul mm(pd);
              for (auto _ : st) {
                mm.execute(strm, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
                strm.wait();
              }
              using C = benchmark::Counter;
              st.counters["flops"] =
                  C(2.0 * static_cast<double>(s.m * s.n * s.k), C::kIsIterationInvariantRate);
              st.counters["weight_bytes"] =
                  C(static_cast<double>(pd.weights_desc().get_size()), C::kIsIterationInvariantRate);
            })
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
      }
}
#endif

#if defined(QLITE_BENCH_HAVE_OPENBLAS)
void register_openblas(const std::vector<shape>& shapes) {
  for (const shape s : shapes)
    for (unsigned t = 1; t <= 2; ++t) {
      const std::string name = "openblas/sgemm/" + shape_name(s, t);
      benchmark::RegisterBenchmark(
          name.c_str(),
          [s, t](benchmark::State& st) {
            openblas_set_num_threads(static_cast<int>(t));
            const std::vector<float> x = random_floats(s.m * s.k, 3), w = random_floats(s.n * s.k, 4);
            std::vector<float> y(s.m * s.n);
            const auto M = static_cast<int>(s.m), N = static_cast<int>(s.n), K = static_cast<int>(s.k);
            for (auto _ : st) {
              cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x.data(), K, w.data(), K,
                          0.0f, y.data(), N);
              benchmark::DoNotOptimize(y.data());
            }
            using C = benchmark::Counter;
            st.counters["flops"] =
                C(2.0 * static_cast<double>(s.m * s.n * s.k), C::kIsIterationInvariantRate);
            st.counters["weight_bytes"] =
                C(4.0 * static_cast<double>(s.n * s.k), C::kIsIterationInvariantRate);
          })
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
}
#endif

// ---- the ratio table ----------------------------------------------------------------------------

// Console output as usual; remembers each benchmark's median (or single) real time.
class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      const bool single = r.run_type == Run::RT_Iteration && r.repetitions <= 1;
      if (!r.error_occurred && (single || r.aggregate_name == "median"))
        times_[r.run_name.function_name] = r.GetAdjustedRealTime();
    }
  }
  void print_ratios() const {
    std::printf("\nqlite time / peer time at the same shape (medians; < 1 means qlite is faster):\n");
    for (const auto& [name, t] : times_) {
      if (name.rfind("gemm/", 0) != 0) continue;
      // gemm/<fmt>/<mode>/<shape...>/arch:x
      const std::size_t p1 = name.find('/', 5), p2 = name.find('/', p1 + 1), pa = name.rfind("/arch:");
      const std::string mode = name.substr(p1 + 1, p2 - p1 - 1), shp = name.substr(p2 + 1, pa - p2 - 1);
      std::vector<std::string> peers;
      if (mode == "w8a8" || mode == "w4a8")
        peers = {"onednn/u8s8/"};
      else if (mode == "w16a16")
        peers = {"onednn/bf16/"};
      else
        peers = {"onednn/f32/", "openblas/sgemm/"};
      for (const std::string& peer : peers)
        if (auto it = times_.find(peer + shp); it != times_.end())
          std::printf("  %-60s vs %-16s %6.2f\n", name.c_str(), peer.c_str(), t / it->second);
    }
  }

 private:
  std::map<std::string, double> times_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  measure_limits();
  std::printf(
      "limits (start-up probe, best of 3): read %.1f / %.1f GB/s, vpdpbusd %.0f / %.0f GOP/s, "
      "FMA %.0f / %.0f GFLOP/s, vdpbf16ps %.0f / %.0f GFLOP/s (1 / 2 threads). The machine is shared.\n",
      g_limits.read_bw[1] / 1e9, g_limits.read_bw[2] / 1e9, g_limits.vnni[1] / 1e9, g_limits.vnni[2] / 1e9,
      g_limits.fma[1] / 1e9, g_limits.fma[2] / 1e9, g_limits.bf16[1] / 1e9, g_limits.bf16[2] / 1e9);
  register_roofline();
  register_activation_conversions();
  const std::vector<shape> shapes = {{1, 4096, 4096},   {8, 4096, 4096},  {128, 4096, 4096},
                                     {512, 4096, 4096}, {1, 11008, 4096}, {512, 11008, 4096}};
  using namespace qlite;
  using G = gemm_mode;
  register_gemm<q4_0_format>("w4a8", G::int8_activations, shapes);
  register_gemm<q4_0_format>("w4a32", G::weight_only, shapes);
  register_gemm<q8_0_format>("w8a8", G::int8_activations, shapes);
  register_gemm<q8_0_format>("w8a32", G::weight_only, shapes);
  register_gemm<int8_per_channel_format>("w8a8", G::int8_activations, shapes);
  register_gemm<int8_per_channel_format>("w8a32", G::weight_only, shapes);
  register_gemm<int4_per_group_format<32>>("w4a8", G::int8_activations, shapes);
  register_gemm<int4_per_group_format<32>>("w4a32", G::weight_only, shapes);
  register_gemm<int4_per_group_format<128, asymmetric>>("w4a8", G::int8_activations, shapes);
  register_gemm<int4_per_group_format<32, asymmetric>>("w4a32", G::weight_only, shapes);
  register_gemm<bf16_format>("w16a16", G::bf16_activations, shapes);
  register_gemm<bf16_format>("w16a32", G::weight_only, shapes);
  register_gemm<fp16_format>("w16a32", G::weight_only, shapes);
  register_gemm<fp32_format>("w32a32", G::weight_only, shapes);
#if defined(QLITE_BENCH_HAVE_DNNL)
  register_onednn(shapes);
#endif
#if defined(QLITE_BENCH_HAVE_OPENBLAS)
  register_openblas(shapes);
#endif
  ratio_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_ratios();
  benchmark::Shutdown();
  return g_sink == 42 ? 1 : 0;
}
