// bench_tokenizer: encode/decode throughput (bytes/s) of qlite's byte-level BPE tokenizer on
// the shared corpus, per encoding: the natural part (prose + code + multilingual, one text),
// each adversarial document, 1 MiB versions of the adversarial documents, decode, and batch
// encoding on 1 and 2 threads; and the SentencePiece BPE (tok512.bin, llama2.c's vocabulary)
// on TinyStories text (models/tinystories_val.txt) and on 1 MiB of 'a'.
//
//   ./bench_tokenizer --benchmark_filter='encode/cl100k_base' --benchmark_min_time=0.5
//
// Data: $QLITE_SHARED_DATA/tokenizer and $QLITE_SHARED_DATA/models (the build sets it to
// ../shared/data); missing data is reported as a skipped benchmark.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <qlite/tokenizer/sentencepiece.hpp>
#include <qlite/tokenizer/tiktoken.hpp>
#include <qlite/tokenizer/tokenizer_json.hpp>

namespace {

namespace fs = std::filesystem;

struct corpus {
  std::string natural;
  std::vector<std::pair<std::string, std::string>> adversarial;  // name, text
};

std::string shared_dir() {
  if (const char* env = std::getenv("QLITE_SHARED_DATA")) return env;
  return QLITE_SHARED_DATA;
}
std::string data_dir() { return shared_dir() + "/tokenizer"; }

corpus load_corpus(const std::string& dir) {
  corpus c;
  for (const char* cat : {"prose", "code", "multilingual"}) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir + "/corpus/" + cat)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) c.natural += qlite::detail::read_file(f.string());
  }
  std::vector<fs::path> adv;
  for (const auto& e : fs::directory_iterator(dir + "/corpus/adversarial")) adv.push_back(e.path());
  std::sort(adv.begin(), adv.end());
  for (const auto& f : adv) {
    const std::string text = qlite::detail::read_file(f.string());
    c.adversarial.emplace_back(f.stem().string(), text);
    // 1 MiB version: the document repeated (a 1 MiB run of 'a' for the letter run)
    std::string big;
    if (f.stem().string().rfind("run_a", 0) == 0) {
      big.assign(1 << 20, 'a');
    } else {
      while (big.size() < (1u << 20)) big += text;
      big.resize(1 << 20);
      while (!big.empty() && (static_cast<unsigned char>(big.back()) & 0xC0) == 0x80) big.pop_back();
      if (!big.empty() && static_cast<unsigned char>(big.back()) >= 0xC0) big.pop_back();
    }
    c.adversarial.emplace_back(f.stem().string() + "_1MiB", std::move(big));
  }
  return c;
}

