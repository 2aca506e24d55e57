// qlite-tokenize: text → token ids (or ids → bytes) with a tiktoken rank file or a
// Hugging Face tokenizer.json.
//
//   qlite-tokenize --encoding cl100k_base --vocab cl100k_base.tiktoken notes.txt
//   echo "hello" | qlite-tokenize --tokenizer-json qwen3/tokenizer.json --count
//   qlite-tokenize --encoding o200k_base --vocab o200k_base.tiktoken --ids-out ids.u32 doc.txt
//   qlite-tokenize --encoding o200k_base --vocab o200k_base.tiktoken --decode ids.u32
//   qlite-tokenize --encoding gpt2 --vocab r50k_base.tiktoken --bench doc.txt
#include <fmt/core.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <qlite/tokenizer/tiktoken.hpp>
#include <qlite/tokenizer/tokenizer_json.hpp>

namespace {

constexpr const char* usage =
    "usage: qlite-tokenize (--encoding NAME --vocab FILE.tiktoken | --tokenizer-json FILE) [options] [FILE]\n"
    "  NAME: gpt2, r50k_base, cl100k_base, o200k_base (picks the pattern and special tokens)\n"
    "  FILE: the text to encode (or the ids to decode); standard input when absent\n"
    "options:\n"
    "  --ids-out FILE   write the ids as raw little-endian uint32 (no header)\n"
    "  --count          print the number of tokens only\n"
    "  --decode         read raw little-endian uint32 ids and write their bytes\n"
    "  --allow-special  match every special token (tiktoken family; tokenizer.json always does)\n"
    "  --ordinary       never match special tokens\n"
    "  --bench          print encode and decode MB/s (best of 5)\n"
    "  --threads N      threads for --bench batch encoding (default: all)\n"
    "Without --count/--ids-out/--bench the ids are printed, space-separated.\n";

std::string read_input(const std::optional<std::string>& file) {
  if (file) return qlite::detail::read_file(*file);
  std::string data;
  char buf[1 << 16];
  std::size_t got = 0;
  while ((got = std::fread(buf, 1, sizeof buf, stdin)) > 0) data.append(buf, got);
  return data;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size())
    throw qlite::error(qlite::errc::io, path + ": cannot write");
  std::fclose(f);
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

/// Best of 5 runs: wall seconds, and (for single-threaded work) this thread's CPU seconds —
/// the latter is what to compare on a shared machine.
template <class F>
std::pair<double, double> best_seconds(F&& f) {
  double best = 1e30, best_cpu = 1e30;
  for (int r = 0; r < 5; ++r) {
    const double c0 = thread_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    best_cpu = std::min(best_cpu, thread_cpu_seconds() - c0);
  }
  return {best, best_cpu};
}

int run(int argc, char** argv) {
  std::optional<std::string> encoding, vocab, tokenizer_json, ids_out, input;
  bool count = false, decode = false, bench = false, allow_special = false, ordinary = false;
  unsigned threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw qlite::error(qlite::errc::invalid_argument, a + " needs a value");
      return argv[++i];
    };
    if (a == "--encoding")
      encoding = value();
    else if (a == "--vocab")
      vocab = value();
    else if (a == "--tokenizer-json")
      tokenizer_json = value();
    else if (a == "--ids-out")
      ids_out = value();
    else if (a == "--count")
      count = true;
    else if (a == "--decode")
      decode = true;
    else if (a == "--bench")
      bench = true;
    else if (a == "--allow-special")
      allow_special = true;
    else if (a == "--ordinary")
      ordinary = true;
    else if (a == "--threads")
      threads = static_cast<unsigned>(std::stoul(value()));
    else if (a == "-h" || a == "--help") {
      std::fputs(usage, stdout);
      return 0;
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      throw qlite::error(qlite::errc::invalid_argument, "unknown option " + a + "\n" + usage);
    } else if (!input) {
      if (a != "-") input = a;
    } else {
      throw qlite::error(qlite::errc::invalid_argument, std::string("more than one input file\n") + usage);
    }
  }
  std::optional<qlite::tokenizer> tok;
  if (tokenizer_json && !encoding && !vocab) {
    tok.emplace(qlite::load_tokenizer_json(*tokenizer_json));
  } else if (encoding && vocab && !tokenizer_json) {
    tok.emplace(qlite::load_tiktoken(*vocab, *encoding));
  } else {
    std::fputs(usage, stderr);
    return 2;
  }

  const std::string data = read_input(input);
  if (decode) {
    if (data.size() % 4 != 0)
      throw qlite::error(qlite::errc::format, input.value_or("<stdin>") + ": " + std::to_string(data.size()) +
                                                  " bytes is not a multiple of 4 (expected uint32 ids)");
    std::vector<std::uint32_t> ids(data.size() / 4);
    for (std::size_t k = 0; k < ids.size(); ++k) {
      const auto* b = reinterpret_cast<const unsigned char*>(data.data() + 4 * k);
      ids[k] = std::uint32_t{b[0]} | (std::uint32_t{b[1]} << 8) | (std::uint32_t{b[2]} << 16) |
               (std::uint32_t{b[3]} << 24);
    }
    const std::string out = tok->decode(ids);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }

  auto encode = [&](std::string_view text) {
    if (ordinary) return tok->encode_ordinary(text);
    if (allow_special) return tok->encode(text, qlite::special_set::all(), qlite::special_set::none());
    return tok->encode(text);
  };

  if (bench) {
    std::vector<std::uint32_t> ids;
    const double mb = static_cast<double>(data.size()) / 1e6;
    const auto te = best_seconds([&] { ids = encode(data); });
    std::string back;
    const auto td = best_seconds([&] { back = tok->decode(ids); });
    // batch: the text cut into ~64 KiB line-aligned chunks
    std::vector<std::string_view> chunks;
    for (std::size_t pos = 0; pos < data.size();) {
      std::size_t end = std::min(data.size(), pos + (64u << 10));
      const std::size_t nl = data.find('\n', end);
      end = nl == std::string::npos ? data.size() : nl + 1;
      chunks.push_back(std::string_view(data).substr(pos, end - pos));
      pos = end;
    }
    const unsigned nt = threads == 0 ? qlite::default_threads() : threads;
    const auto tb = best_seconds([&] { (void)tok->encode_batch(chunks, nt); });
    fmt::print("{}: {:.2f} MB, {} tokens ({:.2f} bytes/token)\n", tok->name(), mb, ids.size(),
               static_cast<double>(data.size()) / static_cast<double>(std::max<std::size_t>(1, ids.size())));
    fmt::print("encode  {:8.1f} MB/s wall  {:8.1f} MB/s cpu  {:6.2f} Mtok/s (1 thread)\n", mb / te.first,
               mb / te.second, static_cast<double>(ids.size()) / te.second / 1e6);
    fmt::print("batch   {:8.1f} MB/s wall  ({} threads, {} chunks)\n", mb / tb.first, nt, chunks.size());
    fmt::print("decode  {:8.1f} MB/s wall  {:8.1f} MB/s cpu\n", mb / td.first, mb / td.second);
    return 0;
  }

  const std::vector<std::uint32_t> ids = encode(data);
  if (ids_out) {
    std::string raw(ids.size() * 4, '\0');
    for (std::size_t k = 0; k < ids.size(); ++k)
      for (int b = 0; b < 4; ++b)
        raw[4 * k + static_cast<std::size_t>(b)] = static_cast<char>((ids[k] >> (8 * b)) & 0xFF);
    write_file(*ids_out, raw);
  }
  if (count) {
    fmt::print("{}\n", ids.size());
  } else if (!ids_out) {
    std::string line;
    for (std::size_t k = 0; k < ids.size(); ++k) {
      if (k) line.push_back(' ');
      line += std::to_string(ids[k]);
    }
    fmt::print("{}\n", line);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "qlite-tokenize: {}\n", e.what());
    return 1;
  }
}