void encode_bench(benchmark::State& state, const qlite::tokenizer* tok, const std::string* text) {
  std::size_t n = 0;
  for (auto _ : state) {
    auto ids = tok->encode_ordinary(*text);
    n = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text->size()));
  state.counters["tokens"] = static_cast<double>(n);
  state.counters["MB/s"] = benchmark::Counter(static_cast<double>(text->size()) / 1e6,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void decode_bench(benchmark::State& state, const qlite::tokenizer* tok, const std::string* text) {
  const std::vector<std::uint32_t> ids = tok->encode_ordinary(*text);
  for (auto _ : state) {
    std::string out = tok->decode(ids);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text->size()));
  state.counters["MB/s"] = benchmark::Counter(static_cast<double>(text->size()) / 1e6,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void batch_bench(benchmark::State& state, const qlite::tokenizer* tok, const std::string* text) {
  std::vector<std::string_view> chunks;  // ~64 KiB, line-aligned
  for (std::size_t pos = 0; pos < text->size();) {
    std::size_t end = std::min(text->size(), pos + (64u << 10));
    const std::size_t nl = text->find('\n', end);
    end = nl == std::string::npos ? text->size() : nl + 1;
    chunks.push_back(std::string_view(*text).substr(pos, end - pos));
    pos = end;
  }
  const auto threads = static_cast<unsigned>(state.range(0));
  for (auto _ : state) {
    auto out = tok->encode_batch(chunks, threads);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text->size()));
  state.counters["MB/s"] = benchmark::Counter(static_cast<double>(text->size()) / 1e6,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void sp_encode_bench(benchmark::State& state, const qlite::sentencepiece_tokenizer* tok,
                     const std::string* text) {
  std::size_t n = 0;
  for (auto _ : state) {
    auto ids = tok->encode(*text, true);
    n = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text->size()));
  state.counters["tokens"] = static_cast<double>(n);
  state.counters["MB/s"] = benchmark::Counter(static_cast<double>(text->size()) / 1e6,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void sp_decode_bench(benchmark::State& state, const qlite::sentencepiece_tokenizer* tok,
                     const std::string* text) {
  const std::vector<std::uint32_t> ids = tok->encode(*text, true);
  for (auto _ : state) {
    std::string out = tok->decode(ids);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text->size()));
  state.counters["MB/s"] = benchmark::Counter(static_cast<double>(text->size()) / 1e6,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

/// SentencePiece BPE rows (tok512.bin on TinyStories); false when the data is absent.
bool register_sentencepiece() {
  const std::string models = shared_dir() + "/models";
  if (!fs::exists(models + "/tok512.bin") || !fs::exists(models + "/tinystories_val.txt")) return false;
  static const qlite::sentencepiece_tokenizer tok =
      qlite::sentencepiece_from_llama2c(qlite::read_llama2c_tokenizer(models + "/tok512.bin"), "tok512.bin");
  static const std::string stories = qlite::detail::read_file(models + "/tinystories_val.txt");
  static const std::string run_a(1u << 20, 'a');
  benchmark::RegisterBenchmark("encode/sentencepiece-tok512/tinystories_val", sp_encode_bench, &tok, &stories)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("encode/sentencepiece-tok512/run_a_1MiB", sp_encode_bench, &tok, &run_a)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("decode/sentencepiece-tok512/tinystories_val", sp_decode_bench, &tok, &stories)
      ->Unit(benchmark::kMillisecond);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const std::string dir = data_dir();
  if (!register_sentencepiece())
    std::fprintf(stderr,
                 "SKIPPED: sentencepiece rows: %s/models is missing tok512.bin or tinystories_val.txt\n",
                 shared_dir().c_str());
  if (!fs::exists(dir + "/corpus")) {
    std::fprintf(stderr, "SKIPPED: %s is missing (the shared data sits in ../shared/data)\n", dir.c_str());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
  }
  static const corpus c = load_corpus(dir);
  static std::vector<std::pair<std::string, std::unique_ptr<qlite::tokenizer>>> toks;
  toks.emplace_back("gpt2", std::make_unique<qlite::tokenizer>(
                                qlite::load_tiktoken(dir + "/vocab/r50k_base.tiktoken", "gpt2")));
  toks.emplace_back("cl100k_base", std::make_unique<qlite::tokenizer>(qlite::load_tiktoken(
                                       dir + "/vocab/cl100k_base.tiktoken", "cl100k_base")));
  toks.emplace_back("o200k_base", std::make_unique<qlite::tokenizer>(qlite::load_tiktoken(
                                      dir + "/vocab/o200k_base.tiktoken", "o200k_base")));
  toks.emplace_back("llama3", std::make_unique<qlite::tokenizer>(
                                  qlite::load_tokenizer_json(dir + "/vocab/llama3/tokenizer.json")));
  toks.emplace_back("qwen3", std::make_unique<qlite::tokenizer>(
                                 qlite::load_tokenizer_json(dir + "/vocab/qwen3/tokenizer.json")));
  for (const auto& [name, tok] : toks) {
    const qlite::tokenizer* t = tok.get();
    benchmark::RegisterBenchmark(("encode/" + name + "/natural").c_str(), encode_bench, t, &c.natural)
        ->Unit(benchmark::kMillisecond);
    for (const auto& [doc, text] : c.adversarial)
      benchmark::RegisterBenchmark(("encode/" + name + "/" + doc).c_str(), encode_bench, t, &text)
          ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("decode/" + name + "/natural").c_str(), decode_bench, t, &c.natural)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("batch/" + name + "/natural").c_str(), batch_bench, t, &c.natural)
        ->Arg(1)
        ->Arg(2)
        ->ArgName("threads")
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
